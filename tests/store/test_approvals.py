"""Approvals: thresholds from settings, the approval row, approve / reject, one use only."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine
from store_factories import BOSS, STAFF, Shop, assert_balanced, count_rows

from orchestrator.errors import ApprovalRequired, InvalidTransition, PermissionDenied
from orchestrator.settings import Settings
from orchestrator.store.services import Actor, OrderLineIn, POLineIn, StoreService


def test_large_adjustment_waits_for_a_human(svc: StoreService, shop: Shop, engine: Engine) -> None:
    before = count_rows(engine)
    with pytest.raises(ApprovalRequired) as err:
        svc.adjust_quantity("SKU-1", "WH-MAIN", 60, reason="found a pallet", actor=STAFF)
    assert count_rows(engine) == before
    approval_id = err.value.approval_id
    assert approval_id is not None and "60" in err.value.reason
    [pending] = svc.pending_approvals()
    assert (pending.id, pending.tool, pending.arguments["delta"]) == (
        approval_id,
        "adjust_quantity",
        60,
    )
    with pytest.raises(ApprovalRequired, match="pending"):
        svc.adjust_quantity(
            "SKU-1", "WH-MAIN", 60, reason="found a pallet", actor=STAFF, approval_id=approval_id
        )
    decided = svc.decide_approval(approval_id, approve=True, note="checked", actor=BOSS)
    assert (decided.status, decided.decided_by) == ("approved", "boss")
    level = svc.adjust_quantity(
        "SKU-1", "WH-MAIN", 60, reason="found a pallet", actor=STAFF, approval_id=approval_id
    )
    assert level.on_hand == 80
    assert svc.get_approval(approval_id).consumed_at is not None
    with pytest.raises(PermissionDenied, match="already used"):
        svc.adjust_quantity(
            "SKU-1", "WH-MAIN", 60, reason="found a pallet", actor=STAFF, approval_id=approval_id
        )
    assert_balanced(engine)


def test_approval_must_match_the_call(svc: StoreService, shop: Shop) -> None:
    with pytest.raises(ApprovalRequired) as err:
        svc.adjust_quantity("SKU-1", "WH-MAIN", 60, reason="count", actor=STAFF)
    approval_id = err.value.approval_id
    assert approval_id is not None
    svc.decide_approval(approval_id, approve=True, actor=BOSS)
    with pytest.raises(PermissionDenied, match="not for this call"):
        svc.adjust_quantity(
            "SKU-1", "WH-MAIN", 70, reason="count", actor=STAFF, approval_id=approval_id
        )
    with pytest.raises(PermissionDenied, match="not for this call"):
        svc.adjust_quantity(
            "SKU-2", "WH-MAIN", 60, reason="count", actor=STAFF, approval_id=approval_id
        )
    assert svc.get_approval(approval_id).consumed_at is None


def test_rejected_approval_refuses(svc: StoreService, shop: Shop) -> None:
    with pytest.raises(ApprovalRequired) as err:
        svc.adjust_quantity("SKU-1", "WH-MAIN", -51, reason="shrinkage", actor=STAFF)
    approval_id = err.value.approval_id
    assert approval_id is not None
    svc.decide_approval(approval_id, approve=False, note="recount first", actor=BOSS)
    with pytest.raises(PermissionDenied, match="rejected"):
        svc.adjust_quantity(
            "SKU-1", "WH-MAIN", -51, reason="shrinkage", actor=STAFF, approval_id=approval_id
        )
    with pytest.raises(InvalidTransition):
        svc.decide_approval(approval_id, approve=True, actor=BOSS)


def test_agents_and_customers_cannot_decide(svc: StoreService, shop: Shop) -> None:
    with pytest.raises(ApprovalRequired) as err:
        svc.adjust_quantity("SKU-1", "WH-MAIN", 99, reason="count", actor=STAFF)
    approval_id = err.value.approval_id
    assert approval_id is not None
    for actor in (Actor("bot", agent="inventory"), Actor("customer:1", customer_id=1)):
        with pytest.raises(PermissionDenied):
            svc.decide_approval(approval_id, approve=True, actor=actor)
    assert svc.get_approval(approval_id).status == "pending"


def test_refund_and_purchase_order_thresholds(engine: Engine, shop: Shop) -> None:
    settings = Settings(
        _env_file=None, approvals={"refund_amount": "10", "purchase_order_value": "20"}
    )  # type: ignore[call-arg]
    svc = StoreService(engine, settings=settings)
    order = svc.create_order(
        shop.customers[0], [OrderLineIn(sku="SKU-1", qty=2)], location="WH-MAIN", actor=STAFF
    )
    svc.place_order(order.id, actor=STAFF)
    svc.record_payment(order.id, "capture", 2000, actor=STAFF)
    assert svc.refund(order.id, 500, reason="goodwill", actor=STAFF).amount_cents == 500
    with pytest.raises(ApprovalRequired, match="1001 cents exceeds 1000"):
        svc.refund(order.id, 1001, reason="goodwill", actor=STAFF)
    po = svc.create_purchase_order(
        shop.suppliers[0], "WH-MAIN", [POLineIn(sku="SKU-1", qty=10)], actor=STAFF
    )
    with pytest.raises(ApprovalRequired) as err:
        svc.approve_purchase_order(po.id, actor=STAFF)
    assert err.value.approval_id is not None
    svc.decide_approval(err.value.approval_id, approve=True, actor=BOSS)
    assert (
        svc.approve_purchase_order(po.id, actor=STAFF, approval_id=err.value.approval_id).status
        == "approved"
    )


def test_asking_again_reuses_the_pending_approval(svc: StoreService, shop: Shop) -> None:
    """A graph resumed after an interrupt asks again: it gets the same approval, not a new one."""
    ids = []
    for _ in range(3):
        with pytest.raises(ApprovalRequired) as err:
            svc.adjust_quantity("SKU-1", "WH-MAIN", 60, reason="found a pallet", actor=STAFF)
        ids.append(err.value.approval_id)
    assert len(set(ids)) == 1
    assert [a.id for a in svc.pending_approvals()] == ids[:1]
    with pytest.raises(ApprovalRequired) as other:
        svc.adjust_quantity("SKU-1", "WH-MAIN", 61, reason="found a pallet", actor=STAFF)
    assert other.value.approval_id != ids[0]
    svc.decide_approval(ids[0], approve=False, actor=BOSS)
    with pytest.raises(ApprovalRequired) as fresh:
        svc.adjust_quantity("SKU-1", "WH-MAIN", 60, reason="found a pallet", actor=STAFF)
    assert fresh.value.approval_id not in ids


def test_record_audit_writes_one_row(svc: StoreService, shop: Shop) -> None:
    agent = Actor("agent:support", agent="support")
    svc.record_audit(
        "cancel_order",
        {"order_id": 7},
        actor=agent,
        outcome="denied",
        reason="not in the support profile",
    )
    [row] = svc.audit_log(operation="cancel_order")
    assert (row.outcome, row.agent, row.arguments) == ("denied", "support", {"order_id": 7})


def test_invalid_transition_names_plain_statuses(svc: StoreService, shop: Shop) -> None:
    order = svc.create_order(
        shop.customers[0], [OrderLineIn(sku="SKU-1", qty=1)], location="WH-MAIN", actor=STAFF
    )
    with pytest.raises(InvalidTransition) as err:
        svc.deliver_order(order.id, actor=STAFF)
    assert "'draft'" in str(err.value) and "Status" not in str(err.value)
