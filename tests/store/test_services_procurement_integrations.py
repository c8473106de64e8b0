"""Purchase orders and integration transactions."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine
from store_factories import STAFF, Shop, assert_balanced

from orchestrator.errors import InsufficientStock, InvalidInput, InvalidTransition
from orchestrator.store.invariants import check_invariants
from orchestrator.store.services import POLineIn, StoreService


def test_purchase_order_lifecycle(svc: StoreService, shop: Shop, engine: Engine) -> None:
    po = svc.create_purchase_order(
        shop.suppliers[0],
        "WH-MAIN",
        [POLineIn(sku="SKU-1", qty=10), POLineIn(sku="SKU-2", qty=4, unit_cost_cents=250)],
        actor=STAFF,
    )
    assert po.status == "draft"
    assert [ln.unit_cost_cents for ln in po.lines] == [401, 250]
    assert po.total_cents == 10 * 401 + 4 * 250
    with pytest.raises(InvalidTransition):
        svc.receive_purchase_order(po.id, actor=STAFF)
    assert svc.approve_purchase_order(po.id, actor=STAFF).approved_by == "alice"
    svc.send_purchase_order(po.id, actor=STAFF)
    part = svc.receive_purchase_order(po.id, {"SKU-1": 6}, actor=STAFF)
    assert part.status == "partially_received"
    with pytest.raises(InvalidInput, match="only 4 units"):
        svc.receive_purchase_order(po.id, {"SKU-1": 5}, actor=STAFF)
    with pytest.raises(InvalidInput, match="received against it"):
        svc.cancel_purchase_order(po.id, reason="late", actor=STAFF)
    done = svc.receive_purchase_order(po.id, actor=STAFF)
    assert done.status == "received"
    assert [(ln.qty_ordered, ln.qty_received) for ln in done.lines] == [(10, 10), (4, 4)]
    assert svc.get_stock("SKU-1", "WH-MAIN")[0].on_hand == 30
    assert_balanced(engine)


def test_cancel_purchase_order(svc: StoreService, shop: Shop) -> None:
    po = svc.create_purchase_order(
        shop.suppliers[1], "SHOP-1", [POLineIn(sku="SKU-3", qty=2)], actor=STAFF
    )
    assert svc.cancel_purchase_order(po.id, reason="not needed", actor=STAFF).status == "cancelled"
    with pytest.raises(InvalidTransition, match="cancelled"):
        svc.approve_purchase_order(po.id, actor=STAFF)


def test_integration_posting(svc: StoreService, shop: Shop, engine: Engine) -> None:
    txn = svc.record_integration_transaction(
        "pos", "S-1", "sale", "SKU-1", "WH-MAIN", -3, actor=STAFF
    )
    assert txn.status == "pending"
    assert (
        svc.record_integration_transaction(
            "pos", "S-1", "sale", "SKU-1", "WH-MAIN", -3, actor=STAFF
        ).id
        == txn.id
    )
    with pytest.raises(InvalidInput, match="S-1"):
        svc.record_integration_transaction(
            "pos", "S-1", "sale", "SKU-1", "WH-MAIN", -4, actor=STAFF
        )
    posted = svc.post_integration_transaction(txn.id, actor=STAFF)
    assert (posted.status, posted.attempts) == ("posted", 1)
    with pytest.raises(InvalidTransition, match="posted"):
        svc.post_integration_transaction(txn.id, actor=STAFF)
    ledger = svc.stock_ledger("SKU-1", "WH-MAIN")[0]
    assert (ledger.ref_type, ledger.ref_id, ledger.kind, ledger.delta) == (
        "integration",
        str(txn.id),
        "sale",
        -3,
    )
    assert_balanced(engine)


def test_reprocess_and_fail(svc: StoreService, shop: Shop, engine: Engine) -> None:
    big = svc.record_integration_transaction(
        "erp", "E-1", "sale", "SKU-2", "WH-MAIN", -50, actor=STAFF
    )
    with pytest.raises(InsufficientStock):
        svc.post_integration_transaction(big.id, actor=STAFF)
    failed = svc.reprocess_transaction(big.id, actor=STAFF)
    assert (failed.status, failed.attempts) == ("failed", 1)
    assert failed.error is not None and "insufficient" in failed.error
    svc.receive_goods("SKU-2", "WH-MAIN", 40, actor=STAFF)
    assert svc.reprocess_transaction(big.id, actor=STAFF).status == "posted"
    other = svc.record_integration_transaction(
        "erp", "E-2", "receipt", "SKU-2", "WH-MAIN", 5, actor=STAFF
    )
    assert (
        svc.fail_integration_transaction(other.id, error="bad payload", actor=STAFF).status
        == "failed"
    )
    assert (
        svc.set_transaction_status(other.id, "pending", reason="fixed", actor=STAFF).status
        == "pending"
    )
    assert (
        svc.set_transaction_status(other.id, "posted", reason="ok", actor=STAFF).status == "posted"
    )
    with pytest.raises(InvalidTransition):
        svc.set_transaction_status(other.id, "failed", reason="x", actor=STAFF)
    with pytest.raises(InvalidInput, match="negative"):
        svc.record_integration_transaction("pos", "S-9", "sale", "SKU-1", "WH-MAIN", 2, actor=STAFF)
    assert check_invariants(engine).ok
    assert [t.id for t in svc.list_integration_transactions(status="posted")] == [big.id, other.id]
