"""Fixtures for the tool tests: a small shop on a fresh store, and contexts per agent.

Catalogue rows (products, locations, customers, suppliers, offers) are inserted directly, as
the seed code does; stock arrives through the services' `receive_goods`, so the ledger and
the books balance.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from orchestrator.settings import Settings
from orchestrator.store import create_all, make_engine
from orchestrator.store.models import (
    AuditLog,
    Customer,
    IdempotencyRecord,
    IntegrationTransaction,
    Location,
    Product,
    StockLedger,
    Supplier,
    SupplierOffer,
    utcnow,
)
from orchestrator.store.services import Actor, StoreService
from orchestrator.tools import ToolContext, ToolRunner, default_catalog

os.environ.setdefault("CREWAI_DISABLE_TELEMETRY", "true")
os.environ.setdefault("OTEL_SDK_DISABLED", "true")

STAFF = Actor("test-setup")

PRODUCTS = [
    # sku, name, category, price, cost, weight, attributes
    ("ARD-UNO-R3", "Arduino Uno R3", "boards", 2400, 1500, 100, {"mcu": "atmega328", "v": 5}),
    ("ARD-NANO", "Arduino Nano", "boards", 2000, 1200, 50, {"mcu": "atmega328", "v": 5}),
    ("ESP32-DEV", "ESP32 DevKit", "boards", 900, 500, 40, {"mcu": "esp32", "v": 3}),
    ("RPI-PICO", "Raspberry Pi Pico", "boards", 400, 250, 30, {"mcu": "rp2040", "v": 3}),
    ("PSU-12V", "12V 5A power supply", "power", 1500, 800, 2500, {"volts": 12}),
    ("CABLE-USB", "USB cable", "cables", 300, 100, 60, {}),
]


@dataclass
class Shop:
    """A small shop: one service, two warehouses, two customers, two suppliers."""

    svc: StoreService
    engine: Engine
    customer_a: int
    customer_b: int
    supplier_id: int
    runner: ToolRunner = field(default_factory=ToolRunner)

    def ctx(
        self,
        agent: str,
        *,
        customer_id: int | None = None,
        thread_id: str | None = "",
        **kw: Any,
    ) -> ToolContext:
        """A script-like context; each call is its own run unless `thread_id` is given."""
        if thread_id == "":
            thread_id = f"run-{uuid.uuid4().hex[:12]}"
        return ToolContext(
            service=self.svc,
            agent=agent,
            customer_id=customer_id,
            thread_id=thread_id,
            **kw,
        )

    def invoke(
        self, ctx: ToolContext, name: str, args: dict[str, Any] | None = None, **kw: Any
    ) -> Any:
        return self.runner.invoke(ctx, name, args or {}, **kw)

    def count(self, model: Any, *where: Any) -> int:
        with Session(self.engine) as session:
            stmt = select(func.count()).select_from(model)
            for cond in where:
                stmt = stmt.where(cond)
            return int(session.execute(stmt).scalar_one())

    def audit_rows(self, *where: Any) -> list[AuditLog]:
        with Session(self.engine) as session:
            stmt = select(AuditLog).order_by(AuditLog.id)  # type: ignore[arg-type]
            for cond in where:
                stmt = stmt.where(cond)
            return [row[0] for row in session.execute(stmt).all()]

    def ledger_rows(self) -> int:
        return self.count(StockLedger)

    def idempotency_rows(self) -> int:
        return self.count(IdempotencyRecord)

    def snapshot(self) -> tuple[int, int, int]:
        """(ledger rows, idempotency rows, ok audit rows): unchanged means nothing was written."""
        return (
            self.ledger_rows(),
            self.idempotency_rows(),
            self.count(AuditLog, AuditLog.outcome == "ok"),
        )

    def add_txn(self, *, status: str = "failed", delta: int = -2, minutes_ago: int = 90) -> int:
        with Session(self.engine) as session:
            txn = IntegrationTransaction(
                source="pos",
                external_id=f"sale-{status}-{delta}-{minutes_ago}",
                kind="sale",
                sku="ARD-NANO",
                location="WH-MAIN",
                delta=delta,
                status=status,
                error="timeout" if status == "failed" else None,
                created_at=utcnow() - timedelta(minutes=minutes_ago),
            )
            session.add(txn)
            session.commit()
            assert txn.id is not None
            return txn.id

    def order(
        self,
        customer_id: int,
        lines: list[tuple[str, int]],
        *,
        place: bool = True,
        ship: bool = False,
    ) -> int:
        from orchestrator.store.services import OrderLineIn

        order = self.svc.create_order(
            customer_id,
            [OrderLineIn(sku=s, qty=q) for s, q in lines],
            location="WH-MAIN",
            actor=STAFF,
        )
        if place or ship:
            self.svc.place_order(order.id, actor=STAFF)
        if ship:
            self.svc.ship_order(order.id, carrier="dpd", actor=STAFF)
        return order.id


def build_shop(engine: Engine, settings: Settings | None = None) -> Shop:
    create_all(engine)
    with Session(engine) as session:
        for sku, name, cat, price, cost, weight, attrs in PRODUCTS:
            session.add(
                Product(
                    sku=sku,
                    name=name,
                    category=cat,
                    price_cents=price,
                    cost_cents=cost,
                    weight_grams=weight,
                    attributes=attrs,
                    description=f"{name} for makers",
                )
            )
        session.add(Location(code="WH-MAIN", name="Main warehouse"))
        session.add(Location(code="WH-NORTH", name="North warehouse"))
        a = Customer(name="Ada", email="ada@example.com", tier="gold", postcode="SW1A 1AA")
        b = Customer(name="Bob", email="bob@example.com", tier="standard")
        sup = Supplier(name="Maker Supplies", email="sales@maker.example")
        sup2 = Supplier(name="Cheap Parts", email="hi@cheap.example")
        session.add_all([a, b, sup, sup2])
        session.flush()
        assert a.id and b.id and sup.id and sup2.id
        session.add(
            SupplierOffer(
                supplier_id=sup.id, sku="ARD-UNO-R3", unit_cost_cents=1500, lead_time_days=5, moq=10
            )
        )
        session.add(
            SupplierOffer(
                supplier_id=sup2.id,
                sku="ARD-UNO-R3",
                unit_cost_cents=1400,
                lead_time_days=12,
                moq=50,
                on_time_rate=0.8,
            )
        )
        session.add(
            SupplierOffer(supplier_id=sup.id, sku="PSU-12V", unit_cost_cents=800, lead_time_days=7)
        )
        session.commit()
        ids = (a.id, b.id, sup.id)
    svc = StoreService(engine, settings=settings or Settings())
    for sku, qty in [
        ("ARD-UNO-R3", 40),
        ("ARD-NANO", 30),
        ("ESP32-DEV", 100),
        ("PSU-12V", 10),
        ("RPI-PICO", 5),
        ("CABLE-USB", 200),
    ]:
        svc.receive_goods(sku, "WH-MAIN", qty, reason="opening", actor=STAFF)
    svc.receive_goods("ARD-UNO-R3", "WH-NORTH", 8, reason="opening", actor=STAFF)
    return Shop(
        svc=svc,
        engine=engine,
        customer_a=ids[0],
        customer_b=ids[1],
        supplier_id=ids[2],
        runner=ToolRunner(default_catalog()),
    )


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[Shop]:
    """The shop on a fresh SQLite file."""
    engine = make_engine(f"sqlite:///{tmp_path / 'shop.db'}")
    try:
        yield build_shop(engine)
    finally:
        engine.dispose()


@pytest.fixture
def shop_any(engine: Engine) -> Shop:
    """The shop on each store backend (SQLite and PostgreSQL)."""
    return build_shop(engine)
