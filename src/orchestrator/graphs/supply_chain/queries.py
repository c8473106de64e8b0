"""The supply-chain graph's reads: SQL aggregations over the store, never the raw ledger in Python.

- `reorder_policy()`: where the reorder point (and an order-up-to level, when a policy has one)
  comes from: `stock.reorder_point`, and inventory tuning's order quantity where it set one.
- `positions()`: inventory position per SKU x location, in one statement:
  `on_hand + on_order - reserved - backorders`, with `reserved` the open reservations that
  stock covers and `backorders` the reserved units beyond on hand (so `reserved + backorders`
  is every open reservation), `on_order` the units outstanding on approved, sent and
  partially received purchase orders (optionally only those expected by a date).
- `offers()`, `on_time_history()`, `late_orders()`: what supplier choice and late-delivery
  escalation read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Integer, and_, case, func, literal, or_, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql import Select

from orchestrator.store.models import InventoryPolicy, LedgerKind, PurchaseOrderStatus, utcnow
from orchestrator.store.services._core import (
    LEDGER,
    OFFER,
    PO,
    PO_LINE,
    PRODUCT,
    STOCK,
    SUPPLIER,
)

__all__ = [
    "OPEN_PO_STATUSES",
    "LateOrder",
    "OfferRow",
    "Position",
    "late_orders",
    "offers",
    "on_time_history",
    "positions",
    "reorder_policy",
]

OPEN_PO_STATUSES = (
    PurchaseOrderStatus.APPROVED.value,
    PurchaseOrderStatus.SENT.value,
    PurchaseOrderStatus.PARTIALLY_RECEIVED.value,
)
"""Purchase orders whose outstanding units count as on order (drafts do not)."""

POLICY = InventoryPolicy.__table__  # type: ignore[attr-defined]


def reorder_policy() -> Select[Any]:
    """(sku, location, reorder_point, order_up_to) for every SKU x location with a policy.

    The one place the graph learns reorder points: `stock.reorder_point` (which
    `set_inventory_policy` keeps equal to the tuned policy's), and, where inventory tuning set
    an order quantity, the order-up-to level `reorder_point + order_quantity` (an (s, Q)
    policy ordered as (s, S)). Without one the graph orders up to the reorder point plus
    `supply.cover_days` of demand.
    """
    order_up_to = case(
        (
            POLICY.c.order_quantity.is_not(None),
            STOCK.c.reorder_point + POLICY.c.order_quantity,
        ),
        else_=literal(None, Integer),
    )
    return (
        select(
            STOCK.c.sku.label("sku"),
            STOCK.c.location.label("location"),
            STOCK.c.reorder_point.label("reorder_point"),
            order_up_to.label("order_up_to"),
        )
        .select_from(
            STOCK.outerjoin(
                POLICY,
                and_(POLICY.c.sku == STOCK.c.sku, POLICY.c.location == STOCK.c.location),
            )
        )
        .where(STOCK.c.reorder_point.is_not(None))
    )


@dataclass(frozen=True, slots=True)
class Position:
    """Inventory position of one SKU at one location, and what it is measured against."""

    sku: str
    location: str
    name: str
    on_hand: int
    on_order: int
    reserved: int
    """Open reservations covered by on-hand stock."""
    backorders: int
    """Reserved units beyond on hand (allowed only with the backorder policy)."""
    reorder_point: int | None
    order_up_to: int | None
    demand_units: int
    """Units sold or shipped in the demand window."""

    @property
    def position(self) -> int:
        """on_hand + on_order - reserved - backorders."""
        return self.on_hand + self.on_order - self.reserved - self.backorders

    @property
    def available(self) -> int:
        """On hand less every open reservation (what can be promised today)."""
        return self.on_hand - self.reserved - self.backorders


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=utcnow().tzinfo)


def positions(
    conn: Connection,
    *,
    as_of: date,
    demand_days: int,
    skus: Sequence[str] | None = None,
    locations: Sequence[str] | None = None,
    arriving_by: date | None = None,
    only_below_reorder_point: bool = False,
    limit: int | None = None,
) -> list[Position]:
    """Inventory positions, computed by the database in one statement.

    Args:
        conn: a connection to the store.
        as_of: the run's date: demand is counted over the `demand_days` before it.
        demand_days: the demand window.
        skus: only these SKUs.
        locations: only these locations.
        arriving_by: count as on order only purchase orders expected by this date (or
            without an expected date): the position on a need date.
        only_below_reorder_point: only rows whose position is at or below their reorder point.
        limit: at most this many rows, lowest position against the reorder point first.
    """
    policy = reorder_policy().subquery("policy")
    open_lines = (
        select(
            PO_LINE.c.sku.label("sku"),
            PO.c.location.label("location"),
            func.sum(PO_LINE.c.qty_ordered - PO_LINE.c.qty_received).label("units"),
        )
        .join(PO, PO.c.id == PO_LINE.c.purchase_order_id)
        .where(PO.c.status.in_(OPEN_PO_STATUSES))
        .group_by(PO_LINE.c.sku, PO.c.location)
    )
    if arriving_by is not None:
        open_lines = open_lines.where(
            or_(PO.c.expected_at.is_(None), PO.c.expected_at <= arriving_by)
        )
    on_order = open_lines.subquery("on_order")
    demand = (
        select(
            LEDGER.c.sku.label("sku"),
            LEDGER.c.location.label("location"),
            func.sum(-LEDGER.c.delta).label("units"),
        )
        .where(
            LEDGER.c.kind.in_((LedgerKind.SALE.value, LedgerKind.SHIPMENT.value)),
            LEDGER.c.created_at >= _day_start(as_of - timedelta(days=demand_days)),
            LEDGER.c.created_at < _day_start(as_of),
        )
        .group_by(LEDGER.c.sku, LEDGER.c.location)
        .subquery("demand")
    )
    # CASE instead of GREATEST/LEAST: the same statement runs on SQLite and PostgreSQL.
    on_hand_floor = case((STOCK.c.on_hand > 0, STOCK.c.on_hand), else_=0)
    reserved_covered = case(
        (STOCK.c.reserved <= on_hand_floor, STOCK.c.reserved), else_=on_hand_floor
    )
    backorders = STOCK.c.reserved - reserved_covered
    ordered = func.coalesce(on_order.c.units, 0)
    position = STOCK.c.on_hand + ordered - STOCK.c.reserved
    stmt = (
        select(
            STOCK.c.sku,
            STOCK.c.location,
            PRODUCT.c.name,
            STOCK.c.on_hand,
            ordered.label("on_order"),
            reserved_covered.label("reserved"),
            backorders.label("backorders"),
            policy.c.reorder_point,
            policy.c.order_up_to,
            func.coalesce(demand.c.units, 0).label("demand_units"),
        )
        .join(PRODUCT, PRODUCT.c.sku == STOCK.c.sku)
        .outerjoin(policy, and_(policy.c.sku == STOCK.c.sku, policy.c.location == STOCK.c.location))
        .outerjoin(
            on_order, and_(on_order.c.sku == STOCK.c.sku, on_order.c.location == STOCK.c.location)
        )
        .outerjoin(demand, and_(demand.c.sku == STOCK.c.sku, demand.c.location == STOCK.c.location))
        .where(PRODUCT.c.active.is_(True))
    )
    if skus is not None:
        stmt = stmt.where(STOCK.c.sku.in_(list(skus)))
    if locations is not None:
        stmt = stmt.where(STOCK.c.location.in_(list(locations)))
    if only_below_reorder_point:
        stmt = stmt.where(policy.c.reorder_point.is_not(None), position <= policy.c.reorder_point)
    stmt = stmt.order_by(
        position - func.coalesce(policy.c.reorder_point, 0), STOCK.c.sku, STOCK.c.location
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    return [
        Position(
            sku=r.sku,
            location=r.location,
            name=r.name,
            on_hand=int(r.on_hand),
            on_order=int(r.on_order),
            reserved=int(r.reserved),
            backorders=int(r.backorders),
            reorder_point=None if r.reorder_point is None else int(r.reorder_point),
            order_up_to=None if r.order_up_to is None else int(r.order_up_to),
            demand_units=int(r.demand_units),
        )
        for r in conn.execute(stmt)
    ]


@dataclass(frozen=True, slots=True)
class OfferRow:
    """An active offer of an active supplier, with the supplier's name, country and e-mail."""

    offer_id: int
    supplier_id: int
    supplier_name: str
    supplier_email: str
    country: str
    sku: str
    unit_cost_cents: int
    lead_time_days: int
    moq: int
    on_time_rate: float


def offers(conn: Connection, skus: Sequence[str]) -> dict[str, list[OfferRow]]:
    """Active offers of active suppliers for `skus`, by SKU (as stored: bad values included,
    so that the caller can refuse them with a reason)."""
    if not skus:
        return {}
    rows = conn.execute(
        select(
            OFFER.c.id,
            OFFER.c.supplier_id,
            SUPPLIER.c.name,
            SUPPLIER.c.email,
            SUPPLIER.c.country,
            OFFER.c.sku,
            OFFER.c.unit_cost_cents,
            OFFER.c.lead_time_days,
            OFFER.c.moq,
            OFFER.c.on_time_rate,
        )
        .join(SUPPLIER, SUPPLIER.c.id == OFFER.c.supplier_id)
        .where(
            OFFER.c.sku.in_(sorted(set(skus))),
            OFFER.c.active.is_(True),
            SUPPLIER.c.active.is_(True),
        )
        .order_by(OFFER.c.sku, OFFER.c.supplier_id)
    )
    found: dict[str, list[OfferRow]] = {}
    for r in rows:
        found.setdefault(r.sku, []).append(
            OfferRow(
                offer_id=int(r.id),
                supplier_id=int(r.supplier_id),
                supplier_name=str(r.name),
                supplier_email=str(r.email or ""),
                country=str(r.country or ""),
                sku=str(r.sku),
                unit_cost_cents=int(r.unit_cost_cents),
                lead_time_days=int(r.lead_time_days),
                moq=int(r.moq),
                on_time_rate=float(r.on_time_rate),
            )
        )
    return found


def on_time_history(
    conn: Connection, *, as_of: date, days: int = 365
) -> dict[int, tuple[int, int]]:
    """(on time, received) purchase orders per supplier over the `days` before `as_of`.

    A purchase order counts as on time when it was fully received (its last update) on or
    before its expected date. Only fully received orders with an expected date count.
    """
    rows = conn.execute(
        select(PO.c.supplier_id, PO.c.expected_at, PO.c.updated_at).where(
            PO.c.status == PurchaseOrderStatus.RECEIVED.value,
            PO.c.expected_at.is_not(None),
            PO.c.updated_at >= _day_start(as_of - timedelta(days=days)),
            PO.c.updated_at < _day_start(as_of + timedelta(days=1)),
        )
    )
    stats: dict[int, list[int]] = {}
    for supplier_id, expected, updated in rows:
        got = (
            updated.date()
            if isinstance(updated, datetime)
            else date.fromisoformat(str(updated)[:10])
        )
        bucket = stats.setdefault(int(supplier_id), [0, 0])
        bucket[1] += 1
        if got <= expected:
            bucket[0] += 1
    return {k: (v[0], v[1]) for k, v in stats.items()}


@dataclass(frozen=True, slots=True)
class LateOrder:
    """An open purchase order past its expected date, with what is still outstanding."""

    po_id: int
    supplier_id: int
    supplier_name: str
    supplier_email: str
    location: str
    status: str
    expected_at: date
    days_late: int
    outstanding: dict[str, int]
    received_any: bool


def late_orders(
    conn: Connection,
    *,
    as_of: date,
    grace_days: int,
    locations: Sequence[str] | None = None,
    limit: int = 50,
) -> list[LateOrder]:
    """Sent or partially received purchase orders expected more than `grace_days` before `as_of`
    (delivering to `locations`, if given), the most overdue first."""
    cutoff = as_of - timedelta(days=grace_days)
    scope = [PO.c.location.in_(list(locations))] if locations is not None else []
    heads = list(
        conn.execute(
            select(
                PO.c.id,
                PO.c.supplier_id,
                SUPPLIER.c.name,
                SUPPLIER.c.email,
                PO.c.location,
                PO.c.status,
                PO.c.expected_at,
            )
            .join(SUPPLIER, SUPPLIER.c.id == PO.c.supplier_id)
            .where(
                PO.c.status.in_(
                    (PurchaseOrderStatus.SENT.value, PurchaseOrderStatus.PARTIALLY_RECEIVED.value)
                ),
                PO.c.expected_at.is_not(None),
                PO.c.expected_at < cutoff,
                *scope,
            )
            .order_by(PO.c.expected_at, PO.c.id)
            .limit(limit)
        )
    )
    if not heads:
        return []
    lines: dict[int, list[Any]] = {}
    for r in conn.execute(
        select(PO_LINE).where(PO_LINE.c.purchase_order_id.in_([h.id for h in heads]))
    ):
        lines.setdefault(int(r.purchase_order_id), []).append(r)
    late: list[LateOrder] = []
    for h in heads:
        rows = lines.get(int(h.id), [])
        outstanding = {
            r.sku: int(r.qty_ordered - r.qty_received)
            for r in rows
            if r.qty_ordered > r.qty_received
        }
        if not outstanding:
            continue
        late.append(
            LateOrder(
                po_id=int(h.id),
                supplier_id=int(h.supplier_id),
                supplier_name=str(h.name),
                supplier_email=str(h.email or ""),
                location=str(h.location),
                status=str(h.status),
                expected_at=h.expected_at,
                days_late=(as_of - h.expected_at).days,
                outstanding=outstanding,
                received_any=any(r.qty_received > 0 for r in rows),
            )
        )
    return late
