"""`orchestrator tune`: forecast demand and tune reorder policies (the `inventory_tuning` graph).

```
orchestrator tune [--limit N] [--category C] [--location L] [--dry-run] [--report PATH]
                  [--json] [--actor NAME] [--db URL]
```

Large changes wait for a person: the command then prints the approval to decide
(`orchestrator approvals approve|edit|reject ID`), which resumes the run. With `--json`: one
JSON object per line on stdout: one per changed pair (`"kind": "change"`), then one for the
run (`"kind": "run"`); see docs/tuning.md.
"""

from __future__ import annotations

import getpass
import json
from typing import Any

import typer

from orchestrator.cli._common import DB_OPTION, open_store, print_table, settings_for

__all__ = ["register", "tune"]

_CHANGED = ("applied", "proposed", "change", "rejected", "refused")


def register(app: typer.Typer) -> None:
    """Add `tune` to the CLI."""
    app.command("tune")(tune)


def tune(
    limit: int | None = typer.Option(
        None, "--limit", min=1, help="Tune at most N SKU x location pairs (in SKU order)."
    ),
    category: str | None = typer.Option(None, "--category", help="Only this product category."),
    location: str | None = typer.Option(None, "--location", help="Only this location code."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Propose and report; change nothing and ask nobody."
    ),
    report: str | None = typer.Option(
        None,
        "--report",
        help="Write the report: PATH.html (with PATH.md and charts beside it) or PATH.md.",
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print JSON: one object per changed pair, then one for the run."
    ),
    actor: str | None = typer.Option(
        None, "--actor", help="Who the run acts for (recorded with every write); default you."
    ),
    db: str | None = DB_OPTION,
) -> None:
    """Forecast demand per SKU x location and set reorder points, safety stock and order sizes."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from orchestrator.runtime import Orchestrator, RunContext

    settings = settings_for(db)
    with open_store(settings, create=False):
        pass  # SchemaMissing (exit 4) with the fix, rather than an empty store made here
    err = Console(stderr=True)
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=as_json or not err.is_terminal,
    )
    tasks: dict[str, Any] = {}

    def advance(phase: str, done: int, total: int) -> None:
        if phase not in tasks:
            words = {"forecast": "forecasting SKUs", "apply": "applying policies"}
            tasks[phase] = progress.add_task(words.get(phase, phase), total=total)
        progress.update(tasks[phase], completed=done, total=total)

    payload: dict[str, Any] = {
        "dry_run": dry_run,
        "limit": limit,
        "category": category,
        "location": location,
        "report_path": report,
    }
    with Orchestrator(settings, upgrade_schema=False) as orch:
        orch.services.extras["tuning_progress"] = advance
        with progress:
            result = orch.run(
                "inventory_tuning",
                {k: v for k, v in payload.items() if v is not None},
                context=RunContext(actor=actor or getpass.getuser(), channel="cli"),
            )
    values = result.values
    pairs = values.get("pairs", [])
    changes = [p for p in pairs if p["status"] in _CHANGED]
    summary = {
        "kind": "run",
        "thread_id": result.thread_id,
        "status": result.status,
        "dry_run": dry_run,
        "as_of": values.get("as_of"),
        "pairs": len(pairs),
        "counts": values.get("counts") or _counts(pairs),
        "approval_ids": result.approval_ids,
        "timings": values.get("timings", {}),
        "report_files": values.get("report_files", []),
        "notes": values.get("notes", []),
    }
    if as_json:
        for p in sorted(changes, key=lambda p: (p["sku"], p["location"])):
            typer.echo(json.dumps({"kind": "change", **_change(p)}))
        typer.echo(json.dumps(summary, default=str))
        return
    _print(result, changes, summary)


def _counts(pairs: list[dict[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for p in pairs:
        out[p["status"]] = out.get(p["status"], 0) + 1
    return out


def _change(p: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "sku",
        "location",
        "status",
        "old_reorder_point",
        "reorder_point",
        "old_safety_stock",
        "safety_stock",
        "old_order_quantity",
        "order_quantity",
        "service_level",
        "weekly_mean",
        "weekly_sd",
        "demand_class",
        "method",
        "lead_time_days",
        "supplier",
        "needs_approval",
        "reason",
        "reason_source",
        "detail",
    )
    return {k: p.get(k) for k in keys}


def _arrow(old: Any, new: Any) -> str:
    if old is None:
        return f"new {new}"
    return str(new) if old == new else f"{old} -> {new}"


def _status(p: dict[str, Any]) -> str:
    if p["status"] == "change":
        return "awaits approval" if p["needs_approval"] else "to apply"
    return str(p["status"])


def _print(result: Any, changes: list[dict[str, Any]], summary: dict[str, Any]) -> None:
    from rich.table import Table

    counts = summary["counts"]
    typer.echo(
        f"Tuned {summary['pairs']} SKU x location pairs on sales up to {summary['as_of'] or '-'}"
        + (" (dry run: nothing changed)" if summary["dry_run"] else "")
        + ": "
        + ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    )
    if changes:
        table = Table("SKU", "location", "reorder point", "safety stock", "order qty", "status")
        top = sorted(changes, key=lambda p: (-p["impact_cents"], -p["change"], p["sku"]))[:20]
        for p in top:
            table.add_row(
                p["sku"],
                p["location"],
                _arrow(p["old_reorder_point"], p["reorder_point"]),
                _arrow(p["old_safety_stock"], p["safety_stock"]),
                _arrow(p["old_order_quantity"], p["order_quantity"]),
                _status(p),
            )
        print_table(table)
        if len(changes) > 20:
            typer.echo(f"... and {len(changes) - 20} more (see the report, or --json)")
    for note in summary["notes"]:
        typer.echo(f"note: {note}")
    for path in summary["report_files"][:2]:
        typer.echo(f"report: {path}")
    timings = summary["timings"]
    if timings:
        typer.echo("time: " + ", ".join(f"{k} {v:.1f}s" for k, v in timings.items()))
    if result.status == "waiting":
        for approval_id in result.approval_ids:
            typer.echo(
                f"waiting for approval #{approval_id} of the large changes: "
                f"orchestrator approvals show {approval_id}, then approve, edit or reject it "
                f"(thread {result.thread_id})"
            )
