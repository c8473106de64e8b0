"""`set_price`: audited, idempotent, never below the margin floor; the price history (both engines)."""

from __future__ import annotations

import math

import pytest
from sqlalchemy import text, update
from sqlalchemy.engine import Engine
from sqlmodel import Session
from store_factories import STAFF, Shop

from orchestrator.errors import ApprovalRequired, InvalidInput, PermissionDenied, UnknownSku
from orchestrator.settings import Settings
from orchestrator.store.models import PriceHistory, Product
from orchestrator.store.services import Actor, StoreService

# SKU-1: price 1000, cost 500 -> floor 525 (cost + 5%); approval above a 20% change.


def _price(svc: StoreService, sku: str) -> int:
    with svc.engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT price_cents FROM product WHERE sku = :s"), {"s": sku}
            ).scalar_one()
        )


def test_set_price_writes_history_and_audit_once(svc: StoreService, shop: Shop) -> None:
    change = svc.set_price(
        "SKU-1",
        950,
        reason="overstock markdown",
        kind="markdown",
        actor=STAFF,
        idempotency_key="k1",
    )
    assert (change.old_price_cents, change.new_price_cents, change.floor_cents) == (1000, 950, 525)
    assert change.change_pct == -5.0 and change.kind == "markdown"
    again = svc.set_price(
        "SKU-1",
        950,
        reason="overstock markdown",
        kind="markdown",
        actor=STAFF,
        idempotency_key="k1",
    )
    assert again.replayed and again.id == change.id
    assert _price(svc, "SKU-1") == 950
    [row] = svc.price_history("SKU-1")
    assert row.new_price_cents == 950 and row.actor == "alice"
    outcomes = [e.outcome for e in svc.audit_log(limit=10) if e.operation == "set_price"]
    assert sorted(outcomes) == ["ok", "replayed"]


BAD_PRICES: list[object] = [
    float("nan"),
    math.inf,
    -100,
    0,
    999.5,
    True,
    524,  # one cent below the floor
    1000,  # the current price
]


def test_bad_prices_are_refused_and_nothing_is_written(svc: StoreService, shop: Shop) -> None:
    for price in BAD_PRICES:
        with pytest.raises(InvalidInput) as caught:
            svc.set_price("SKU-1", price, reason="test", actor=STAFF)  # type: ignore[arg-type]
        assert caught.value.field == "price_cents", price
    assert _price(svc, "SKU-1") == 1000
    assert svc.price_history() == []
    refused = [e for e in svc.audit_log(limit=50) if e.operation == "set_price"]
    assert len(refused) == len(BAD_PRICES) and {e.outcome for e in refused} == {"error"}


def _service(engine: Engine, **pricing: float) -> StoreService:
    settings = Settings(pricing={"approval_change_pct": 100.0, **pricing}, _env_file=None)  # type: ignore[call-arg]
    return StoreService(engine, settings=settings)


def test_the_floor_is_cost_plus_the_configured_markup(engine: Engine, shop: Shop) -> None:
    svc = _service(engine)
    assert svc.set_price("SKU-1", 525, reason="at the floor", actor=STAFF).new_price_cents == 525
    svc = _service(engine, margin_floor_pct=10.0)
    with pytest.raises(InvalidInput, match="margin floor of 550"):
        svc.set_price("SKU-2", 549, reason="below 10%", actor=STAFF)
    assert svc.set_price("SKU-2", 550, reason="at 10%", actor=STAFF).floor_cents == 550


def test_clearance_only_for_perishables_and_never_below_cost(engine: Engine, shop: Shop) -> None:
    svc = _service(engine)
    with pytest.raises(InvalidInput) as caught:
        svc.set_price("SKU-1", 500, reason="clear", clearance=True, actor=STAFF)
    assert caught.value.field == "clearance"
    with Session(engine) as s:
        s.add(
            Product(
                sku="MILK",
                name="Milk",
                category="dairy",
                price_cents=600,
                cost_cents=500,
                perishable=True,
                shelf_life_days=7,
            )
        )
        s.commit()
    with pytest.raises(InvalidInput, match="margin floor of 500"):
        svc.set_price("MILK", 499, reason="clear", kind="markdown", clearance=True, actor=STAFF)
    done = svc.set_price(
        "MILK", 500, reason="1 day to use-by", kind="markdown", clearance=True, actor=STAFF
    )
    assert done.floor_cents == 500


def test_negative_cost_in_the_catalogue_is_refused(
    svc: StoreService, shop: Shop, engine: Engine
) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(Product.__table__)
            .where(Product.__table__.c.sku == "SKU-1")
            .values(cost_cents=-5)
        )  # type: ignore[attr-defined]
    with pytest.raises(InvalidInput) as caught:
        svc.set_price("SKU-1", 900, reason="test", actor=STAFF)
    assert caught.value.field == "cost_cents"


def test_large_change_needs_approval_then_writes_once(svc: StoreService, shop: Shop) -> None:
    with pytest.raises(ApprovalRequired) as caught:
        svc.set_price("SKU-1", 700, reason="clearance", actor=STAFF, idempotency_key="big")
    approval_id = caught.value.approval_id
    assert approval_id is not None and _price(svc, "SKU-1") == 1000
    svc.decide_approval(approval_id, approve=True, actor=Actor("boss"))
    done = svc.set_price("SKU-1", 700, reason="clearance", actor=STAFF, idempotency_key="big")
    assert done.approval_id == approval_id and _price(svc, "SKU-1") == 700
    assert svc.get_approval(approval_id).consumed_at is not None


def test_customers_and_unknown_skus_are_refused(svc: StoreService, shop: Shop) -> None:
    with pytest.raises(PermissionDenied):
        svc.set_price("SKU-1", 900, reason="x", actor=Actor("customer:1", customer_id=1))
    with pytest.raises(UnknownSku):
        svc.set_price("NOPE", 900, reason="x", actor=STAFF)


def test_price_history_is_append_only(svc: StoreService, shop: Shop, engine: Engine) -> None:
    svc.set_price("SKU-1", 900, reason="x", actor=STAFF)
    table = PriceHistory.__table__  # type: ignore[attr-defined]
    with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
        conn.execute(update(table).values(new_price_cents=1))
