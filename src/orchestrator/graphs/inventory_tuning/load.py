"""Read what tuning needs from the store, aggregated in SQL.

- `load_scope`: the SKU x location pairs in scope with their product, current policy and
  preferred supplier offer (a few rows per pair, never the ledger);
- `history_end`: the day after the latest sale (the history's end);
- `load_weekly_sales`: units sold per pair and week, summed by the database (`GROUP BY`) from
  the `sale` and `shipment` ledger rows.

The preferred supplier of a SKU is the one the shop last bought it from (the newest purchase
order with a line for it); a SKU never bought takes its cheapest active offer (then the
shortest lead time). Lead time, minimum order quantity and unit cost come from that offer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

import numpy as np
import numpy.typing as npt
from sqlalchemy import Integer, Table, and_, bindparam, func, literal_column, select
from sqlalchemy.engine import Connection, Engine

from orchestrator.store.models import (
    InventoryPolicy,
    LedgerKind,
    Location,
    Product,
    PurchaseOrder,
    PurchaseOrderLine,
    Stock,
    StockLedger,
    Supplier,
    SupplierOffer,
)

__all__ = ["Offer", "Scope", "WeeklySales", "history_end", "load_scope", "load_weekly_sales"]


def _t(model: Any) -> Table:
    return cast(Table, model.__table__)


STOCK, PRODUCT, POLICY, LEDGER = _t(Stock), _t(Product), _t(InventoryPolicy), _t(StockLedger)
OFFER, SUPPLIER, PO, PO_LINE, LOCATION = (
    _t(SupplierOffer),
    _t(Supplier),
    _t(PurchaseOrder),
    _t(PurchaseOrderLine),
    _t(Location),
)

DEMAND_KINDS = (LedgerKind.SALE.value, LedgerKind.SHIPMENT.value)
"""Ledger kinds that are demand served: over-the-counter sales and shipped orders."""


@dataclass(frozen=True, slots=True)
class Offer:
    """The preferred supplier's offer for a SKU."""

    supplier: str
    unit_cost_cents: int
    lead_time_days: int
    moq: int


@dataclass(frozen=True)
class Scope:
    """The pairs of a run, in SKU, location order, with what the store says about them."""

    rows: list[dict[str, Any]]
    """Per pair: sku, location, name, category, cost_cents, perishable, shelf_life_days,
    reorder_point (stock's),
    safety_stock, order_quantity, method (the policy's, if any)."""
    offers: dict[str, Offer]
    """The preferred offer per SKU (SKUs without an active offer are missing)."""


@dataclass(frozen=True)
class WeeklySales:
    """Units sold per pair and week, as three aligned arrays (only weeks with sales)."""

    pairs: list[tuple[str, str]]
    """(sku, location) of each pair index."""
    pair: npt.NDArray[np.int64]
    week: npt.NDArray[np.int64]
    """0 is the oldest week, `weeks - 1` the newest."""
    units: npt.NDArray[np.int64]
    weeks: int


def load_scope(
    engine: Engine,
    *,
    limit: int | None = None,
    category: str | None = None,
    location: str | None = None,
) -> Scope:
    """The active products' stock rows in scope, their current policy and preferred offer."""
    stmt = (
        select(
            STOCK.c.sku,
            STOCK.c.location,
            PRODUCT.c.name,
            PRODUCT.c.category,
            PRODUCT.c.cost_cents,
            PRODUCT.c.perishable,
            PRODUCT.c.shelf_life_days,
            STOCK.c.reorder_point,
            POLICY.c.safety_stock,
            POLICY.c.order_quantity,
            POLICY.c.method,
        )
        .join(PRODUCT, PRODUCT.c.sku == STOCK.c.sku)
        .outerjoin(POLICY, and_(POLICY.c.sku == STOCK.c.sku, POLICY.c.location == STOCK.c.location))
        .where(PRODUCT.c.active.is_(True))
    )
    if category is not None:
        stmt = stmt.where(PRODUCT.c.category == category)
    if location is not None:
        stmt = stmt.where(STOCK.c.location == location)
    stmt = stmt.order_by(STOCK.c.sku, STOCK.c.location)
    if limit is not None:
        stmt = stmt.limit(limit)
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(stmt).mappings()]
        skus = sorted({r["sku"] for r in rows})
        offers = _preferred_offers(conn, skus, everything=limit is None and category is None)
    return Scope(rows=rows, offers=offers)


def _preferred_offers(conn: Connection, skus: list[str], *, everything: bool) -> dict[str, Offer]:
    if not skus:
        return {}
    offers_stmt = (
        select(
            OFFER.c.sku,
            OFFER.c.supplier_id,
            SUPPLIER.c.name,
            OFFER.c.unit_cost_cents,
            OFFER.c.lead_time_days,
            OFFER.c.moq,
        )
        .join(SUPPLIER, SUPPLIER.c.id == OFFER.c.supplier_id)
        .where(OFFER.c.active.is_(True), SUPPLIER.c.active.is_(True))
        .order_by(OFFER.c.sku, OFFER.c.unit_cost_cents, OFFER.c.lead_time_days, OFFER.c.id)
    )
    last_stmt = (
        select(PO_LINE.c.sku, PO.c.supplier_id, func.max(PO.c.id).label("last_po"))
        .join(PO, PO.c.id == PO_LINE.c.purchase_order_id)
        .group_by(PO_LINE.c.sku, PO.c.supplier_id)
    )
    params: dict[str, Any] = {}
    if not everything:
        offers_stmt = offers_stmt.where(OFFER.c.sku.in_(bindparam("skus", expanding=True)))
        last_stmt = last_stmt.where(PO_LINE.c.sku.in_(bindparam("skus", expanding=True)))
        params["skus"] = skus
    by_sku: dict[str, list[Any]] = {}
    for row in conn.execute(offers_stmt, params):
        by_sku.setdefault(row.sku, []).append(row)
    last: dict[str, tuple[int, int]] = {}
    for bought in conn.execute(last_stmt, params):
        if bought.sku not in last or bought.last_po > last[bought.sku][0]:
            last[bought.sku] = (int(bought.last_po), int(bought.supplier_id))
    chosen: dict[str, Offer] = {}
    for sku, offers in by_sku.items():
        pick = offers[0]  # cheapest, then fastest
        if sku in last:
            pick = next((o for o in offers if o.supplier_id == last[sku][1]), pick)
        chosen[sku] = Offer(
            supplier=str(pick.name),
            unit_cost_cents=int(pick.unit_cost_cents),
            lead_time_days=int(pick.lead_time_days),
            moq=int(pick.moq),
        )
    return chosen


def history_end(engine: Engine) -> date | None:
    """The day after the latest sale or shipment in the ledger (None: no sale at all)."""
    with engine.connect() as conn:
        latest = conn.execute(
            select(func.max(LEDGER.c.created_at)).where(LEDGER.c.kind.in_(DEMAND_KINDS))
        ).scalar_one_or_none()
    if latest is None:
        return None
    if isinstance(latest, str):  # SQLite without the column type (an aggregate)
        latest = datetime.fromisoformat(latest)
    moment = cast(datetime, latest)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).date() + timedelta(days=1)


def load_weekly_sales(
    engine: Engine,
    *,
    end: date,
    weeks: int,
    skus: list[str] | None = None,
    location: str | None = None,
    days_per_period: int = 7,
) -> WeeklySales:
    """Units sold per (sku, location) and week, summed by the database.

    Week 0 is the oldest of `weeks` whole weeks ending at `end` (exclusive); a week without a
    row sold nothing. With `days_per_period=1` the periods are days instead (`weeks` then
    counts days).

    Args:
        engine: the store.
        end: the day the history ends (exclusive), e.g. `history_end(engine)`.
        weeks: how many weeks back.
        skus: only these SKUs (default all).
        location: only this location.

    Returns:
        The `WeeklySales` (pairs without a sale in the window are not in it).
    """
    end_at = datetime(end.year, end.month, end.day, tzinfo=UTC)
    start_at = end_at - timedelta(days=days_per_period * weeks)
    back: Any
    if engine.dialect.name == "sqlite":
        # The end as a Julian day number: a constant, so each row costs one julianday().
        end_jd = end_at.timestamp() / 86400 + 2440587.5
        back = literal_column(
            f"CAST(({end_jd!r} - julianday(created_at)) / {days_per_period} AS INTEGER)"
        )
    else:
        back = func.floor(
            (end_at.timestamp() - func.extract("epoch", LEDGER.c.created_at))
            / (86400 * days_per_period)
        ).cast(Integer)
    week = (weeks - 1 - back).label("week")
    stmt = select(
        LEDGER.c.sku,
        LEDGER.c.location,
        week,
        (-func.sum(LEDGER.c.delta)).label("units"),
    ).where(
        LEDGER.c.kind.in_(DEMAND_KINDS),
        LEDGER.c.created_at >= start_at,
        LEDGER.c.created_at < end_at,
    )
    params: dict[str, Any] = {}
    if skus is not None:
        stmt = stmt.where(LEDGER.c.sku.in_(bindparam("skus", expanding=True)))
        params["skus"] = skus
    if location is not None:
        stmt = stmt.where(LEDGER.c.location == location)
    # Week first: SQLite then reads the date range through the created_at index.
    stmt = stmt.group_by(week, LEDGER.c.sku, LEDGER.c.location)
    index: dict[tuple[str, str], int] = {}
    pair_idx: list[int] = []
    week_idx: list[int] = []
    units: list[int] = []
    with engine.connect() as conn:
        for sku, loc, w, q in conn.execute(stmt, params):
            key = (sku, loc)
            i = index.get(key)
            if i is None:
                i = index[key] = len(index)
            pair_idx.append(i)
            week_idx.append(int(w))
            units.append(int(q))
    data = np.array([pair_idx, week_idx, units], dtype=np.int64).reshape(3, -1)
    inside = (data[1] >= 0) & (data[1] < weeks)
    return WeeklySales(
        pairs=list(index),
        pair=data[0][inside],
        week=data[1][inside],
        units=data[2][inside],
        weeks=weeks,
    )
