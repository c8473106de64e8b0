"""CLI commands of the supply-chain graph: `orchestrator replenish` and `orchestrator receive`.

```
orchestrator replenish [--dry-run] [--text "..."] [--need-by DATE] [--location LOC]
                       [--sku SKU ...] [--as-of DATE] [--no-escalate] [--by NAME]
                       [--report PATH] [--json] [--db URL]
orchestrator receive PO_ID [SKU:QTY ...] [--as-of DATE] [--by NAME] [--report PATH]
                     [--json] [--db URL]
```

`replenish` runs the `supply_chain` graph: it stops when a person must approve (over budget,
an urgent request, late orders to escalate) and prints the approval to decide with
`orchestrator approvals approve|edit|reject ID`, which resumes the run. `receive` books goods
against a purchase order (everything outstanding when no lines are given). `--json` prints
exactly one JSON object (docs/supply_chain.md has the contract). `--report PATH` writes the
report: HTML for `.html`/`.htm`, markdown otherwise.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import typer

from orchestrator.cli._common import DB_OPTION, open_store, settings_for

__all__ = ["receive_command", "register", "replenish_command", "result_payload"]

_JSON = typer.Option(False, "--json", help="Print one JSON object (see docs/supply_chain.md).")
_REPORT = typer.Option(
    None, "--report", help="Write the report here: HTML for .html/.htm, markdown otherwise."
)
_BY = typer.Option(None, "--by", help="Who runs it (the audit's actor); default your login name.")
_AS_OF = typer.Option(
    None,
    "--as-of",
    help="The run's date, YYYY-MM-DD (default today): demand, lateness, 'tomorrow'.",
)


@contextmanager
def _orchestrator(db: str | None) -> Iterator[Any]:
    from orchestrator.runtime import Orchestrator

    settings = settings_for(db)
    with open_store(settings, create=False):
        pass  # SchemaMissing (exit 4) with the fix, rather than an empty store made here
    with Orchestrator(settings, upgrade_schema=False) as orch:
        yield orch


def _date(option: str, value: str | None) -> str | None:
    from orchestrator.errors import InvalidInput

    if value is None:
        return None
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise InvalidInput(option, value, "expected a date as YYYY-MM-DD") from None


def parse_lines(lines: list[str]) -> dict[str, int]:
    """`SKU:QTY` arguments as `{sku: units}` (the same SKU twice adds up).

    Raises:
        InvalidInput: not `SKU:QTY`, or a quantity that is not a whole number >= 1.
    """
    from orchestrator.errors import InvalidInput

    received: dict[str, int] = {}
    for raw in lines:
        sku, sep, qty = raw.rpartition(":")
        if not sep or not sku.strip():
            raise InvalidInput("line", raw, "expected SKU:QTY, e.g. ARD-UNO-001:12")
        try:
            units = int(qty)
        except ValueError:
            raise InvalidInput("line", raw, f"quantity {qty!r} is not a whole number") from None
        if units < 1:
            raise InvalidInput("line", raw, f"quantity {units} must be at least 1")
        received[sku.strip()] = received.get(sku.strip(), 0) + units
    return received


def result_payload(result: Any, *, command: str, report: str | None = None) -> dict[str, Any]:
    """The one JSON object `--json` prints for a run (documented in docs/supply_chain.md)."""
    from orchestrator.graphs.supply_chain import summary

    values = result.values
    return {
        "command": command,
        "thread_id": result.thread_id,
        "status": result.status,
        "summary": summary(values),
        "needs": values.get("needs", []),
        "choices": values.get("choices", []),
        "orders": values.get("orders", []),
        "sent": values.get("sent", []),
        "late": values.get("late", []),
        "receipt": values.get("receipt"),
        "notes": values.get("notes", []),
        "problems": values.get("problems", []),
        "waiting_for": [i["value"] for i in result.interrupts],
        "report": report,
    }


def _write_report(path: Path | None, values: dict[str, Any]) -> str | None:
    from orchestrator.graphs.supply_chain import render_html, render_markdown

    if path is None:
        return None
    html = path.suffix.lower() in (".html", ".htm")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(values) if html else render_markdown(values), encoding="utf-8")
    return str(path)


def _print(result: Any, report: str | None) -> None:
    values = result.values
    typer.echo(values.get("report") or _partial(values))
    if result.status == "waiting":
        for item in result.interrupts:
            value = item["value"]
            if isinstance(value, dict) and value.get("kind") == "approval_required":
                typer.echo(
                    f"Waiting for approval {value['approval_id']} ({value['tool']}): "
                    f"{value['reason']}"
                )
                typer.echo(
                    f"  decide: orchestrator approvals approve {value['approval_id']} "
                    f"(or edit / reject); it resumes run {result.thread_id}"
                )
    if report:
        typer.echo(f"Report written to {report}")


def _partial(values: dict[str, Any]) -> str:
    from orchestrator.graphs.supply_chain import render_markdown

    return render_markdown(values)


def replenish_command(
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Propose only: no approval, no purchase order, no escalation."
    ),
    text: str | None = typer.Option(
        None,
        "--text",
        help="A request in words, e.g. \"we're running low on Arduino kits for tomorrow's "
        'class, need 40 more"; the caller then approves the proposed order.',
    ),
    need_by: str | None = typer.Option(
        None, "--need-by", help="Everything is needed by this date (YYYY-MM-DD)."
    ),
    location: str | None = typer.Option(
        None, "--location", help="Scan only this location (and deliver a request there)."
    ),
    skus: list[str] = typer.Option([], "--sku", help="Scan only these SKUs (repeatable)."),
    as_of: str | None = _AS_OF,
    no_escalate: bool = typer.Option(
        False, "--no-escalate", help="Do not look for late purchase orders."
    ),
    by: str | None = _BY,
    report: Path | None = _REPORT,
    as_json: bool = _JSON,
    db: str | None = DB_OPTION,
) -> None:
    """Reorder what runs low: choose suppliers, draft, approve when needed, send."""
    from orchestrator.runtime import RunContext

    payload: dict[str, Any] = {"dry_run": dry_run}
    if text:
        payload["text"] = text
    if (day := _date("--need-by", need_by)) is not None:
        payload["need_by"] = day
    if (day := _date("--as-of", as_of)) is not None:
        payload["as_of"] = day
    if location:
        payload["location"] = location
    if skus:
        payload["skus"] = list(skus)
    if no_escalate:
        payload["escalate"] = False
    with _orchestrator(db) as orch:
        result = orch.run(
            "supply_chain",
            payload,
            context=RunContext(actor=by or getpass.getuser(), channel="cli"),
        )
    written = _write_report(report, result.values)
    if as_json:
        typer.echo(
            json.dumps(result_payload(result, command="replenish", report=written), default=str)
        )
        return
    _print(result, written)


def receive_command(
    po_id: int = typer.Argument(..., help="The purchase order's id."),
    lines: list[str] = typer.Argument(
        None, help="What arrived, as SKU:QTY (e.g. ARD-UNO-001:12); none: everything outstanding."
    ),
    as_of: str | None = _AS_OF,
    by: str | None = _BY,
    report: Path | None = _REPORT,
    as_json: bool = _JSON,
    db: str | None = DB_OPTION,
) -> None:
    """Book goods received against a purchase order (partly, or everything outstanding).

    Refused, with nothing booked: a SKU not on the order, more than is outstanding, an order
    that is not sent or partly received.
    """
    from orchestrator.errors import InvalidInput
    from orchestrator.runtime import RunContext

    payload: dict[str, Any] = {"mode": "receive", "po_id": po_id}
    received = parse_lines(list(lines or []))
    if received:
        payload["received"] = received
    if (day := _date("--as-of", as_of)) is not None:
        payload["as_of"] = day
    with _orchestrator(db) as orch:
        result = orch.run(
            "supply_chain",
            payload,
            context=RunContext(actor=by or getpass.getuser(), channel="cli"),
        )
    problems = result.values.get("problems") or []
    if problems and not result.values.get("receipt"):
        first = problems[0]
        raise InvalidInput(
            "receive",
            f"PO {po_id}",
            "; ".join(p["reason"] for p in problems) or first["reason"],
        )
    written = _write_report(report, result.values)
    if as_json:
        typer.echo(
            json.dumps(result_payload(result, command="receive", report=written), default=str)
        )
        return
    _print(result, written)


def register(app: typer.Typer) -> None:
    """Add `replenish` and `receive` to `app`."""
    app.command("replenish")(replenish_command)
    app.command("receive")(receive_command)
