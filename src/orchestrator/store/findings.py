"""The auditor's findings: broken invariants remembered across scans, with their history.

`FindingStore.scan()` runs `check_invariants` (every rule of `RULE_SPECS` by default) and
keeps what it finds in the `finding` table. A finding is identified by its rule and entity
key: seen again, it is the same finding (`last_seen` moves; a fixed or resolved one opens
again, an ignored one stays ignored); an open one a scan no longer sees is marked
`resolved`. A scan is incremental from the last scan's start (minus an overlap) unless
`full=True` or there was no scan before: it re-checks only the entities whose ledger rows,
reservations, orders, purchase orders, stock rows or integration transactions changed since,
plus the time-based rules (stuck, failed, no movement) everywhere. Rows edited around the
services without a new timestamp are seen by the next full scan.

Statuses: `open` -> `fixing` -> `fixed` (the auditor's fix, confirmed by a re-check), or
`escalated` (a human has it), `resolved` (gone without the auditor), `ignored` (a human
chose to leave it). `record_attempt` logs each try; `metrics` summarizes it all.

Example:
    >>> store = FindingStore(engine)  # doctest: +SKIP
    >>> result = store.scan(full=True)  # doctest: +SKIP
    >>> for finding in store.open(limit=10):  # doctest: +SKIP
    ...     print(finding.rule, finding.key, finding.allowed_fixes)
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal, cast, get_args

from pydantic import BaseModel, Field
from sqlalchemy import Table, bindparam, case, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine

from orchestrator.errors import InvalidInput, NotFound
from orchestrator.settings import Settings
from orchestrator.store.invariants import (
    LEDGER,
    ORDERS,
    PO,
    RES,
    REVERSAL_REF_TYPE,
    RULE_SPECS,
    RULES,
    STOCK,
    TXN,
    RuleSpec,
    Scope,
    Violation,
    check_invariants,
    collect_evidence,
)
from orchestrator.store.models import (
    Finding,
    FindingAttempt,
    FindingEvent,
    FindingScan,
    FindingStatus,
    utcnow,
)

__all__ = [
    "ACTIVE_STATUSES",
    "FindingAttemptView",
    "FindingEventView",
    "FindingMetrics",
    "FindingStatusName",
    "FindingStore",
    "FindingView",
    "ScanResult",
]

FindingStatusName = Literal["open", "fixing", "fixed", "escalated", "resolved", "ignored"]
"""A finding's status (the values of `FindingStatus`)."""

ACTIVE_STATUSES: tuple[str, ...] = ("open", "fixing", "escalated")
"""Statuses of a finding still present as far as anyone knows: a scan that no longer sees
it marks it `resolved`."""

_CLOSED = ("fixed", "resolved")
_SEVERITY_RANK = {"critical": 0, "error": 1, "warning": 2, "info": 3}
# Rules judged against the clock or cheap everywhere: every scan runs them unscoped.
_UNSCOPED = frozenset({"stuck_transaction", "failed_transaction", "no_movement"})
# The scope kinds each rule's query filters on (what an incremental scan covers).
_RULE_KINDS: dict[str, tuple[str, ...]] = {
    "ledger_mismatch": ("stock",),
    "reserved_mismatch": ("stock",),
    "negative_on_hand": ("stock",),
    "negative_reserved": ("stock",),
    "negative_available": ("stock",),
    "orphan_reservation": ("reservations", "orders", "stock"),
    "order_state": ("orders",),
    "po_state": ("purchase_orders",),
    "po_receipt_mismatch": ("purchase_orders",),
    "duplicate_posting": ("transactions",),
    "stuck_transaction": ("transactions",),
    "failed_transaction": ("transactions",),
    "transaction_posting_mismatch": ("transactions",),
    "no_movement": ("stock",),
}
_MAX_SCOPE = 5000
"""An incremental scan touching more entities of one kind than this runs full instead."""
_MAX_LEDGER_ROWS = 50_000
"""An incremental scan over more new ledger rows than this runs full instead."""
_MAX_NEW_EVIDENCE = 500
"""Evidence is gathered for at most this many new findings per scan; the rest get theirs
at `get` or `recheck`."""


def _t(model: Any) -> Table:
    return cast(Table, model.__table__)


FINDING = _t(Finding)
ATTEMPT = _t(FindingAttempt)
EVENT = _t(FindingEvent)
SCAN = _t(FindingScan)


class FindingAttemptView(BaseModel):
    """One recorded try at fixing a finding."""

    id: int
    at: datetime
    by: str
    diagnosis: Any = None
    plan: Any = None
    outcome: str


class FindingEventView(BaseModel):
    """One status change of a finding."""

    finding_id: int
    rule: str
    at: datetime
    from_status: str | None
    """None when the finding was first seen."""
    to_status: str
    by: str
    """A person, `auditor`, `scan` or `recheck`."""
    note: str = ""


class FindingView(BaseModel):
    """A finding as stored: what is wrong, where, since when, and what was done."""

    id: int
    rule: str
    severity: str
    entity: str
    """`stock`, `reservation`, `order`, `purchase_order` or `integration_transaction`."""
    key: str
    """The entity's key: `SKU@LOCATION` for stock, else the id."""
    entities: dict[str, Any] = Field(default_factory=dict)
    """The rows involved: `sku`, `location`, `reservation_id`, `order_id`,
    `purchase_order_id`, `transaction_id` (those that apply)."""
    evidence: list[dict[str, Any]] = Field(default_factory=list)
    """Rows that showed the problem (bounded; each has a `table` key; no personal data)."""
    detail: str = ""
    expected: str | None = None
    actual: str | None = None
    status: FindingStatusName
    status_by: str | None = None
    status_note: str | None = None
    first_seen: datetime
    last_seen: datetime
    opened_at: datetime
    """When the current episode began (first_seen, or when it came back after closing)."""
    resolved_at: datetime | None = None
    attempts: int = 0
    """How many fix attempts were recorded."""
    occurrences: int = 1
    history: list[FindingAttemptView] = Field(default_factory=list)
    """The attempts, oldest first (filled by `get`, `recheck`, `record_attempt`)."""

    @property
    def spec(self) -> RuleSpec:
        """The rule's specification."""
        return RULE_SPECS[self.rule]

    @property
    def allowed_fixes(self) -> tuple[str, ...]:
        """The tools that may fix it (`escalate`: a human decides)."""
        return RULE_SPECS[self.rule].allowed_fixes

    @property
    def report_only(self) -> bool:
        """Reported, never fixed."""
        return RULE_SPECS[self.rule].report_only


class ScanResult(BaseModel):
    """What one scan found and changed."""

    scan_id: int
    full: bool
    """False for an incremental scan."""
    rules: list[str]
    started_at: datetime
    finished_at: datetime
    duration_s: float
    check_s: float
    """Time spent in the rule queries."""
    scope_size: int | None = None
    """Entities an incremental scan re-checked (None for a full scan)."""
    violations: int
    """Violations the rules returned (several may make one finding)."""
    new: list[int] = Field(default_factory=list)
    """Ids of findings seen for the first time."""
    reopened: list[int] = Field(default_factory=list)
    """Ids of fixed or resolved findings seen again."""
    seen: int = 0
    """Findings seen again that were still open (or fixing, escalated, ignored)."""
    resolved: list[int] = Field(default_factory=list)
    """Ids of findings this scan no longer saw."""
    open_by_rule: dict[str, int] = Field(default_factory=dict)
    """Active findings per rule after the scan."""
    truncated_rules: list[str] = Field(default_factory=list)
    """Rules cut at the scan limit: they resolved nothing this time."""


class FindingMetrics(BaseModel):
    """The auditor's oversight figures over a window."""

    since: datetime | None
    findings: int
    """Findings opened (first seen or seen again) in the window."""
    by_rule: dict[str, int]
    by_status: dict[str, int]
    by_rule_status: dict[str, dict[str, int]]
    fixed_automatically: int
    """Findings the auditor fixed (status `fixed`)."""
    escalated: int
    """Findings handed to a human in the window (ever escalated)."""
    resolved_otherwise: int
    """Findings gone without the auditor (status `resolved`)."""
    attempts: int
    success_rate: float | None
    """fixed / (fixed + escalated); None before any of either."""
    mean_time_to_resolution_s: float | None
    """Mean of resolved_at - opened_at over fixed and resolved findings."""
    mttr_by_rule_s: dict[str, float]
    scans: int
    last_scan_at: datetime | None


def _view(row: Any, history: Sequence[FindingAttemptView] = ()) -> FindingView:
    return FindingView(
        id=row.id,
        rule=row.rule,
        severity=row.severity,
        entity=row.entity,
        key=row.key,
        entities=row.entities or {},
        evidence=row.evidence or [],
        detail=row.detail,
        expected=row.expected,
        actual=row.actual,
        status=row.status,
        status_by=row.status_by,
        status_note=row.status_note,
        first_seen=_aware(row.first_seen),
        last_seen=_aware(row.last_seen),
        opened_at=_aware(row.opened_at),
        resolved_at=_aware(row.resolved_at) if row.resolved_at else None,
        attempts=row.attempts,
        occurrences=row.occurrences,
        history=list(history),
    )


def _aware(value: datetime) -> datetime:
    from datetime import UTC

    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _text(value: object, n: int) -> str | None:
    return None if value is None else str(value)[:n]


class _Group:
    """The violations of one rule on one key (several lines of one order make one finding)."""

    __slots__ = ("details", "first")

    def __init__(self, first: Violation) -> None:
        self.first = first
        self.details = [first.detail]

    def detail(self) -> str:
        extra = len(self.details) - 3
        text = "; ".join(self.details[:3]) + (f"; and {extra} more" if extra > 0 else "")
        return text[:1000]


class FindingStore:
    """Findings of the auditor's scans, stored beside the operations data.

    Args:
        engine: the store's engine (tables from `create_all` or `orchestrator db upgrade`).
        settings: thresholds (`settings.auditor`) and the backorder policy; default the
            built-in defaults.
    """

    def __init__(self, engine: Engine, *, settings: Settings | None = None) -> None:
        self.engine = engine
        self.settings = settings or Settings.defaults()
        self._postgres = engine.dialect.name == "postgresql"

    # -- checks ----------------------------------------------------------------------------

    def _check(
        self,
        rules: Iterable[str],
        *,
        scope: Scope | None = None,
        now: datetime | None = None,
        evidence: bool = False,
    ) -> Any:
        a = self.settings.auditor
        return check_invariants(
            self.engine,
            rules=list(rules),
            scope=scope,
            stuck_after=timedelta(minutes=a.stuck_after_minutes),
            no_movement_after=timedelta(days=a.no_movement_days),
            now=now,
            allow_backorders=self.settings.store.allow_backorders,
            limit=a.scan_limit,
            evidence=evidence,
            evidence_rows=a.evidence_rows,
        )

    # -- scan ------------------------------------------------------------------------------

    def scan(
        self,
        *,
        full: bool = False,
        rules: Iterable[str] | None = None,
        now: datetime | None = None,
    ) -> ScanResult:
        """Run the rules and bring the findings up to date.

        Args:
            full: check everything; otherwise only what changed since the last scan (the
                first scan is always full).
            rules: which rules (default: every rule of `RULE_SPECS`).
            now: the time to judge stuck transactions and idle stock against (default the
                current time; the findings' own timestamps always use the current time).

        Returns:
            What was new, seen again, reopened and resolved.
        """
        started_clock = time.perf_counter()
        # Bookkeeping and the watermark run on the real clock; `now` only judges the rules.
        started = utcnow()
        wanted = [r for r in RULES if r in set(rules)] if rules is not None else list(RULES)
        unknown = set(rules or ()) - set(RULE_SPECS)
        if unknown:
            raise InvalidInput("rules", sorted(unknown), f"known rules are {', '.join(RULES)}")
        scope: Scope | None = None
        if not full:
            watermark = self._watermark()
            if watermark is None:
                full = True
            else:
                since = watermark - timedelta(seconds=self.settings.auditor.incremental_overlap_s)
                scope = self._changed_since(since)
                if scope is None:
                    full = True
        t0 = time.perf_counter()
        if full:
            report = self._check(wanted, now=now)
            violations, truncated = report.violations, list(report.truncated_rules)
        else:
            assert scope is not None
            scoped = [r for r in wanted if r not in _UNSCOPED]
            everywhere = [r for r in wanted if r in _UNSCOPED]
            violations, truncated = [], []
            for names, where in ((scoped, scope), (everywhere, None)):
                if names:
                    report = self._check(names, scope=where, now=now)
                    violations.extend(report.violations)
                    truncated.extend(report.truncated_rules)
        check_s = time.perf_counter() - t0
        groups: dict[tuple[str, str], _Group] = {}
        for v in violations:
            group = groups.get((v.rule, v.key))
            if group is None:
                groups[(v.rule, v.key)] = _Group(v)
            else:
                group.details.append(v.detail)
        result = self._apply(
            groups,
            wanted,
            truncated,
            scope=None if full else scope,
            at=started,
        )
        finished = utcnow()
        result.update(
            full=full,
            rules=wanted,
            started_at=started,
            finished_at=finished,
            check_s=round(check_s, 4),
            scope_size=None if full or scope is None else scope.size(),
            violations=len(violations),
            truncated_rules=sorted(set(truncated)),
        )
        duration = round(time.perf_counter() - started_clock, 4)
        counts = {
            "new": len(result["new"]),
            "reopened": len(result["reopened"]),
            "seen": result["seen"],
            "resolved": len(result["resolved"]),
            "violations": len(violations),
            "open_by_rule": result["open_by_rule"],
            "check_s": result["check_s"],
            "scope_size": result["scope_size"],
        }
        with self.engine.begin() as conn:
            scan_id = self._insert_id(
                conn,
                SCAN,
                {
                    "started_at": started,
                    "finished_at": finished,
                    "full": full,
                    "rules": wanted,
                    "counts": counts,
                    "duration_s": duration,
                },
            )
        return ScanResult(scan_id=scan_id, duration_s=duration, **result)

    def _watermark(self) -> datetime | None:
        with self.engine.connect() as conn:
            value = conn.execute(
                select(SCAN.c.started_at)
                .where(SCAN.c.finished_at.is_not(None))
                .order_by(SCAN.c.id.desc())
                .limit(1)
            ).scalar_one_or_none()
        return _aware(value) if value is not None else None

    def _changed_since(self, since: datetime) -> Scope | None:
        """The entities touched since `since`, or None when too many (scan full instead)."""
        cap = _MAX_SCOPE + 1
        pairs: set[tuple[str, str]] = set()
        txns: set[int] = set()
        pos: set[int] = set()
        orders: set[int] = set()
        reservations: set[int] = set()
        r: Any
        with self.engine.connect() as conn:
            # No DISTINCT: with it SQLite walks a whole (sku, location, ...) index instead of
            # seeking ix_stock_ledger_created_at.
            ledger = conn.execute(
                select(LEDGER.c.sku, LEDGER.c.location, LEDGER.c.ref_type, LEDGER.c.ref_id)
                .where(LEDGER.c.created_at >= since)
                .limit(_MAX_LEDGER_ROWS + 1)
            ).all()
            if len(ledger) > _MAX_LEDGER_ROWS:
                return None
            for r in ledger:
                pairs.add((r.sku, r.location))
                if r.ref_id is not None and str(r.ref_id).isdigit():
                    if r.ref_type in ("integration", REVERSAL_REF_TYPE):
                        txns.add(int(r.ref_id))
                    elif r.ref_type == "purchase_order":
                        pos.add(int(r.ref_id))
            for r in conn.execute(
                select(TXN.c.id, TXN.c.sku, TXN.c.location)
                .where(or_(TXN.c.updated_at >= since, TXN.c.created_at >= since))
                .limit(cap)
            ):
                txns.add(int(r.id))
                pairs.add((r.sku, r.location))
            for r in conn.execute(
                select(RES.c.id, RES.c.order_id, RES.c.sku, RES.c.location)
                .where(RES.c.updated_at >= since)
                .limit(cap)
            ):
                reservations.add(int(r.id))
                if r.order_id is not None:
                    orders.add(int(r.order_id))
                pairs.add((r.sku, r.location))
            orders.update(
                int(i)
                for i in conn.execute(
                    select(ORDERS.c.id).where(ORDERS.c.updated_at >= since).limit(cap)
                ).scalars()
            )
            pos.update(
                int(i)
                for i in conn.execute(
                    select(PO.c.id).where(PO.c.updated_at >= since).limit(cap)
                ).scalars()
            )
            pairs.update(
                (r.sku, r.location)
                for r in conn.execute(
                    select(STOCK.c.sku, STOCK.c.location)
                    .where(STOCK.c.updated_at >= since)
                    .limit(cap)
                )
            )
        if max(len(pairs), len(txns), len(pos), len(orders), len(reservations)) > _MAX_SCOPE:
            return None
        return Scope(
            stock=sorted(pairs),
            transactions=sorted(txns),
            purchase_orders=sorted(pos),
            orders=sorted(orders),
            reservations=sorted(reservations),
        )

    def _apply(
        self,
        groups: dict[tuple[str, str], _Group],
        rules: Sequence[str],
        truncated: Sequence[str],
        *,
        scope: Scope | None,
        at: datetime,
    ) -> dict[str, Any]:
        with self.engine.connect() as conn:
            existing = {
                (r.rule, r.key): r
                for r in conn.execute(
                    select(
                        FINDING.c.id,
                        FINDING.c.rule,
                        FINDING.c.key,
                        FINDING.c.status,
                        FINDING.c.entities,
                    ).where(FINDING.c.rule.in_(list(rules)))
                )
            }
            fresh = [k for k in groups if k not in existing or existing[k].status in _CLOSED]
            evidence: dict[tuple[str, str], list[dict[str, Any]]] = {}
            rows = self.settings.auditor.evidence_rows
            # Report-only findings are never worked on: their evidence waits for a recheck.
            worked = [k for k in fresh if not RULE_SPECS[k[0]].report_only]
            for k in worked[:_MAX_NEW_EVIDENCE]:
                evidence[k] = collect_evidence(conn, groups[k].first, rows=rows)
        new_rows: list[dict[str, Any]] = []
        reopen: list[dict[str, Any]] = []
        touch: list[dict[str, Any]] = []
        for k, group in groups.items():
            v = group.first
            row = existing.get(k)
            common = {
                "detail": group.detail(),
                "expected": _text(v.expected, 64),
                "actual": _text(v.actual, 64),
            }
            if row is None:
                new_rows.append(
                    {
                        "rule": v.rule,
                        "key": v.key,
                        "severity": RULE_SPECS[v.rule].severity,
                        "entity": v.entity,
                        "entities": dict(v.entities),
                        "evidence": evidence.get(k, []),
                        "status": FindingStatus.OPEN.value,
                        "status_by": "scan",
                        "status_note": None,
                        "first_seen": at,
                        "last_seen": at,
                        "opened_at": at,
                        "resolved_at": None,
                        "attempts": 0,
                        "occurrences": 1,
                        "updated_at": at,
                        **common,
                    }
                )
            elif row.status in _CLOSED:
                reopen.append(
                    {"fid": row.id, "ev": evidence.get(k, []), "old": row.status, **common}
                )
            else:
                touch.append({"fid": row.id, **common})
        covered = self._covered(existing, groups, rules, truncated, scope)
        result: dict[str, Any] = {"new": [], "reopened": [], "resolved": [], "seen": len(touch)}
        with self.engine.begin() as conn:
            if new_rows:
                conn.execute(self._insert_ignore(), new_rows)
                keys = {(r["rule"], r["key"]) for r in new_rows}
                for r in conn.execute(
                    select(FINDING.c.id, FINDING.c.rule, FINDING.c.key).where(
                        FINDING.c.rule.in_({k[0] for k in keys}),
                        FINDING.c.first_seen == at,
                    )
                ):
                    if (r.rule, r.key) in keys:
                        result["new"].append(int(r.id))
                if result["new"]:
                    conn.execute(
                        EVENT.insert(),
                        [
                            {
                                "finding_id": fid,
                                "at": at,
                                "from_status": None,
                                "to_status": "open",
                                "by": "scan",
                                "note": "first seen",
                            }
                            for fid in result["new"]
                        ],
                    )
            if touch:
                conn.execute(
                    update(FINDING)
                    .where(FINDING.c.id == bindparam("fid"))
                    .values(
                        last_seen=at,
                        detail=bindparam("detail"),
                        expected=bindparam("expected"),
                        actual=bindparam("actual"),
                    ),
                    touch,
                )
            if reopen:
                conn.execute(
                    update(FINDING)
                    .where(FINDING.c.id == bindparam("fid"))
                    .values(
                        status=FindingStatus.OPEN.value,
                        status_by="scan",
                        status_note="seen again",
                        last_seen=at,
                        opened_at=at,
                        resolved_at=None,
                        updated_at=at,
                        occurrences=FINDING.c.occurrences + 1,
                        evidence=bindparam("ev"),
                        detail=bindparam("detail"),
                        expected=bindparam("expected"),
                        actual=bindparam("actual"),
                    ),
                    reopen,
                )
                conn.execute(
                    EVENT.insert(),
                    [
                        {
                            "finding_id": r["fid"],
                            "at": at,
                            "from_status": r["old"],
                            "to_status": "open",
                            "by": "scan",
                            "note": "seen again",
                        }
                        for r in reopen
                    ],
                )
                result["reopened"] = [int(r["fid"]) for r in reopen]
            status_of = {int(row.id): row.status for row in covered}
            resolved: list[int] = []
            ids = sorted(status_of)
            # One UPDATE per chunk (an IN list cannot go through executemany); RETURNING says
            # which rows this scan moved, in case another process moved some first.
            for i in range(0, len(ids), 500):
                resolved.extend(
                    int(fid)
                    for fid in conn.execute(
                        update(FINDING)
                        .where(
                            FINDING.c.id.in_(ids[i : i + 500]),
                            FINDING.c.status.in_(ACTIVE_STATUSES),
                        )
                        .values(
                            status=FindingStatus.RESOLVED.value,
                            status_by="scan",
                            status_note="no longer seen",
                            resolved_at=at,
                            updated_at=at,
                        )
                        .returning(FINDING.c.id)
                    ).scalars()
                )
            if resolved:
                conn.execute(
                    EVENT.insert(),
                    [
                        {
                            "finding_id": fid,
                            "at": at,
                            "from_status": status_of[fid],
                            "to_status": "resolved",
                            "by": "scan",
                            "note": "no longer seen",
                        }
                        for fid in sorted(resolved)
                    ],
                )
                result["resolved"] = sorted(resolved)
            result["open_by_rule"] = {
                r.rule: int(r.n)
                for r in conn.execute(
                    select(FINDING.c.rule, func.count().label("n"))
                    .where(FINDING.c.status.in_(ACTIVE_STATUSES))
                    .group_by(FINDING.c.rule)
                    .order_by(FINDING.c.rule)
                )
            }
        return result

    @staticmethod
    def _covered(
        existing: dict[tuple[str, str], Any],
        groups: dict[tuple[str, str], _Group],
        rules: Sequence[str],
        truncated: Sequence[str],
        scope: Scope | None,
    ) -> list[Any]:
        """Active findings this scan looked at and did not see: they are resolved."""
        out = []
        for k, row in existing.items():
            if k in groups or row.status not in ACTIVE_STATUSES:
                continue
            rule = row.rule
            if rule not in rules or rule in truncated:
                continue
            if scope is not None and rule not in _UNSCOPED:
                mine = Scope.of(row.entities or {})
                hit = False
                for kind in _RULE_KINDS[rule]:
                    if set(getattr(mine, kind)) & set(getattr(scope, kind)):
                        hit = True
                        break
                if not hit:
                    continue
            out.append(row)
        return out

    def _insert_ignore(self) -> Any:
        ins = pg_insert(FINDING) if self._postgres else sqlite_insert(FINDING)
        return ins.on_conflict_do_nothing(index_elements=["rule", "key"])

    @staticmethod
    def _insert_id(conn: Connection, table: Table, values: dict[str, Any]) -> int:
        return int(conn.execute(table.insert().values(values).returning(table.c.id)).scalar_one())

    # -- reads -----------------------------------------------------------------------------

    def open(
        self,
        *,
        rule: str | None = None,
        limit: int | None = None,
        statuses: Sequence[str] = ("open",),
        include_report_only: bool = False,
    ) -> list[FindingView]:
        """Findings waiting for the auditor, most severe first, then oldest first.

        Args:
            rule: only this rule's.
            limit: at most this many.
            statuses: which statuses count (default only `open`).
            include_report_only: also report-only findings (`no_movement`), which are
                never fixed.
        """
        rank = case(*((FINDING.c.severity == s, n) for s, n in _SEVERITY_RANK.items()), else_=9)
        stmt = select(FINDING).where(FINDING.c.status.in_(list(statuses)))
        if rule is not None:
            stmt = stmt.where(FINDING.c.rule == rule)
        elif not include_report_only:
            hidden = [r for r, s in RULE_SPECS.items() if s.report_only]
            stmt = stmt.where(FINDING.c.rule.not_in(hidden))
        stmt = stmt.order_by(rank, FINDING.c.first_seen, FINDING.c.id)
        if limit is not None:
            stmt = stmt.limit(limit)
        with self.engine.connect() as conn:
            return [_view(r) for r in conn.execute(stmt)]

    def get(self, finding_id: int) -> FindingView:
        """One finding with its attempts.

        Raises:
            NotFound: no such finding.
        """
        with self.engine.connect() as conn:
            return self._get(conn, finding_id)

    def _get(self, conn: Connection, finding_id: int) -> FindingView:
        row = conn.execute(select(FINDING).where(FINDING.c.id == finding_id)).first()
        if row is None:
            raise NotFound("finding", finding_id, "list them with FindingStore.open()")
        history = [
            FindingAttemptView(
                id=a.id,
                at=_aware(a.at),
                by=a.by,
                diagnosis=a.diagnosis,
                plan=a.plan,
                outcome=a.outcome,
            )
            for a in conn.execute(
                select(ATTEMPT).where(ATTEMPT.c.finding_id == finding_id).order_by(ATTEMPT.c.id)
            )
        ]
        return _view(row, history)

    # -- writes ----------------------------------------------------------------------------

    def recheck(self, finding_id: int, *, now: datetime | None = None) -> FindingView:
        """Re-run the finding's rule on its entities only; resolve it if it is gone.

        Still there: `last_seen`, detail and evidence are refreshed (a fixed or resolved
        one opens again). Gone: an open, fixing or escalated one becomes `resolved`.

        Raises:
            NotFound: no such finding.
        """
        current = self.get(finding_id)
        at = utcnow()
        scope: Scope | None = Scope.of(current.entities)
        if scope is not None and not any(
            getattr(scope, kind) for kind in _RULE_KINDS[current.rule]
        ):
            # Nothing the rule can filter on (a receipt against a non-numeric reference):
            # check the rule everywhere and look for the key, rather than miss it.
            scope = None
        report = self._check([current.rule], scope=scope, now=now, evidence=True)
        same = [v for v in report.violations if v.key == current.key]
        with self.engine.begin() as conn:
            if same:
                v = same[0]
                values: dict[str, Any] = {
                    "last_seen": at,
                    "evidence": v.evidence,
                    "detail": "; ".join(x.detail for x in same[:3])[:1000],
                    "expected": _text(v.expected, 64),
                    "actual": _text(v.actual, 64),
                }
                if current.status in _CLOSED:
                    values.update(
                        status="open",
                        status_by="recheck",
                        status_note="seen again",
                        opened_at=at,
                        resolved_at=None,
                        updated_at=at,
                        occurrences=FINDING.c.occurrences + 1,
                    )
                    self._event(
                        conn, finding_id, current.status, "open", "recheck", "seen again", at
                    )
                conn.execute(update(FINDING).where(FINDING.c.id == finding_id).values(**values))
            elif current.status in ACTIVE_STATUSES:
                conn.execute(
                    update(FINDING)
                    .where(FINDING.c.id == finding_id)
                    .values(
                        status="resolved",
                        status_by="recheck",
                        status_note="no longer seen",
                        resolved_at=at,
                        updated_at=at,
                    )
                )
                self._event(
                    conn, finding_id, current.status, "resolved", "recheck", "no longer seen", at
                )
            return self._get(conn, finding_id)

    def set_status(self, finding_id: int, status: str, *, by: str, note: str = "") -> FindingView:
        """Move a finding to `status` (any of `FindingStatusName`), recording who and why.

        Entering `fixed` or `resolved` stamps `resolved_at` (kept if it was closed already);
        any other status clears it.

        Raises:
            InvalidInput: an unknown status or an empty `by`.
            NotFound: no such finding.
        """
        if status not in get_args(FindingStatusName):
            raise InvalidInput(
                "status", status, f"expected one of {', '.join(get_args(FindingStatusName))}"
            )
        if not isinstance(by, str) or not by.strip():
            raise InvalidInput("by", by, "say who changes the status")
        at = utcnow()
        with self.engine.begin() as conn:
            row = conn.execute(
                select(FINDING.c.status, FINDING.c.resolved_at).where(FINDING.c.id == finding_id)
            ).first()
            if row is None:
                raise NotFound("finding", finding_id, "list them with FindingStore.open()")
            resolved_at = (
                (row.resolved_at if row.status in _CLOSED and row.resolved_at else at)
                if status in _CLOSED
                else None
            )
            conn.execute(
                update(FINDING)
                .where(FINDING.c.id == finding_id)
                .values(
                    status=status,
                    status_by=by[:64],
                    status_note=note[:1000] or None,
                    resolved_at=resolved_at,
                    updated_at=at,
                )
            )
            self._event(conn, finding_id, row.status, status, by, note, at)
            return self._get(conn, finding_id)

    def record_attempt(
        self,
        finding_id: int,
        *,
        diagnosis: Any,
        plan: Any,
        outcome: str,
        by: str = "auditor",
    ) -> FindingView:
        """Log one try at fixing a finding (JSON-safe diagnosis and plan) and count it.

        Args:
            finding_id: the finding.
            diagnosis: the cause as understood (text or a JSON object).
            plan: the fix tried (tool calls, or a JSON object).
            outcome: what came of it, e.g. `applied`, `validated`, `failed`, `rejected`,
                `escalated`, `approval_required`.
            by: who tried.

        Raises:
            NotFound: no such finding.
        """
        if not isinstance(outcome, str) or not outcome.strip():
            raise InvalidInput("outcome", outcome, "say what came of the attempt")
        at = utcnow()
        with self.engine.begin() as conn:
            moved = conn.execute(
                update(FINDING)
                .where(FINDING.c.id == finding_id)
                .values(attempts=FINDING.c.attempts + 1, updated_at=at)
            ).rowcount
            if moved != 1:
                raise NotFound("finding", finding_id, "list them with FindingStore.open()")
            conn.execute(
                ATTEMPT.insert().values(
                    finding_id=finding_id,
                    at=at,
                    by=by[:64],
                    diagnosis=_json_safe(diagnosis),
                    plan=_json_safe(plan),
                    outcome=outcome[:32],
                )
            )
            return self._get(conn, finding_id)

    @staticmethod
    def _event(
        conn: Connection,
        finding_id: int,
        old: str | None,
        new: str,
        by: str,
        note: str,
        at: datetime,
    ) -> None:
        conn.execute(
            EVENT.insert().values(
                finding_id=finding_id,
                at=at,
                from_status=old,
                to_status=new,
                by=by[:64],
                note=note[:1000],
            )
        )

    # -- oversight -------------------------------------------------------------------------

    def events(
        self, *, since: datetime | None = None, finding_id: int | None = None, limit: int = 10_000
    ) -> list[FindingEventView]:
        """Status changes, oldest first: the raw series behind charts of findings over time.

        Args:
            since: only changes at or after this time.
            finding_id: only this finding's.
            limit: at most this many.
        """
        stmt = select(EVENT, FINDING.c.rule).join(FINDING, FINDING.c.id == EVENT.c.finding_id)
        if since is not None:
            stmt = stmt.where(EVENT.c.at >= since)
        if finding_id is not None:
            stmt = stmt.where(EVENT.c.finding_id == finding_id)
        stmt = stmt.order_by(EVENT.c.at, EVENT.c.id).limit(limit)
        with self.engine.connect() as conn:
            return [
                FindingEventView(
                    finding_id=r.finding_id,
                    rule=r.rule,
                    at=_aware(r.at),
                    from_status=r.from_status,
                    to_status=r.to_status,
                    by=r.by,
                    note=r.note,
                )
                for r in conn.execute(stmt)
            ]

    def metrics(self, since: datetime | None = None) -> FindingMetrics:
        """Findings by rule and status, fixed automatically, escalated, success rate, MTTR.

        Args:
            since: only findings opened (and escalations made) at or after this time.
        """
        in_window = FINDING.c.opened_at >= since if since is not None else FINDING.c.id.is_not(None)
        with self.engine.connect() as conn:
            by_rule_status: dict[str, dict[str, int]] = {}
            for r in conn.execute(
                select(FINDING.c.rule, FINDING.c.status, func.count().label("n"))
                .where(in_window)
                .group_by(FINDING.c.rule, FINDING.c.status)
            ):
                by_rule_status.setdefault(r.rule, {})[r.status] = int(r.n)
            attempts = int(
                conn.execute(
                    select(func.coalesce(func.sum(FINDING.c.attempts), 0)).where(in_window)
                ).scalar_one()
            )
            esc_where = [EVENT.c.to_status == "escalated"]
            if since is not None:
                esc_where.append(EVENT.c.at >= since)
            escalated = int(
                conn.execute(
                    select(func.count(func.distinct(EVENT.c.finding_id))).where(*esc_where)
                ).scalar_one()
            )
            durations: dict[str, list[float]] = {}
            for r in conn.execute(
                select(FINDING.c.rule, FINDING.c.opened_at, FINDING.c.resolved_at).where(
                    in_window,
                    FINDING.c.status.in_(_CLOSED),
                    FINDING.c.resolved_at.is_not(None),
                )
            ):
                seconds = (_aware(r.resolved_at) - _aware(r.opened_at)).total_seconds()
                durations.setdefault(r.rule, []).append(max(0.0, seconds))
            scans, last_scan = conn.execute(select(func.count(), func.max(SCAN.c.started_at))).one()
        by_rule = {rule: sum(s.values()) for rule, s in sorted(by_rule_status.items())}
        by_status: dict[str, int] = {}
        for statuses in by_rule_status.values():
            for status, n in statuses.items():
                by_status[status] = by_status.get(status, 0) + n
        fixed = by_status.get("fixed", 0)
        everything = [d for ds in durations.values() for d in ds]
        return FindingMetrics(
            since=since,
            findings=sum(by_rule.values()),
            by_rule=by_rule,
            by_status=by_status,
            by_rule_status=by_rule_status,
            fixed_automatically=fixed,
            escalated=escalated,
            resolved_otherwise=by_status.get("resolved", 0),
            attempts=attempts,
            success_rate=round(fixed / (fixed + escalated), 4) if fixed + escalated else None,
            mean_time_to_resolution_s=round(sum(everything) / len(everything), 3)
            if everything
            else None,
            mttr_by_rule_s={
                rule: round(sum(ds) / len(ds), 3) for rule, ds in sorted(durations.items())
            },
            scans=int(scans),
            last_scan_at=_aware(last_scan) if last_scan is not None else None,
        )


def _json_safe(value: Any) -> Any:
    """`value` as JSON (pydantic models dumped, anything else by its string)."""
    import json

    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    try:
        return json.loads(json.dumps(value, default=str))
    except (TypeError, ValueError):
        return str(value)
