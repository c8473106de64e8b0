"""Nodes of the auditor graph: scan, detect, troubleshoot, act, validate, escalate, report.

The model only proposes a cause and a fix (`troubleshoot`); code builds the calls from the
evidence, refuses what the rule does not allow (a write outside the auditor profile is
refused and audited as denied), and every write goes through the `auditor` profile's tools
with a key that names the finding, the attempt and the step, so a node re-run after a crash
or an approval replays its writes instead of making them twice.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import func, select

from orchestrator.errors import (
    ApprovalRejected,
    ApprovalRequired,
    BackendError,
    OrchestratorError,
    PermissionDenied,
)
from orchestrator.graphs.auditor import _findings
from orchestrator.graphs.auditor.playbooks import (
    ESCALATE,
    REVERSAL_TOOLS,
    Evidence,
    LedgerRow,
    Plan,
    PlanRejected,
    ReservationFact,
    TxnFact,
    check_plan,
    playbook,
    prompt_for,
    proposal_schema,
)
from orchestrator.graphs.auditor.state import AuditState, Case
from orchestrator.runtime.deps import Services

__all__ = [
    "AGENT",
    "act",
    "after_troubleshoot",
    "after_validate",
    "detect",
    "escalate",
    "gather_evidence",
    "next_case",
    "report",
    "scan",
    "step_budget",
    "troubleshoot",
    "validate",
]

logger = logging.getLogger(__name__)

AGENT = "auditor"
"""The agent profile of every call the graph makes (its allow-list applies)."""

CLOSED = frozenset({"fixed", "resolved", "ignored"})
"""Finding statuses that need nothing more."""


MAX_FINDINGS = 100
"""Open findings one pass handles by default (most severe, then oldest, first)."""


def max_attempts(services: Services) -> int:
    """Fix attempts per finding before it is escalated (`settings.auditor.max_attempts`)."""
    section = getattr(services.settings, "auditor", None)
    return int(getattr(section, "max_attempts", 2))


def _actor(runtime: Any) -> str:
    ctx = getattr(runtime, "context", None)
    return str(getattr(ctx, "actor", None) or AGENT)


def _case(state: AuditState) -> tuple[list[dict[str, Any]], int, Case]:
    cases = [dict(c) for c in state.get("cases", [])]
    i = int(state.get("cursor", 0))
    return cases, i, Case.model_validate(cases[i])


def _put(cases: list[dict[str, Any]], i: int, case: Case) -> list[dict[str, Any]]:
    cases[i] = case.model_dump(mode="json")
    return cases


# -- scan and detect ------------------------------------------------------------------------


def scan(state: AuditState, *, services: Services) -> dict[str, Any]:
    """Run the detector: an incremental scan from the watermark, or a full one."""
    store = _findings.finding_store(services)
    result = store.scan(full=bool(state.get("full")), rules=state.get("rules") or None)
    return {"scan": _findings.as_dict(result)}


def detect(state: AuditState, *, services: Services) -> dict[str, Any]:
    """List the open findings this pass handles (oldest first, at most `limit`)."""
    store = _findings.finding_store(services)
    limit = state.get("limit") or MAX_FINDINGS
    rules: Sequence[str | None] = state.get("rules") or [None]
    views: list[Any] = []
    for rule in rules:
        views.extend(store.open(rule=rule, limit=limit))
    views = sorted(views, key=lambda v: int(v.id))[:limit]
    cases = [
        Case(
            finding_id=int(v.id),
            rule=str(v.rule),
            severity=str(getattr(v, "severity", "")),
            entity=str(getattr(v, "entity", "")),
            key=str(getattr(v, "key", "")),
        ).model_dump(mode="json")
        for v in views
    ]
    return {"cases": cases, "cursor": 0}


def next_case(state: AuditState, *, budget: int = 10_000) -> Literal["troubleshoot", "report"]:
    """Go on with the next case, or to the report when none is left or the run's step
    budget could not finish another one (the rest stay open for the next pass)."""
    if int(state.get("cursor", 0)) >= len(state.get("cases", [])):
        return "report"
    return "troubleshoot" if int(state.get("steps", 0)) <= budget else "report"


def step_budget(services: Services) -> int:
    """Steps a pass may have used and still start a case: LangGraph's recursion limit less
    the worst case of one finding (every attempt failing, then escalation) and the report."""
    worst = 3 * max_attempts(services) + 2
    return int(services.settings.runtime.recursion_limit) - worst - 2


# -- troubleshoot ---------------------------------------------------------------------------


def gather_evidence(services: Services, ctx: Any, finding: Any) -> Evidence:
    """Read what the finding's rule needs: stock levels, ledger sums, transactions, holds.

    Reads go through the auditor profile's read tools where one exists (`get_inventory`,
    `list_integration_transactions`) and the store's reads otherwise; nothing is written.
    """
    entities = dict(getattr(finding, "entities", None) or {})
    entity = str(getattr(finding, "entity", ""))
    key = str(getattr(finding, "key", ""))
    ev = Evidence(
        rule=str(finding.rule),
        entity=entity,
        key=key,
        rows=[_plain(r) for r in (getattr(finding, "evidence", None) or [])][:20],
    )
    store = services.store
    sku, location = entities.get("sku"), entities.get("location")
    if entity == "stock" and "@" in key and not (sku and location):
        sku, location = key.split("@", 1)
    txn_ref = entities.get("transaction_id") or entities.get("txn_id")
    if entity == "integration_transaction" or txn_ref:
        txn_id = int(txn_ref or key)
        try:
            t = store.get_integration_transaction(txn_id)
        except OrchestratorError:
            t = None
        if t is not None:
            ev.txn = _txn_fact(t)
            sku, location = t.sku, t.location
            ev.postings = _postings(services, txn_id)
    if entity == "reservation" or entities.get("reservation_id"):
        res_id = int(entities.get("reservation_id") or key)
        found = store.list_reservations(status=None, limit=1000)
        match = [r for r in found if r.id == res_id]
        if match:
            sku, location = match[0].sku, match[0].location
    order_ref = entities.get("order_id")
    if entity == "order" and (order_ref or key.isdigit()):
        held = store.list_reservations(order_id=int(order_ref or key), limit=100)
        ev.reservations = [_hold(services, r) for r in held]
    if sku and location:
        ev.sku, ev.location = str(sku), str(location)
        inv = services.invoke(ctx, "get_inventory", {"sku": ev.sku, "location": ev.location})
        if inv.levels:
            ev.on_hand, ev.reserved = inv.levels[0].on_hand, inv.levels[0].reserved
        ev.ledger_sum = _ledger_sum(services, ev.sku, ev.location)
        holds = store.list_reservations(sku=ev.sku, location=ev.location, limit=100)
        ev.open_reserved = sum(r.qty for r in holds)
        ev.reservations = [_hold(services, r) for r in holds]
        unposted: list[TxnFact] = []
        for status in ("pending", "failed"):
            listed = services.invoke(
                ctx, "list_integration_transactions", {"status": status, "limit": 500}
            )
            unposted.extend(
                _txn_fact(t)
                for t in listed.transactions
                if t.sku == ev.sku and t.location == ev.location
            )
        ev.unposted = sorted(unposted, key=lambda t: t.id)
    return ev


def _plain(row: Any) -> dict[str, Any]:
    if isinstance(row, dict):
        return {
            str(k): v if isinstance(v, int | float | str | None) else str(v) for k, v in row.items()
        }
    return {"row": str(row)}


def _txn_fact(t: Any) -> TxnFact:
    created = t.created_at if t.created_at.tzinfo else t.created_at.replace(tzinfo=UTC)
    return TxnFact(
        id=t.id,
        kind=t.kind,
        delta=t.delta,
        status=t.status,
        source=t.source,
        attempts=t.attempts,
        age_minutes=max(0, int((datetime.now(UTC) - created).total_seconds() // 60)),
    )


def _hold(services: Services, r: Any) -> ReservationFact:
    status: str | None = None
    if r.order_id is not None:
        try:
            status = services.store.get_order(r.order_id).status
        except OrchestratorError:
            status = "missing"
    return ReservationFact(id=r.id, qty=r.qty, order_id=r.order_id, order_status=status)


def _ledger_sum(services: Services, sku: str, location: str) -> int:
    from orchestrator.store.invariants import LEDGER

    with services.store.engine.connect() as conn:
        return int(
            conn.execute(
                select(func.coalesce(func.sum(LEDGER.c.delta), 0)).where(
                    LEDGER.c.sku == sku, LEDGER.c.location == location
                )
            ).scalar_one()
        )


def _postings(services: Services, txn_id: int) -> list[LedgerRow]:
    from orchestrator.store.invariants import LEDGER

    with services.store.engine.connect() as conn:
        rows = conn.execute(
            select(LEDGER.c.id, LEDGER.c.delta, LEDGER.c.kind, LEDGER.c.ref_type, LEDGER.c.ref_id)
            .where(LEDGER.c.ref_type == "integration", LEDGER.c.ref_id == str(txn_id))
            .order_by(LEDGER.c.id)
        ).all()
    return [
        LedgerRow(id=r.id, delta=r.delta, kind=str(r.kind), ref_type=r.ref_type, ref_id=r.ref_id)
        for r in rows
    ]


def _fixes(services: Services, rule: str) -> tuple[list[str], str | None, frozenset[str]]:
    """The rule's allowed fixes that exist in the auditor profile, the reversal tool, the
    profile's tools."""
    profile = services.catalog.profile(AGENT)
    tools = frozenset(profile.allowed)
    spec = _findings.rule_spec(rule)
    allowed = [f for f in (spec.allowed_fixes if spec else ()) if f == ESCALATE or f in tools]
    reversal = next((f for f in allowed if f in REVERSAL_TOOLS or "revers" in f), None)
    if reversal is None:
        reversal = next((t for t in REVERSAL_TOOLS if t in tools and t in allowed), None)
    return allowed, reversal, tools


def troubleshoot(
    state: AuditState, config: Any, runtime: Any, *, services: Services, model: Any
) -> dict[str, Any]:
    """Gather evidence; the model proposes a cause and a fix; code checks it or uses the playbook."""
    cases, i, case = _case(state)
    store = _findings.finding_store(services)
    # A fix made for an earlier case may have fixed this one too (a stuck transaction
    # posted while correcting its stock row): re-check before working on it.
    finding = store.recheck(case.finding_id) if case.attempts == 0 else store.get(case.finding_id)
    if case.attempts == 0 and str(finding.status) in CLOSED:
        case.status, case.validation = "skipped", f"already {finding.status}"
        return {"cases": _put(cases, i, case), "cursor": i + 1}
    spec = _findings.rule_spec(case.rule)
    if spec is not None and spec.report_only:
        case.status, case.fix = "reported", "report"
        case.diagnosis = str(spec.description)
        return {"cases": _put(cases, i, case), "cursor": i + 1}
    ctx = services.node_context(config, runtime.context, agent=AGENT)
    ev = gather_evidence(services, ctx, finding)
    allowed, reversal, profile_tools = _fixes(services, case.rule)
    base = playbook(ev, case.finding_id, allowed=allowed, reversal=reversal)
    plan, source = base, "playbook"
    if model is not None:
        plan, source = _model_plan(
            services, ctx, model, ev, case, spec, allowed, reversal, profile_tools, base
        )
    case.evidence = ev.model_dump(mode="json")
    case.cause, case.diagnosis, case.fix = plan.cause, plan.diagnosis, plan.fix
    case.steps = [s.model_dump(mode="json") for s in plan.steps]
    case.plan_source = source  # type: ignore[assignment]
    case.status = "planned"
    services.store.record_audit(
        "audit_diagnosis",
        {
            "finding_id": case.finding_id,
            "rule": case.rule,
            "key": case.key,
            "attempt": case.attempts + 1,
            "cause": plan.cause,
            "fix": plan.fix,
            "source": source,
            "steps": case.steps,
            "evidence": ev.summary(),
        },
        actor=ctx.make_actor(),
        outcome="dry_run" if state.get("dry_run") else "planned",
        reason=plan.diagnosis[:500],
    )
    if state.get("dry_run"):
        case.status = "dry_run"
        return {"cases": _put(cases, i, case), "cursor": i + 1}
    return {"cases": _put(cases, i, case)}


def _model_plan(
    services: Services,
    ctx: Any,
    model: Any,
    ev: Evidence,
    case: Case,
    spec: Any,
    allowed: list[str],
    reversal: str | None,
    profile_tools: frozenset[str],
    base: Plan,
) -> tuple[Plan, str]:
    from orchestrator.backends import structured_output

    description = str(spec.description) if spec is not None else case.rule
    try:
        proposal = structured_output(
            model,
            prompt_for(ev, description=description, allowed=allowed),
            proposal_schema(ev, allowed=allowed),
        )
    except BackendError as exc:
        case.model_error = f"{type(exc).__name__}: {exc}"[:300]
        return base, "playbook"
    try:
        plan = check_plan(
            ev,
            proposal,
            case.finding_id,
            allowed=allowed,
            profile_tools=profile_tools,
            catalogue_tools=frozenset(services.catalog.tools),
            reversal=reversal,
        )
    except PlanRejected as exc:
        case.rejected.append(f"{proposal.fix}: {exc.reason}")
        arguments = {
            "finding_id": case.finding_id,
            "rule": case.rule,
            "key": case.key,
            "proposed_fix": proposal.fix,
            "target_id": proposal.target_id,
        }
        if exc.outside_profile:
            from orchestrator.tools._audit import record_tool_audit

            denied = PermissionDenied(AGENT, f"call {proposal.fix}", exc.reason)
            record_tool_audit(
                ctx,
                proposal.fix,
                arguments,
                outcome="denied",
                reason=exc.reason,
                error=f"PermissionDenied: {denied}",
            )
        else:
            services.store.record_audit(
                "audit_plan_rejected",
                arguments,
                actor=ctx.make_actor(),
                outcome="rejected",
                reason=exc.reason[:500],
            )
        return base, "playbook"
    return plan, "model"


def after_troubleshoot(
    state: AuditState, *, budget: int = 10_000
) -> Literal["act", "escalate", "troubleshoot", "report"]:
    """To the fix, to a person, or on to the next case (dry run, skipped, report-only)."""
    cases = state.get("cases", [])
    i = int(state.get("cursor", 0))
    if i >= len(cases):
        return "report"
    case = Case.model_validate(cases[i])
    if case.status != "planned":
        return next_case(state, budget=budget)
    return "escalate" if case.fix == ESCALATE or not case.steps else "act"


# -- act, validate, escalate ----------------------------------------------------------------


def act(state: AuditState, config: Any, runtime: Any, *, services: Services) -> dict[str, Any]:
    """Make the plan's calls as the auditor; large ones wait for a person's approval."""
    cases, i, case = _case(state)
    ctx = services.node_context(config, runtime.context, agent=AGENT)
    store = _findings.finding_store(services)
    attempt = case.attempts + 1
    try:
        store.set_status(case.finding_id, "fixing", by=_actor(runtime), note=case.fix)
    except OrchestratorError as exc:  # a status the store does not move from: not fatal
        logger.info("finding %s: %s", case.finding_id, exc)
    for n, step in enumerate(case.steps, start=1):
        call_id = f"fix:{case.finding_id}:{attempt}:{n}"
        record: dict[str, Any] = {
            "attempt": attempt,
            "tool": step["tool"],
            "arguments": step["arguments"],
            "call_id": call_id,
        }
        try:
            result = services.invoke(ctx, step["tool"], step["arguments"], call_id=call_id)
        except ApprovalRejected as exc:
            record.update(outcome="rejected", detail=exc.reason)
        except PermissionDenied as exc:
            record.update(outcome="denied", detail=str(exc))
        except OrchestratorError as exc:
            record.update(outcome="error", detail=f"{type(exc).__name__}: {exc}")
        else:
            status = getattr(result, "status", None)
            outcome = (
                "not_posted"
                if step["tool"] == "reprocess_transaction" and status == "failed"
                else "ok"
            )
            record.update(outcome=outcome, replayed=bool(getattr(result, "replayed", False)))
            if outcome == "not_posted":
                record["detail"] = str(getattr(result, "error", "") or "")
        case.actions.append(record)
        if record["outcome"] != "ok":
            break
    case.attempts = attempt
    return {"cases": _put(cases, i, case)}


def validate(state: AuditState, runtime: Any, *, services: Services) -> dict[str, Any]:
    """Re-check the rule for the finding's entities: fixed, or try again, or escalate."""
    cases, i, case = _case(state)
    store = _findings.finding_store(services)
    view = store.recheck(case.finding_id)
    done = [a for a in case.actions if a["attempt"] == case.attempts]
    failed = [a for a in done if a["outcome"] != "ok"]
    # A call that did not do its job (a reprocess that could not post) is no fix, even if
    # the rule no longer fires (the transaction moved from stuck to failed).
    outcome = "fixed" if str(view.status) in CLOSED and not failed else "still_broken"
    note = "; ".join(f"{a['tool']} {a['outcome']}" for a in failed)
    try:
        store.record_attempt(
            case.finding_id,
            diagnosis={"cause": case.cause, "text": case.diagnosis},
            plan={
                "fix": case.fix,
                "source": case.plan_source,
                "steps": case.steps,
                "results": [{k: a.get(k) for k in ("tool", "outcome", "detail")} for a in done],
            },
            outcome=outcome if not failed else f"failed: {failed[0]['outcome']}",
            by=_actor(runtime),
        )
    except OrchestratorError as exc:
        logger.info("finding %s: recording the attempt failed: %s", case.finding_id, exc)
    if outcome == "fixed":
        case.status, case.validation = "fixed", f"re-check: {view.status}"
        if str(view.status) != "fixed":
            try:
                store.set_status(case.finding_id, "fixed", by=_actor(runtime), note=case.fix)
            except OrchestratorError as exc:
                logger.info("finding %s: %s", case.finding_id, exc)
        return {"cases": _put(cases, i, case), "cursor": i + 1, "verdict": "fixed"}
    case.validation = f"re-check after attempt {case.attempts}: still broken" + (
        f" ({note})" if note else ""
    )
    verdict = "retry" if case.attempts < max_attempts(services) else "escalate"
    return {"cases": _put(cases, i, case), "verdict": verdict}


def after_validate(
    state: AuditState, *, budget: int = 10_000
) -> Literal["troubleshoot", "escalate", "report"]:
    """Fixed: the next case; still broken: troubleshoot again, or escalate after the last
    attempt (`validate` decided which, in `verdict`)."""
    verdict = state.get("verdict")
    if verdict == "retry":
        return "troubleshoot"
    if verdict == "escalate":
        return "escalate"
    return next_case(state, budget=budget)


def escalate(state: AuditState, config: Any, runtime: Any, *, services: Services) -> dict[str, Any]:
    """Hand the finding to a person: a pending approval (and a ticket on the order, if any)."""
    cases, i, case = _case(state)
    ctx = services.node_context(config, runtime.context, agent=AGENT)
    why = (
        f"{case.rule} on {case.entity} {case.key}: {case.diagnosis}"
        if case.attempts == 0
        else f"{case.rule} on {case.entity} {case.key}: still broken after {case.attempts} "
        f"attempt(s) of {case.fix}: {case.diagnosis}"
    )[:900]
    escalation: dict[str, Any] = {}
    try:
        view = services.store.approval_gate(
            "audit_finding",
            {
                "finding_id": case.finding_id,
                "rule": case.rule,
                "key": case.key,
                "cause": case.cause,
            },
            reason=why,
            actor=ctx.make_actor(),
            idempotency_key=ctx.write_key(f"escalate:{case.finding_id}"),
        )
        escalation["approval_id"] = view.id
    except ApprovalRequired as exc:
        escalation["approval_id"] = exc.approval_id
    except OrchestratorError as exc:
        escalation["error"] = f"{type(exc).__name__}: {exc}"
    order_ids = sorted(
        {
            int(r["order_id"])
            for r in case.evidence.get("reservations", [])
            if r.get("order_id") is not None
        }
    )
    if order_ids:
        try:
            order = services.store.get_order(order_ids[0])
            ticket = services.store.create_ticket(
                order.customer_id,
                f"Inventory audit: {case.rule} on {case.key}"[:200],
                why,
                order_id=order.id,
                category="inventory",
                priority="high",
                actor=ctx.make_actor(),
                idempotency_key=ctx.write_key(f"ticket:{case.finding_id}"),
            )
            escalation["ticket_id"] = ticket.id
        except OrchestratorError as exc:
            escalation["ticket_error"] = f"{type(exc).__name__}: {exc}"
    try:
        _findings.finding_store(services).set_status(
            case.finding_id, "escalated", by=_actor(runtime), note=why[:500]
        )
    except OrchestratorError as exc:
        logger.info("finding %s: %s", case.finding_id, exc)
    case.status, case.escalation = "escalated", escalation
    return {"cases": _put(cases, i, case), "cursor": i + 1}


# -- report ---------------------------------------------------------------------------------


def summarize(cases: Sequence[Case]) -> dict[str, Any]:
    """Counts by outcome and by rule (what the report and the CLI's summary print)."""
    by_status: dict[str, int] = {}
    by_rule: dict[str, dict[str, int]] = {}
    for c in cases:
        by_status[c.status] = by_status.get(c.status, 0) + 1
        rule = by_rule.setdefault(c.rule, {})
        rule[c.status] = rule.get(c.status, 0) + 1
    acted = by_status.get("fixed", 0) + by_status.get("escalated", 0)
    return {
        "findings": len(cases),
        "by_status": by_status,
        "by_rule": by_rule,
        "fixed": by_status.get("fixed", 0),
        "escalated": by_status.get("escalated", 0),
        "deferred": by_status.get("open", 0),
        "success_rate": round(by_status.get("fixed", 0) / acted, 4) if acted else None,
        "model_plans": sum(1 for c in cases if c.plan_source == "model"),
        "rejected_proposals": sum(len(c.rejected) for c in cases),
    }


def report(state: AuditState, config: Any, runtime: Any) -> dict[str, Any]:
    """The summary a person reads (ids and figures only); an insight for later runs."""
    cases = [Case.model_validate(c) for c in state.get("cases", [])]
    summary = summarize(cases)
    scan_ = state.get("scan", {})
    head = ", ".join(f"{n} {s}" for s, n in sorted(summary["by_status"].items())) or "nothing open"
    lines = [
        f"Audit pass{' (dry run)' if state.get('dry_run') else ''}: {summary['findings']} "
        f"finding(s) handled: {head}.",
        "Scan: "
        + ", ".join(
            f"{k} {len(v) if isinstance(v, list) else v}"
            for k, v in scan_.items()
            if k in ("violations", "new", "reopened", "seen", "resolved")
        )
        + f" ({'full' if scan_.get('full') else 'incremental'})",
    ]
    for c in cases:
        detail = c.validation or (
            f"approval {c.escalation.get('approval_id')}" if c.escalation else ""
        )
        lines.append(
            f"- #{c.finding_id} {c.rule} {c.entity} {c.key}: {c.status} "
            f"(cause {c.cause or '-'}, fix {c.fix or '-'}, {c.plan_source or '-'}"
            + (f", {len(c.rejected)} proposal(s) refused" if c.rejected else "")
            + (f"; {detail}" if detail else "")
            + ")"
        )
    text = "\n".join(lines)
    store = getattr(runtime, "store", None)
    if store is not None and cases:
        try:
            from orchestrator.memory.namespaces import Insight, record_insight

            thread = (config.get("configurable") or {}).get("thread_id", "audit")
            record_insight(
                store,
                Insight(
                    topic="audit",
                    source="auditor",
                    text=(
                        f"Audit pass: {summary['fixed']} fixed, {summary['escalated']} "
                        f"escalated of {summary['findings']} findings; rules: "
                        + ", ".join(sorted(summary["by_rule"]))
                    )[:2000],
                    data={"summary": summary},
                ),
                key=f"audit-{thread}",
            )
        except Exception:  # memory is best effort: the audit itself is done
            logger.warning("recording the audit insight failed", exc_info=True)
    return {"report": text, "summary": summary}
