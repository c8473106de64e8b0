"""Order writes: draft, place (all or none), modify, cancel, ship, deliver."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine
from store_factories import STAFF, Shop, assert_balanced, count_rows

from orchestrator.errors import (
    ApprovalRequired,
    HiddenRecord,
    InsufficientStock,
    InvalidInput,
    InvalidTransition,
    NotFound,
    PermissionDenied,
)
from orchestrator.store.services import Actor, OrderLineIn, StoreService


def _order(svc: StoreService, shop: Shop, *lines: tuple[str, int]) -> int:
    order = svc.create_order(
        shop.customers[0],
        [OrderLineIn(sku=s, qty=q) for s, q in lines],
        location="WH-MAIN",
        actor=STAFF,
    )
    return order.id


def test_create_prices_from_catalogue(svc: StoreService, shop: Shop) -> None:
    order = svc.create_order(
        shop.customers[0],
        [OrderLineIn(sku="SKU-1", qty=2), {"sku": "SKU-2", "qty": 1}],  # type: ignore[list-item]
        location="WH-MAIN",
        actor=STAFF,
    )
    assert order.status == "draft"
    assert [(ln.sku, ln.unit_price_cents) for ln in order.lines] == [
        ("SKU-1", 1000),
        ("SKU-2", 1100),
    ]
    assert order.total_cents == 3100


def test_place_reserves_every_line(svc: StoreService, shop: Shop, engine: Engine) -> None:
    oid = _order(svc, shop, ("SKU-1", 2), ("SKU-2", 3))
    placed = svc.place_order(oid, actor=STAFF)
    assert placed.status == "placed" and placed.placed_at is not None
    assert all(ln.reserved_qty == ln.qty for ln in placed.lines)
    assert_balanced(engine)


def test_place_is_all_or_none(svc: StoreService, shop: Shop, engine: Engine) -> None:
    oid = _order(svc, shop, ("SKU-1", 2), ("SKU-2", 21))
    before = count_rows(engine)
    with pytest.raises(InsufficientStock, match="SKU-2"):
        svc.place_order(oid, actor=STAFF)
    assert count_rows(engine) == before
    assert svc.get_order(oid).status == "draft"
    assert svc.get_stock("SKU-1", "WH-MAIN")[0].reserved == 0


def test_modify_placed_rereserves_atomically(svc: StoreService, shop: Shop, engine: Engine) -> None:
    oid = _order(svc, shop, ("SKU-1", 2), ("SKU-2", 3))
    svc.place_order(oid, actor=STAFF)
    changed = svc.modify_order(
        oid, [OrderLineIn(sku="SKU-1", qty=5), OrderLineIn(sku="SKU-3", qty=1)], actor=STAFF
    )
    assert {ln.sku: (ln.qty, ln.reserved_qty) for ln in changed.lines} == {
        "SKU-1": (5, 5),
        "SKU-3": (1, 1),
    }
    assert svc.get_stock("SKU-2", "WH-MAIN")[0].reserved == 0
    with pytest.raises(InsufficientStock):
        svc.modify_order(oid, [OrderLineIn(sku="SKU-1", qty=25)], actor=STAFF)
    assert svc.get_order(oid) == changed
    assert_balanced(engine)


def test_cancel_releases_reservations(svc: StoreService, shop: Shop, engine: Engine) -> None:
    oid = _order(svc, shop, ("SKU-1", 4))
    svc.place_order(oid, actor=STAFF)
    cancelled = svc.cancel_order(oid, reason="customer asked", actor=STAFF)
    assert cancelled.status == "cancelled" and cancelled.cancelled_reason == "customer asked"
    assert svc.get_stock("SKU-1", "WH-MAIN")[0].reserved == 0
    with pytest.raises(InvalidTransition, match="cancelled"):
        svc.cancel_order(oid, reason="again", actor=STAFF)
    assert_balanced(engine)


def test_ship_commits_reservations(svc: StoreService, shop: Shop, engine: Engine) -> None:
    oid = _order(svc, shop, ("SKU-1", 4), ("SKU-3", 1))
    with pytest.raises(InvalidTransition, match="draft"):
        svc.ship_order(oid, carrier="dhl", actor=STAFF)
    svc.place_order(oid, actor=STAFF)
    shipment = svc.ship_order(oid, carrier="dhl", tracking="T1", actor=STAFF)
    assert shipment.status == "shipped"
    [level] = svc.get_stock("SKU-1", "WH-MAIN")
    assert (level.on_hand, level.reserved) == (16, 0)
    ledger = svc.stock_ledger("SKU-1", "WH-MAIN")[0]
    assert (ledger.kind, ledger.delta, ledger.ref_type, ledger.ref_id) == (
        "shipment",
        -4,
        "order",
        str(oid),
    )
    assert svc.list_reservations(order_id=oid, status="committed")[0].qty in (1, 4)
    assert svc.deliver_order(oid, actor=STAFF).status == "delivered"
    assert_balanced(engine)


def test_cancel_shipped_needs_approval_and_restocks_nothing(
    svc: StoreService, shop: Shop, engine: Engine
) -> None:
    oid = _order(svc, shop, ("SKU-1", 2))
    svc.place_order(oid, actor=STAFF)
    svc.ship_order(oid, carrier="dhl", actor=STAFF)
    with pytest.raises(ApprovalRequired) as err:
        svc.cancel_order(oid, reason="lost in transit", actor=STAFF)
    assert err.value.approval_id is not None
    svc.decide_approval(err.value.approval_id, approve=True, actor=Actor("boss"))
    out = svc.cancel_order(
        oid, reason="lost in transit", actor=STAFF, approval_id=err.value.approval_id
    )
    assert out.status == "cancelled"
    assert svc.get_stock("SKU-1", "WH-MAIN")[0].on_hand == 18
    assert_balanced(engine)


def test_inactive_product_cannot_be_ordered(svc: StoreService, shop: Shop) -> None:
    with pytest.raises(InvalidInput, match="OLD-1"):
        svc.create_order(
            shop.customers[0], [OrderLineIn(sku="OLD-1", qty=1)], location="WH-MAIN", actor=STAFF
        )


def test_customer_acts_only_on_own_orders(svc: StoreService, shop: Shop) -> None:
    ada, bob = shop.customers
    oid = _order(svc, shop, ("SKU-1", 1))  # Ada's
    as_bob = Actor(f"customer:{bob}", agent="order", customer_id=bob)
    as_ada = Actor(f"customer:{ada}", agent="order", customer_id=ada)
    # Another customer's order is answered exactly as a missing one (no existence oracle).
    with pytest.raises(HiddenRecord, match=f"no order with id {oid}") as hidden:
        svc.place_order(oid, actor=as_bob)
    with pytest.raises(NotFound) as missing:
        svc.place_order(10**9, actor=as_bob)
    assert str(hidden.value).replace(str(oid), "N") == str(missing.value).replace(str(10**9), "N")
    with pytest.raises(HiddenRecord):
        svc.create_order(ada, [OrderLineIn(sku="SKU-1", qty=1)], location="WH-MAIN", actor=as_bob)
    assert svc.place_order(oid, actor=as_ada).status == "placed"
    with pytest.raises(PermissionDenied):
        svc.ship_order(oid, carrier="dhl", actor=as_ada)
    denied = svc.audit_log(outcome="denied")
    assert [e.outcome for e in denied] == ["denied"] * 3
    # The audit log keeps what the caller was not told.
    assert "belongs to another customer" in (denied[-1].error or "")
