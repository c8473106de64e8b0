"""`orchestrator order ...`: place an order through the order-fulfilment graph, cancel it, look.

```
orchestrator order place --customer ID --item SKU:QTY ... [--text "..."] [--address A]
                         [--service S] [--note N] [--thread T] [--json]
orchestrator order cancel ORDER_ID [--reason R] [--by NAME] [--json]
orchestrator order status ORDER_ID [--json]
```

`place --json` prints one object: `thread_id`, `order_id`, `status` (`completed`,
`waiting_approval`, `failed`), `approval_id` while waiting, `reason` when failed, and
`outcome` (the graph's own: `completed`, `backordered`, `failed`, `cancelled`, `rejected`).
A failed order exits 1. Decide a waiting order with `orchestrator approvals approve ID` (the
run resumes there). docs/orders.md describes the flow.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer

from orchestrator.cli._common import DB_OPTION, open_store, settings_for

__all__ = ["order_app", "place_result", "register"]

order_app = typer.Typer(
    name="order",
    help="Place orders through the order-fulfilment graph; cancel them; show their status.",
    no_args_is_help=True,
)

_JSON = typer.Option(False, "--json", help="Print one JSON object.")


@contextmanager
def _orchestrator(db: str | None, settings: Any = None) -> Iterator[Any]:
    from orchestrator.runtime import Orchestrator

    settings = settings if settings is not None else settings_for(db)
    with open_store(settings, create=False):
        pass  # SchemaMissing (exit 4) with the fix, rather than an empty store made here
    with Orchestrator(settings, upgrade_schema=False) as orch:
        yield orch


def _emit(payload: Any) -> None:
    typer.echo(json.dumps(payload, default=str))


def _parse_item(raw: str) -> dict[str, Any]:
    from orchestrator.errors import InvalidInput

    sku, sep, qty = raw.rpartition(":")
    if not sep or not sku.strip():
        raise InvalidInput("--item", raw, "expected SKU:QTY, e.g. ARD-UNO-001:3")
    try:
        number: int | str = int(qty)
    except ValueError:
        number = qty  # the graph refuses it with the reason
    return {"sku": sku.strip(), "qty": number}


def place_result(result: Any) -> dict[str, Any]:
    """The `order place --json` object for a `RunResult` of the order-fulfilment graph."""
    values = result.values
    outcome = values.get("status")
    payload: dict[str, Any] = {
        "thread_id": result.thread_id,
        "order_id": values.get("order_id"),
    }
    if result.status == "waiting":
        payload["status"] = "waiting_approval"
        payload["approval_id"] = result.approval_id
    elif outcome in ("completed", "backordered"):
        payload["status"] = "completed"
    else:
        payload["status"] = "failed"
        payload["reason"] = values.get("reason") or f"the run ended {outcome}"
    payload["outcome"] = outcome
    if values.get("backorder_id") is not None:
        payload["backorder_id"] = values["backorder_id"]
    if values.get("total_cents") is not None:
        payload["total_cents"] = values["total_cents"]
    if values.get("shipment"):
        payload["tracking"] = values["shipment"].get("tracking")
    return payload


@order_app.command("place")
def place(
    customer: int = typer.Option(..., "--customer", help="The customer's id."),
    items: list[str] = typer.Option(
        [], "--item", help="SKU:QTY, once per line (e.g. --item ARD-UNO-001:3)."
    ),
    text: str | None = typer.Option(
        None, "--text", help='The order as text ("3 Arduino Uno kits to Lincoln High, ground").'
    ),
    address: str | None = typer.Option(None, "--address", help="Ship here (default: on file)."),
    service: str | None = typer.Option(
        None, "--service", help="standard (or ground), express or next_day."
    ),
    note: str | None = typer.Option(None, "--note", help="The customer's note."),
    thread: str | None = typer.Option(None, "--thread", help="The run's thread id."),
    db: str | None = DB_OPTION,
    as_json: bool = _JSON,
) -> None:
    """Place an order: validate, reserve, approval if needed, pay, ship, notify."""
    from orchestrator.errors import InvalidInput
    from orchestrator.runtime import RunContext

    with _orchestrator(db) as orch:  # settings, then the store: their errors come first
        if not items and not text:
            raise InvalidInput("--item", None, "give --item SKU:QTY (repeatable) or --text")
        payload: dict[str, Any] = {"customer_id": customer}
        if items:
            payload["lines"] = [_parse_item(raw) for raw in items]
        for key, value in (
            ("text", text),
            ("shipping_address", address),
            ("service", service),
            ("note", note),
        ):
            if value is not None:
                payload[key] = value
        result = orch.run(
            "order_fulfilment",
            payload,
            context=RunContext(actor=getpass.getuser()[:64] or "cli", channel="cli"),
            thread_id=thread,
        )
    out = place_result(result)
    if as_json:
        _emit(out)
    else:
        typer.echo(result.values.get("reply") or out["status"])
        if out["status"] == "waiting_approval":
            typer.echo(
                f"waits for approval {out['approval_id']}: "
                f"orchestrator approvals approve {out['approval_id']} (or reject)"
            )
        for event in result.values.get("events", []):
            typer.echo(f"  - {event}")
        if result.values.get("notification"):
            typer.echo("\n" + result.values["notification"])
    if out["status"] == "failed":
        raise typer.Exit(1)


@order_app.command("cancel")
def cancel(
    order_id: int,
    reason: str = typer.Option("cancelled on request", "--reason", help="Why (audited)."),
    by: str | None = typer.Option(None, "--by", help="Who cancels; default your login name."),
    db: str | None = DB_OPTION,
    as_json: bool = _JSON,
) -> None:
    """Cancel an order that has not shipped: void or refund, cancel, release; stop its run."""
    from orchestrator.graphs.order_fulfilment import cancel_order_run

    with _orchestrator(db) as orch:
        status = cancel_order_run(orch, order_id, by=by or getpass.getuser(), reason=reason)
    if as_json:
        _emit(status.model_dump(mode="json"))
        return
    typer.echo(f"order #{order_id} {status.order['status']}")
    for pay in status.payments:
        typer.echo(f"  payment {pay['kind']} {pay['amount_cents']} cents: {pay['status']}")


@order_app.command("status")
def status(order_id: int, db: str | None = DB_OPTION, as_json: bool = _JSON) -> None:
    """Show an order, its payments and shipments, and its run."""
    from orchestrator.graphs.order_fulfilment import order_status

    with _orchestrator(db) as orch:
        view = order_status(orch, order_id)
    if as_json:
        _emit(view.model_dump(mode="json"))
        return
    order = view.order
    typer.echo(
        f"order #{order_id} {order['status']} at {order['location']}, customer "
        f"{order['customer_id']}, total {order['total_cents'] / 100:.2f}"
    )
    for line in order["lines"]:
        typer.echo(f"  {line['qty']} x {line['sku']} (reserved {line['reserved_qty']})")
    for pay in view.payments:
        typer.echo(f"  payment {pay['kind']} {pay['amount_cents']} cents: {pay['status']}")
    for ship in view.shipments:
        typer.echo(f"  shipment {ship['carrier']} {ship['service']} tracking {ship['tracking']}")
    if view.thread_id:
        run = f"run {view.thread_id}: {view.run_status}"
        if view.outcome:
            run += f" ({view.outcome}{': ' + view.reason if view.reason else ''})"
        if view.approval_id:
            run += f", waits for approval {view.approval_id}"
        typer.echo(run)


def register(app: typer.Typer) -> None:
    """Add the `order` command group to `app`."""
    app.add_typer(order_app, name="order")
