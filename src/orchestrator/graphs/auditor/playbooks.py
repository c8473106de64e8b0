"""What the auditor knows about each rule: the evidence it gathers, the causes, the fixes.

The model proposes a cause and one fix from the rule's allowed fixes (`FixProposal`); code
turns the chosen fix into concrete tool calls from the evidence (`plan_for_fix`: the model
never supplies a quantity or an id that the evidence does not hold) and checks the plan
against what the evidence establishes (`check_plan`). `playbook(rule, evidence)` is the
deterministic plan, used when the model fails or proposes something the code refuses.

The ledger is the record of truth, so the right fix depends on the cause:

| rule | cause (from the evidence) | fix |
| --- | --- | --- |
| `stuck_transaction` | pending past the threshold, stock allows posting | `reprocess_transaction` (posts once) |
| | a sale that available stock cannot cover | escalate |
| `duplicate_posting` | one transaction on the ledger twice | the reversal tool (reverses the extra postings once) |
| `orphan_reservation` | an open hold of a cancelled, shipped or missing order | `release_reservation` |
| `ledger_mismatch` | an unposted transaction explains the difference | `correct_stock` back to the ledger, then `reprocess_transaction` |
| | drift with no explanation | `correct_stock` to the ledger's sum |
| `reserved_mismatch`, `negative_reserved` | reserved differs from the open holds | `correct_stock(reserved="recompute")` |
| `negative_on_hand` | unposted receipts cover the shortfall | `reprocess_transaction` |
| | oversold | escalate (a count is needed) |
| `negative_available` | orphan holds or unposted receipts cover it | release / reprocess |
| | oversold | escalate |
| anything else | | escalate |
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue

__all__ = [
    "AUDITOR_WRITE_TOOLS",
    "CAUSES",
    "ESCALATE",
    "REVERSAL_TOOLS",
    "Evidence",
    "FixProposal",
    "FixStep",
    "LedgerRow",
    "Plan",
    "PlanRejected",
    "ReservationFact",
    "TxnFact",
    "check_plan",
    "plan_for_fix",
    "playbook",
    "prompt_for",
    "proposal_schema",
]

ESCALATE = "escalate"
"""The fix that hands the finding to a person (a pending approval, the finding escalated)."""

REVERSAL_TOOLS = ("reverse_duplicate_posting", "reverse_posting", "reverse_integration_posting")
"""Names the duplicate-posting reversal tool may have (the first one the catalogue has)."""

AUDITOR_WRITE_TOOLS = frozenset(
    {
        "adjust_quantity",
        "correct_stock",
        "release_reservation",
        "reprocess_transaction",
        "set_transaction_status",
        *REVERSAL_TOOLS,
    }
)
"""Write tools a plan may name (the catalogue's auditor profile decides which exist)."""

CAUSES: dict[str, tuple[str, ...]] = {
    "stuck_transaction": (
        "integration_stalled",
        "cannot_post_insufficient_stock",
        "already_on_ledger",
        "unknown",
    ),
    "failed_transaction": (
        "integration_stalled",
        "cannot_post_insufficient_stock",
        "already_on_ledger",
        "unknown",
    ),
    "duplicate_posting": ("posted_twice", "unknown"),
    "orphan_reservation": ("hold_of_closed_order", "unknown"),
    "ledger_mismatch": ("unposted_integration", "books_drift", "unknown"),
    "reserved_mismatch": ("reserved_drift", "unknown"),
    "negative_reserved": ("reserved_drift", "unknown"),
    "negative_on_hand": ("unposted_receipt", "oversold", "unknown"),
    "negative_available": ("orphan_holds", "unposted_receipt", "oversold", "unknown"),
}
"""The causes the auditor can tell apart, per rule (what the model picks from)."""


class TxnFact(BaseModel):
    """An integration transaction as evidence."""

    id: int
    kind: str
    delta: int
    status: str
    source: str = ""
    attempts: int = 0
    age_minutes: int = 0


class ReservationFact(BaseModel):
    """An open reservation as evidence, with its order's status."""

    id: int
    qty: int
    order_id: int | None = None
    order_status: str | None = None
    """None when the reservation has no order; `missing` when its order does not exist."""

    @property
    def orphan(self) -> bool:
        """Held for an order that can no longer use it."""
        return self.order_status in ("cancelled", "shipped", "delivered", "missing")


class LedgerRow(BaseModel):
    """A ledger row as evidence."""

    id: int
    delta: int
    kind: str
    ref_type: str | None = None
    ref_id: str | None = None


class Evidence(BaseModel):
    """What the auditor read about one finding (ids and figures only: no customer data)."""

    rule: str
    entity: str
    key: str
    sku: str | None = None
    location: str | None = None
    on_hand: int | None = None
    reserved: int | None = None
    ledger_sum: int | None = None
    open_reserved: int | None = None
    """The sum of the open reservations of the SKU at the location."""
    txn: TxnFact | None = None
    """The finding's own integration transaction (stuck, failed, duplicated)."""
    postings: list[LedgerRow] = Field(default_factory=list)
    """The ledger rows that posted `txn`."""
    unposted: list[TxnFact] = Field(default_factory=list)
    """Pending or failed transactions of the SKU at the location."""
    reservations: list[ReservationFact] = Field(default_factory=list)
    """Open reservations of the SKU at the location (or the finding's reservation)."""
    rows: list[dict[str, Any]] = Field(default_factory=list)
    """The finding's evidence rows, as the detector stored them."""

    @property
    def available(self) -> int | None:
        if self.on_hand is None or self.reserved is None:
            return None
        return self.on_hand - self.reserved

    def summary(self) -> str:
        """A few lines for a prompt or a log (figures and ids only)."""
        parts = [f"rule {self.rule} on {self.entity} {self.key}"]
        if self.sku:
            parts.append(f"stock {self.sku} at {self.location}")
        if self.on_hand is not None:
            parts.append(
                f"on_hand {self.on_hand}, reserved {self.reserved}, ledger sum {self.ledger_sum}, "
                f"open reservations {self.open_reserved}"
            )
        if self.txn is not None:
            t = self.txn
            parts.append(
                f"transaction {t.id}: {t.kind} {t.delta:+d} {t.status}, {t.attempts} attempts, "
                f"{t.age_minutes} min old, posted {len(self.postings)} times"
            )
        if self.unposted:
            parts.append(
                "unposted transactions here: "
                + ", ".join(f"{t.id} ({t.kind} {t.delta:+d} {t.status})" for t in self.unposted)
            )
        holds = [r for r in self.reservations if r.orphan]
        if holds:
            parts.append(
                "holds of closed orders: "
                + ", ".join(
                    f"reservation {r.id} ({r.qty} for a {r.order_status} order)" for r in holds
                )
            )
        return "; ".join(parts)


class FixStep(BaseModel):
    """One tool call of a plan."""

    tool: str
    arguments: dict[str, Any]
    purpose: str = ""


class Plan(BaseModel):
    """A diagnosis and the calls that fix it (none when it escalates or only reports)."""

    cause: str
    diagnosis: str
    fix: str
    """The fix chosen (a tool name, `escalate`, or `report` for report-only rules)."""
    steps: list[FixStep] = Field(default_factory=list)


class FixProposal(BaseModel):
    """What the model proposes for one finding (code checks it against the evidence)."""

    model_config = ConfigDict(extra="ignore")

    cause: str = Field(max_length=64, description="the cause, one of the listed causes")
    fix: str = Field(max_length=64, description="one of the allowed fixes, or escalate")
    target_id: int | None = Field(
        default=None, description="the transaction or reservation id the fix acts on, if any"
    )
    explanation: str = Field(default="", max_length=160, description="one sentence: why")


def proposal_schema(ev: Evidence, *, allowed: Sequence[str]) -> type[FixProposal]:
    """`FixProposal` whose JSON schema lists this finding's causes, fixes and target ids.

    Constrained decoding (llama.cpp's `json_schema`) then only lets the model pick among
    them; validation stays as lenient as `FixProposal`'s, so whatever a model without
    constrained decoding says still reaches `check_plan`, which refuses (and audits) it.
    """
    from pydantic import create_model

    causes: list[JsonValue] = list(CAUSES.get(ev.rule, ("unknown",)))
    fixes: list[JsonValue] = list(dict.fromkeys([*allowed, ESCALATE]))
    ids: list[JsonValue] = [
        *sorted(
            {t.id for t in [ev.txn, *ev.unposted] if t is not None}
            | {r.id for r in ev.reservations if r.orphan}
        ),
        None,
    ]
    schema: type[FixProposal] = create_model(
        "FixProposal",
        __base__=FixProposal,
        cause=(str, Field(max_length=64, json_schema_extra={"enum": causes})),
        fix=(str, Field(max_length=64, json_schema_extra={"enum": fixes})),
        target_id=(int | None, Field(default=None, json_schema_extra={"enum": ids})),
    )
    return schema


class PlanRejected(Exception):
    """A proposed fix the evidence does not support (or the rule does not allow)."""

    def __init__(self, reason: str, *, outside_profile: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.outside_profile = outside_profile


def _reason(finding_id: int, text: str) -> str:
    return f"audit finding {finding_id}: {text}"[:200]


def _reprocess(t: TxnFact, fid: int, why: str) -> FixStep:
    return FixStep(
        tool="reprocess_transaction", arguments={"txn_id": t.id}, purpose=_reason(fid, why)
    )


def _covering(candidates: Iterable[TxnFact], need: int) -> list[TxnFact]:
    """Receipts (positive unposted transactions) that together cover `need` units, oldest first."""
    chosen: list[TxnFact] = []
    total = 0
    for t in sorted(candidates, key=lambda t: t.id):
        if t.delta <= 0 or total >= need:
            continue
        chosen.append(t)
        total += t.delta
    return chosen if total >= need else []


def _explaining(ev: Evidence) -> list[TxnFact]:
    """Unposted transactions whose movement is exactly the on-hand/ledger difference."""
    if ev.on_hand is None or ev.ledger_sum is None:
        return []
    diff = ev.on_hand - ev.ledger_sum
    one = [t for t in ev.unposted if t.delta == diff]
    if one:
        return one[:1]
    if diff and sum(t.delta for t in ev.unposted) == diff:
        return list(ev.unposted)
    return []


def _escalate(cause: str, diagnosis: str) -> Plan:
    return Plan(cause=cause, diagnosis=diagnosis, fix=ESCALATE)


def playbook(ev: Evidence, fid: int, *, allowed: Sequence[str], reversal: str | None) -> Plan:
    """The deterministic plan for a finding, from its evidence.

    Args:
        ev: the evidence gathered for the finding.
        fid: the finding's id (quoted in every write's reason).
        allowed: the rule's allowed fixes.
        reversal: the catalogue's duplicate-posting reversal tool, if any.
    """
    cause = _playbook_cause(ev)
    fix = _playbook_fix(ev, cause, allowed, reversal)
    if fix == ESCALATE:
        return _escalate(cause, _diagnosis(ev, cause))
    try:
        return plan_for_fix(ev, fid, fix=fix, cause=cause, target_id=None, reversal=reversal)
    except PlanRejected as exc:
        return _escalate(cause, f"{_diagnosis(ev, cause)}; no automatic fix: {exc.reason}")


def _playbook_cause(ev: Evidence) -> str:
    rule = ev.rule
    if rule in ("stuck_transaction", "failed_transaction"):
        t = ev.txn
        if ev.postings:
            return "already_on_ledger"
        if t is not None and t.delta < 0 and ev.available is not None and ev.available < -t.delta:
            return "cannot_post_insufficient_stock"
        return "integration_stalled"
    if rule == "duplicate_posting":
        return "posted_twice" if len(ev.postings) > 1 else "unknown"
    if rule == "orphan_reservation":
        return "hold_of_closed_order"
    if rule == "ledger_mismatch":
        return "unposted_integration" if _explaining(ev) else "books_drift"
    if rule in ("reserved_mismatch", "negative_reserved"):
        return "reserved_drift"
    if rule == "negative_on_hand":
        short = -(ev.on_hand or 0)
        return "unposted_receipt" if _covering(ev.unposted, short) else "oversold"
    if rule == "negative_available":
        short = (ev.reserved or 0) - (ev.on_hand or 0)
        orphans = sum(r.qty for r in ev.reservations if r.orphan)
        if orphans and orphans >= short:
            return "orphan_holds"
        if _covering(ev.unposted, short):
            return "unposted_receipt"
        return "oversold"
    return "unknown"


def _playbook_fix(ev: Evidence, cause: str, allowed: Sequence[str], reversal: str | None) -> str:
    wanted = {
        "integration_stalled": "reprocess_transaction",
        "posted_twice": reversal or ESCALATE,
        "hold_of_closed_order": "release_reservation",
        "unposted_integration": "correct_stock",
        "books_drift": "correct_stock",
        "reserved_drift": "correct_stock",
        "unposted_receipt": "reprocess_transaction",
        "orphan_holds": "release_reservation",
    }.get(cause, ESCALATE)
    if wanted != ESCALATE and wanted not in allowed:
        return ESCALATE
    return wanted


def _diagnosis(ev: Evidence, cause: str) -> str:
    texts = {
        "integration_stalled": "the outside system's movement was never posted to the ledger",
        "cannot_post_insufficient_stock": "the movement takes out more than is available: "
        "posting it would oversell",
        "already_on_ledger": "the transaction is on the ledger already although its status "
        "says otherwise: posting it again would count it twice",
        "posted_twice": f"the transaction is on the ledger {len(ev.postings)} times",
        "hold_of_closed_order": "an open reservation holds units for an order that cannot use them",
        "unposted_integration": "an integration changed on-hand without posting its transaction",
        "books_drift": "on-hand drifted from the ledger with no recorded movement to explain it",
        "reserved_drift": "reserved differs from the sum of the open reservations",
        "unposted_receipt": "unposted receipts cover the shortfall",
        "orphan_holds": "holds of closed orders cover the shortfall",
        "oversold": "more units left or are promised than the books hold: a person must count "
        "or decide which orders wait",
        "unknown": "no cause the auditor can fix automatically",
    }
    return f"{texts.get(cause, cause)} ({ev.summary()})"[:1000]


def plan_for_fix(
    ev: Evidence,
    fid: int,
    *,
    fix: str,
    cause: str,
    target_id: int | None,
    reversal: str | None,
) -> Plan:
    """The concrete calls for `fix` on this finding, built from the evidence.

    Raises:
        PlanRejected: the evidence does not support the fix (nothing to reprocess, release,
            or reverse; a correction that would set a negative level; ...).
    """
    diagnosis = _diagnosis(ev, cause)
    if fix == ESCALATE:
        return _escalate(cause, diagnosis)
    steps: list[FixStep] = []
    if fix == "reprocess_transaction":
        # The finding's own transaction is usually among the unposted ones too: one each.
        unique = {t.id: t for t in [ev.txn, *ev.unposted] if t is not None}
        candidates = [t for t in unique.values() if t.status != "posted"]
        if ev.txn is not None and ev.postings:
            candidates = [t for t in candidates if t.id != ev.txn.id]
        if target_id is not None:
            candidates = [t for t in candidates if t.id == target_id]
            if not candidates:
                raise PlanRejected(
                    f"transaction {target_id} is not an unposted one of this finding"
                )
        elif ev.rule in ("negative_on_hand", "negative_available"):
            short = (
                -(ev.on_hand or 0)
                if ev.rule == "negative_on_hand"
                else ((ev.reserved or 0) - (ev.on_hand or 0))
            )
            candidates = _covering(candidates, short)
        elif ev.rule == "ledger_mismatch":
            candidates = _explaining(ev)
        else:
            candidates = candidates[:1]
        if not candidates:
            raise PlanRejected("there is no unposted transaction to reprocess")
        if ev.rule == "ledger_mismatch":
            steps.append(_correct_on_hand(ev, fid, "undo the unposted change before posting it"))
        steps.extend(_reprocess(t, fid, "post the stalled movement once") for t in candidates)
    elif fix == "release_reservation":
        holds = [r for r in ev.reservations if r.orphan]
        if target_id is not None:
            holds = [r for r in holds if r.id == target_id]
        if not holds:
            raise PlanRejected("no open reservation of a closed order to release")
        steps.extend(
            FixStep(
                tool="release_reservation",
                arguments={
                    "reservation_id": r.id,
                    "reason": _reason(fid, f"its order is {r.order_status}"),
                },
                purpose="free units held for a closed order",
            )
            for r in holds
        )
    elif fix == "correct_stock":
        if ev.sku is None or ev.location is None:
            raise PlanRejected("the finding names no stock row to correct")
        if ev.rule in ("reserved_mismatch", "negative_reserved"):
            steps.append(
                FixStep(
                    tool="correct_stock",
                    arguments={
                        "sku": ev.sku,
                        "location": ev.location,
                        "reserved": "recompute",
                        "reason": _reason(fid, "reserved recomputed from the open reservations"),
                    },
                    purpose="reserved = the open reservations",
                )
            )
        elif ev.rule == "ledger_mismatch":
            steps.append(_correct_on_hand(ev, fid, "on-hand set to the ledger's sum"))
            steps.extend(
                _reprocess(t, fid, "post the stalled movement once") for t in _explaining(ev)
            )
        else:
            raise PlanRejected(f"a correction does not fix {ev.rule}: the ledger is the record")
    elif fix == "adjust_quantity":
        if ev.rule != "negative_on_hand" or ev.on_hand is None or ev.sku is None:
            raise PlanRejected(f"an adjustment does not fix {ev.rule}")
        steps.append(
            FixStep(
                tool="adjust_quantity",
                arguments={
                    "sku": ev.sku,
                    "location": str(ev.location),
                    "delta": -ev.on_hand,
                    "reason": _reason(fid, f"oversold: on-hand {ev.on_hand} brought to 0"),
                },
                purpose="bring on-hand back to zero",
            )
        )
    elif fix == "set_transaction_status":
        t = ev.txn
        if t is None or t.status != "pending":
            raise PlanRejected("no pending transaction of this finding to park")
        steps.append(
            FixStep(
                tool="set_transaction_status",
                arguments={
                    "txn_id": t.id,
                    "status": "failed",
                    "reason": _reason(fid, "cannot post: parked as failed for a person"),
                },
                purpose="stop retrying a movement that cannot post",
            )
        )
    elif reversal is not None and fix == reversal:
        t = ev.txn
        if t is None or len(ev.postings) < 2:
            raise PlanRejected("the transaction is not posted more than once")
        steps.append(
            FixStep(
                tool=reversal,
                arguments={
                    "txn_id": t.id,
                    "reason": _reason(fid, f"posted {len(ev.postings)} times; keep one"),
                },
                purpose="reverse the extra postings once",
            )
        )
    else:
        raise PlanRejected(f"{fix!r} is not a fix the auditor knows how to apply")
    return Plan(cause=cause, diagnosis=diagnosis, fix=fix, steps=steps)


def _correct_on_hand(ev: Evidence, fid: int, why: str) -> FixStep:
    if ev.ledger_sum is None or ev.ledger_sum < 0 or ev.sku is None:
        raise PlanRejected(f"the ledger sums to {ev.ledger_sum}: a person must count")
    return FixStep(
        tool="correct_stock",
        arguments={
            "sku": ev.sku,
            "location": str(ev.location),
            "on_hand": ev.ledger_sum,
            "reason": _reason(fid, why),
        },
        purpose=why,
    )


def check_plan(
    ev: Evidence,
    proposal: FixProposal,
    fid: int,
    *,
    allowed: Sequence[str],
    profile_tools: frozenset[str],
    catalogue_tools: frozenset[str],
    reversal: str | None,
) -> Plan:
    """Turn the model's proposal into a plan, or refuse it.

    Refused: a fix outside the rule's allowed fixes (a write outside the auditor profile is
    flagged `outside_profile`), a fix the evidence does not support, and a plan that skips
    what the evidence establishes (a stalled transaction that explains the difference must
    be posted, not papered over).

    Raises:
        PlanRejected: why.
    """
    fix = proposal.fix.strip()
    if fix != ESCALATE and fix not in allowed:
        outside = fix in catalogue_tools and fix not in profile_tools
        where = "outside the auditor profile" if outside else f"not allowed for {ev.rule}"
        raise PlanRejected(
            f"fix {fix!r} is {where} (allowed: {', '.join(allowed) or 'none'})",
            outside_profile=outside,
        )
    causes = CAUSES.get(ev.rule, ("unknown",))
    cause = proposal.cause if proposal.cause in causes else _playbook_cause(ev)
    plan = plan_for_fix(
        ev, fid, fix=fix, cause=cause, target_id=proposal.target_id, reversal=reversal
    )
    established = _playbook_cause(ev)
    if established in ("unposted_integration", "unposted_receipt") and fix != ESCALATE:
        needed = {
            t.id
            for t in (
                _explaining(ev)
                if ev.rule == "ledger_mismatch"
                else _covering(ev.unposted, _shortfall(ev))
            )
        }
        posted = {
            s.arguments.get("txn_id") for s in plan.steps if s.tool == "reprocess_transaction"
        }
        if not needed <= posted:
            raise PlanRejected(
                f"transactions {sorted(needed)} explain the difference: they must be posted, "
                "not papered over"
            )
    if proposal.explanation:
        plan = plan.model_copy(
            update={"diagnosis": f"{plan.diagnosis} | model: {proposal.explanation}"[:1200]}
        )
    return plan


def _shortfall(ev: Evidence) -> int:
    if ev.rule == "negative_on_hand":
        return -(ev.on_hand or 0)
    return (ev.reserved or 0) - (ev.on_hand or 0)


def prompt_for(ev: Evidence, *, description: str, allowed: Sequence[str]) -> list[tuple[str, str]]:
    """The messages asking the model for a `FixProposal` (ids and figures only)."""
    causes = ", ".join(CAUSES.get(ev.rule, ("unknown",)))
    fixes = ", ".join([*allowed, ESCALATE])
    return [
        (
            "system",
            "You audit a shop's inventory books. The ledger is the record of truth. Given one "
            "finding and its evidence, name the cause and choose one fix. Answer with JSON: "
            '{"cause": ..., "fix": ..., "target_id": id or null, "explanation": one sentence}.',
        ),
        (
            "user",
            f"Finding: {description}\nEvidence: {ev.summary()}\nCauses: {causes}\nFixes: {fixes}",
        ),
    ]
