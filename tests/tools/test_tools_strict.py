"""One strict type contract at the tool boundary, and every refusal in the audit log."""

from __future__ import annotations

import math
from typing import Any

import pytest

from conftest import Shop
from orchestrator.errors import InvalidInput, NotFound
from orchestrator.store.models import AuditLog


def _transfer(**over: Any) -> dict[str, Any]:
    return {
        "sku": "ARD-NANO",
        "from_location": "WH-MAIN",
        "to_location": "WH-NORTH",
        "qty": 1,
        **over,
    }


@pytest.mark.parametrize(
    ("tool", "args", "field"),
    [
        ("transfer_stock", _transfer(qty="120"), "qty"),
        ("transfer_stock", _transfer(qty="3"), "qty"),
        ("transfer_stock", _transfer(qty=120.0), "qty"),
        ("transfer_stock", _transfer(qty=math.nan), "qty"),
        ("transfer_stock", _transfer(sku=3), "sku"),
        (
            "adjust_quantity",
            {"sku": "PSU-12V", "location": "WH-MAIN", "delta": "-1", "reason": "count"},
            "delta",
        ),
        ("get_inventory", {"sku": "ARD-NANO", "location": 7}, "location"),
    ],
)
def test_no_coercion_the_service_would_refuse(
    shop: Shop, tool: str, args: dict[str, Any], field: str
) -> None:
    ctx = shop.ctx("inventory")
    before = shop.count(AuditLog)
    with pytest.raises(InvalidInput) as caught:
        shop.runner.invoke(ctx, tool, args)
    assert caught.value.field == field
    assert shop.count(AuditLog) == before + 1


@pytest.mark.parametrize(
    ("name", "args", "field"),
    [
        ("transfer_stock", [1, 2, 3], "arguments"),
        ("transfer_stock", "qty=3", "arguments"),
        ("transfer_stock", 42, "arguments"),
        (None, {}, "name"),
        (7, {}, "name"),
        ("", {}, "name"),
    ],
)
def test_invoke_refuses_non_object_arguments_and_bad_names(
    shop: Shop, name: Any, args: Any, field: str
) -> None:
    ctx = shop.ctx("inventory")
    before = shop.count(AuditLog)
    with pytest.raises(InvalidInput) as caught:
        shop.runner.invoke(ctx, name, args)
    assert caught.value.field == field
    assert shop.count(AuditLog) == before + 1


def test_a_customer_id_in_the_arguments_is_refused_and_audited_as_denied(shop: Shop) -> None:
    ctx = shop.ctx("support", customer_id=shop.customer_a)
    before = shop.count(AuditLog, AuditLog.outcome == "denied")
    with pytest.raises(InvalidInput) as caught:
        shop.runner.invoke(ctx, "get_customer_orders", {"customer_id": shop.customer_b})
    assert caught.value.field == "customer_id"
    assert shop.count(AuditLog, AuditLog.outcome == "denied") == before + 1


def test_a_read_refusal_is_audited_once(shop: Shop) -> None:
    ctx = shop.ctx("support", customer_id=shop.customer_a)
    before = shop.count(AuditLog)
    with pytest.raises(NotFound):
        shop.runner.invoke(ctx, "get_order_status", {"order_id": 2**31 - 1})
    assert shop.count(AuditLog) == before + 1


def test_a_write_refusal_is_audited_once_by_the_service(shop: Shop) -> None:
    ctx = shop.ctx("inventory")
    before = shop.count(AuditLog)
    with pytest.raises(InvalidInput):
        shop.runner.invoke(ctx, "transfer_stock", _transfer(to_location="WH-MAIN"))
    assert shop.count(AuditLog) == before + 1


@pytest.mark.parametrize("order_id", [2**31, 2**53])
def test_ids_past_32_bits_are_invalid_input(shop: Shop, order_id: int) -> None:
    ctx = shop.ctx("support", customer_id=shop.customer_a)
    with pytest.raises(InvalidInput) as caught:
        shop.runner.invoke(ctx, "get_order_status", {"order_id": order_id})
    assert caught.value.field == "order_id"
