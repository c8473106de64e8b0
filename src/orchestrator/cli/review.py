"""`orchestrator review`: the weekly operations review (business_review graph), as a report.

```
orchestrator review [--as-of DATE] [--out PATH] [--shop NAME] [--json] [--db URL]
```

Runs the `business_review` graph: KPIs computed in SQL, the analyst crew's narrative (routed
as `business_review.crew`; checked by code, with a fallback written from the figures), the
summary stored in long-term memory, the report written as `PATH.md` and `PATH.html`.
`--json` prints one object: `thread_id`, `status`, `as_of`, `origin` (`crew` or `fallback`),
`note`, `summary`, `findings`, `recommendations`, `kpis`, `insight_key`, `report_paths` and
`warnings` (docs/crews.md, *The business_review graph*).
"""

from __future__ import annotations

import getpass
import json
from datetime import date
from pathlib import Path

import typer

from orchestrator.cli._common import DB_OPTION, open_orchestrator

__all__ = ["register"]


def review(
    as_of: str | None = typer.Option(
        None,
        "--as-of",
        help="Review the 7 days before this ISO date; default the day after the newest sale.",
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Write the report to PATH.md and PATH.html (suffix replaced)."
    ),
    shop: str | None = typer.Option(None, "--shop", help="How the crew's prompts name the shop."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    db: str | None = DB_OPTION,
) -> None:
    """Write the weekly operations review: KPIs from code, narrative by the analyst crew."""
    from orchestrator.errors import InvalidInput
    from orchestrator.runtime import RunContext

    if as_of is not None:
        try:
            date.fromisoformat(as_of)
        except ValueError:
            raise InvalidInput("--as-of", as_of, "an ISO date such as 2026-11-23") from None
    payload: dict[str, str] = {}
    if as_of:
        payload["as_of"] = as_of
    if shop:
        payload["shop"] = shop
    if out is not None:
        payload["out"] = str(out)
    with open_orchestrator(db) as orch:
        result = orch.run(
            "business_review",
            payload,
            context=RunContext(actor=getpass.getuser()[:64] or "cli", channel="cli"),
        )
    values = result.values
    review_ = values.get("review", {})
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "thread_id": result.thread_id,
                    "status": result.status,
                    "as_of": values.get("as_of"),
                    "origin": review_.get("origin"),
                    "note": review_.get("note"),
                    "summary": review_.get("summary"),
                    "findings": review_.get("findings", []),
                    "recommendations": review_.get("recommendations", []),
                    "kpis": values.get("kpis"),
                    "insight_key": values.get("insight_key"),
                    "report_paths": values.get("report_paths", []),
                    "warnings": values.get("warnings", []),
                    "error": result.error,
                },
                default=str,
            )
        )
        return
    typer.echo(values.get("report_markdown", ""))
    for warning in values.get("warnings", []):
        typer.echo(f"note: {warning}", err=True)
    for path in values.get("report_paths", []):
        typer.echo(f"wrote {path}", err=True)


def register(app: typer.Typer) -> None:
    """Add the `review` command to `app`."""
    app.command("review")(review)
