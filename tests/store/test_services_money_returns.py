"""Payments, refunds, returns and tickets."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine
from store_factories import STAFF, Shop, assert_balanced

from orchestrator.errors import HiddenRecord, InvalidInput, InvalidTransition
from orchestrator.store.services import Actor, OrderLineIn, ReturnLineIn, StoreService


def _shipped(svc: StoreService, shop: Shop, qty: int = 3) -> int:
    order = svc.create_order(
        shop.customers[0], [OrderLineIn(sku="SKU-1", qty=qty)], location="WH-MAIN", actor=STAFF
    )
    placed = svc.place_order(order.id, actor=STAFF)
    svc.record_payment(order.id, "authorization", placed.total_cents, actor=STAFF)
    svc.record_payment(order.id, "capture", placed.total_cents, actor=STAFF)
    svc.ship_order(order.id, carrier="dhl", actor=STAFF)
    return order.id


def test_placing_prices_the_order_from_the_store_tables(svc: StoreService, shop: Shop) -> None:
    order = svc.create_order(
        shop.customers[0], [OrderLineIn(sku="SKU-1", qty=3)], location="WH-MAIN", actor=STAFF
    )
    assert (order.subtotal_cents, order.total_cents) == (3000, 3000)  # a draft: goods only
    best = svc.discount_eligibility(shop.customers[0], [OrderLineIn(sku="SKU-1", qty=3)]).best
    assert best is not None and best.code == "FIRST_ORDER"  # 10% off a first order
    placed = svc.place_order(order.id, actor=STAFF)
    # Once placed, it counts: the customer's next order is no longer a first order.
    after = svc.discount_eligibility(shop.customers[0]).eligible
    assert "FIRST_ORDER" not in {d.code for d in after}
    quote = svc.quote_shipping(order_id=order.id)
    assert placed.discount_cents == best.amount_cents == 300
    assert placed.shipping_cents == quote.cost_cents > 0  # 3000 < 5000: not free
    assert placed.total_cents == 3000 - 300 + quote.cost_cents
    # Shipping at another price than the rate table's is refused; without a cost it is charged.
    with pytest.raises(InvalidInput, match=f"prices this shipment at {quote.cost_cents} cents"):
        svc.ship_order(order.id, carrier="dhl", cost_cents=1, actor=STAFF)
    shipment = svc.ship_order(order.id, carrier="dhl", service="standard", actor=STAFF)
    assert shipment.cost_cents == quote.cost_cents


def test_payments_and_refunds(svc: StoreService, shop: Shop) -> None:
    oid = _shipped(svc, shop)
    total = svc.get_order(oid).total_cents  # 3 x 1000, less 10%, plus shipping, all captured
    with pytest.raises(InvalidInput, match=str(total)):
        svc.record_payment(oid, "capture", 1, actor=STAFF)
    refund = svc.refund(oid, 2000, reason="damaged", actor=STAFF)
    assert (refund.kind, refund.captured_cents, refund.refunded_cents) == ("refund", total, 2000)
    with pytest.raises(InvalidInput, match=f"only {total - 2000} cents"):
        svc.refund(oid, total - 2000 + 1, reason="more", actor=STAFF)
    with pytest.raises(InvalidInput, match="kind"):
        svc.record_payment(oid, "refund", 5, actor=STAFF)


def test_return_flow_restocks(svc: StoreService, shop: Shop, engine: Engine) -> None:
    oid = _shipped(svc, shop)
    ret = svc.initiate_return(
        oid, [ReturnLineIn(sku="SKU-1", qty=2)], reason="too big", actor=STAFF
    )
    assert ret.status == "requested" and ret.lines[0].qty == 2
    with pytest.raises(InvalidInput, match="only 1 of the 3"):
        svc.initiate_return(oid, [ReturnLineIn(sku="SKU-1", qty=2)], reason="more", actor=STAFF)
    with pytest.raises(InvalidInput, match="SKU-2"):
        svc.initiate_return(oid, [ReturnLineIn(sku="SKU-2", qty=1)], reason="x", actor=STAFF)
    received = svc.receive_return(ret.id, actor=STAFF)
    assert received.status == "received"
    assert svc.get_stock("SKU-1", "WH-MAIN")[0].on_hand == 19
    assert svc.stock_ledger("SKU-1", "WH-MAIN")[0].kind == "return"
    with pytest.raises(InvalidTransition):
        svc.receive_return(ret.id, actor=STAFF)
    svc.refund(oid, 2000, reason="returned", return_id=ret.id, actor=STAFF)
    assert svc.get_return(ret.id).status == "refunded"
    assert svc.get_return(ret.id).refund_cents == 2000
    assert_balanced(engine)


def test_return_needs_shipped_order(svc: StoreService, shop: Shop) -> None:
    order = svc.create_order(
        shop.customers[0], [OrderLineIn(sku="SKU-1", qty=1)], location="WH-MAIN", actor=STAFF
    )
    with pytest.raises(InvalidInput, match="draft"):
        svc.initiate_return(order.id, [ReturnLineIn(sku="SKU-1", qty=1)], reason="x", actor=STAFF)


def test_customer_returns_only_own_orders(svc: StoreService, shop: Shop) -> None:
    oid = _shipped(svc, shop)
    bob = Actor("customer:bob", agent="support", customer_id=shop.customers[1])
    with pytest.raises(HiddenRecord, match=f"no order with id {oid}"):
        svc.initiate_return(oid, [ReturnLineIn(sku="SKU-1", qty=1)], reason="x", actor=bob)


def test_tickets(svc: StoreService, shop: Shop) -> None:
    oid = _shipped(svc, shop)
    ticket = svc.create_ticket(
        shop.customers[0], "Where is it?", "Tracking?", order_id=oid, priority="high", actor=STAFF
    )
    assert (ticket.status, ticket.priority, ticket.order_id) == ("open", "high", oid)
    assert svc.get_ticket(ticket.id) == ticket
    with pytest.raises(InvalidInput, match="not an order of customer"):
        svc.create_ticket(shop.customers[1], "x", "y", order_id=oid, actor=STAFF)
    with pytest.raises(InvalidInput, match="priority"):
        svc.create_ticket(shop.customers[0], "x", "y", priority="asap", actor=STAFF)


def test_reject_return(svc: StoreService, shop: Shop) -> None:
    oid = _shipped(svc, shop, qty=2)
    ret = svc.initiate_return(oid, [ReturnLineIn(sku="SKU-1", qty=2)], reason="x", actor=STAFF)
    assert svc.reject_return(ret.id, reason="used", actor=STAFF).status == "rejected"
    again = svc.initiate_return(oid, [ReturnLineIn(sku="SKU-1", qty=2)], reason="y", actor=STAFF)
    assert again.status == "requested"  # rejected units count as returnable again
