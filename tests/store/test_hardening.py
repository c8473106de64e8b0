"""Values the columns cannot hold are refused at the boundary, the same way on both engines,
and the refusal is audited whatever it carried (bounded, storable, no personal data)."""

from __future__ import annotations

import json
import math

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session
from store_factories import STAFF, Shop, assert_balanced

from orchestrator.errors import InvalidInput
from orchestrator.store.models import Product
from orchestrator.store.services import Actor, OrderLineIn, StoreService

BIG = 2**31


def _last_refusal(svc: StoreService, operation: str) -> object:
    [entry] = svc.audit_log(operation=operation, limit=1)
    assert entry.outcome in ("error", "denied"), entry
    return entry


@pytest.mark.parametrize("order_id", [BIG, 2**53, 2**63 + 5])
def test_ids_past_32_bits_are_invalid_input_on_reads_and_writes(
    svc: StoreService, shop: Shop, order_id: int
) -> None:
    with pytest.raises(InvalidInput) as read:
        svc.get_order(order_id)
    assert read.value.field == "order_id"
    with pytest.raises(InvalidInput) as write:
        svc.place_order(order_id, actor=STAFF, idempotency_key=f"big-{order_id}")
    assert write.value.field == "order_id"
    _last_refusal(svc, "place_order")


def test_money_totals_above_32_bits_are_kept_exactly(
    svc: StoreService, shop: Shop, engine: Engine
) -> None:
    with Session(engine) as s:
        s.add(
            Product(
                sku="GOLD", name="Gold bar", category="x", price_cents=100_000_000, cost_cents=1
            )
        )
        s.commit()
    svc.receive_goods("GOLD", "WH-MAIN", 30, actor=STAFF)
    order = svc.create_order(
        shop.customers[0], [OrderLineIn(sku="GOLD", qty=22)], location="WH-MAIN", actor=STAFF
    )
    assert order.total_cents == 2_200_000_000 > BIG
    placed = svc.place_order(order.id, actor=STAFF)
    assert placed.subtotal_cents == 2_200_000_000
    assert svc.get_order(order.id).subtotal_cents == 2_200_000_000
    assert_balanced(engine)


@pytest.mark.parametrize(
    ("field", "call"),
    [
        ("body", lambda s, c: s.create_ticket(c, "help", "help\x00me", actor=STAFF)),
        ("subject", lambda s, c: s.create_ticket(c, "a\ud800b", "body", actor=STAFF)),
        (
            "shipping_address",
            lambda s, c: s.create_order(
                c,
                [OrderLineIn(sku="SKU-1", qty=1)],
                location="WH-MAIN",
                shipping_address="1 Main St\x00",
                actor=STAFF,
            ),
        ),
        (
            "reason",
            lambda s, c: s.adjust_quantity("SKU-1", "WH-MAIN", 1, reason="x\x00", actor=STAFF),
        ),
        (
            "delta",
            lambda s, c: s.adjust_quantity("SKU-1", "WH-MAIN", math.nan, reason="r", actor=STAFF),
        ),
        ("qty", lambda s, c: s.reserve("SKU-1", "WH-MAIN", math.inf, actor=STAFF)),
        (
            "idempotency_key",
            lambda s, c: s.reserve("SKU-1", "WH-MAIN", 1, actor=STAFF, idempotency_key="a\ud800b"),
        ),
        (
            "idempotency_key",
            lambda s, c: s.reserve("SKU-1", "WH-MAIN", 1, actor=STAFF, idempotency_key="a\x00b"),
        ),
        ("actor.name", lambda s, c: s.reserve("SKU-1", "WH-MAIN", 1, actor=Actor("al\x00ice"))),
    ],
)
def test_unstorable_values_are_invalid_input_and_the_refusal_is_audited(
    svc: StoreService, shop: Shop, engine: Engine, field: str, call: object
) -> None:
    with engine.connect() as conn:
        before = conn.execute(text("SELECT count(*) FROM audit_log")).scalar_one()
    with pytest.raises(InvalidInput) as caught:
        call(svc, shop.customers[0])  # type: ignore[operator]
    assert caught.value.field == field
    assert "\x00" not in str(caught.value)
    with engine.connect() as conn:
        after = conn.execute(text("SELECT count(*) FROM audit_log")).scalar_one()
        row = conn.execute(
            text("SELECT arguments, error, idempotency_key, actor FROM audit_log ORDER BY id DESC")
        ).first()
    assert after == before + 1
    assert row is not None
    stored = json.dumps(row.arguments) if not isinstance(row.arguments, str) else row.arguments
    assert "\x00" not in stored and "\x00" not in (row.error or "")
    assert_balanced(engine)


def test_a_huge_refused_argument_is_recorded_bounded_with_a_hash(
    svc: StoreService, shop: Shop, engine: Engine
) -> None:
    huge = "x" * 5_000_000
    with pytest.raises(InvalidInput):
        svc.adjust_quantity("SKU-1", "WH-MAIN", 1, reason=huge, actor=STAFF)
    with pytest.raises(InvalidInput):
        svc.create_order(
            shop.customers[0],
            [{"sku": f"SKU-{i}", "qty": 1} for i in range(3000)],
            location="WH-MAIN",
            actor=STAFF,
        )
    with engine.connect() as conn:
        sizes = [
            len(r[0] if isinstance(r[0], str) else json.dumps(r[0]))
            for r in conn.execute(text("SELECT arguments FROM audit_log ORDER BY id DESC LIMIT 2"))
        ]
    assert max(sizes) < 200_000, sizes
    entry = svc.audit_log(operation="adjust_quantity", limit=1)[0]
    assert len(entry.arguments["_sha256"]) == 64


def test_hardening_revision_widens_money_and_keeps_every_row(store_url: str) -> None:
    """0002 -> 0003: products, orders and lines survive; money then holds 64-bit totals."""
    from sqlalchemy import inspect

    from orchestrator.store import make_engine
    from orchestrator.store.migrate import head_revision, schema_diff, upgrade

    engine = make_engine(store_url)
    try:
        upgrade(engine, "0002_runtime")
        from orchestrator.store.models import Customer, Location, Order

        with Session(engine) as s:
            s.add(Location(code="WH", name="W"))
            s.add(Product(sku="P1", name="P", category="c", price_cents=2**31 - 1, cost_cents=5))
            s.add(Customer(name="Ann", email="ann@example.com"))
            s.commit()
            s.add(
                Order(
                    customer_id=1,
                    status="draft",
                    location="WH",
                    subtotal_cents=2**31 - 1,
                    total_cents=2**31 - 1,
                )
            )
            s.commit()
        assert upgrade(engine) == head_revision()
        assert schema_diff(engine) == []
        if engine.dialect.name == "postgresql":
            types = {c["name"]: str(c["type"]) for c in inspect(engine).get_columns("orders")}
            assert types["total_cents"] == "BIGINT"
        with engine.begin() as conn:
            assert conn.execute(text("SELECT total_cents FROM orders")).scalar_one() == 2**31 - 1
            conn.execute(text("UPDATE orders SET total_cents = 22000000000"))
            assert conn.execute(text("SELECT total_cents FROM orders")).scalar_one() == 22 * 10**9
            price = conn.execute(text("SELECT price_cents FROM product")).scalar_one()
        assert price == 2**31 - 1
    finally:
        engine.dispose()


@pytest.mark.parametrize("bad", ["a\x00b", "a\ud800b", "x" * 1000])
def test_read_filters_refuse_what_the_columns_cannot_compare(svc: StoreService, bad: str) -> None:
    for call, field in (
        (lambda: svc.audit_log(actor=bad), "actor"),
        (lambda: svc.audit_log(thread_id=bad), "thread_id"),
        (lambda: svc.approvals(idempotency_key=bad), "idempotency_key"),
        (lambda: svc.pending_approvals(thread_id=bad), "thread_id"),
    ):
        with pytest.raises(InvalidInput) as caught:
            call()
        assert caught.value.field == field
    with pytest.raises(InvalidInput) as since:
        svc.audit_log(since=bad)  # type: ignore[arg-type]
    assert since.value.field == "since"
    with pytest.raises(InvalidInput):
        svc.discount_eligibility(1, bad)  # type: ignore[arg-type]


def test_recordable_values_are_storable_bounded_and_redacted() -> None:
    from orchestrator.store.services._record import recordable, redact_personal

    value = {
        "reason": "mail ada@example.org or ring +44 20 7946 0958",
        "shipping_address": "12 Engine Row",
        "at": "2026-11-29T04:55:38.123456+01:00",
        "nan": math.nan,
        "huge": 2**70,
        "text": "a\x00b\ud800c",
        "long": "x" * 10_000,
        "deep": [[[[[[[[[["bottom"]]]]]]]]]],
    }
    out = recordable(value)
    assert out["reason"] == "mail <email> or ring <phone>"
    assert out["shipping_address"] == "[shipping_address redacted: 13 characters]"
    assert out["at"] == value["at"]
    assert (out["nan"], out["huge"]) == ("nan", str(2**70))
    assert out["text"] == "a\\x00b\\ud800c"
    assert len(out["long"]) < 2100 and len(out["_sha256"]) == 64
    assert "[nested too deep]" in json.dumps(out["deep"])
    json.dumps(out).encode("utf-8")  # storable as it is
    assert recordable(out) | {"_sha256": out["_sha256"]} == out  # redacting twice changes nothing
    assert redact_personal({"body": ""}) == {"body": ""}
