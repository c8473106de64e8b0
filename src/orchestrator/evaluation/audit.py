"""Seeded-anomaly evaluation of the auditor: does it find, fix and escalate what was injected?

Anomalies come two ways:

- the seeder's injector (`seed(..., anomalies=N)`, kinds `ANOMALY_KINDS`: an offline POS
  oversell, a write-off below reserved, on-hand off its ledger, an orphan hold, a stuck
  receipt, a receipt posted twice);
- `inject_raw(engine, kind, k)`: rows written straight into the tables, the way a broken
  outside integration would (`RAW_KINDS`): a stock update without its posting, a feed that
  replayed a receipt, an order cancelled without releasing its holds, on-hand drift,
  reserved drift, a stuck sale that cannot post.

`evaluate_audit(...)` seeds a store, injects K of each kind, runs one audit pass through the
runtime (approving large fixes, as a person would), and reports per kind: detection recall,
the share fixed and escalated, and whether `check_invariants` passes on the injected
entities afterwards; precision over all findings of the books-balance rules.

Example:
    >>> result = evaluate_audit(folder, k=2, skus=60, days=60)  # doctest: +SKIP
    >>> result.kinds["raw_duplicate_posting"].fixed_share  # doctest: +SKIP
    1.0
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np
from pydantic import BaseModel, Field
from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine

__all__ = [
    "EXPECTED_OUTCOME",
    "RAW_KINDS",
    "AuditEval",
    "Injected",
    "KindResult",
    "RawKind",
    "agreeing_model",
    "evaluate_audit",
    "inject_raw",
]

RawKind = Literal[
    "raw_unposted_integration",
    "raw_duplicate_posting",
    "raw_cancelled_with_holds",
    "raw_on_hand_drift",
    "raw_reserved_drift",
    "raw_stuck_oversell",
]
RAW_KINDS: tuple[RawKind, ...] = (
    "raw_unposted_integration",
    "raw_duplicate_posting",
    "raw_cancelled_with_holds",
    "raw_on_hand_drift",
    "raw_reserved_drift",
    "raw_stuck_oversell",
)
"""Anomalies written straight into the tables, as a broken outside integration would."""

EXPECTED_OUTCOME: dict[str, Literal["fixed", "escalated"]] = {
    "negative_on_hand": "escalated",
    "negative_available": "escalated",
    "ledger_mismatch": "fixed",
    "orphan_reservation": "fixed",
    "stuck_transaction": "fixed",
    "duplicate_posting": "fixed",
    "raw_unposted_integration": "fixed",
    "raw_duplicate_posting": "fixed",
    "raw_cancelled_with_holds": "fixed",
    "raw_on_hand_drift": "fixed",
    "raw_reserved_drift": "fixed",
    "raw_stuck_oversell": "escalated",
}
"""What a correct auditor does with each kind (an oversell needs a person)."""


class Injected(BaseModel):
    """One injected anomaly and the findings (rule, key) it should produce."""

    kind: str
    expected: list[tuple[str, str]]
    detail: str = ""


class KindResult(BaseModel):
    """The figures of one anomaly kind."""

    kind: str
    injected: int
    detected: int
    fixed: int
    escalated: int
    clean_after: int
    """Anomalies whose entities `check_invariants` finds clean after the pass."""
    expected_outcome: str

    @property
    def recall(self) -> float:
        return self.detected / self.injected if self.injected else 0.0

    @property
    def fixed_share(self) -> float:
        return self.fixed / self.injected if self.injected else 0.0

    @property
    def escalated_share(self) -> float:
        return self.escalated / self.injected if self.injected else 0.0


class AuditEval(BaseModel):
    """What one evaluation run measured."""

    model: str
    store: str
    skus: int
    days: int
    k: int
    ledger_rows: int
    kinds: dict[str, KindResult]
    findings: int
    """Findings of the books-balance rules the scan opened."""
    true_positives: int
    precision: float
    recall: float
    fixed: int
    escalated: int
    approvals_granted: int
    model_plans: int
    rejected_proposals: int
    invariants_ok_after: bool
    """`check_invariants` passes on the whole store after the pass (escalated kinds remain)."""
    remaining_violations: dict[str, int]
    seconds_seed: float
    seconds_audit: float
    per_finding: list[dict[str, Any]] = Field(default_factory=list)

    def rows(self) -> list[dict[str, Any]]:
        """One JSON-able row per kind (what `--json` prints)."""
        return [
            {
                "kind": r.kind,
                "injected": r.injected,
                "recall": round(r.recall, 3),
                "fixed": round(r.fixed_share, 3),
                "escalated": round(r.escalated_share, 3),
                "clean_after": r.clean_after,
                "expected": r.expected_outcome,
            }
            for r in self.kinds.values()
        ]


# -- injection --------------------------------------------------------------------------------


def _tables() -> dict[str, Any]:
    from orchestrator.store import models as m

    return {
        name: cast(Any, model).__table__
        for name, model in (
            ("stock", m.Stock),
            ("ledger", m.StockLedger),
            ("txn", m.IntegrationTransaction),
            ("res", m.Reservation),
            ("orders", m.Order),
        )
    }


def inject_raw(
    engine: Engine,
    kind: RawKind,
    k: int,
    *,
    seed: int = 0,
    avoid: set[tuple[str, str]] | None = None,
) -> list[Injected]:
    """Write `k` anomalies of `kind` straight into the tables (no services, no audit rows).

    Args:
        engine: the store.
        kind: one of `RAW_KINDS`.
        k: how many.
        seed: the random choice of rows.
        avoid: stock pairs (sku, location) already used by other anomalies; the ones used
            here are added.

    Returns:
        What was injected, with the findings each should produce.
    """
    t = _tables()
    rng = np.random.default_rng(seed)
    used = avoid if avoid is not None else set()
    now = datetime.now(UTC)
    out: list[Injected] = []
    with engine.begin() as conn:
        held = {
            (r.sku, r.location)
            for r in conn.execute(
                select(t["res"].c.sku, t["res"].c.location).where(t["res"].c.status == "open")
            )
        }
        pending = {
            (r.sku, r.location)
            for r in conn.execute(
                select(t["txn"].c.sku, t["txn"].c.location).where(
                    t["txn"].c.status.in_(["pending", "failed"])
                )
            )
        }
        stock = [
            (r.sku, r.location, int(r.on_hand), int(r.reserved))
            for r in conn.execute(
                select(
                    t["stock"].c.sku,
                    t["stock"].c.location,
                    t["stock"].c.on_hand,
                    t["stock"].c.reserved,
                )
                .where(t["stock"].c.on_hand - t["stock"].c.reserved >= 6)
                .order_by(t["stock"].c.sku, t["stock"].c.location)
            )
        ]
        order = rng.permutation(len(stock)).tolist()

        def pick(ok: Callable[[tuple[str, str, int, int]], bool]) -> tuple[str, str, int, int]:
            for i in order:
                row = stock[i]
                if (row[0], row[1]) not in used and ok(row):
                    used.add((row[0], row[1]))
                    return row
            raise RuntimeError(f"inject_raw: no stock row left for {kind}; seed more SKUs")

        def add_txn(sku: str, loc: str, kind_: str, delta: int, status: str, n: int) -> int:
            return int(
                conn.execute(
                    t["txn"]
                    .insert()
                    .values(
                        source="broken-feed",
                        external_id=f"BF-{kind[:8]}-{seed}-{n}-{int(rng.integers(1_000_000_000))}",
                        kind=kind_,
                        sku=sku,
                        location=loc,
                        delta=delta,
                        status=status,
                        attempts=0,
                        error=None,
                        payload={"qty": abs(delta), "sku": sku, "store": loc},
                        created_at=now - timedelta(hours=3),
                        updated_at=now - timedelta(hours=3),
                        posted_at=now - timedelta(hours=3) if status == "posted" else None,
                    )
                    .returning(t["txn"].c.id)
                ).scalar_one()
            )

        def ledger(sku: str, loc: str, delta: int, kind_: str, ref: int) -> None:
            conn.execute(
                t["ledger"]
                .insert()
                .values(
                    sku=sku,
                    location=loc,
                    delta=delta,
                    kind=kind_,
                    reason=f"broken-feed {ref}",
                    ref_type="integration",
                    ref_id=str(ref),
                    actor="broken-feed",
                    created_at=now - timedelta(hours=3),
                )
            )

        def bump(sku: str, loc: str, **values: Any) -> None:
            conn.execute(
                update(t["stock"])
                .where(t["stock"].c.sku == sku, t["stock"].c.location == loc)
                .values(**values)
            )

        for n in range(k):
            if kind == "raw_unposted_integration":
                sku, loc, _, _ = pick(lambda r: (r[0], r[1]) not in pending)
                delta = int(rng.integers(5, 20))
                tid = add_txn(sku, loc, "receipt", delta, "pending", n)
                bump(sku, loc, on_hand=t["stock"].c.on_hand + delta)
                out.append(
                    Injected(
                        kind=kind,
                        expected=[
                            ("ledger_mismatch", f"{sku}@{loc}"),
                            ("stuck_transaction", str(tid)),
                        ],
                        detail=f"stock +{delta} written, transaction {tid} left pending",
                    )
                )
            elif kind == "raw_duplicate_posting":
                sku, loc, _, _ = pick(lambda r: True)
                delta = int(rng.integers(5, 20))
                tid = add_txn(sku, loc, "receipt", delta, "posted", n)
                ledger(sku, loc, delta, "receipt", tid)
                ledger(sku, loc, delta, "receipt", tid)
                bump(sku, loc, on_hand=t["stock"].c.on_hand + 2 * delta)
                out.append(
                    Injected(
                        kind=kind,
                        expected=[("duplicate_posting", str(tid))],
                        detail=f"receipt {tid} of {delta} posted twice",
                    )
                )
            elif kind == "raw_cancelled_with_holds":
                row = conn.execute(
                    select(t["orders"].c.id)
                    .where(
                        t["orders"].c.status == "placed",
                        select(t["res"].c.id)
                        .where(t["res"].c.order_id == t["orders"].c.id, t["res"].c.status == "open")
                        .exists(),
                    )
                    .order_by(t["orders"].c.id)
                    .offset(int(n))
                    .limit(1)
                ).first()
                if row is None:
                    raise RuntimeError("inject_raw: no placed order with holds left; seed more")
                oid = int(row.id)
                conn.execute(
                    update(t["orders"])
                    .where(t["orders"].c.id == oid)
                    .values(status="cancelled", cancelled_reason="cancelled in the marketplace")
                )
                holds = conn.execute(
                    select(t["res"].c.id, t["res"].c.sku, t["res"].c.location).where(
                        t["res"].c.order_id == oid, t["res"].c.status == "open"
                    )
                ).all()
                used.update((h.sku, h.location) for h in holds)
                out.append(
                    Injected(
                        kind=kind,
                        expected=[("orphan_reservation", str(h.id)) for h in holds],
                        detail=f"order {oid} cancelled outside the services with {len(holds)} hold(s)",
                    )
                )
            elif kind == "raw_on_hand_drift":
                sku, loc, _, _ = pick(lambda r: (r[0], r[1]) not in pending)
                off = int(rng.choice([-3, -2, -1, 1, 2, 4]))
                bump(sku, loc, on_hand=t["stock"].c.on_hand + off)
                out.append(
                    Injected(
                        kind=kind,
                        expected=[("ledger_mismatch", f"{sku}@{loc}")],
                        detail=f"on-hand moved {off:+d} with no ledger row",
                    )
                )
            elif kind == "raw_reserved_drift":
                sku, loc, _, _ = pick(lambda r: r[2] - r[3] >= 8)
                off = int(rng.integers(1, 4))
                bump(sku, loc, reserved=t["stock"].c.reserved + off)
                out.append(
                    Injected(
                        kind=kind,
                        expected=[("reserved_mismatch", f"{sku}@{loc}")],
                        detail=f"reserved moved +{off} with no reservation",
                    )
                )
            elif kind == "raw_stuck_oversell":
                sku, loc, on_hand, reserved = pick(lambda r: (r[0], r[1]) not in held)
                delta = -(on_hand - reserved + int(rng.integers(2, 6)))
                tid = add_txn(sku, loc, "sale", delta, "pending", n)
                out.append(
                    Injected(
                        kind=kind,
                        expected=[("stuck_transaction", str(tid))],
                        detail=f"sale {tid} of {-delta} pending, {on_hand - reserved} available",
                    )
                )
            else:  # pragma: no cover - guarded by the Literal
                raise ValueError(f"unknown raw anomaly kind {kind!r}")
    return out


def _seeded(report: Any) -> list[Injected]:
    out = []
    for a in report.anomalies:
        if a.kind in ("negative_on_hand", "negative_available", "ledger_mismatch"):
            keys = [(a.kind, f"{a.sku}@{a.location}")]
        elif a.kind == "orphan_reservation":
            keys = [(a.kind, str(r)) for r in a.reservation_ids]
        else:
            keys = [(a.kind, str(t)) for t in a.transaction_ids]
        out.append(Injected(kind=a.kind, expected=keys, detail=a.detail))
    return out


# -- the scripted model -------------------------------------------------------------------------

_AGREE = {
    "stuck_transaction": ("integration_stalled", "reprocess_transaction"),
    "failed_transaction": ("integration_stalled", "reprocess_transaction"),
    "duplicate_posting": ("posted_twice", "reverse_duplicate_posting"),
    "orphan_reservation": ("hold_of_closed_order", "release_reservation"),
    "ledger_mismatch": ("books_drift", "correct_stock"),
    "reserved_mismatch": ("reserved_drift", "correct_stock"),
    "negative_reserved": ("reserved_drift", "correct_stock"),
    "negative_on_hand": ("oversold", "escalate"),
    "negative_available": ("oversold", "escalate"),
}


def agreeing_model(n: int = 10_000) -> Any:
    """A `ScriptedModel` that proposes the usual fix of each finding's rule (from the prompt).

    It does not read the evidence: where the evidence calls for something else (a stuck sale
    that cannot post), code refuses or the validation catches it, as with a real model.
    """
    from orchestrator.testing import ScriptedModel

    def reply(messages: Sequence[Any]) -> str:
        text = str(messages[-1].content)
        rule = text.split("rule ", 1)[1].split(" ", 1)[0] if "rule " in text else ""
        cause, fix = _AGREE.get(rule, ("unknown", "escalate"))
        return json.dumps(
            {"cause": cause, "fix": fix, "target_id": None, "explanation": f"{rule}: {fix}"}
        )

    return ScriptedModel(responses=[reply] * n, model_name="agreeing")


# -- the evaluation ----------------------------------------------------------------------------


def evaluate_audit(
    folder: str | Path,
    *,
    model: str | Any | None = "scripted",
    k: int = 3,
    skus: int = 120,
    days: int = 120,
    seed: int = 0,
    kinds: Sequence[str] | None = None,
    store_url: str | None = None,
    settings: Any = None,
    approve: bool = True,
) -> AuditEval:
    """Seed a store, inject `k` anomalies of each kind, run one audit pass, measure.

    Args:
        folder: where the SQLite store, checkpoints and memory go.
        model: `scripted` (`agreeing_model`), `none` (playbooks only), a `provider:model`
            id routed by the settings (`llamacpp:smollm2`), or a chat model.
        k: anomalies per kind.
        skus, days, seed: the seeded shop.
        kinds: which kinds (default the seeder's six and `RAW_KINDS`).
        store_url: a store URL instead of a SQLite file in `folder`.
        settings: base settings (default the built-in defaults).
        approve: approve fixes that wait for a person (as a manager would), then resume.
    """
    from orchestrator.graphs.auditor import build_auditor_graph
    from orchestrator.graphs.auditor.passes import cases_of, run_pass
    from orchestrator.runtime import Orchestrator
    from orchestrator.settings import Settings
    from orchestrator.store import make_engine
    from orchestrator.store.invariants import DEFAULT_RULES, check_invariants
    from orchestrator.store.seed import ANOMALY_KINDS
    from orchestrator.store.seed import seed as seed_store

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    wanted = list(kinds) if kinds else [*ANOMALY_KINDS, *RAW_KINDS]
    seeded_kinds = [kk for kk in wanted if kk in ANOMALY_KINDS]
    url = store_url or f"sqlite:///{folder / 'audit-eval.db'}"
    base = settings if settings is not None else Settings.defaults()
    model_id = model if isinstance(model, str) else getattr(model, "model_name", "custom")
    config = base.model_copy(
        update={
            "store": base.store.model_copy(update={"url": url}),
            "memory": base.memory.model_copy(update={"enabled": False}),
            "checkpoint": base.checkpoint.model_copy(
                update={"url": f"sqlite:///{folder / 'audit-eval.checkpoints.db'}"}
            ),
        }
    )
    if isinstance(model, str) and ":" in model:
        config = config.model_copy(
            update={"models": config.models.model_copy(update={"default": model})}
        )
    engine = make_engine(config.store)
    t0 = time.perf_counter()
    try:
        # One anomaly of each seeded kind per round: k rounds of the six kinds.
        report = seed_store(
            engine,
            skus=skus,
            days=days,
            customers=max(50, skus),
            anomalies=k * len(ANOMALY_KINDS) if seeded_kinds else 0,
            seed=seed,
            reset=True,
        )
        injected = [a for a in _seeded(report) if a.kind in seeded_kinds]
        used = {(a.sku, a.location) for a in report.anomalies}
        raw = [kk for kk in wanted if kk in RAW_KINDS]
        for i, raw_kind in enumerate(raw):
            injected.extend(inject_raw(engine, raw_kind, k, seed=seed + 101 * (i + 1), avoid=used))
        seconds_seed = time.perf_counter() - t0
        expected = {key for a in injected for key in a.expected}
        chat: Any = None
        if model == "scripted":
            chat = agreeing_model()
        elif model is not None and not isinstance(model, str):
            chat = model
        t1 = time.perf_counter()
        with Orchestrator(config, models=chat) as orch:
            if model in (None, "none"):
                orch.register_graph("auditor", build_auditor_graph, replace=True, use_model=False)
            results = run_pass(orch, full=True, rules=list(DEFAULT_RULES), actor="auditor-eval")
            granted = 0
            while (
                approve
                and results[-1].status == "waiting"
                and results[-1].approval_ids
                and granted < 500
            ):
                granted += 1
                results[-1] = orch.resume(results[-1].thread_id, "approve", by="eval-manager")
                if results[-1].status == "completed":
                    # The series stopped at the approval: audit what the passes left.
                    results += run_pass(orch, rules=list(DEFAULT_RULES), actor="auditor-eval")
            cases = [c for r in results for c in cases_of(r) if c.status != "open"]
        seconds_audit = time.perf_counter() - t1
        from orchestrator.store.findings import FindingStore

        fs = FindingStore(engine, settings=config)
        # Every finding in the (fresh) store was detected by this evaluation's scans.
        every = ("open", "fixing", "fixed", "escalated", "resolved", "ignored")
        stored = {(v.rule, v.key): str(v.status) for v in fs.open(limit=100_000, statuses=every)}
        found = set(stored)
        books = [f for f in found if f[0] in DEFAULT_RULES]
        after = check_invariants(engine)
        still = {(v.rule, v.key) for v in after.violations}
        kinds_out: dict[str, KindResult] = {}
        for kind in wanted:
            mine = [a for a in injected if a.kind == kind]
            kinds_out[kind] = KindResult(
                kind=kind,
                injected=len(mine),
                detected=sum(1 for a in mine if any(key in found for key in a.expected)),
                fixed=sum(
                    1
                    for a in mine
                    if {stored.get(key) for key in a.expected} <= {"fixed", "resolved"}
                    and any(stored.get(key) == "fixed" for key in a.expected)
                ),
                escalated=sum(
                    1 for a in mine if any(stored.get(key) == "escalated" for key in a.expected)
                ),
                clean_after=sum(1 for a in mine if not any(key in still for key in a.expected)),
                expected_outcome=EXPECTED_OUTCOME.get(kind, "fixed"),
            )
        tp = len([f for f in books if f in expected])
        with engine.connect() as conn:
            from orchestrator.store.models import StockLedger

            ledger_rows = int(
                conn.execute(select(func.count()).select_from(StockLedger)).scalar_one()
            )
        return AuditEval(
            model=str(model_id),
            store=url.split(":", 1)[0],
            skus=skus,
            days=days,
            k=k,
            ledger_rows=ledger_rows,
            kinds=kinds_out,
            findings=len(books),
            true_positives=tp,
            precision=round(tp / len(books), 4) if books else 1.0,
            recall=round(len(expected & found) / len(expected), 4) if expected else 1.0,
            fixed=sum(1 for c in cases if c.status == "fixed"),
            escalated=sum(1 for c in cases if c.status == "escalated"),
            approvals_granted=granted,
            model_plans=sum(1 for c in cases if c.plan_source == "model"),
            rejected_proposals=sum(len(c.rejected) for c in cases),
            invariants_ok_after=after.ok,
            remaining_violations={r: n for r, n in after.counts().items() if n},
            seconds_seed=round(seconds_seed, 2),
            seconds_audit=round(seconds_audit, 2),
            per_finding=[
                {
                    "finding_id": c.finding_id,
                    "rule": c.rule,
                    "key": c.key,
                    "status": c.status,
                    "cause": c.cause,
                    "fix": c.fix,
                    "plan_source": c.plan_source,
                    "expected": (c.rule, c.key) in expected,
                }
                for c in cases
            ],
        )
    finally:
        engine.dispose()
