"""Small factories for the store's service tests: a catalogue, locations, customers, suppliers.

Catalogue rows are set-up data written straight through SQLModel; stock is received through
the services, so that the ledger and the invariants hold from the start.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from orchestrator.store.models import Customer, Location, Product, Supplier, SupplierOffer
from orchestrator.store.services import Actor, StoreService

STAFF = Actor("alice", agent=None)
BOSS = Actor("boss")


@dataclass
class Shop:
    """What `make_shop` created."""

    skus: list[str]
    locations: list[str]
    customers: list[int]
    suppliers: list[int]


def make_shop(
    engine: Engine,
    *,
    skus: int = 3,
    stock: int = 20,
    price_cents: int = 1000,
) -> Shop:
    """Two locations, `skus` products (each stocked with `stock` units at WH-MAIN), two
    customers and two suppliers offering every SKU."""
    sku_codes = [f"SKU-{i}" for i in range(1, skus + 1)]
    with Session(engine) as s:
        s.add(Location(code="WH-MAIN", name="Main warehouse"))
        s.add(Location(code="SHOP-1", name="High street shop", kind="store"))
        for i, sku in enumerate(sku_codes):
            s.add(
                Product(
                    sku=sku,
                    name=f"Widget {i + 1}",
                    category="widgets" if i % 2 == 0 else "gadgets",
                    price_cents=price_cents + 100 * i,
                    cost_cents=price_cents // 2,
                    description=f"a fine widget number {i + 1}",
                )
            )
        s.add(
            Product(
                sku="OLD-1",
                name="Retired",
                category="widgets",
                price_cents=1,
                cost_cents=1,
                active=False,
            )
        )
        customers = [
            Customer(name="Ada", email="ada@example.com"),
            Customer(name="Bob", email="bob@example.com"),
        ]
        suppliers = [Supplier(name="Acme"), Supplier(name="Globex")]
        s.add_all(customers + suppliers)
        s.commit()
        for sup in suppliers:
            for sku in sku_codes:
                s.add(
                    SupplierOffer(
                        supplier_id=sup.id,
                        sku=sku,
                        unit_cost_cents=400 + (sup.id or 0),
                        lead_time_days=5,
                    )
                )
        s.commit()
        shop = Shop(
            skus=sku_codes,
            locations=["WH-MAIN", "SHOP-1"],
            customers=[c.id for c in customers if c.id is not None],
            suppliers=[p.id for p in suppliers if p.id is not None],
        )
    if stock:
        svc = StoreService(engine)
        for sku in sku_codes:
            svc.receive_goods(sku, "WH-MAIN", stock, reason="opening", actor=STAFF)
    return shop


def assert_balanced(engine: Engine) -> None:
    """Fail with the violations when the books do not balance."""
    from orchestrator.store.invariants import check_invariants

    report = check_invariants(engine)
    assert report.ok, "\n".join(f"{v.rule} {v.key}: {v.detail}" for v in report.violations)


def count_rows(engine: Engine, *tables: str) -> dict[str, int]:
    """Row counts of `tables` (default: every domain table), to prove nothing was written."""
    from sqlalchemy import func, select
    from sqlmodel import SQLModel

    names = tables or (
        "stock",
        "stock_ledger",
        "reservation",
        "orders",
        "order_line",
        "payment",
        "shipment",
        "returns",
        "return_line",
        "support_ticket",
        "purchase_order",
        "purchase_order_line",
        "integration_transaction",
        "idempotency_record",
    )
    with engine.connect() as conn:
        return {
            n: int(
                conn.execute(
                    select(func.count()).select_from(SQLModel.metadata.tables[n])
                ).scalar_one()
            )
            for n in names
        }


def stock_snapshot(engine: Engine) -> list[tuple[str, str, int, int]]:
    """Every stock row's (sku, location, on_hand, reserved)."""
    from sqlalchemy import text

    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                text("SELECT sku, location, on_hand, reserved FROM stock ORDER BY 1, 2")
            )
        ]  # type: ignore[misc]


def race_reserve(url: str, sku: str, barrier: Any, results: Any) -> None:
    """A worker process: its own engine, wait for every worker, reserve one unit of `sku`."""
    from orchestrator.errors import InsufficientStock
    from orchestrator.store.engine import make_engine
    from orchestrator.store.services import Actor, StoreService

    engine = make_engine(url)
    svc = StoreService(engine)
    svc.get_stock(sku)  # connect and warm up before the start line
    barrier.wait()
    try:
        res = svc.reserve(sku, "WH-MAIN", 1, actor=Actor("worker"))
        results.put(("ok", res.id))
    except InsufficientStock as exc:
        results.put(("insufficient", exc.available))
    except Exception as exc:
        results.put(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        engine.dispose()
