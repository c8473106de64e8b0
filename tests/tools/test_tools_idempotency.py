"""Write tools derive their idempotency key from the run: a re-run node replays."""

from __future__ import annotations

from typing import Any

from orchestrator.store.models import AuditLog, IdempotencyRecord, Order
from orchestrator.tools import idempotency_key

ADJUST = {"sku": "PSU-12V", "location": "WH-MAIN", "delta": 3, "reason": "found in back room"}


def test_same_thread_node_and_args_replays(shop: Any) -> None:
    ctx = shop.ctx("inventory", thread_id="t-42", node="recount")
    ledger = shop.ledger_rows()
    first = shop.invoke(ctx, "adjust_quantity", ADJUST)
    # The model sends the same call with its keys in another order: same step.
    again = shop.invoke(ctx, "adjust_quantity", dict(reversed(list(ADJUST.items()))))
    assert again == first and first.on_hand == 13
    assert shop.ledger_rows() == ledger + 1
    key = idempotency_key("t-42", "recount", "adjust_quantity", ADJUST)
    assert shop.count(IdempotencyRecord, IdempotencyRecord.key == key) == 1
    outcomes = [r.outcome for r in shop.audit_rows(AuditLog.operation == "adjust_quantity")]
    assert outcomes == ["ok", "replayed"]
    assert shop.audit_rows(AuditLog.operation == "adjust_quantity")[0].agent == "inventory"


def test_another_thread_or_node_is_another_write(shop: Any) -> None:
    ledger = shop.ledger_rows()
    shop.invoke(shop.ctx("inventory", thread_id="t-1", node="recount"), "adjust_quantity", ADJUST)
    shop.invoke(shop.ctx("inventory", thread_id="t-2", node="recount"), "adjust_quantity", ADJUST)
    shop.invoke(shop.ctx("inventory", thread_id="t-1", node="other"), "adjust_quantity", ADJUST)
    assert shop.ledger_rows() == ledger + 3
    assert shop.svc.get_stock("PSU-12V", "WH-MAIN")[0].on_hand == 19


def test_draft_and_place_replay_to_the_same_order(shop: Any) -> None:
    ctx = shop.ctx("order", customer_id=shop.customer_a, thread_id="chat-9", node="take_order")
    args = {"lines": [{"sku": "ARD-NANO", "qty": 2}], "location": "WH-MAIN"}
    first = shop.invoke(ctx, "draft_order", args)
    assert shop.invoke(ctx, "draft_order", args).id == first.id
    assert shop.count(Order) == 1
    placed = shop.invoke(ctx, "place_order", {"order_id": first.id})
    assert shop.invoke(ctx, "place_order", {"order_id": first.id}) == placed
    assert shop.svc.get_stock("ARD-NANO", "WH-MAIN")[0].reserved == 2


def test_no_thread_no_key(shop: Any) -> None:
    ctx = shop.ctx("inventory", thread_id=None)
    shop.invoke(ctx, "adjust_quantity", ADJUST)
    shop.invoke(ctx, "adjust_quantity", ADJUST)
    assert shop.idempotency_rows() == 0
    assert shop.svc.get_stock("PSU-12V", "WH-MAIN")[0].on_hand == 16
