"""Bad input: a typed error whose message names the bad value, and no partial write."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.errors import (
    InsufficientStock,
    InvalidInput,
    InvalidTransition,
    NotFound,
    UnknownSku,
)
from orchestrator.store.models import Order, Reservation
from orchestrator.store.services import Actor

STAFF = Actor("test-setup")
LINE = {"sku": "ARD-NANO", "qty": 1}


def _adjust(**over: Any) -> dict[str, Any]:
    return {"sku": "PSU-12V", "location": "WH-MAIN", "delta": -1, "reason": "count", **over}


def _transfer(**over: Any) -> dict[str, Any]:
    return {
        "sku": "ARD-NANO",
        "from_location": "WH-MAIN",
        "to_location": "WH-NORTH",
        "qty": 1,
        **over,
    }


def _draft(**over: Any) -> dict[str, Any]:
    return {"lines": [LINE], "location": "WH-MAIN", **over}


# (agent, tool, args, field, value shown in the message)
RUNNER_REFUSALS = [
    # zero / negative / absurd quantities
    ("inventory", "transfer_stock", _transfer(qty=0), "qty", "0"),
    ("inventory", "transfer_stock", _transfer(qty=-5), "qty", "-5"),
    ("inventory", "transfer_stock", _transfer(qty=10**9), "qty", "1000000000"),
    ("inventory", "adjust_quantity", _adjust(delta=10**7), "delta", "10000000"),
    ("order", "draft_order", _draft(lines=[{"sku": "ARD-NANO", "qty": 0}]), "lines.0.qty", "0"),
    ("order", "draft_order", _draft(lines=[{"sku": "ARD-NANO", "qty": -2}]), "lines.0.qty", "-2"),
    ("order", "draft_order", _draft(lines=[]), "lines", "[]"),
    # wrong types
    ("inventory", "transfer_stock", _transfer(qty="many"), "qty", "'many'"),
    ("inventory", "transfer_stock", _transfer(qty=2.5), "qty", "2.5"),
    ("inventory", "transfer_stock", _transfer(qty=True), "qty", "True"),
    (
        "order",
        "draft_order",
        _draft(lines=[{"sku": "ARD-NANO", "qty": True}]),
        "lines.0.qty",
        "True",
    ),
    ("inventory", "get_inventory", {"sku": 12345}, "sku", "12345"),
    ("order", "draft_order", _draft(lines={"sku": "ARD-NANO"}), "lines", "'sku'"),
    (
        "auditor",
        "set_transaction_status",
        {"txn_id": 1, "status": "done", "reason": "fix it"},
        "status",
        "'done'",
    ),
    # malformed ids and codes
    ("order", "get_order_status", {"order_id": "ORD-12"}, "order_id", "'ORD-12'"),
    ("order", "get_order_status", {"order_id": -3}, "order_id", "-3"),
    ("order", "get_order_status", {"order_id": 0}, "order_id", "0"),
    ("inventory", "get_inventory", {"sku": "bad sku; drop"}, "sku", "'bad sku; drop'"),
    ("inventory", "adjust_quantity", _adjust(location="WH MAIN"), "location", "'WH MAIN'"),
    ("order", "calculate_shipping", {"country": "GBR", "items": [LINE]}, "country", "'GBR'"),
    # missing, extra, empty reason
    (
        "inventory",
        "adjust_quantity",
        {"sku": "PSU-12V", "delta": 1, "reason": "x y z"},
        "location",
        "<missing>",
    ),
    ("inventory", "adjust_quantity", _adjust(force=True), "force", "True"),
    ("inventory", "adjust_quantity", _adjust(reason=""), "reason", "''"),
]


@pytest.mark.parametrize(
    ("agent", "tool", "args", "field", "shown"),
    RUNNER_REFUSALS,
    ids=[f"{r[1]}-{r[3]}-{i}" for i, r in enumerate(RUNNER_REFUSALS)],
)
def test_schema_refusals_name_the_field_and_value(
    shop: Any, agent: str, tool: str, args: dict[str, Any], field: str, shown: str
) -> None:
    ctx = shop.ctx(agent, customer_id=shop.customer_a if agent == "order" else None)
    before = shop.snapshot()
    with pytest.raises(InvalidInput) as err:
        shop.invoke(ctx, tool, args)
    assert err.value.field == field
    assert f"invalid {field}=" in str(err.value) and shown in str(err.value)
    assert shop.snapshot() == before


def test_unknown_sku(shop: Any) -> None:
    before = shop.snapshot()
    with pytest.raises(UnknownSku, match="'NOPE-1'"):
        shop.invoke(shop.ctx("analyst"), "get_product_info", {"sku": "NOPE-1"})
    with pytest.raises(UnknownSku, match="'NOPE-1'"):
        shop.invoke(shop.ctx("inventory"), "adjust_quantity", _adjust(sku="NOPE-1"))
    with pytest.raises(UnknownSku, match="'NOPE-2'"):
        shop.invoke(
            shop.ctx("order", customer_id=shop.customer_a),
            "draft_order",
            _draft(lines=[LINE, {"sku": "NOPE-2", "qty": 1}]),
        )
    assert shop.snapshot() == before
    assert shop.count(Order) == 0


def test_unknown_ids(shop: Any) -> None:
    before = shop.snapshot()
    with pytest.raises(NotFound, match="99999"):
        shop.invoke(
            shop.ctx("order", customer_id=shop.customer_a), "get_order_status", {"order_id": 99999}
        )
    with pytest.raises(NotFound, match="99999"):
        shop.invoke(
            shop.ctx("support", customer_id=shop.customer_a),
            "cancel_order",
            {"order_id": 99999, "reason": "gone"},
        )
    with pytest.raises(NotFound, match="4242"):
        shop.invoke(
            shop.ctx("auditor"), "release_reservation", {"reservation_id": 4242, "reason": "stale"}
        )
    with pytest.raises(NotFound, match="'WH-NOWHERE'"):
        shop.invoke(shop.ctx("inventory"), "transfer_stock", _transfer(to_location="WH-NOWHERE"))
    assert shop.snapshot() == before


def test_same_location_transfer(shop: Any) -> None:
    with pytest.raises(InvalidInput, match="to_location='WH-MAIN'"):
        shop.invoke(shop.ctx("inventory"), "transfer_stock", _transfer(to_location="WH-MAIN"))


def test_too_little_stock_reserves_nothing(shop: Any) -> None:
    ctx = shop.ctx("order", customer_id=shop.customer_a)
    draft = shop.invoke(
        ctx,
        "draft_order",
        _draft(lines=[{"sku": "ARD-NANO", "qty": 2}, {"sku": "RPI-PICO", "qty": 6}]),
    )
    before = shop.snapshot()
    with pytest.raises(InsufficientStock, match=r"'RPI-PICO'.*requested 6, available 5"):
        shop.invoke(ctx, "place_order", {"order_id": draft.id})
    assert shop.count(Reservation) == 0
    assert shop.svc.get_order(draft.id).status == "draft"
    assert shop.snapshot() == before


def test_disallowed_transitions(shop: Any) -> None:
    ctx = shop.ctx("order", customer_id=shop.customer_a)
    order = shop.order(shop.customer_a, [("ARD-NANO", 1)])
    shop.invoke(ctx, "cancel_order", {"order_id": order, "reason": "changed mind"})
    before = shop.snapshot()
    with pytest.raises(InvalidTransition, match=f"order {order} from 'cancelled' to .*placed"):
        shop.invoke(ctx, "place_order", {"order_id": order})
    with pytest.raises(InvalidTransition, match="'cancelled'"):
        shop.invoke(ctx, "cancel_order", {"order_id": order, "reason": "again"})
    with pytest.raises(InvalidTransition, match="'cancelled'"):
        shop.invoke(ctx, "modify_order", {"order_id": order, "lines": [LINE]})
    assert shop.snapshot() == before

    placed = shop.order(shop.customer_a, [("ARD-NANO", 1)])
    # A return is its own entity: the service refuses the order's status as bad input.
    with pytest.raises((InvalidTransition, InvalidInput), match=r"order_id=.*placed"):
        shop.invoke(
            shop.ctx("support", customer_id=shop.customer_a),
            "initiate_return",
            {"order_id": placed, "lines": [LINE], "reason": "not shipped yet"},
        )


def test_disallowed_integration_transition(shop: Any) -> None:
    txn = shop.add_txn(status="failed")
    ctx = shop.ctx("auditor")
    shop.invoke(ctx, "reprocess_transaction", {"txn_id": txn})
    before = shop.snapshot()
    with pytest.raises(InvalidTransition, match="'posted' to 'pending'"):
        shop.invoke(
            ctx, "set_transaction_status", {"txn_id": txn, "status": "pending", "reason": "redo it"}
        )
    assert shop.snapshot() == before
