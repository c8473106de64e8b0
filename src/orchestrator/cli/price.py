"""`orchestrator price`: run the pricing graph (markdowns and price moves within guard rails).

```
orchestrator price [--dry-run] [--report PATH] [--json] [--category C] [--competitors CSV]
                   [--promoted] [--model/--no-model] [--db URL]
```

Small changes are written at once; a change above `ORCH_PRICING__APPROVAL_CHANGE_PCT` waits
for a person (`orchestrator approvals approve|edit|reject ID` resumes the run). `--report
report.html` writes the HTML report (charts embedded) and `report.md` beside it; a `.md` path
writes markdown only. Exit status 0 when the run completed, 5 when it waits for approvals.
With `--json` one JSON object is printed (docs/pricing.md).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from orchestrator.cli._common import DB_OPTION, open_store, print_table, settings_for

__all__ = ["register", "run_price"]


def run_price(
    orch: Any,
    *,
    dry_run: bool = False,
    category: str | None = None,
    competitors: str | None = None,
    change_promoted: bool | None = None,
    actor: str = "pricing-cli",
) -> Any:
    """Run the pricing graph through `orch` with the CLI's options; returns the `RunResult`."""
    from orchestrator.graphs.pricing.data import load_competitors
    from orchestrator.runtime import RunContext

    payload: dict[str, Any] = {"dry_run": dry_run}
    if category:
        payload["category"] = category
    if competitors:
        payload["competitors"] = load_competitors(competitors)
    if change_promoted is not None:
        payload["change_promoted"] = change_promoted
    return orch.run("pricing", payload, context=RunContext(actor=actor, channel="cli"))


def _json_line(result: Any, report: list[Path]) -> dict[str, Any]:
    values = result.values
    return {
        "thread_id": result.thread_id,
        "status": result.status,
        "as_of": values.get("as_of"),
        "dry_run": bool(values.get("dry_run")),
        "approvals": result.approval_ids,
        "estimate": values.get("estimate_summary", {}),
        "explanation": values.get("explanation", {}),
        "changes": values.get("changes", []),
        "problems": values.get("problems", []),
        "report": [str(p) for p in report],
        "timings": values.get("timings", {}),
    }


def register(app: typer.Typer) -> None:
    """Add the `price` command to `app`."""

    @app.command()
    def price(
        dry_run: bool = typer.Option(False, "--dry-run", help="Propose and report; write nothing."),
        report: Path | None = typer.Option(
            None, "--report", help="Write the report: HTML (and .md beside it), or a .md file."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON object (the run)."),
        category: str | None = typer.Option(None, "--category", help="Only this category."),
        competitors: Path | None = typer.Option(
            None, "--competitors", help="CSV of competitor prices: sku,price_cents (or sku,price)."
        ),
        promoted: bool = typer.Option(
            False, "--promoted", help="Also change items under an open promotion."
        ),
        model: bool = typer.Option(
            True, "--model/--no-model", help="Let the routed model write the explanation."
        ),
        db: str | None = DB_OPTION,
    ) -> None:
        """Propose markdowns and price moves from elasticity, within the guard rails, and apply them."""
        from rich.console import Console
        from rich.table import Table

        from orchestrator.cli._failures import ExitCode
        from orchestrator.graphs.pricing.report import status_text, write_report
        from orchestrator.graphs.pricing.rules import PriceChange
        from orchestrator.runtime import Orchestrator

        settings = settings_for(db)
        with open_store(settings, create=False):
            pass  # SchemaMissing (exit 4) with the fix, rather than an empty store made here
        models = None
        if not model:
            from orchestrator.backends.none import NoModel

            models = NoModel(model_name="rules")
        with Orchestrator(settings, models=models) as orch:
            result = run_price(
                orch,
                dry_run=dry_run,
                category=category,
                competitors=str(competitors) if competitors else None,
                change_promoted=True if promoted else None,
            )
        written = write_report(result.values, report) if report is not None else []
        if as_json:
            typer.echo(json.dumps(_json_line(result, written), default=str))
        else:
            console = Console()
            values = result.values
            est = values.get("estimate_summary", {})
            console.print(
                f"pricing run {result.thread_id}: {result.status}; as of {values.get('as_of')}; "
                f"elasticity {est.get('sku', 0)} own / {est.get('category', 0)} pooled / "
                f"{est.get('none', 0)} none"
            )
            table = Table(title="price changes" + (" (dry run)" if dry_run else ""))
            for col in ("sku", "why", "price", "proposed", "change", "floor", "status"):
                table.add_column(col)
            for c in values.get("changes", []):
                table.add_row(
                    c["sku"],
                    c["why"].replace("_", " "),
                    f"{c['current_price_cents'] / 100:.2f}",
                    f"{c['proposed_price_cents'] / 100:.2f}",
                    f"{c['change_pct']:+.1f}%",
                    f"{c['floor_cents'] / 100:.2f}",
                    status_text(PriceChange.model_validate(c)),
                )
            print_table(table, console)
            for path in written:
                console.print(f"report: {path}")
            for approval_id in result.approval_ids:
                console.print(
                    f"waiting for approval {approval_id}: orchestrator approvals show {approval_id}, "
                    f"then approve / edit / reject it (the run resumes)"
                )
        if result.status == "waiting":
            raise typer.Exit(ExitCode.APPROVAL_REQUIRED)
