"""Whether the store's books balance: set-based checks, one GROUP BY query per rule.

Every rule is a query pushed down to the database (the same results on SQLite and
PostgreSQL); nothing loads the ledger into Python. `RULE_SPECS` describes each rule: its
severity, the entity it is about, how to tell the cause, and which auditor tools may fix it.

Rules (names are stable; the demo seeder injects anomalies of several of these kinds, each
tripping exactly one rule):

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
| `duplicate_posting` | an integration transaction posted to the ledger more than once (net of reversals) |
| `stuck_transaction` | an integration transaction pending for longer than `stuck_after` (1 h) |
| `failed_transaction` | an integration transaction that failed to post (not run by default) |
| `po_receipt_mismatch` | a purchase order's received quantity of a SKU differs from its ledger receipts |
| `transaction_posting_mismatch` | an integration transaction marked posted but not on the ledger, pending or failed but on the ledger already, or a ledger posting of a transaction that does not exist |
| `no_movement` | stock on hand with no ledger movement for `no_movement_after` (30 days); report only, not run by default |

`check_invariants(engine)` runs the default rules (`DEFAULT_RULES`); `rules=` picks others,
and `scope=` restricts the check to given entities, so re-checking one finding is cheap.
Report-only rules never make a report fail (`ok` stays True).

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
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal, cast, get_args

from pydantic import BaseModel, Field
from sqlalchemy import (
    Integer,
    String,
    Table,
    and_,
    case,
    false,
    func,
    literal,
    null,
    or_,
    select,
    tuple_,
    union_all,
)
from sqlalchemy import cast as cast_
from sqlalchemy.engine import Connection, Engine

from orchestrator.errors import ConfigError, InvariantViolation
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
from orchestrator.store.services.integrations import REVERSAL_REF_TYPE

__all__ = [
    "DEFAULT_RULES",
    "REVERSAL_REF_TYPE",
    "RULES",
    "RULE_SPECS",
    "EntityKind",
    "InvariantReport",
    "RuleSpec",
    "Scope",
    "Severity",
    "Violation",
    "check_invariants",
    "collect_evidence",
]

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
    "failed_transaction",
    "po_receipt_mismatch",
    "transaction_posting_mismatch",
    "no_movement",
]

RULES: tuple[Rule, ...] = get_args(Rule)
"""Every rule `check_invariants` knows, in the order it applies them."""

Severity = Literal["info", "warning", "error", "critical"]
"""How bad a finding is: `info` is a report (no fix), `critical` is stock that is wrong now."""

EntityKind = Literal["stock", "reservation", "order", "purchase_order", "integration_transaction"]
"""What kind of row a violation is about."""


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """What one rule checks, how bad a violation is, and what may fix it."""

    id: str
    """The rule's stable name (a `Rule`)."""
    severity: Severity
    description: str
    """What is wrong, in one sentence."""
    entity: EntityKind
    """The kind of row a violation of this rule is keyed by."""
    allowed_fixes: tuple[str, ...]
    """Tool names of the auditor profile that may fix it, or `escalate` (a human decides)."""
    report_only: bool = False
    """Reported, never fixed, never fails a check (`ok` stays True)."""
    default: bool = True
    """Run by `check_invariants` when no `rules` are named."""
    diagnosis: str = ""
    """How to tell the cause from the evidence, and which fix each cause calls for."""


RULE_SPECS: dict[str, RuleSpec] = {
    spec.id: spec
    for spec in (
        RuleSpec(
            "ledger_mismatch",
            "error",
            "on_hand differs from the sum of the stock ledger for the SKU and location",
            "stock",
            ("reprocess_transaction", "correct_stock", "escalate"),
            diagnosis="The ledger is the record of truth. If a pending or failed integration "
            "transaction at the same SKU and location explains the difference, reprocess it "
            "(posting once); if a physical count confirms the ledger, correct_stock to it; "
            "otherwise escalate.",
        ),
        RuleSpec(
            "reserved_mismatch",
            "error",
            "reserved differs from the sum of the open reservations",
            "stock",
            ("correct_stock", "escalate"),
            diagnosis="Reservations are the record of truth: correct_stock with "
            "reserved='recompute' sets reserved to the sum of the open reservations.",
        ),
        RuleSpec(
            "negative_on_hand",
            "critical",
            "on_hand is below zero",
            "stock",
            ("reprocess_transaction", "adjust_quantity", "correct_stock", "escalate"),
            diagnosis="A receipt stuck or failed in an integration explains it: reprocess it. "
            "An oversell recorded in the ledger needs a count: adjust_quantity or "
            "correct_stock to the counted units (above the threshold a human approves); "
            "otherwise escalate.",
        ),
        RuleSpec(
            "negative_reserved",
            "critical",
            "reserved is below zero",
            "stock",
            ("correct_stock", "escalate"),
            diagnosis="Reserved was written around the services: correct_stock with "
            "reserved='recompute'.",
        ),
        RuleSpec(
            "negative_available",
            "error",
            "reserved exceeds a non-negative on_hand and backorders are off",
            "stock",
            ("release_reservation", "reprocess_transaction", "escalate"),
            diagnosis="Release reservations held by closed orders (orphans), or post a stuck "
            "receipt; an honest oversell (open orders outnumber the stock) is escalated: a "
            "human decides which order waits.",
        ),
        RuleSpec(
            "orphan_reservation",
            "warning",
            "an open reservation whose order is cancelled, shipped, delivered or missing",
            "reservation",
            ("release_reservation", "escalate"),
            diagnosis="The order is closed, so nothing will ever consume the units: release "
            "the reservation.",
        ),
        RuleSpec(
            "order_state",
            "error",
            "an order whose reservations do not match its status and lines",
            "order",
            ("release_reservation", "escalate"),
            diagnosis="A shipped or delivered order still holding open reservations: release "
            "them. A placed order reserved short or over, or an order without lines: escalate "
            "(the auditor may not change orders).",
        ),
        RuleSpec(
            "po_state",
            "warning",
            "a purchase order whose status disagrees with its received quantities",
            "purchase_order",
            ("escalate",),
            diagnosis="The auditor may not change purchase orders: escalate to procurement "
            "with the lines as evidence.",
        ),
        RuleSpec(
            "duplicate_posting",
            "critical",
            "an integration transaction posted to the ledger more than once",
            "integration_transaction",
            ("reverse_duplicate_posting", "escalate"),
            diagnosis="The transaction's ledger rows show the same movement twice: reverse "
            "the extra posting once (reverse_duplicate_posting), never adjust around it.",
        ),
        RuleSpec(
            "stuck_transaction",
            "warning",
            "an integration transaction pending for longer than the threshold",
            "integration_transaction",
            ("reprocess_transaction", "set_transaction_status", "escalate"),
            diagnosis="Reprocess it (it posts exactly once, or fails with the reason; the "
            "services refuse to post one already on the ledger); if it can never post "
            "(unknown SKU, the source withdrew it) set it failed with the reason and escalate.",
        ),
        RuleSpec(
            "failed_transaction",
            "warning",
            "an integration transaction that failed to post",
            "integration_transaction",
            ("reprocess_transaction", "set_transaction_status", "escalate"),
            default=False,
            diagnosis="Read its error: if stock now allows it (a receipt arrived), reprocess "
            "it; otherwise escalate to whoever owns the source system.",
        ),
        RuleSpec(
            "po_receipt_mismatch",
            "error",
            "a purchase order's received quantity of a SKU differs from its ledger receipts",
            "purchase_order",
            ("escalate",),
            diagnosis="Either the goods were counted on the order but never posted to stock, "
            "or posted without being counted: a human checks the delivery note.",
        ),
        RuleSpec(
            "transaction_posting_mismatch",
            "error",
            "an integration transaction whose status disagrees with its ledger postings",
            "integration_transaction",
            ("escalate",),
            diagnosis="The status was written around the services. Pending or failed but on "
            "the ledger already: never reprocess it (the services refuse to post it twice); "
            "posted but not on the ledger: the movement was lost. Neither has a safe tool "
            "fix: escalate to whoever owns the source system.",
        ),
        RuleSpec(
            "no_movement",
            "info",
            "stock on hand without any ledger movement for N days",
            "stock",
            (),
            report_only=True,
            default=False,
            diagnosis="Dead stock: a report for buyers, nothing to fix.",
        ),
    )
}
"""Every rule's specification, by rule name, in the order `check_invariants` applies them."""

DEFAULT_RULES: tuple[str, ...] = tuple(r for r, s in RULE_SPECS.items() if s.default)
"""The rules `check_invariants` runs when no `rules` are named: whether the books balance."""


class Scope(BaseModel):
    """Entities to restrict a check to; a rule checks only rows touching one of them.

    Each rule looks at the entity kinds it relates to (stock rules at `stock` pairs,
    `orphan_reservation` at reservations, their orders and their stock pairs, and so on);
    a rule with nothing of its kinds in the scope finds nothing.
    """

    stock: list[tuple[str, str]] = Field(default_factory=list)
    """(sku, location) pairs."""
    reservations: list[int] = Field(default_factory=list)
    orders: list[int] = Field(default_factory=list)
    purchase_orders: list[int] = Field(default_factory=list)
    transactions: list[int] = Field(default_factory=list)
    """Integration transaction ids."""

    def size(self) -> int:
        """How many entities the scope names."""
        return (
            len(self.stock)
            + len(self.reservations)
            + len(self.orders)
            + len(self.purchase_orders)
            + len(self.transactions)
        )

    def merge(self, other: Scope) -> Scope:
        """Both scopes' entities, without repeats."""
        return Scope(
            stock=sorted({*self.stock, *other.stock}),
            reservations=sorted({*self.reservations, *other.reservations}),
            orders=sorted({*self.orders, *other.orders}),
            purchase_orders=sorted({*self.purchase_orders, *other.purchase_orders}),
            transactions=sorted({*self.transactions, *other.transactions}),
        )

    @classmethod
    def of(cls, entities: Mapping[str, Any]) -> Scope:
        """The scope of one violation's `entities` (what a re-check of it looks at)."""
        scope = cls()
        if entities.get("sku") and entities.get("location"):
            scope.stock.append((str(entities["sku"]), str(entities["location"])))
        for name, target in (
            ("reservation_id", scope.reservations),
            ("order_id", scope.orders),
            ("purchase_order_id", scope.purchase_orders),
            ("transaction_id", scope.transactions),
        ):
            value = entities.get(name)
            if value is not None and str(value).isdigit():
                target.append(int(value))
        return scope


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
    severity: Severity = "error"
    """The rule's severity (`RULE_SPECS[rule].severity`)."""
    entities: dict[str, str | int] = Field(default_factory=dict)
    """The rows involved, by name: `sku`, `location`, `reservation_id`, `order_id`,
    `purchase_order_id`, `transaction_id` (what `Scope.of` turns into a re-check)."""
    evidence: list[dict[str, Any]] = Field(default_factory=list)
    """Rows that show the problem (with `evidence=True`; at most a few per table, no
    customer personal data); each has a `table` key."""


class InvariantReport(BaseModel):
    """The result of `check_invariants`."""

    ok: bool
    """True when no rule is broken (report-only rules never count)."""
    violations: list[Violation] = Field(default_factory=list)
    checked_at: datetime
    duration_s: float
    truncated: bool = False
    """Some rule had more than `limit` violations; only the first `limit` are listed."""
    rules: list[str] = Field(default_factory=list)
    """The rules that were checked."""
    truncated_rules: list[str] = Field(default_factory=list)
    """The rules whose violations were cut at `limit`."""

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


@dataclass(frozen=True, slots=True)
class _Query:
    """What every rule function gets besides the connection."""

    limit: int
    scope: Scope | None
    allow_backorders: bool
    now: datetime
    stuck_after: timedelta
    no_movement_after: timedelta

    def pairs(self, table: Table) -> Any:
        """A filter on the table's (sku, location) for the scope's stock pairs."""
        return _in_pairs(table, self.scope.stock if self.scope else None)


def _in_pairs(table: Table, pairs: Sequence[tuple[str, str]] | None) -> Any:
    if pairs is None:
        return literal(True)
    if not pairs:
        return false()
    return tuple_(table.c.sku, table.c.location).in_(list(pairs))


def _in_ids(column: Any, ids: Sequence[Any] | None) -> Any:
    if ids is None:
        return literal(True)
    if not ids:
        return false()
    return column.in_(list(ids))


def _any_of(q: _Query, *filters: tuple[Any, str]) -> Any:
    """OR of the scope filters named (`(column_or_table, scope_field)`); True without scope."""
    if q.scope is None:
        return literal(True)
    parts = []
    for target, field in filters:
        values = getattr(q.scope, field)
        if not values:
            continue
        if field == "stock":
            parts.append(_in_pairs(target, values))
        else:
            parts.append(target.in_(values))
    return or_(*parts) if parts else false()


def check_invariants(
    engine: Engine,
    *,
    rules: Iterable[str] | None = None,
    scope: Scope | None = None,
    stuck_after: timedelta = timedelta(hours=1),
    no_movement_after: timedelta = timedelta(days=30),
    now: datetime | None = None,
    allow_backorders: bool = False,
    limit: int = 1000,
    evidence: bool = False,
    evidence_rows: int = 5,
    raise_on_error: bool = False,
) -> InvariantReport:
    """Check rules over the store (or over `scope`), set-based, in one read transaction.

    Args:
        engine: the store's engine.
        rules: which rules (names of `RULE_SPECS`); default `DEFAULT_RULES`.
        scope: check only these entities (a finding's re-check); default everything.
        stuck_after: a transaction pending for longer than this is stuck.
        no_movement_after: stock with no ledger row for this long has no movement.
        now: the time to judge "stuck" and "no movement" against (default: now).
        allow_backorders: the documented backorder policy is on: reserved may exceed
            on_hand without a `negative_available` violation.
        limit: list at most this many violations per rule.
        evidence: attach evidence rows to each violation (a few indexed queries each).
        evidence_rows: at most this many rows per table in each violation's evidence.
        raise_on_error: raise `InvariantViolation` instead of returning a failed report.

    Returns:
        The report; `ok` is True when nothing is broken.

    Raises:
        ConfigError: an unknown rule name.
        InvariantViolation: with `raise_on_error`, when a rule is broken.
    """
    started = time.perf_counter()
    checked_at = now or utcnow()
    wanted = _rule_names(rules)
    q = _Query(
        limit=limit,
        scope=scope,
        allow_backorders=allow_backorders,
        now=checked_at,
        stuck_after=stuck_after,
        no_movement_after=no_movement_after,
    )
    violations: list[Violation] = []
    with _Snapshot(engine) as conn:
        for covers, check in _CHECKS:
            if not any(r in wanted for r in covers):
                continue
            found = [v for v in check(conn, q) if v.rule in wanted]
            violations.extend(found)
        for v in violations:
            spec = RULE_SPECS[v.rule]
            v.severity = spec.severity
            if evidence:
                v.evidence = collect_evidence(conn, v, rows=evidence_rows)
    per_rule: dict[str, int] = {}
    for v in violations:
        per_rule[v.rule] = per_rule.get(v.rule, 0) + 1
    truncated_rules = [r for r, n in per_rule.items() if n >= limit]
    report = InvariantReport(
        ok=not any(not RULE_SPECS[v.rule].report_only for v in violations),
        violations=violations,
        checked_at=checked_at,
        duration_s=round(time.perf_counter() - started, 4),
        truncated=bool(truncated_rules),
        rules=[r for r in RULES if r in wanted],
        truncated_rules=truncated_rules,
    )
    if raise_on_error and not report.ok:
        raise InvariantViolation([f"{v.rule} {v.entity} {v.key}: {v.detail}" for v in violations])
    return report


def _rule_names(rules: Iterable[str] | None) -> set[str]:
    if rules is None:
        return set(DEFAULT_RULES)
    names = {rules} if isinstance(rules, str) else set(rules)
    unknown = sorted(names - set(RULE_SPECS))
    if unknown:
        raise ConfigError(
            f"unknown invariant rule(s) {', '.join(unknown)}: known are {', '.join(RULES)}"
        )
    return names


class _Snapshot:
    """One consistent read: REPEATABLE READ on PostgreSQL, a deferred transaction on SQLite."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def __enter__(self) -> Connection:
        conn = self.engine.connect()
        if self.engine.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        else:
            conn = conn.execution_options(sqlite_begin="DEFERRED")
        self.conn = conn
        self.tx = conn.begin()
        return conn

    def __exit__(self, *exc: object) -> None:
        try:
            self.tx.rollback()
        finally:
            self.conn.close()


def _stock_key(sku: str, location: str) -> str:
    return f"{sku}@{location}"


def _stock_entities(sku: str, location: str) -> dict[str, str | int]:
    return {"sku": sku, "location": location}


def _mismatch(
    conn: Connection, q: _Query, rule: Rule, column: str, sums: Any, what: str
) -> list[Violation]:
    """Stock rows whose `column` differs from `sums`, and sums without a stock row.

    One statement: the sums are a CTE read twice, which both engines compute once (a CTE
    referenced twice is materialized), so the ledger is aggregated in a single pass.
    """
    col = STOCK.c[column]
    total = func.coalesce(sums.c.total, 0)
    differs = (
        select(
            STOCK.c.sku,
            STOCK.c.location,
            col.label("actual"),
            total.label("expected"),
        )
        .outerjoin(sums, and_(sums.c.sku == STOCK.c.sku, sums.c.location == STOCK.c.location))
        .where(col != total, q.pairs(STOCK))
    )
    # Rows of the ledger or of reservations for a SKU and location without a stock row.
    stray = (
        select(
            sums.c.sku,
            sums.c.location,
            cast_(null(), Integer).label("actual"),
            sums.c.total.label("expected"),
        )
        .outerjoin(STOCK, and_(sums.c.sku == STOCK.c.sku, sums.c.location == STOCK.c.location))
        .where(STOCK.c.sku.is_(None), sums.c.total != 0)
    )
    both = union_all(differs, stray).subquery()
    rows = conn.execute(select(both).order_by(both.c.sku, both.c.location).limit(2 * q.limit)).all()
    out = []
    for r in rows:
        common: dict[str, Any] = {
            "rule": rule,
            "entity": "stock",
            "key": _stock_key(r.sku, r.location),
            "sku": r.sku,
            "location": r.location,
            "entities": _stock_entities(r.sku, r.location),
            "expected": int(r.expected),
        }
        if r.actual is None:
            detail = f"no stock row, but {what} sum to {int(r.expected)}"
            out.append(Violation(detail=detail, actual=None, **common))
        else:
            detail = f"{column} is {r.actual} but {what} sum to {int(r.expected)}"
            out.append(Violation(detail=detail, actual=int(r.actual), **common))
    return out[: q.limit]


def _sums_cte(table: Table, value: Any, *where: Any) -> Any:
    return (
        select(table.c.sku, table.c.location, func.sum(value).label("total"))
        .where(*where)
        .group_by(table.c.sku, table.c.location)
        .cte()
    )


def _ledger_mismatch(conn: Connection, q: _Query) -> list[Violation]:
    sums = _sums_cte(LEDGER, LEDGER.c.delta, q.pairs(LEDGER))
    return _mismatch(conn, q, "ledger_mismatch", "on_hand", sums, "its ledger rows")


def _reserved_mismatch(conn: Connection, q: _Query) -> list[Violation]:
    sums = _sums_cte(RES, RES.c.qty, RES.c.status == _OPEN, q.pairs(RES))
    return _mismatch(conn, q, "reserved_mismatch", "reserved", sums, "its open reservations")


def _negative(conn: Connection, q: _Query) -> list[Violation]:
    out: list[Violation] = []
    rows = conn.execute(
        select(STOCK.c.sku, STOCK.c.location, STOCK.c.on_hand, STOCK.c.reserved)
        .where(
            or_(
                STOCK.c.on_hand < 0,
                STOCK.c.reserved < 0,
                and_(STOCK.c.on_hand >= 0, STOCK.c.reserved > STOCK.c.on_hand)
                if not q.allow_backorders
                else literal(False),
            ),
            q.pairs(STOCK),
        )
        .order_by(STOCK.c.sku, STOCK.c.location)
        .limit(3 * q.limit)
    ).all()
    for r in rows:
        key = _stock_key(r.sku, r.location)
        common: dict[str, Any] = {
            "entity": "stock",
            "key": key,
            "sku": r.sku,
            "location": r.location,
            "entities": _stock_entities(r.sku, r.location),
        }
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
        elif not q.allow_backorders and r.on_hand >= 0 and r.reserved > r.on_hand:
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


def _orphans(conn: Connection, q: _Query) -> list[Violation]:
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
            _any_of(q, (RES.c.id, "reservations"), (RES.c.order_id, "orders"), (RES, "stock")),
        )
        .order_by(RES.c.id)
        .limit(q.limit)
    ).all()
    return [
        Violation(
            rule="orphan_reservation",
            entity="reservation",
            key=str(r.id),
            sku=r.sku,
            location=r.location,
            entities={
                "reservation_id": int(r.id),
                "order_id": int(r.order_id),
                "sku": r.sku,
                "location": r.location,
            },
            detail=f"open reservation of {r.qty} for order {r.order_id}, which is "
            + (r.order_status or "missing"),
            expected="released",
            actual="open",
        )
        for r in rows
    ]


def _order_state(conn: Connection, q: _Query) -> list[Violation]:
    out: list[Violation] = []
    r: Any
    scoped = q.scope.orders if q.scope is not None else None
    held = (
        select(RES.c.order_line_id, func.sum(RES.c.qty).label("held"))
        .where(
            RES.c.status == _OPEN,
            RES.c.order_line_id.is_not(None),
            _in_ids(RES.c.order_id, scoped),
        )
        .group_by(RES.c.order_line_id)
        .subquery()
    )
    have = func.coalesce(held.c.held, 0)
    for r in conn.execute(
        select(LINE.c.order_id, LINE.c.id, LINE.c.sku, LINE.c.qty, have.label("held"))
        .join(ORDERS, ORDERS.c.id == LINE.c.order_id)
        .outerjoin(held, held.c.order_line_id == LINE.c.id)
        .where(
            ORDERS.c.status == OrderStatus.PLACED.value,
            have != LINE.c.qty,
            _in_ids(ORDERS.c.id, scoped),
        )
        .order_by(LINE.c.order_id, LINE.c.id)
        .limit(q.limit)
    ):
        out.append(
            Violation(
                rule="order_state",
                entity="order",
                key=str(r.order_id),
                sku=r.sku,
                entities={"order_id": int(r.order_id)},
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
            _in_ids(ORDERS.c.id, scoped),
        )
        .group_by(ORDERS.c.id, ORDERS.c.status)
        .order_by(ORDERS.c.id)
        .limit(q.limit)
    ):
        out.append(
            Violation(
                rule="order_state",
                entity="order",
                key=str(r.id),
                entities={"order_id": int(r.id)},
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
            _in_ids(ORDERS.c.id, scoped),
        )
        .order_by(ORDERS.c.id)
        .limit(q.limit)
    ):
        out.append(
            Violation(
                rule="order_state",
                entity="order",
                key=str(r.id),
                entities={"order_id": int(r.id)},
                detail=f"{r.status} order without lines",
            )
        )
    return out


def _po_state(conn: Connection, q: _Query) -> list[Violation]:
    out: list[Violation] = []
    r: Any
    scoped = q.scope.purchase_orders if q.scope is not None else None
    over = conn.execute(
        select(
            PO_LINE.c.purchase_order_id,
            PO_LINE.c.id,
            PO_LINE.c.sku,
            PO_LINE.c.qty_ordered,
            PO_LINE.c.qty_received,
        )
        .where(
            or_(PO_LINE.c.qty_received > PO_LINE.c.qty_ordered, PO_LINE.c.qty_received < 0),
            _in_ids(PO_LINE.c.purchase_order_id, scoped),
        )
        .order_by(PO_LINE.c.id)
        .limit(q.limit)
    )
    for r in over:
        out.append(
            Violation(
                rule="po_state",
                entity="purchase_order",
                key=str(r.purchase_order_id),
                sku=r.sku,
                entities={"purchase_order_id": int(r.purchase_order_id)},
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
        .where(_in_ids(PO_LINE.c.purchase_order_id, scoped))
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
        .where(bad, _in_ids(PO.c.id, scoped))
        .order_by(PO.c.id)
        .limit(q.limit)
    ):
        out.append(
            Violation(
                rule="po_state",
                entity="purchase_order",
                key=str(r.id),
                entities={"purchase_order_id": int(r.id)},
                detail=f"{r.status}, but {int(r.received)} of {int(r.ordered)} units received",
                expected=int(r.ordered) if r.status == PurchaseOrderStatus.RECEIVED else None,
                actual=int(r.received),
            )
        )
    return out


def _po_receipt_mismatch(conn: Connection, q: _Query) -> list[Violation]:
    scoped = q.scope.purchase_orders if q.scope is not None else None
    # One pass over both sides (UNION ALL, then GROUP BY): a join of two aggregates on a
    # cast key would be a nested loop on SQLite (minutes on the seeded shop's 140k lines).
    ordered = (
        select(
            func.cast(PO_LINE.c.purchase_order_id, String).label("po_key"),
            PO_LINE.c.sku.label("sku"),
            PO.c.location.label("location"),
            PO_LINE.c.qty_received.label("received"),
            literal(0).label("posted"),
            literal(1).label("is_line"),
        )
        .join(PO, PO.c.id == PO_LINE.c.purchase_order_id)
        .where(_in_ids(PO_LINE.c.purchase_order_id, scoped))
    )
    receipts = select(
        LEDGER.c.ref_id.label("po_key"),
        LEDGER.c.sku.label("sku"),
        LEDGER.c.location.label("location"),
        literal(0).label("received"),
        LEDGER.c.delta.label("posted"),
        literal(0).label("is_line"),
    ).where(
        LEDGER.c.ref_type == "purchase_order",
        _in_ids(LEDGER.c.ref_id, [str(i) for i in scoped] if scoped is not None else None),
    )
    both = ordered.union_all(receipts).subquery()
    received = func.sum(both.c.received)
    posted = func.sum(both.c.posted)
    rows = conn.execute(
        select(
            both.c.po_key,
            both.c.sku,
            func.min(both.c.location).label("location"),
            received.label("received"),
            posted.label("posted"),
            func.sum(both.c.is_line).label("lines"),
        )
        .group_by(both.c.po_key, both.c.sku)
        .having(received != posted)
        .order_by(both.c.po_key, both.c.sku)
        .limit(q.limit)
    ).all()
    out: list[Violation] = []
    for r in rows:
        entities: dict[str, str | int] = {"sku": r.sku, "location": r.location}
        if str(r.po_key).isdigit():
            entities = {"purchase_order_id": int(r.po_key), **entities}
        if int(r.lines):
            detail = (
                f"{r.sku}: {int(r.received)} received on the order, "
                f"{int(r.posted)} posted to the ledger"
            )
        else:
            detail = (
                f"{r.sku}: {int(r.posted)} posted to the ledger against purchase order "
                f"{r.po_key}, which has no line for it"
            )
        out.append(
            Violation(
                rule="po_receipt_mismatch",
                entity="purchase_order",
                key=str(r.po_key),
                sku=r.sku,
                location=r.location,
                entities=entities,
                detail=detail,
                expected=int(r.received),
                actual=int(r.posted),
            )
        )
    return out


def _duplicate_posting(conn: Connection, q: _Query) -> list[Violation]:
    scoped = q.scope.transactions if q.scope is not None else None
    postings = func.sum(case((LEDGER.c.ref_type == "integration", 1), else_=0))
    net = func.sum(case((LEDGER.c.ref_type == "integration", 1), else_=-1))
    rows = conn.execute(
        select(
            LEDGER.c.ref_id,
            func.min(LEDGER.c.sku).label("sku"),
            func.min(LEDGER.c.location).label("location"),
            postings.label("n"),
            net.label("net"),
        )
        .where(
            LEDGER.c.ref_type.in_(["integration", REVERSAL_REF_TYPE]),
            _in_ids(LEDGER.c.ref_id, [str(i) for i in scoped] if scoped is not None else None),
        )
        .group_by(LEDGER.c.ref_id)
        .having(net > 1)
        .order_by(LEDGER.c.ref_id)
        .limit(q.limit)
    ).all()
    out = []
    for r in rows:
        entities: dict[str, str | int] = {"sku": r.sku, "location": r.location}
        if str(r.ref_id).isdigit():
            entities["transaction_id"] = int(r.ref_id)
        reversed_ = int(r.n) - int(r.net)
        out.append(
            Violation(
                rule="duplicate_posting",
                entity="integration_transaction",
                key=str(r.ref_id),
                sku=r.sku,
                location=r.location,
                entities=entities,
                detail=f"posted to the ledger {int(r.n)} times"
                + (f", {reversed_} reversed" if reversed_ else ""),
                expected=1,
                actual=int(r.net),
            )
        )
    return out


def _transaction_posting_mismatch(conn: Connection, q: _Query) -> list[Violation]:
    scoped = q.scope.transactions if q.scope is not None else None
    # One UNION ALL + GROUP BY pass (no join on a cast key; see _po_receipt_mismatch).
    txns = select(
        func.cast(TXN.c.id, String).label("ref"),
        literal(1).label("is_txn"),
        TXN.c.status.label("status"),
        literal(0).label("posting"),
        TXN.c.sku.label("sku"),
        TXN.c.location.label("location"),
    ).where(_in_ids(TXN.c.id, scoped))
    postings = select(
        LEDGER.c.ref_id.label("ref"),
        literal(0).label("is_txn"),
        cast_(null(), String).label("status"),
        case((LEDGER.c.ref_type == "integration", 1), else_=-1).label("posting"),
        LEDGER.c.sku.label("sku"),
        LEDGER.c.location.label("location"),
    ).where(
        LEDGER.c.ref_type.in_(["integration", REVERSAL_REF_TYPE]),
        _in_ids(LEDGER.c.ref_id, [str(i) for i in scoped] if scoped is not None else None),
    )
    both = txns.union_all(postings).subquery()
    is_txn, net, status = func.sum(both.c.is_txn), func.sum(both.c.posting), func.min(both.c.status)
    posted = IntegrationTxnStatus.POSTED.value
    rows = conn.execute(
        select(
            both.c.ref,
            is_txn.label("is_txn"),
            status.label("status"),
            net.label("net"),
            func.min(both.c.sku).label("sku"),
            func.min(both.c.location).label("location"),
        )
        .group_by(both.c.ref)
        .having(
            or_(
                and_(is_txn == 0, net >= 1),
                and_(is_txn == 1, status == posted, net <= 0),
                and_(is_txn == 1, status != posted, net >= 1),
            )
        )
        .order_by(both.c.ref)
        .limit(q.limit)
    ).all()
    out = []
    for r in rows:
        entities: dict[str, str | int] = {"sku": r.sku, "location": r.location}
        if str(r.ref).isdigit():
            entities = {"transaction_id": int(r.ref), **entities}
        if not int(r.is_txn):
            detail = f"posted to the ledger {int(r.net)} time(s), but no such transaction exists"
            expected, actual = "no posting", "posted"
        elif r.status == posted:
            detail = "marked posted, but not on the ledger"
            expected, actual = "on the ledger", "missing"
        else:
            detail = f"{r.status}, but posted to the ledger {int(r.net)} time(s) already"
            expected, actual = "posted", str(r.status)
        out.append(
            Violation(
                rule="transaction_posting_mismatch",
                entity="integration_transaction",
                key=str(r.ref),
                sku=r.sku,
                location=r.location,
                entities=entities,
                detail=detail,
                expected=expected,
                actual=actual,
            )
        )
    return out


def _txn_violation(rule: Rule, r: Any, detail: str, actual: str) -> Violation:
    return Violation(
        rule=rule,
        entity="integration_transaction",
        key=str(r.id),
        sku=r.sku,
        location=r.location,
        entities={"transaction_id": int(r.id), "sku": r.sku, "location": r.location},
        detail=detail,
        expected="posted",
        actual=actual,
    )


def _txn_rows(conn: Connection, q: _Query, *where: Any) -> list[Any]:
    scoped = q.scope.transactions if q.scope is not None else None
    return list(
        conn.execute(
            select(
                TXN.c.id,
                TXN.c.source,
                TXN.c.external_id,
                TXN.c.sku,
                TXN.c.location,
                TXN.c.created_at,
                TXN.c.updated_at,
                TXN.c.error,
                TXN.c.attempts,
            )
            .where(*where, _in_ids(TXN.c.id, scoped))
            .order_by(TXN.c.updated_at, TXN.c.id)
            .limit(q.limit)
        ).all()
    )


def _stuck(conn: Connection, q: _Query) -> list[Violation]:
    # Pending since its last change (a failed one queued again starts a new wait).
    cutoff = q.now - q.stuck_after
    rows = _txn_rows(
        conn, q, TXN.c.status == IntegrationTxnStatus.PENDING.value, TXN.c.updated_at < cutoff
    )
    return [
        _txn_violation(
            "stuck_transaction",
            r,
            f"{r.source} {r.external_id} pending since {_aware(r.updated_at).isoformat()}, "
            f"longer than {q.stuck_after}",
            "pending",
        )
        for r in rows
    ]


def _failed(conn: Connection, q: _Query) -> list[Violation]:
    rows = _txn_rows(conn, q, TXN.c.status == IntegrationTxnStatus.FAILED.value)
    return [
        _txn_violation(
            "failed_transaction",
            r,
            f"{r.source} {r.external_id} failed after {r.attempts} attempt(s): "
            f"{(r.error or 'no error recorded')[:200]}",
            "failed",
        )
        for r in rows
    ]


def _no_movement(conn: Connection, q: _Query) -> list[Violation]:
    cutoff = q.now - q.no_movement_after
    # One index seek per stock row (ix_ledger_sku_location_created), never a ledger scan.
    recent = (
        select(LEDGER.c.id)
        .where(
            LEDGER.c.sku == STOCK.c.sku,
            LEDGER.c.location == STOCK.c.location,
            LEDGER.c.created_at >= cutoff,
        )
        .exists()
    )
    rows = conn.execute(
        select(STOCK.c.sku, STOCK.c.location, STOCK.c.on_hand)
        .where(STOCK.c.on_hand > 0, ~recent, q.pairs(STOCK))
        .order_by(STOCK.c.sku, STOCK.c.location)
        .limit(q.limit)
    ).all()
    days = q.no_movement_after.days
    return [
        Violation(
            rule="no_movement",
            entity="stock",
            key=_stock_key(r.sku, r.location),
            sku=r.sku,
            location=r.location,
            entities=_stock_entities(r.sku, r.location),
            detail=f"{r.on_hand} on hand and no movement for {days} days",
            actual=int(r.on_hand),
        )
        for r in rows
    ]


_CHECKS: tuple[tuple[tuple[str, ...], Callable[[Connection, _Query], list[Violation]]], ...] = (
    (("ledger_mismatch",), _ledger_mismatch),
    (("reserved_mismatch",), _reserved_mismatch),
    (("negative_on_hand", "negative_reserved", "negative_available"), _negative),
    (("orphan_reservation",), _orphans),
    (("order_state",), _order_state),
    (("po_state",), _po_state),
    (("duplicate_posting",), _duplicate_posting),
    (("stuck_transaction",), _stuck),
    (("failed_transaction",), _failed),
    (("po_receipt_mismatch",), _po_receipt_mismatch),
    (("transaction_posting_mismatch",), _transaction_posting_mismatch),
    (("no_movement",), _no_movement),
)


# --- evidence --------------------------------------------------------------------------------

_LEDGER_COLS = (
    LEDGER.c.id,
    LEDGER.c.sku,
    LEDGER.c.location,
    LEDGER.c.delta,
    LEDGER.c.kind,
    LEDGER.c.reason,
    LEDGER.c.ref_type,
    LEDGER.c.ref_id,
    LEDGER.c.actor,
    LEDGER.c.created_at,
)
_TXN_COLS = (
    TXN.c.id,
    TXN.c.source,
    TXN.c.external_id,
    TXN.c.kind,
    TXN.c.sku,
    TXN.c.location,
    TXN.c.delta,
    TXN.c.status,
    TXN.c.attempts,
    TXN.c.error,
    TXN.c.created_at,
    TXN.c.updated_at,
    TXN.c.posted_at,
)
_RES_COLS = (
    RES.c.id,
    RES.c.order_id,
    RES.c.order_line_id,
    RES.c.sku,
    RES.c.location,
    RES.c.qty,
    RES.c.status,
    RES.c.created_at,
)
# Orders without customer_id, shipping address or amounts: evidence carries no personal data.
_ORDER_COLS = (ORDERS.c.id, ORDERS.c.status, ORDERS.c.location, ORDERS.c.updated_at)


def _aware(value: datetime) -> datetime:
    from datetime import UTC

    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return _aware(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _rows(conn: Connection, table: str, stmt: Any) -> list[dict[str, Any]]:
    return [
        {"table": table, **{k: _plain(v) for k, v in row.items()}}
        for row in conn.execute(stmt).mappings()
    ]


def collect_evidence(
    conn: Connection, violation: Violation, *, rows: int = 5
) -> list[dict[str, Any]]:
    """Rows that show a violation: the entity itself and what relates to it.

    Bounded (at most `rows` rows per table, a handful of indexed queries) and free of
    customer personal data. Each row is a JSON-safe dict with a `table` key: `stock` (with
    `ledger_sum` and `open_reserved`), `stock_ledger` (newest first), `integration_transaction`,
    `reservation`, `orders`, `order_line`, `purchase_order`, `purchase_order_line`,
    `po_receipts` (ledger receipts per SKU).
    """
    e = violation.entities
    out: list[dict[str, Any]] = []
    sku, location = e.get("sku"), e.get("location")
    txn_id, order_id = e.get("transaction_id"), e.get("order_id")
    po_id, res_id = e.get("purchase_order_id"), e.get("reservation_id")
    if res_id is not None:
        out += _rows(conn, "reservation", select(*_RES_COLS).where(RES.c.id == res_id))
    if order_id is not None:
        out += _rows(conn, "orders", select(*_ORDER_COLS).where(ORDERS.c.id == order_id))
        held = (
            select(func.coalesce(func.sum(RES.c.qty), 0))
            .where(RES.c.order_line_id == LINE.c.id, RES.c.status == _OPEN)
            .scalar_subquery()
        )
        out += _rows(
            conn,
            "order_line",
            select(LINE.c.id, LINE.c.order_id, LINE.c.sku, LINE.c.qty, held.label("reserved"))
            .where(LINE.c.order_id == order_id)
            .order_by(LINE.c.id)
            .limit(rows),
        )
        if res_id is None:
            out += _rows(
                conn,
                "reservation",
                select(*_RES_COLS).where(RES.c.order_id == order_id).order_by(RES.c.id).limit(rows),
            )
    if po_id is not None:
        out += _rows(
            conn,
            "purchase_order",
            select(PO.c.id, PO.c.status, PO.c.location, PO.c.supplier_id, PO.c.updated_at).where(
                PO.c.id == po_id
            ),
        )
        out += _rows(
            conn,
            "purchase_order_line",
            select(
                PO_LINE.c.id,
                PO_LINE.c.purchase_order_id,
                PO_LINE.c.sku,
                PO_LINE.c.qty_ordered,
                PO_LINE.c.qty_received,
            )
            .where(PO_LINE.c.purchase_order_id == po_id)
            .order_by(PO_LINE.c.id)
            .limit(rows),
        )
        out += _rows(
            conn,
            "po_receipts",
            select(
                LEDGER.c.sku, func.sum(LEDGER.c.delta).label("posted"), func.count().label("rows")
            )
            .where(LEDGER.c.ref_type == "purchase_order", LEDGER.c.ref_id == str(po_id))
            .group_by(LEDGER.c.sku)
            .order_by(LEDGER.c.sku)
            .limit(rows),
        )
    if txn_id is not None:
        out += _rows(conn, "integration_transaction", select(*_TXN_COLS).where(TXN.c.id == txn_id))
        out += _rows(
            conn,
            "stock_ledger",
            select(*_LEDGER_COLS)
            .where(
                LEDGER.c.ref_type.in_(["integration", REVERSAL_REF_TYPE]),
                LEDGER.c.ref_id == str(txn_id),
            )
            .order_by(LEDGER.c.id)
            .limit(rows),
        )
    if sku is not None and location is not None and violation.entity == "stock":
        at_pair = (LEDGER.c.sku == sku, LEDGER.c.location == location)
        ledger_sum = (
            select(func.coalesce(func.sum(LEDGER.c.delta), 0)).where(*at_pair).scalar_subquery()
        )
        open_reserved = (
            select(func.coalesce(func.sum(RES.c.qty), 0))
            .where(RES.c.sku == sku, RES.c.location == location, RES.c.status == _OPEN)
            .scalar_subquery()
        )
        last_move = select(func.max(LEDGER.c.created_at)).where(*at_pair).scalar_subquery()
        out += _rows(
            conn,
            "stock",
            select(
                STOCK.c.sku,
                STOCK.c.location,
                STOCK.c.on_hand,
                STOCK.c.reserved,
                ledger_sum.label("ledger_sum"),
                open_reserved.label("open_reserved"),
                last_move.label("last_movement_at"),
                STOCK.c.updated_at,
            ).where(STOCK.c.sku == sku, STOCK.c.location == location),
        )
        out += _rows(
            conn,
            "stock_ledger",
            select(*_LEDGER_COLS).where(*at_pair).order_by(LEDGER.c.id.desc()).limit(rows),
        )
        out += _rows(
            conn,
            "integration_transaction",
            select(*_TXN_COLS)
            .where(
                TXN.c.sku == sku,
                TXN.c.location == location,
                TXN.c.status.in_(
                    [IntegrationTxnStatus.PENDING.value, IntegrationTxnStatus.FAILED.value]
                ),
            )
            .order_by(TXN.c.id)
            .limit(rows),
        )
        if violation.rule in ("reserved_mismatch", "negative_available", "negative_reserved"):
            out += _rows(
                conn,
                "reservation",
                select(*_RES_COLS, ORDERS.c.status.label("order_status"))
                .outerjoin(ORDERS, ORDERS.c.id == RES.c.order_id)
                .where(RES.c.sku == sku, RES.c.location == location, RES.c.status == _OPEN)
                .order_by(RES.c.id)
                .limit(rows),
            )
    return out
