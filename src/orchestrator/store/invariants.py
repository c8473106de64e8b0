"""Whether the store's books balance: set-based checks, one GROUP BY query per rule.

Rules (names are stable; the demo seeder injects anomalies of these kinds, each tripping
exactly one rule):

| rule | what is wrong |
| --- | --- |
| `ledger_mismatch` | on_hand differs from the sum of the stock ledger for the SKU and location |
| `reserved_mismatch` | reserved differs from the sum of the open reservations |
| `negative_on_hand` | on_hand below zero |
| `negative_reserved` | reserved below zero |
| `negative_available` | reserved above a non-negative on_hand (unless backorders are allowed) |
| `orphan_reservation` | an open reservation whose order is cancelled, shipped, delivered or missing |
| `order_state` | a placed order whose lines are not exactly reserved, a shipped or delivered order still holding open reservations, a placed/shipped/delivered order without lines |
| `po_state` | a received purchase order with units outstanding, a line received above ordered, a draft/approved one with receipts, a partially received one with none or all received |
| `duplicate_posting` | an integration transaction posted to the ledger more than once |
| `stuck_transaction` | an integration transaction pending for longer than `stuck_after` (1 h) |

Example:
    >>> from orchestrator.store import create_all, make_engine
    >>> from orchestrator.store.invariants import check_invariants
    >>> engine = make_engine("sqlite://")
    >>> create_all(engine)
    >>> check_invariants(engine).ok
    True
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Literal, cast, get_args

from pydantic import BaseModel, Field
from sqlalchemy import Table, and_, func, literal, or_, select
from sqlalchemy.engine import Connection, Engine

from orchestrator.errors import InvariantViolation
from orchestrator.store.models import (
    IntegrationTransaction,
    IntegrationTxnStatus,
    Order,
    OrderLine,
    OrderStatus,
    PurchaseOrder,
    PurchaseOrderLine,
    PurchaseOrderStatus,
    Reservation,
    ReservationStatus,
    Stock,
    StockLedger,
    utcnow,
)

__all__ = ["RULES", "InvariantReport", "Violation", "check_invariants"]

Rule = Literal[
    "ledger_mismatch",
    "reserved_mismatch",
    "negative_on_hand",
    "negative_reserved",
    "negative_available",
    "orphan_reservation",
    "order_state",
    "po_state",
    "duplicate_posting",
    "stuck_transaction",
]

RULES: tuple[Rule, ...] = get_args(Rule)
"""Every rule `check_invariants` applies, in the order it applies them."""


class Violation(BaseModel):
    """One broken rule on one entity."""

    rule: Rule
    """Which rule (stable names, see the module docstring)."""
    entity: str
    """What kind of row: `stock`, `reservation`, `order`, `purchase_order`, `integration_transaction`."""
    key: str
    """Which one: `SKU@LOCATION` for stock, else the id."""
    detail: str
    """What is wrong, in words."""
    expected: int | str | None = None
    """The value the books say it should have, where there is one."""
    actual: int | str | None = None
    """The value it has."""
    sku: str | None = None
    location: str | None = None


class InvariantReport(BaseModel):
    """The result of `check_invariants`."""

    ok: bool
    """True when no rule is broken."""
    violations: list[Violation] = Field(default_factory=list)
    checked_at: datetime
    duration_s: float
    truncated: bool = False
    """Some rule had more than `limit` violations; only the first `limit` are listed."""

    def by_rule(self) -> dict[str, list[Violation]]:
        """The violations grouped by rule name (only rules with violations)."""
        grouped: dict[str, list[Violation]] = {}
        for v in self.violations:
            grouped.setdefault(v.rule, []).append(v)
        return grouped

    def counts(self) -> dict[str, int]:
        """How many violations each rule has (every rule, zero included)."""
        out: dict[str, int] = dict.fromkeys(RULES, 0)
        for v in self.violations:
            out[v.rule] += 1
        return out


def _t(model: Any) -> Table:
    return cast(Table, model.__table__)


STOCK = _t(Stock)
LEDGER = _t(StockLedger)
RES = _t(Reservation)
ORDERS = _t(Order)
LINE = _t(OrderLine)
PO = _t(PurchaseOrder)
PO_LINE = _t(PurchaseOrderLine)
TXN = _t(IntegrationTransaction)

_OPEN = ReservationStatus.OPEN.value


def check_invariants(
    engine: Engine,
    *,
    stuck_after: timedelta = timedelta(hours=1),
    now: datetime | None = None,
    allow_backorders: bool = False,
    limit: int = 1000,
    raise_on_error: bool = False,
) -> InvariantReport:
    """Check every rule over the whole store, set-based, in one read transaction.

    Args:
        engine: the store's engine.
        stuck_after: a pending integration transaction older than this is stuck.
        now: the time to judge "stuck" against (default: the current time).
        allow_backorders: the documented backorder policy is on: reserved may exceed
            on_hand without a `negative_available` violation.
        limit: list at most this many violations per rule.
        raise_on_error: raise `InvariantViolation` instead of returning a failed report.

    Returns:
        The report; `ok` is True when nothing is broken.

    Raises:
        InvariantViolation: with `raise_on_error`, when a rule is broken.
    """
    started = time.perf_counter()
    checked_at = now or utcnow()
    violations: list[Violation] = []
    truncated = False
    checks: list[Callable[[Connection], list[Violation]]] = [
        lambda c: _ledger_mismatch(c, limit),
        lambda c: _reserved_mismatch(c, limit),
        lambda c: _negative(c, allow_backorders, limit),
        lambda c: _orphans(c, limit),
        lambda c: _order_state(c, limit),
        lambda c: _po_state(c, limit),
        lambda c: _duplicate_posting(c, limit),
        lambda c: _stuck(c, checked_at - stuck_after, stuck_after, limit),
    ]
    with engine.connect() as conn:
        # One consistent snapshot: REPEATABLE READ on PostgreSQL, a deferred (read-only,
        # no write lock) transaction on SQLite's WAL.
        if engine.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        else:
            conn = conn.execution_options(sqlite_begin="DEFERRED")
        with conn.begin():
            for check in checks:
                violations.extend(check(conn))
    per_rule: dict[str, int] = {}
    for v in violations:
        per_rule[v.rule] = per_rule.get(v.rule, 0) + 1
    truncated = any(n >= limit for n in per_rule.values())
    report = InvariantReport(
        ok=not violations,
        violations=violations,
        checked_at=checked_at,
        duration_s=round(time.perf_counter() - started, 4),
        truncated=truncated,
    )
    if raise_on_error and not report.ok:
        raise InvariantViolation([f"{v.rule} {v.entity} {v.key}: {v.detail}" for v in violations])
    return report


def _stock_key(sku: str, location: str) -> str:
    return f"{sku}@{location}"


def _sums(table: Table, value: Any, *where: Any) -> Any:
    return (
        select(table.c.sku, table.c.location, func.sum(value).label("total"))
        .where(*where)
        .group_by(table.c.sku, table.c.location)
        .subquery()
    )


def _mismatch(
    conn: Connection, rule: Rule, column: str, sums: Any, what: str, limit: int
) -> list[Violation]:
    col = STOCK.c[column]
    total = func.coalesce(sums.c.total, 0)
    rows = conn.execute(
        select(STOCK.c.sku, STOCK.c.location, col.label("actual"), total.label("expected"))
        .outerjoin(sums, and_(sums.c.sku == STOCK.c.sku, sums.c.location == STOCK.c.location))
        .where(col != total)
        .order_by(STOCK.c.sku, STOCK.c.location)
        .limit(limit)
    ).all()
    out = [
        Violation(
            rule=rule,
            entity="stock",
            key=_stock_key(r.sku, r.location),
            sku=r.sku,
            location=r.location,
            detail=f"{column} is {r.actual} but {what} sum to {int(r.expected)}",
            expected=int(r.expected),
            actual=int(r.actual),
        )
        for r in rows
    ]
    # Rows of the ledger or of reservations for a SKU and location without a stock row.
    stray = conn.execute(
        select(sums.c.sku, sums.c.location, sums.c.total)
        .outerjoin(STOCK, and_(sums.c.sku == STOCK.c.sku, sums.c.location == STOCK.c.location))
        .where(STOCK.c.sku.is_(None), sums.c.total != 0)
        .limit(limit)
    ).all()
    out.extend(
        Violation(
            rule=rule,
            entity="stock",
            key=_stock_key(r.sku, r.location),
            sku=r.sku,
            location=r.location,
            detail=f"no stock row, but {what} sum to {int(r.total)}",
            expected=int(r.total),
            actual=None,
        )
        for r in stray
    )
    return out


def _ledger_mismatch(conn: Connection, limit: int) -> list[Violation]:
    sums = _sums(LEDGER, LEDGER.c.delta)
    return _mismatch(conn, "ledger_mismatch", "on_hand", sums, "its ledger rows", limit)


def _reserved_mismatch(conn: Connection, limit: int) -> list[Violation]:
    sums = _sums(RES, RES.c.qty, RES.c.status == _OPEN)
    return _mismatch(conn, "reserved_mismatch", "reserved", sums, "its open reservations", limit)


def _negative(conn: Connection, allow_backorders: bool, limit: int) -> list[Violation]:
    out: list[Violation] = []
    rows = conn.execute(
        select(STOCK.c.sku, STOCK.c.location, STOCK.c.on_hand, STOCK.c.reserved)
        .where(
            or_(
                STOCK.c.on_hand < 0,
                STOCK.c.reserved < 0,
                and_(STOCK.c.on_hand >= 0, STOCK.c.reserved > STOCK.c.on_hand)
                if not allow_backorders
                else literal(False),
            )
        )
        .order_by(STOCK.c.sku, STOCK.c.location)
        .limit(3 * limit)
    ).all()
    for r in rows:
        key = _stock_key(r.sku, r.location)
        common = {"entity": "stock", "key": key, "sku": r.sku, "location": r.location}
        if r.on_hand < 0:
            out.append(
                Violation(
                    rule="negative_on_hand",
                    detail=f"on_hand is {r.on_hand}",
                    expected=0,
                    actual=r.on_hand,
                    **common,
                )
            )
        if r.reserved < 0:
            out.append(
                Violation(
                    rule="negative_reserved",
                    detail=f"reserved is {r.reserved}",
                    expected=0,
                    actual=r.reserved,
                    **common,
                )
            )
        elif not allow_backorders and r.on_hand >= 0 and r.reserved > r.on_hand:
            out.append(
                Violation(
                    rule="negative_available",
                    detail=f"reserved {r.reserved} exceeds on_hand {r.on_hand} "
                    "(available is negative and backorders are off)",
                    expected=r.on_hand,
                    actual=r.reserved,
                    **common,
                )
            )
    return out


def _orphans(conn: Connection, limit: int) -> list[Violation]:
    rows = conn.execute(
        select(
            RES.c.id,
            RES.c.order_id,
            RES.c.sku,
            RES.c.location,
            RES.c.qty,
            ORDERS.c.status.label("order_status"),
        )
        .outerjoin(ORDERS, ORDERS.c.id == RES.c.order_id)
        .where(
            RES.c.status == _OPEN,
            RES.c.order_id.is_not(None),
            or_(
                ORDERS.c.id.is_(None),
                ORDERS.c.status.in_(
                    [OrderStatus.CANCELLED, OrderStatus.SHIPPED, OrderStatus.DELIVERED]
                ),
            ),
        )
        .order_by(RES.c.id)
        .limit(limit)
    ).all()
    return [
        Violation(
            rule="orphan_reservation",
            entity="reservation",
            key=str(r.id),
            sku=r.sku,
            location=r.location,
            detail=f"open reservation of {r.qty} for order {r.order_id}, which is "
            + (r.order_status or "missing"),
            expected="released",
            actual="open",
        )
        for r in rows
    ]


def _order_state(conn: Connection, limit: int) -> list[Violation]:
    out: list[Violation] = []
    r: Any
    held = (
        select(RES.c.order_line_id, func.sum(RES.c.qty).label("held"))
        .where(RES.c.status == _OPEN, RES.c.order_line_id.is_not(None))
        .group_by(RES.c.order_line_id)
        .subquery()
    )
    have = func.coalesce(held.c.held, 0)
    for r in conn.execute(
        select(LINE.c.order_id, LINE.c.id, LINE.c.sku, LINE.c.qty, have.label("held"))
        .join(ORDERS, ORDERS.c.id == LINE.c.order_id)
        .outerjoin(held, held.c.order_line_id == LINE.c.id)
        .where(ORDERS.c.status == OrderStatus.PLACED.value, have != LINE.c.qty)
        .order_by(LINE.c.order_id, LINE.c.id)
        .limit(limit)
    ):
        out.append(
            Violation(
                rule="order_state",
                entity="order",
                key=str(r.order_id),
                sku=r.sku,
                detail=f"placed, but line {r.id} ({r.sku}) has {int(r.held)} of {r.qty} "
                "units reserved",
                expected=r.qty,
                actual=int(r.held),
            )
        )
    for r in conn.execute(
        select(ORDERS.c.id, ORDERS.c.status, func.sum(RES.c.qty).label("held"))
        .join(RES, RES.c.order_id == ORDERS.c.id)
        .where(
            ORDERS.c.status.in_([OrderStatus.SHIPPED, OrderStatus.DELIVERED]),
            RES.c.status == _OPEN,
        )
        .group_by(ORDERS.c.id, ORDERS.c.status)
        .order_by(ORDERS.c.id)
        .limit(limit)
    ):
        out.append(
            Violation(
                rule="order_state",
                entity="order",
                key=str(r.id),
                detail=f"{r.status}, but still holds {int(r.held)} units in open reservations",
                expected=0,
                actual=int(r.held),
            )
        )
    lines = select(LINE.c.id).where(LINE.c.order_id == ORDERS.c.id).exists()
    for r in conn.execute(
        select(ORDERS.c.id, ORDERS.c.status)
        .where(
            ORDERS.c.status.in_([OrderStatus.PLACED, OrderStatus.SHIPPED, OrderStatus.DELIVERED]),
            ~lines,
        )
        .order_by(ORDERS.c.id)
        .limit(limit)
    ):
        out.append(
            Violation(
                rule="order_state",
                entity="order",
                key=str(r.id),
                detail=f"{r.status} order without lines",
            )
        )
    return out


def _po_state(conn: Connection, limit: int) -> list[Violation]:
    out: list[Violation] = []
    r: Any
    over = conn.execute(
        select(
            PO_LINE.c.purchase_order_id,
            PO_LINE.c.id,
            PO_LINE.c.sku,
            PO_LINE.c.qty_ordered,
            PO_LINE.c.qty_received,
        )
        .where(or_(PO_LINE.c.qty_received > PO_LINE.c.qty_ordered, PO_LINE.c.qty_received < 0))
        .order_by(PO_LINE.c.id)
        .limit(limit)
    )
    for r in over:
        out.append(
            Violation(
                rule="po_state",
                entity="purchase_order",
                key=str(r.purchase_order_id),
                sku=r.sku,
                detail=f"line {r.id} ({r.sku}) received {r.qty_received} of {r.qty_ordered} ordered",
                expected=r.qty_ordered,
                actual=r.qty_received,
            )
        )
    agg = (
        select(
            PO_LINE.c.purchase_order_id.label("po_id"),
            func.sum(PO_LINE.c.qty_ordered).label("ordered"),
            func.sum(PO_LINE.c.qty_received).label("received"),
        )
        .group_by(PO_LINE.c.purchase_order_id)
        .subquery()
    )
    ordered = func.coalesce(agg.c.ordered, 0)
    received = func.coalesce(agg.c.received, 0)
    bad = or_(
        and_(PO.c.status == PurchaseOrderStatus.RECEIVED.value, received < ordered),
        and_(
            PO.c.status.in_([PurchaseOrderStatus.DRAFT, PurchaseOrderStatus.APPROVED]),
            received > 0,
        ),
        and_(
            PO.c.status == PurchaseOrderStatus.PARTIALLY_RECEIVED.value,
            or_(received <= 0, received >= ordered),
        ),
    )
    for r in conn.execute(
        select(PO.c.id, PO.c.status, ordered.label("ordered"), received.label("received"))
        .outerjoin(agg, agg.c.po_id == PO.c.id)
        .where(bad)
        .order_by(PO.c.id)
        .limit(limit)
    ):
        out.append(
            Violation(
                rule="po_state",
                entity="purchase_order",
                key=str(r.id),
                detail=f"{r.status}, but {int(r.received)} of {int(r.ordered)} units received",
                expected=int(r.ordered) if r.status == PurchaseOrderStatus.RECEIVED else None,
                actual=int(r.received),
            )
        )
    return out


def _duplicate_posting(conn: Connection, limit: int) -> list[Violation]:
    rows = conn.execute(
        select(
            LEDGER.c.ref_id,
            func.min(LEDGER.c.sku).label("sku"),
            func.min(LEDGER.c.location).label("location"),
            func.count().label("n"),
        )
        .where(LEDGER.c.ref_type == "integration")
        .group_by(LEDGER.c.ref_id)
        .having(func.count() > 1)
        .order_by(LEDGER.c.ref_id)
        .limit(limit)
    ).all()
    return [
        Violation(
            rule="duplicate_posting",
            entity="integration_transaction",
            key=str(r.ref_id),
            sku=r.sku,
            location=r.location,
            detail=f"posted to the ledger {r.n} times",
            expected=1,
            actual=int(r.n),
        )
        for r in rows
    ]


def _stuck(conn: Connection, cutoff: datetime, after: timedelta, limit: int) -> list[Violation]:
    rows = conn.execute(
        select(
            TXN.c.id, TXN.c.source, TXN.c.external_id, TXN.c.sku, TXN.c.location, TXN.c.created_at
        )
        .where(TXN.c.status == IntegrationTxnStatus.PENDING.value, TXN.c.created_at < cutoff)
        .order_by(TXN.c.created_at, TXN.c.id)
        .limit(limit)
    ).all()
    return [
        Violation(
            rule="stuck_transaction",
            entity="integration_transaction",
            key=str(r.id),
            sku=r.sku,
            location=r.location,
            detail=f"{r.source} {r.external_id} pending since {r.created_at.isoformat()}, "
            f"longer than {after}",
            expected="posted",
            actual="pending",
        )
        for r in rows
    ]
