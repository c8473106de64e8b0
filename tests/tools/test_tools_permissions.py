"""Allow-lists, customer scoping and audit of refusals."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.errors import HiddenRecord, InvalidInput, NotFound, PermissionDenied
from orchestrator.settings import Settings
from orchestrator.store.models import AuditLog
from orchestrator.tools import AgentProfile, ToolRunner, default_catalog


def test_call_outside_the_profile_is_refused_and_audited(shop: Any) -> None:
    before = shop.snapshot()
    ctx = shop.ctx("support", customer_id=shop.customer_a)
    args = {"sku": "PSU-12V", "location": "WH-MAIN", "delta": -1, "reason": "count"}
    with pytest.raises(PermissionDenied, match="'adjust_quantity' is not in the allow-list") as err:
        shop.invoke(ctx, "adjust_quantity", args)
    assert err.value.agent == "support"
    assert shop.snapshot() == before
    [row] = shop.audit_rows(AuditLog.outcome == "denied")
    assert (row.operation, row.agent, row.actor) == (
        "adjust_quantity",
        "support",
        f"customer:{shop.customer_a}",
    )
    assert row.arguments == args
    assert shop.svc.get_stock("PSU-12V", "WH-MAIN")[0].on_hand == 10


def test_unknown_tool_is_refused_like_any_other(shop: Any) -> None:
    with pytest.raises(PermissionDenied, match="'drop_tables'"):
        shop.invoke(shop.ctx("auditor"), "drop_tables", {})
    assert shop.audit_rows(AuditLog.operation == "drop_tables")[0].outcome == "denied"


def test_analyst_is_read_only(shop: Any) -> None:
    ctx = shop.ctx("analyst")
    assert shop.invoke(ctx, "get_inventory", {"sku": "ARD-NANO"}).total_on_hand == 30
    with pytest.raises(PermissionDenied):
        shop.invoke(
            ctx,
            "transfer_stock",
            {"sku": "ARD-NANO", "from_location": "WH-MAIN", "to_location": "WH-NORTH", "qty": 1},
        )


def test_read_only_profile_refuses_a_listed_write(shop: Any) -> None:
    catalog = default_catalog()
    catalog.register_profile(
        AgentProfile("viewer", frozenset({"get_inventory", "adjust_quantity"}), read_only=True)
    )
    runner = ToolRunner(catalog)
    with pytest.raises(PermissionDenied, match="read-only"):
        runner.invoke(
            shop.ctx("viewer"),
            "adjust_quantity",
            {"sku": "PSU-12V", "location": "WH-MAIN", "delta": 1, "reason": "count"},
        )
    assert shop.audit_rows(AuditLog.outcome == "denied")[0].agent == "viewer"


def test_support_cannot_read_another_customers_order(shop: Any) -> None:
    theirs = shop.order(shop.customer_b, [("ARD-NANO", 1)])
    ctx = shop.ctx("support", customer_id=shop.customer_a)
    # Answered exactly as a missing id would be: customers cannot probe which ids exist.
    with pytest.raises(HiddenRecord, match=f"no order with id {theirs}"):
        shop.invoke(ctx, "get_order_status", {"order_id": theirs})
    [row] = shop.audit_rows(AuditLog.outcome == "denied")
    assert row.operation == "get_order_status" and row.arguments == {"order_id": theirs}
    assert "another customer" in (row.error or "")


def test_support_cannot_cancel_another_customers_order(shop: Any) -> None:
    theirs = shop.order(shop.customer_b, [("ARD-NANO", 3)])
    before = shop.snapshot()
    ctx = shop.ctx("support", customer_id=shop.customer_a)
    with pytest.raises(NotFound):
        shop.invoke(ctx, "cancel_order", {"order_id": theirs, "reason": "please cancel"})
    assert shop.svc.get_order(theirs).status == "placed"
    assert shop.svc.get_stock("ARD-NANO", "WH-MAIN")[0].reserved == 3
    assert shop.snapshot() == before
    assert shop.audit_rows(AuditLog.outcome == "denied")[0].operation == "cancel_order"
    for tool, args in [
        (
            "initiate_return",
            {"order_id": theirs, "lines": [{"sku": "ARD-NANO", "qty": 1}], "reason": "broken"},
        ),
        ("create_support_ticket", {"subject": "About order", "order_id": theirs}),
        ("calculate_shipping", {"country": "GB", "order_id": theirs}),
    ]:
        with pytest.raises(NotFound):
            shop.invoke(ctx, tool, args)


@pytest.mark.parametrize(
    ("tool", "args"),
    [
        ("get_customer_orders", {"customer_id": 2}),
        ("get_discount_eligibility", {"customer_id": 2}),
        ("create_support_ticket", {"subject": "hello", "customer_id": 2}),
    ],
)
def test_the_model_cannot_smuggle_a_customer_id(shop: Any, tool: str, args: dict[str, Any]) -> None:
    ctx = shop.ctx("support", customer_id=shop.customer_a)
    with pytest.raises(InvalidInput, match="customer always comes from the run context") as err:
        shop.invoke(ctx, tool, args)
    assert err.value.field == "customer_id"


def test_customer_tools_use_the_run_customer(shop: Any) -> None:
    shop.order(shop.customer_b, [("ARD-NANO", 1)])
    mine = shop.invoke(shop.ctx("support", customer_id=shop.customer_a), "get_customer_orders")
    assert mine.orders == []
    theirs = shop.invoke(shop.ctx("support", customer_id=shop.customer_b), "get_customer_orders")
    assert len(theirs.orders) == 1


def test_customer_facing_profile_needs_a_customer(shop: Any) -> None:
    with pytest.raises(PermissionDenied, match="no authenticated customer"):
        shop.invoke(shop.ctx("support"), "search_products", {"query": "pico"})
    with pytest.raises(PermissionDenied, match="names none"):
        shop.invoke(
            shop.ctx("order"),
            "draft_order",
            {"lines": [{"sku": "ARD-NANO", "qty": 1}], "location": "WH-MAIN"},
        )
    assert len(shop.audit_rows(AuditLog.outcome == "denied")) == 2


def test_reads_are_audited_when_configured(shop: Any) -> None:
    quiet = shop.ctx("analyst")
    shop.invoke(quiet, "get_inventory", {"sku": "ARD-NANO"})
    assert shop.audit_rows(AuditLog.operation == "get_inventory") == []
    loud = shop.ctx("analyst", settings=Settings(audit={"log_reads": True}))
    shop.invoke(loud, "get_inventory", {"sku": "ARD-NANO"})
    [row] = shop.audit_rows(AuditLog.operation == "get_inventory")
    assert (row.outcome, row.agent, row.arguments) == (
        "ok",
        "analyst",
        {"sku": "ARD-NANO", "location": None},
    )
