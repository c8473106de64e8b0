"""Write keys identify the call: principal, thread, checkpoint namespace, call id.

Two real calls with the same arguments are two writes; a re-run of the same code (a script
re-started with the same run id, or a node LangGraph re-runs) replays its writes.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from orchestrator.errors import ConfigError, IdempotencyConflict
from orchestrator.store.models import AuditLog, IdempotencyRecord, Order

DAMAGED = {"sku": "PSU-12V", "location": "WH-MAIN", "delta": -1, "reason": "damaged"}


def test_two_identical_real_writes_are_two_effects(shop: Any) -> None:
    """Two damaged units, minutes apart, in one run: two adjustments, not one."""
    ctx = shop.ctx("inventory", thread_id="t-x")
    ledger = shop.ledger_rows()
    first = shop.invoke(ctx, "adjust_quantity", DAMAGED)
    second = shop.invoke(ctx, "adjust_quantity", DAMAGED)
    assert (first.on_hand, second.on_hand) == (9, 8)
    assert not first.replayed and not second.replayed
    assert shop.ledger_rows() == ledger + 2
    assert shop.idempotency_rows() == 2


def test_the_same_code_run_again_replays(shop: Any) -> None:
    """A script (or node) re-run from the start makes the same calls in the same order."""
    ctx = shop.ctx("inventory", thread_id="t-run")
    shop.invoke(ctx, "adjust_quantity", DAMAGED)
    shop.invoke(ctx, "adjust_quantity", DAMAGED)
    ledger = shop.ledger_rows()
    again = shop.ctx("inventory", thread_id="t-run")  # a fresh context: steps start over
    replays = [shop.invoke(again, "adjust_quantity", DAMAGED) for _ in range(2)]
    assert [r.replayed for r in replays] == [True, True]
    assert [r.on_hand for r in replays] == [9, 8]
    assert shop.ledger_rows() == ledger
    outcomes = [r.outcome for r in shop.audit_rows(AuditLog.operation == "adjust_quantity")]
    assert outcomes == ["ok", "ok", "replayed", "replayed"]


def test_explicit_call_ids(shop: Any) -> None:
    ctx = shop.ctx("inventory", thread_id="t-ids")
    a = shop.invoke(ctx, "adjust_quantity", DAMAGED, call_id="shelf-3")
    b = shop.invoke(ctx, "adjust_quantity", DAMAGED, call_id="shelf-3")
    c = shop.invoke(ctx, "adjust_quantity", DAMAGED, call_id="shelf-4")
    assert (a.on_hand, b.on_hand, b.replayed, c.on_hand) == (9, 9, True, 8)
    [row] = shop.audit_rows(AuditLog.outcome == "ok", AuditLog.tool_call_id == "shelf-3")
    assert row.thread_id == "t-ids" and row.tool == "adjust_quantity"


def test_a_key_replayed_with_other_arguments_is_refused(shop: Any) -> None:
    ctx = shop.ctx("inventory", thread_id="t-conflict")
    shop.invoke(ctx, "adjust_quantity", DAMAGED, call_id="c1")
    with pytest.raises(IdempotencyConflict):
        shop.invoke(ctx, "adjust_quantity", {**DAMAGED, "delta": -2}, call_id="c1")
    assert shop.svc.get_stock("PSU-12V", "WH-MAIN")[0].on_hand == 9


def test_keys_are_scoped_to_the_principal(shop: Any) -> None:
    """Two customers' runs sharing a thread id and call ids never collide."""
    args = {"lines": [{"sku": "ARD-NANO", "qty": 1}], "location": "WH-MAIN"}
    ada = shop.ctx("order", customer_id=shop.customer_a, thread_id="shared")
    bob = shop.ctx("order", customer_id=shop.customer_b, thread_id="shared")
    mine = shop.invoke(ada, "draft_order", args, call_id="c1")
    theirs = shop.invoke(bob, "draft_order", args, call_id="c1")
    assert mine.id != theirs.id
    assert (mine.customer_id, theirs.customer_id) == (shop.customer_a, shop.customer_b)
    assert shop.count(Order) == 2


def test_draft_and_place_replay_to_the_same_order(shop: Any) -> None:
    ctx = shop.ctx("order", customer_id=shop.customer_a, thread_id="chat-9")
    args = {"lines": [{"sku": "ARD-NANO", "qty": 2}], "location": "WH-MAIN"}
    first = shop.invoke(ctx, "draft_order", args, call_id="draft")
    assert shop.invoke(ctx, "draft_order", args, call_id="draft").id == first.id
    assert shop.count(Order) == 1
    placed = shop.invoke(ctx, "place_order", {"order_id": first.id}, call_id="place")
    again = shop.invoke(ctx, "place_order", {"order_id": first.id}, call_id="place")
    assert again.replayed and again.model_copy(update={"replayed": False}) == placed
    assert shop.svc.get_stock("ARD-NANO", "WH-MAIN")[0].reserved == 2


def test_a_script_without_a_thread_writes_without_a_key(shop: Any) -> None:
    ctx = shop.ctx("inventory", thread_id=None)
    shop.invoke(ctx, "adjust_quantity", DAMAGED)
    shop.invoke(ctx, "adjust_quantity", DAMAGED)
    assert shop.idempotency_rows() == 0
    assert shop.svc.get_stock("PSU-12V", "WH-MAIN")[0].on_hand == 8


def test_a_write_in_a_graph_without_a_thread_is_a_config_error(shop: Any) -> None:
    in_graph = replace(shop.ctx("inventory", thread_id=None), checkpoint_ns="count:1234")
    with pytest.raises(ConfigError, match="thread id"):
        shop.invoke(in_graph, "adjust_quantity", DAMAGED)
    # Reads need no key.
    assert shop.invoke(in_graph, "get_inventory", {"sku": "PSU-12V"}).total_on_hand == 10
    assert shop.svc.get_stock("PSU-12V", "WH-MAIN")[0].on_hand == 10
    assert shop.count(IdempotencyRecord) == 0
