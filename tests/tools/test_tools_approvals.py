"""Writes above thresholds raise ApprovalRequired with what a human must decide; resume works."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from orchestrator.errors import ApprovalRejected, ApprovalRequired, PermissionDenied
from orchestrator.store.models import Approval, PurchaseOrder
from orchestrator.store.services import Actor
from orchestrator.tools._core import StepCounter

MANAGER = Actor("manager")


def test_large_adjustment_needs_approval_then_resumes(shop: Any) -> None:
    ctx = shop.ctx("inventory", thread_id="run-7")
    args = {"sku": "ESP32-DEV", "location": "WH-MAIN", "delta": -60, "reason": "water damage"}
    ledger = shop.ledger_rows()
    with pytest.raises(ApprovalRequired) as err:
        shop.invoke(ctx, "adjust_quantity", args)
    exc = err.value
    assert exc.tool == "adjust_quantity"
    assert exc.arguments["delta"] == -60 and exc.arguments["sku"] == "ESP32-DEV"
    assert "exceeds 50 units" in exc.reason
    assert exc.approval_id is not None
    assert shop.ledger_rows() == ledger
    assert shop.svc.get_stock("ESP32-DEV", "WH-MAIN")[0].on_hand == 100

    assert shop.svc.get_approval(exc.approval_id).idempotency_key is not None

    # The same call again (same run, same step): still pending, the same approval, no other.
    again = replace(ctx, steps=StepCounter())
    with pytest.raises(ApprovalRequired, match="pending") as still:
        shop.invoke(again, "adjust_quantity", args)
    assert still.value.approval_id == exc.approval_id
    assert shop.count(Approval) == 1

    shop.svc.decide_approval(exc.approval_id, approve=True, actor=MANAGER, note="seen it")
    # The call, made again after the decision, finds its approval by its key.
    after = shop.invoke(replace(ctx, steps=StepCounter()), "adjust_quantity", args)
    assert after.on_hand == 40
    assert shop.ledger_rows() == ledger + 1
    assert shop.svc.get_approval(exc.approval_id).consumed_at is not None
    # Re-run once more: the same call replays instead of adjusting twice.
    replayed = shop.invoke(replace(ctx, steps=StepCounter()), "adjust_quantity", args)
    assert replayed.replayed and replayed.on_hand == 40
    assert shop.ledger_rows() == ledger + 1
    assert shop.count(Approval) == 1


def test_an_approval_for_other_arguments_does_not_authorise(shop: Any) -> None:
    ctx = shop.ctx("auditor")
    args = {"sku": "ESP32-DEV", "location": "WH-MAIN", "delta": 70, "reason": "found a box"}
    with pytest.raises(ApprovalRequired) as err:
        shop.invoke(ctx, "adjust_quantity", args)
    approval_id = err.value.approval_id
    shop.svc.decide_approval(approval_id, approve=True, actor=MANAGER)
    with pytest.raises(PermissionDenied, match=f"approval {approval_id}"):
        shop.runner.invoke(ctx, "adjust_quantity", {**args, "delta": 90}, approval_id=approval_id)
    assert shop.svc.get_stock("ESP32-DEV", "WH-MAIN")[0].on_hand == 100


def test_rejected_approval_refuses(shop: Any) -> None:
    ctx = shop.ctx("inventory")
    args = {"sku": "ESP32-DEV", "location": "WH-MAIN", "delta": 55, "reason": "recount"}
    with pytest.raises(ApprovalRequired) as err:
        shop.invoke(ctx, "adjust_quantity", args)
    shop.svc.decide_approval(err.value.approval_id, approve=False, actor=MANAGER, note="no")
    with pytest.raises(ApprovalRejected, match="rejected by manager: no"):
        shop.runner.invoke(ctx, "adjust_quantity", args, approval_id=err.value.approval_id)


def test_cancelling_a_shipped_order_needs_approval(shop: Any) -> None:
    shipped = shop.order(shop.customer_a, [("ARD-NANO", 1)], ship=True)
    ctx = shop.ctx("support", customer_id=shop.customer_a)
    with pytest.raises(ApprovalRequired) as err:
        shop.invoke(ctx, "cancel_order", {"order_id": shipped, "reason": "never arrived"})
    assert err.value.tool == "cancel_order"
    assert err.value.arguments["order_id"] == shipped
    assert "shipped" in err.value.reason
    assert shop.svc.get_order(shipped).status == "shipped"
    shop.svc.decide_approval(err.value.approval_id, approve=True, actor=MANAGER)
    done = shop.runner.invoke(
        ctx,
        "cancel_order",
        {"order_id": shipped, "reason": "never arrived"},
        approval_id=err.value.approval_id,
    )
    assert done.status == "cancelled"


def test_large_purchase_order_waits_for_approval_before_anything_is_written(shop: Any) -> None:
    ctx = shop.ctx("procurement", thread_id="po-run")
    args = {
        "supplier_id": shop.supplier_id,
        "location": "WH-MAIN",
        "lines": [{"sku": "ARD-UNO-R3", "qty": 400}],  # 400 x 1500 = 600000 cents > 5000.00
    }
    with pytest.raises(ApprovalRequired) as err:
        shop.invoke(ctx, "create_purchase_order", args)
    exc = err.value
    assert exc.tool == "create_purchase_order"
    assert exc.arguments["lines"] == [{"sku": "ARD-UNO-R3", "qty": 400, "unit_cost_cents": None}]
    assert "5000" in exc.reason and exc.approval_id is not None
    assert shop.count(PurchaseOrder) == 0  # nothing is drafted until a person decides
    # A person halves the quantity: the call is performed with the edited arguments.
    edited = {**args, "lines": [{"sku": "ARD-UNO-R3", "qty": 200, "unit_cost_cents": None}]}
    shop.svc.decide_approval(exc.approval_id, approve=True, arguments=edited, actor=MANAGER)
    po = shop.invoke(replace(ctx, steps=StepCounter()), "create_purchase_order", args)
    assert po.status == "sent" and po.total_cents == 300_000
    assert shop.count(PurchaseOrder) == 1
    assert shop.svc.get_approval(exc.approval_id).consumed_at is not None
