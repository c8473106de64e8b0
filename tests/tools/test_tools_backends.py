"""A representative subset through the runner on every store backend (SQLite, PostgreSQL)."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.errors import InsufficientStock, InvalidInput, NotFound, PermissionDenied
from orchestrator.store.models import AuditLog, Reservation


def test_order_flow_and_replay(shop_any: Any) -> None:
    shop = shop_any
    ctx = shop.ctx("order", customer_id=shop.customer_a, thread_id="pg-1")
    args = {"lines": [{"sku": "ARD-UNO-R3", "qty": 3}], "location": "WH-MAIN"}
    draft = shop.invoke(ctx, "draft_order", args, call_id="draft")
    assert shop.invoke(ctx, "draft_order", args, call_id="draft").id == draft.id
    placed = shop.invoke(ctx, "place_order", {"order_id": draft.id})
    assert placed.status == "placed"
    assert shop.invoke(ctx, "get_order_status", {"order_id": draft.id}).lines[0].reserved_qty == 3
    assert shop.count(Reservation) == 1
    quote = shop.invoke(ctx, "calculate_shipping", {"country": "GB", "order_id": draft.id})
    assert quote.cost_cents == 0  # 3 x 2400 >= 5000


def test_refusals_and_bad_input(shop_any: Any) -> None:
    shop = shop_any
    theirs = shop.order(shop.customer_b, [("ARD-NANO", 1)])
    ctx = shop.ctx("support", customer_id=shop.customer_a)
    before = shop.snapshot()
    with pytest.raises(NotFound, match=f"no order with id {theirs}"):
        shop.invoke(ctx, "cancel_order", {"order_id": theirs, "reason": "not mine"})
    with pytest.raises(PermissionDenied):
        shop.invoke(
            ctx,
            "transfer_stock",
            {"sku": "ARD-NANO", "from_location": "WH-MAIN", "to_location": "WH-NORTH", "qty": 1},
        )
    assert [r.operation for r in shop.audit_rows(AuditLog.outcome == "denied")] == [
        "cancel_order",
        "transfer_stock",
    ]
    with pytest.raises(InvalidInput, match="qty"):
        shop.invoke(
            shop.ctx("inventory"),
            "transfer_stock",
            {"sku": "ARD-NANO", "from_location": "WH-MAIN", "to_location": "WH-NORTH", "qty": -1},
        )
    with pytest.raises(InsufficientStock):
        shop.invoke(
            shop.ctx("inventory"),
            "transfer_stock",
            {"sku": "ARD-NANO", "from_location": "WH-MAIN", "to_location": "WH-NORTH", "qty": 500},
        )
    assert shop.snapshot() == before


def test_adjust_replays(shop_any: Any) -> None:
    shop = shop_any
    ctx = shop.ctx("inventory", thread_id="pg-2")
    args = {"sku": "PSU-12V", "location": "WH-MAIN", "delta": -4, "reason": "damaged"}
    ledger = shop.ledger_rows()
    first = shop.invoke(ctx, "adjust_quantity", args, call_id="c1")
    again = shop.invoke(ctx, "adjust_quantity", args, call_id="c1")
    assert again.replayed and again.on_hand == first.on_hand
    assert shop.ledger_rows() == ledger + 1
    second = shop.invoke(ctx, "adjust_quantity", args, call_id="c2")
    assert second.on_hand == first.on_hand - 4
    assert shop.ledger_rows() == ledger + 2
