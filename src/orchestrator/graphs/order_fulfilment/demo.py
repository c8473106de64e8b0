"""The order-fulfilment part of `orchestrator demo`: an order that needs a person's approval."""

from __future__ import annotations

from typing import Any

from orchestrator.runtime.context import RunContext

__all__ = ["demo_steps"]


def demo_steps(orch: Any, console: Any = None) -> list[tuple[str, bool, str]]:
    """Run an order end to end on the seeded demo store: placed, approved, paid, shipped.

    The order is written as text (the model reads it; the parser backs it up) and is worth
    more than `settings.orders.approval_order_value`, so it waits for a person; the demo
    approves it as `store-manager` and the run pays, ships and notifies.

    Args:
        orch: an `Orchestrator` on the seeded store.
        console: a rich console to print progress on (optional).

    Returns:
        (step, ok, detail) for each step.
    """
    steps: list[tuple[str, bool, str]] = []

    def say(text: str) -> None:
        if console is not None:
            console.print(text)

    service = orch.service
    customer_id = _customer_with_orders(orch)
    sku = _sku_in_stock(orch, 8)
    if sku is None:
        return [("order: stock", False, "no product has 8 units available at one location")]
    product = service.get_product(sku)
    qty = max(
        2, -(-int(orch.settings.orders.approval_order_value * 100 + 1) // product.price_cents)
    )
    qty = min(qty, 8)
    text = f"{qty} x {sku}, ship express"
    say(f"[bold]Order[/bold] for customer {customer_id}: {text!r}")
    result = orch.run(
        "order_fulfilment",
        {"customer_id": customer_id, "text": text, "note": "for the science club"},
        context=RunContext(actor="order-desk", channel="cli"),
    )
    order_id = result.values.get("order_id")
    waiting = result.status == "waiting" and result.approval_id is not None
    steps.append(
        (
            "order: placed and waiting for approval",
            waiting and order_id is not None,
            f"order #{order_id}, total {result.values.get('total_cents', 0) / 100:.2f}, "
            f"approval {result.approval_id}",
        )
    )
    if not waiting:
        return steps
    say(f"  waits for approval {result.approval_id}; approving as store-manager")
    done = orch.resume(result.thread_id, "approve", by="store-manager")
    values = done.values
    shipped = done.status == "completed" and values.get("status") == "completed"
    steps.append(
        (
            "order: approved, paid and shipped",
            shipped,
            values.get("reply", "")
            + f"; tracking {(values.get('shipment') or {}).get('tracking')}",
        )
    )
    note = values.get("notification", "")
    steps.append(
        (
            "order: customer notified",
            bool(note) and f"#{order_id}" in note,
            f"{values.get('notification_source')}: {note.splitlines()[0] if note else ''}",
        )
    )
    return steps  # the demo prints them


def _customer_with_orders(orch: Any) -> int:
    from sqlalchemy import func, select

    from orchestrator.store.models import Order

    with orch.engine.connect() as conn:
        found = conn.execute(
            select(Order.customer_id, func.count())  # type: ignore[call-overload]
            .where(Order.status.in_(("placed", "shipped", "delivered")))  # type: ignore[attr-defined]
            .group_by(Order.customer_id)
            .order_by(func.count().desc(), Order.customer_id)
        ).first()
    return int(found[0]) if found else 1


def _sku_in_stock(orch: Any, units: int) -> str | None:
    from sqlalchemy import select

    from orchestrator.store.models import Product, Stock

    with orch.engine.connect() as conn:
        found = conn.execute(
            select(Stock.sku)  # type: ignore[call-overload]
            .join(Product, Product.sku == Stock.sku)
            .where(
                Stock.on_hand - Stock.reserved >= units,
                Product.active.is_(True),  # type: ignore[attr-defined]
                Product.price_cents >= 2000,
            )
            .order_by(Product.price_cents.desc(), Stock.sku)  # type: ignore[attr-defined]
        ).first()
    return str(found[0]) if found else None
