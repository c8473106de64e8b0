"""Stock writes: guarded changes, ledger rows, audit rows, idempotent replays."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from store_factories import STAFF, Shop, assert_balanced, count_rows

from orchestrator.errors import (
    IdempotencyConflict,
    InsufficientStock,
    InvalidInput,
    PermissionDenied,
)
from orchestrator.store.services import Actor, OrderLineIn, StoreService


def test_reserve_holds_units_and_audits(svc: StoreService, shop: Shop, engine: Engine) -> None:
    res = svc.reserve("SKU-1", "WH-MAIN", 3, actor=STAFF, idempotency_key="r-1")
    assert (res.qty, res.status, res.sku) == (3, "open", "SKU-1")
    [level] = svc.get_stock("SKU-1", "WH-MAIN")
    assert (level.on_hand, level.reserved, level.available) == (20, 3, 17)
    [entry] = svc.audit_log(operation="reserve")
    assert entry.outcome == "ok" and entry.actor == "alice" and entry.idempotency_key == "r-1"
    assert entry.before == {"on_hand": 20, "reserved": 0}
    assert entry.after is not None and entry.after["reserved"] == 3
    assert entry.arguments["qty"] == 3
    assert_balanced(engine)


def test_reserve_refuses_more_than_available(svc: StoreService, shop: Shop, engine: Engine) -> None:
    svc.reserve("SKU-1", "WH-MAIN", 15, actor=STAFF)
    before = count_rows(engine)
    with pytest.raises(InsufficientStock) as err:
        svc.reserve("SKU-1", "WH-MAIN", 6, actor=STAFF)
    assert (err.value.requested, err.value.available) == (6, 5)
    assert "SKU-1" in str(err.value)
    assert count_rows(engine) == before
    [failed] = svc.audit_log(operation="reserve", outcome="error")
    assert failed.error is not None and "InsufficientStock" in failed.error


def test_replay_returns_first_result_and_changes_nothing(
    svc: StoreService, shop: Shop, engine: Engine
) -> None:
    first = svc.reserve("SKU-1", "WH-MAIN", 2, actor=STAFF, idempotency_key="k")
    rows = count_rows(engine)
    again = svc.reserve("SKU-1", "WH-MAIN", 2, actor=STAFF, idempotency_key="k")
    assert not first.replayed and again.replayed
    assert again.model_copy(update={"replayed": False}) == first
    assert "replayed" not in first.model_dump() and again.model_dump()["replayed"] is True
    assert count_rows(engine) == rows
    assert svc.get_stock("SKU-1", "WH-MAIN")[0].reserved == 2
    assert [e.outcome for e in svc.audit_log(idempotency_key="k")] == ["replayed", "ok"]


def test_replay_is_answered_only_to_the_first_principal(svc: StoreService, shop: Shop) -> None:
    """Another actor, or another customer, replaying a key gets a refusal, not the result."""
    alice, bob = Actor("alice"), Actor("bob")
    first = svc.reserve("SKU-1", "WH-MAIN", 2, actor=alice, idempotency_key="alice-1")
    with pytest.raises(PermissionDenied, match="another principal"):
        svc.reserve("SKU-1", "WH-MAIN", 2, actor=bob, idempotency_key="alice-1")
    assert svc.reserve("SKU-1", "WH-MAIN", 2, actor=alice, idempotency_key="alice-1").replayed
    assert svc.get_stock("SKU-1", "WH-MAIN")[0].reserved == first.qty
    [denied] = svc.audit_log(outcome="denied", idempotency_key="alice-1")
    assert denied.actor == "bob"
    ada, bob_c = shop.customers
    order = svc.create_order(
        ada, [OrderLineIn(sku="SKU-1", qty=1)], location="WH-MAIN", actor=STAFF
    )
    as_ada = Actor("web", agent="order", customer_id=ada)
    as_bob = Actor("web", agent="order", customer_id=bob_c)
    svc.place_order(order.id, actor=as_ada, idempotency_key="checkout-7")
    # Same actor name, another customer, the first customer's key: refused, nothing leaks.
    with pytest.raises(PermissionDenied, match="another principal") as refused:
        svc.place_order(order.id, actor=as_bob, idempotency_key="checkout-7")
    assert "shipping" not in str(refused.value)


def test_same_key_other_arguments_conflicts(svc: StoreService, shop: Shop) -> None:
    svc.reserve("SKU-1", "WH-MAIN", 2, actor=STAFF, idempotency_key="k")
    with pytest.raises(IdempotencyConflict, match="'k'"):
        svc.reserve("SKU-1", "WH-MAIN", 3, actor=STAFF, idempotency_key="k")
    with pytest.raises(IdempotencyConflict):
        svc.receive_goods("SKU-1", "WH-MAIN", 2, actor=STAFF, idempotency_key="k")


def test_release_gives_units_back(svc: StoreService, shop: Shop, engine: Engine) -> None:
    res = svc.reserve("SKU-2", "WH-MAIN", 4, actor=STAFF)
    out = svc.release_reservation(res.id, reason="customer changed mind", actor=STAFF)
    assert out.status == "released"
    assert svc.get_stock("SKU-2", "WH-MAIN")[0].reserved == 0
    with pytest.raises(InvalidInput, match="released"):
        svc.release_reservation(res.id, reason="again", actor=STAFF)
    assert_balanced(engine)


def test_receive_creates_stock_row_and_ledger(
    svc: StoreService, shop: Shop, engine: Engine
) -> None:
    level = svc.receive_goods("SKU-1", "SHOP-1", 7, reason="delivery", actor=STAFF)
    assert (level.on_hand, level.location) == (7, "SHOP-1")
    [row] = svc.stock_ledger("SKU-1", "SHOP-1")
    assert (row.delta, row.kind, row.actor) == (7, "receipt", "alice")
    assert_balanced(engine)


def test_adjust_needs_reason_and_never_below_reserved(
    svc: StoreService, shop: Shop, engine: Engine
) -> None:
    with pytest.raises(InvalidInput, match="reason"):
        svc.adjust_quantity("SKU-1", "WH-MAIN", -2, reason="  ", actor=STAFF)
    svc.reserve("SKU-1", "WH-MAIN", 15, actor=STAFF)
    with pytest.raises(InsufficientStock):
        svc.adjust_quantity("SKU-1", "WH-MAIN", -6, reason="damaged", actor=STAFF)
    level = svc.adjust_quantity("SKU-1", "WH-MAIN", -5, reason="damaged", actor=STAFF)
    assert (level.on_hand, level.reserved, level.available) == (15, 15, 0)
    assert svc.stock_ledger("SKU-1", "WH-MAIN")[0].kind == "adjustment"
    assert_balanced(engine)


def test_transfer_moves_units_with_two_ledger_rows(
    svc: StoreService, shop: Shop, engine: Engine
) -> None:
    moved = svc.transfer_stock("SKU-3", "WH-MAIN", "SHOP-1", 5, reason="restock shop", actor=STAFF)
    assert (moved.source.on_hand, moved.destination.on_hand) == (15, 5)
    kinds = {r.kind: r for r in svc.stock_ledger("SKU-3")}
    assert kinds["transfer_out"].ref_id == kinds["transfer_in"].ref_id == moved.transfer_id
    with pytest.raises(InsufficientStock):
        svc.transfer_stock("SKU-3", "WH-MAIN", "SHOP-1", 16, actor=STAFF)
    with pytest.raises(InvalidInput, match="SHOP-1"):
        svc.transfer_stock("SKU-3", "SHOP-1", "SHOP-1", 1, actor=STAFF)
    assert_balanced(engine)


def test_correct_stock_repairs_books(svc: StoreService, shop: Shop, engine: Engine) -> None:
    svc.reserve("SKU-1", "WH-MAIN", 2, actor=STAFF)
    with engine.begin() as conn:  # an outside system broke the books
        conn.execute(text("UPDATE stock SET on_hand = 23, reserved = 9 WHERE sku = 'SKU-1'"))
    level = svc.correct_stock(
        "SKU-1", "WH-MAIN", on_hand=21, reserved="recompute", reason="cycle count", actor=STAFF
    )
    assert (level.on_hand, level.reserved) == (21, 2)
    assert svc.stock_ledger("SKU-1", "WH-MAIN")[0].delta == 1  # 21 counted - 20 on the ledger
    assert_balanced(engine)


def test_ledger_and_audit_are_append_only(svc: StoreService, shop: Shop, engine: Engine) -> None:
    for statement in (
        "UPDATE stock_ledger SET delta = 0",
        "DELETE FROM stock_ledger",
        "UPDATE audit_log SET actor = 'mallory'",
        "DELETE FROM audit_log",
    ):
        with pytest.raises(IntegrityError, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))


def test_customer_actor_cannot_touch_stock(svc: StoreService, shop: Shop, engine: Engine) -> None:
    customer = Actor("customer:1", agent="support", customer_id=shop.customers[0])
    with pytest.raises(PermissionDenied):
        svc.adjust_quantity("SKU-1", "WH-MAIN", 1, reason="x", actor=customer)
    with pytest.raises(PermissionDenied):
        svc.reserve("SKU-1", "WH-MAIN", 1, actor=customer)
    [denied] = svc.audit_log(outcome="denied", limit=1)
    assert denied.agent == "support"


def test_failed_call_with_a_key_can_be_retried(svc: StoreService, shop: Shop) -> None:
    svc.reserve("SKU-1", "WH-MAIN", 18, actor=STAFF)
    with pytest.raises(InsufficientStock):
        svc.reserve("SKU-1", "WH-MAIN", 5, actor=STAFF, idempotency_key="retry-me")
    svc.receive_goods("SKU-1", "WH-MAIN", 10, actor=STAFF)
    res = svc.reserve("SKU-1", "WH-MAIN", 5, actor=STAFF, idempotency_key="retry-me")
    assert res.status == "open"
    outcomes = [e.outcome for e in svc.audit_log(idempotency_key="retry-me")]
    assert outcomes == ["ok", "error"]
