"""The auditor's part of `orchestrator demo`: break the books the way an outside system
would, run one audit pass, show what was fixed and what waits for a person."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orchestrator.evaluation.audit import RawKind

__all__ = ["demo_steps"]

_KINDS: tuple[RawKind, ...] = (
    "raw_unposted_integration",
    "raw_duplicate_posting",
    "raw_cancelled_with_holds",
)


def demo_steps(orch: Any, console: Any) -> list[tuple[str, bool, str]]:
    """Inject three anomalies into the demo store, audit it, and check the outcome.

    Run it after the demo's own check of the books: the pass also fixes (or escalates) the
    anomalies the seeder injected.

    Args:
        orch: an `Orchestrator` on the seeded demo store.
        console: a rich console for progress.

    Returns:
        (step, as expected, detail) for: anomalies injected, the pass fixed them through the
        auditor profile, oversells escalated to a person, the books re-checked.
    """
    from rich.table import Table

    from orchestrator.cli._common import print_table
    from orchestrator.evaluation.audit import inject_raw
    from orchestrator.graphs.auditor.passes import cases_of, run_pass
    from orchestrator.store.invariants import DEFAULT_RULES, check_invariants

    steps: list[tuple[str, bool, str]] = []
    used: set[tuple[str, str]] = set()
    injected = []
    for i, kind in enumerate(_KINDS):
        injected += inject_raw(orch.engine, kind, 1, seed=500 + i, avoid=used)
    expected = {key for a in injected for key in a.expected}
    steps.append(
        (
            "broken integration writes injected",
            len(injected) == len(_KINDS),
            "; ".join(a.detail for a in injected),
        )
    )
    results = run_pass(orch, full=True, rules=list(DEFAULT_RULES), actor="auditor")
    granted = 0
    while results[-1].status == "waiting" and results[-1].approval_ids and granted < 20:
        granted += 1
        results[-1] = orch.resume(results[-1].thread_id, "approve", by="store-manager")
    cases = [c for r in results for c in cases_of(r)]
    table = Table(title="audit pass")
    for col in ("finding", "rule", "entity", "status", "cause", "fix", "by"):
        table.add_column(col)
    for c in cases:
        table.add_row(
            str(c.finding_id),
            c.rule,
            f"{c.entity} {c.key}",
            c.status,
            c.cause,
            c.fix,
            c.plan_source,
        )
    print_table(table, console)
    status = {(c.rule, c.key): c.status for c in cases}
    fixed_ok = all(
        "fixed" in [status.get(k) for k in a.expected]
        and {status.get(k) for k in a.expected} <= {"fixed", "skipped"}
        for a in injected
    )
    steps.append(
        (
            "the auditor fixed them through its own tools",
            fixed_ok,
            f"{sum(1 for c in cases if c.status == 'fixed')} fixed, "
            f"{sum(1 for c in cases if c.status == 'escalated')} escalated, "
            f"{granted} large fix(es) approved by a person",
        )
    )
    escalated = [c for c in cases if c.status == "escalated"]
    steps.append(
        (
            "what it may not fix waits for a person",
            all(c.escalation.get("approval_id") for c in escalated),
            ", ".join(
                f"{c.rule} {c.key} (approval {c.escalation.get('approval_id')})" for c in escalated
            )
            or "nothing to escalate",
        )
    )
    after = check_invariants(orch.engine)
    left = {(v.rule, v.key) for v in after.violations}
    steps.append(
        (
            "books re-checked",
            not (left & expected) and left <= {(c.rule, c.key) for c in escalated},
            "clean"
            if after.ok
            else "left for a person: "
            + ", ".join(f"{r} {n}" for r, n in after.counts().items() if n),
        )
    )
    return steps  # the demo prints them
