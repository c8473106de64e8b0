"""Reads, and the backorder policy."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine
from store_factories import STAFF, Shop, assert_balanced

from orchestrator.errors import InsufficientStock, NotFound, UnknownSku
from orchestrator.settings import Settings
from orchestrator.store.invariants import check_invariants
from orchestrator.store.services import OrderLineIn, StoreService


def test_catalogue_reads(svc: StoreService, shop: Shop) -> None:
    assert svc.get_product("SKU-2").price_cents == 1100
    with pytest.raises(UnknownSku, match="NOPE"):
        svc.get_product("NOPE")
    assert [p.sku for p in svc.search_products("widget 3")] == ["SKU-3"]
    assert [p.sku for p in svc.search_products(category="widgets")] == ["SKU-1", "SKU-3"]
    assert [p.sku for p in svc.search_products(max_price_cents=1050)] == ["SKU-1"]
    assert "OLD-1" not in [p.sku for p in svc.search_products()]
    assert [p.sku for p in svc.similar_products("SKU-1")] == ["SKU-3"]
    offers = svc.supplier_offers("SKU-1")
    assert [o.supplier_name for o in offers] == ["Acme", "Globex"]  # cheapest first
    assert {s.name for s in svc.list_suppliers("SKU-1")} == {"Acme", "Globex"}


def test_stock_reads(svc: StoreService, shop: Shop) -> None:
    assert [s.location for s in svc.get_stock("SKU-1")] == ["WH-MAIN"]
    assert svc.get_stock("SKU-1", "SHOP-1") == []
    with pytest.raises(NotFound, match="MOON"):
        svc.get_stock("SKU-1", "MOON")
    svc.reserve("SKU-2", "WH-MAIN", 20, actor=STAFF)
    assert [(s.sku, s.available) for s in svc.low_stock()] == [("SKU-2", 0)]
    assert svc.low_stock(location="SHOP-1") == []


def test_customer_and_order_reads(svc: StoreService, shop: Shop) -> None:
    ada = shop.customers[0]
    assert svc.get_customer(ada).name == "Ada"
    first = svc.create_order(
        ada, [OrderLineIn(sku="SKU-1", qty=1)], location="WH-MAIN", actor=STAFF
    )
    second = svc.create_order(
        ada, [OrderLineIn(sku="SKU-2", qty=1)], location="WH-MAIN", actor=STAFF
    )
    assert [o.id for o in svc.customer_orders(ada)] == [second.id, first.id]
    assert svc.customer_orders(shop.customers[1]) == []
    with pytest.raises(NotFound, match="get_order"):
        svc.get_order(999)


def test_backorders_allow_reserving_beyond_stock(engine: Engine, shop: Shop) -> None:
    settings = Settings(_env_file=None, store={"allow_backorders": True})  # type: ignore[call-arg]
    svc = StoreService(engine, settings=settings)
    order = svc.create_order(
        shop.customers[0], [OrderLineIn(sku="SKU-1", qty=25)], location="WH-MAIN", actor=STAFF
    )
    svc.place_order(order.id, actor=STAFF)
    [level] = svc.get_stock("SKU-1", "WH-MAIN")
    assert (level.on_hand, level.reserved, level.available) == (20, 25, -5)
    assert check_invariants(engine, allow_backorders=True).ok
    assert not check_invariants(engine).ok
    with pytest.raises(InsufficientStock):  # shipping still needs the units on hand
        svc.ship_order(order.id, carrier="dhl", actor=STAFF)
    svc.receive_goods("SKU-1", "WH-MAIN", 5, actor=STAFF)
    svc.ship_order(order.id, carrier="dhl", actor=STAFF)
    assert_balanced(engine)
