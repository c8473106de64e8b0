"""Every tool once through the runner, on SQLite."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.store.services import Actor
from orchestrator.tools import default_catalog

STAFF = Actor("test-setup")


def test_catalog_reads(shop: Any) -> None:
    ctx = shop.ctx("analyst")
    found = shop.invoke(ctx, "search_products", {"query": "arduino", "max_price_cents": 2200})
    assert [p.sku for p in found.products] == ["ARD-NANO"]
    boards = shop.invoke(ctx, "search_products", {"category": "boards", "min_price_cents": 900})
    assert {p.sku for p in boards.products} == {"ARD-UNO-R3", "ARD-NANO", "ESP32-DEV"}
    info = shop.invoke(ctx, "get_product_info", {"sku": "ARD-UNO-R3"})
    assert info.price_cents == 2400 and info.available_units == 48
    assert "cost_cents" not in info.model_dump()
    similar = shop.invoke(ctx, "get_similar_products", {"sku": "ARD-UNO-R3", "limit": 3})
    assert [s.product.sku for s in similar.similar] == ["ARD-NANO", "ESP32-DEV", "RPI-PICO"]
    assert similar.similar[0].shared_attributes == {"mcu": "atmega328", "v": 5}


def test_inventory_tools(shop: Any) -> None:
    ctx = shop.ctx("inventory")
    inv = shop.invoke(ctx, "get_inventory", {"sku": "ARD-UNO-R3"})
    assert (inv.total_on_hand, inv.total_available) == (48, 48)
    assert [lvl.location for lvl in inv.levels] == ["WH-MAIN", "WH-NORTH"]
    one = shop.invoke(ctx, "get_inventory", {"sku": "ARD-UNO-R3", "location": "WH-NORTH"})
    assert one.total_on_hand == 8
    low = shop.invoke(ctx, "low_stock_report", {"location": "WH-MAIN"})
    assert low.count == len(low.items)
    adjusted = shop.invoke(
        ctx,
        "adjust_quantity",
        {"sku": "PSU-12V", "location": "WH-MAIN", "delta": -2, "reason": "two damaged"},
    )
    assert adjusted.on_hand == 8
    moved = shop.invoke(
        ctx,
        "transfer_stock",
        {"sku": "ARD-UNO-R3", "from_location": "WH-MAIN", "to_location": "WH-NORTH", "qty": 5},
    )
    assert (moved.source.on_hand, moved.destination.on_hand) == (35, 13)
    policy = shop.invoke(
        ctx,
        "set_inventory_policy",
        {
            "sku": "PSU-12V",
            "location": "WH-MAIN",
            "reorder_point": 6,
            "safety_stock": 2,
            "order_quantity": 12,
            "reason": "tuned",
        },
    )
    assert (policy.reorder_point, policy.version) == (6, 1)
    assert shop.invoke(ctx, "get_inventory", {"sku": "PSU-12V"}).levels[0].reorder_point == 6


def test_order_tools(shop: Any) -> None:
    ctx = shop.ctx("order", customer_id=shop.customer_a)
    draft = shop.invoke(
        ctx, "draft_order", {"lines": [{"sku": "ARD-UNO-R3", "qty": 2}], "location": "WH-MAIN"}
    )
    assert draft.status == "draft" and draft.customer_id == shop.customer_a
    placed = shop.invoke(ctx, "place_order", {"order_id": draft.id})
    assert placed.status == "placed" and placed.lines[0].reserved_qty == 2
    status = shop.invoke(ctx, "get_order_status", {"order_id": draft.id})
    assert status.status == "placed"
    modified = shop.invoke(
        ctx,
        "modify_order",
        {
            "order_id": draft.id,
            "lines": [{"sku": "ARD-UNO-R3", "qty": 3}, {"sku": "CABLE-USB", "qty": 1}],
        },
    )
    assert modified.subtotal_cents == 3 * 2400 + 300
    cancelled = shop.invoke(ctx, "cancel_order", {"order_id": draft.id, "reason": "changed mind"})
    assert cancelled.status == "cancelled"
    assert shop.svc.get_stock("ARD-UNO-R3", "WH-MAIN")[0].reserved == 0


def test_support_tools(shop: Any) -> None:
    shipped = shop.order(shop.customer_a, [("ARD-UNO-R3", 2)], ship=True)
    ctx = shop.ctx("support", customer_id=shop.customer_a)
    mine = shop.invoke(ctx, "get_customer_orders", {})
    assert mine.customer_id == shop.customer_a and [o.id for o in mine.orders] == [shipped]
    quote = shop.invoke(ctx, "calculate_shipping", {"country": "GB", "order_id": shipped})
    assert quote.cost_cents == 395 and not quote.free_shipping  # goods 4800 < 5000
    ret = shop.invoke(
        ctx,
        "initiate_return",
        {
            "order_id": shipped,
            "lines": [{"sku": "ARD-UNO-R3", "qty": 1}],
            "reason": "arrived broken",
        },
    )
    assert ret.status == "requested" and ret.customer_id == shop.customer_a
    ticket = shop.invoke(
        ctx,
        "create_support_ticket",
        {"subject": "Broken board", "body": "Pins bent", "order_id": shipped, "category": "return"},
    )
    assert ticket.customer_id == shop.customer_a and ticket.order_id == shipped
    disc = shop.invoke(
        ctx, "get_discount_eligibility", {"items": [{"sku": "CABLE-USB", "qty": 10}]}
    )
    assert disc.tier == "gold" and disc.order_count == 1
    assert {d.code for d in disc.eligible} == {"TIER_GOLD", "BULK"}
    assert disc.best is not None and disc.best.code == "TIER_GOLD"


def test_calculate_shipping_for_items(shop: Any) -> None:
    ctx = shop.ctx("order", customer_id=shop.customer_a)
    quote = shop.invoke(
        ctx,
        "calculate_shipping",
        {"country": "FR", "service": "express", "items": [{"sku": "PSU-12V", "qty": 2}]},
    )
    # 2 x 2500 g + 200 g = 5.2 kg: base + 5 extra kg.
    assert quote.zone == "europe" and quote.cost_cents == 1795 + 5 * 450


def test_procurement_tools(shop: Any) -> None:
    ctx = shop.ctx("procurement")
    suppliers = shop.invoke(ctx, "list_suppliers", {"sku": "PSU-12V"})
    assert [s.id for s in suppliers.suppliers] == [shop.supplier_id]
    offers = shop.invoke(ctx, "get_supplier_offers", {"sku": "ARD-UNO-R3"})
    assert [o.unit_cost_cents for o in offers.offers] == [1400, 1500]
    po = shop.invoke(
        ctx,
        "create_purchase_order",
        {
            "supplier_id": shop.supplier_id,
            "location": "WH-MAIN",
            "lines": [{"sku": "ARD-UNO-R3", "qty": 20}],
            "expected_at": "2030-01-15",
        },
    )
    assert po.status == "sent" and po.total_cents == 20 * 1500
    received = shop.invoke(
        ctx, "receive_purchase_order", {"po_id": po.id, "lines": [{"sku": "ARD-UNO-R3", "qty": 5}]}
    )
    assert received.status == "partially_received"
    rest = shop.invoke(ctx, "receive_purchase_order", {"po_id": po.id})
    assert rest.status == "received"
    assert shop.svc.get_stock("ARD-UNO-R3", "WH-MAIN")[0].on_hand == 60


def test_auditor_tools(shop: Any) -> None:
    failed = shop.add_txn(status="failed")
    stuck = shop.add_txn(status="pending", delta=-1, minutes_ago=300)
    shop.add_txn(status="pending", delta=-3, minutes_ago=1)
    ctx = shop.ctx("auditor")
    listed = shop.invoke(
        ctx, "list_integration_transactions", {"status": "pending", "older_than_minutes": 60}
    )
    assert [t.id for t in listed.transactions] == [stuck]
    redone = shop.invoke(ctx, "reprocess_transaction", {"txn_id": failed})
    assert redone.status == "posted"
    moved = shop.invoke(
        ctx,
        "set_transaction_status",
        {"txn_id": stuck, "status": "failed", "reason": "no ack from POS"},
    )
    assert moved.status == "failed"
    held = shop.svc.reserve("ESP32-DEV", "WH-MAIN", 4, actor=STAFF)
    released = shop.invoke(
        ctx, "release_reservation", {"reservation_id": held.id, "reason": "stale hold"}
    )
    assert released.status == "released"


class _FakeKnowledge:
    """Any object with `search(query, *, k)` serves `search_knowledge_base`."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, int]] = []

    def search(self, query: str, *, k: int = 3) -> list[dict[str, Any]]:
        self.asked.append((query, k))
        hit = {"source": "returns-and-refunds.md", "heading": "Returns > Refunds", "score": 0.8}
        return [{**hit, "text": f"passage {i}"} for i in range(k)]


def test_knowledge_tool(shop: Any) -> None:
    from orchestrator.errors import PermissionDenied

    knowledge = _FakeKnowledge()
    ctx = shop.ctx("support", customer_id=shop.customer_a, knowledge=knowledge)
    result = shop.invoke(ctx, "search_knowledge_base", {"query": "refund to my card", "k": 2})
    assert knowledge.asked == [("refund to my card", 2)]
    assert result.query == "refund to my card"
    assert [h.text for h in result.hits] == ["passage 0", "passage 1"]
    assert set(result.model_dump()) == {"query", "hits"}
    assert set(result.hits[0].model_dump()) == {"source", "heading", "score", "text"}
    analyst = shop.invoke(
        shop.ctx("analyst", knowledge=knowledge), "search_knowledge_base", {"query": "cycle counts"}
    )
    assert len(analyst.hits) == 3
    with pytest.raises(PermissionDenied, match="no knowledge base is configured"):
        shop.invoke(shop.ctx("analyst"), "search_knowledge_base", {"query": "cycle counts"})


def test_every_tool_is_exercised() -> None:
    import pathlib
    import re

    text = pathlib.Path(__file__).read_text()
    called = set(re.findall(r'"([a-z_]+)"', text))
    missing = {spec.name for spec in default_catalog()} - called
    assert not missing, f"tools never called here: {missing}"
