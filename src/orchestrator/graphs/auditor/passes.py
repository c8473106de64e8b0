"""One audit pass through the runtime, resuming a pass that a killed process left unfinished.

`run_pass(orch)` is what `orchestrator audit`, the demo, the example and the evaluation call.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from orchestrator.graphs.auditor.state import Case

if TYPE_CHECKING:
    from orchestrator.runtime import Orchestrator, RunResult

__all__ = ["GRAPH", "cases_of", "run_pass", "unfinished_passes"]

GRAPH = "auditor"


def unfinished_passes(orch: Orchestrator) -> list[str]:
    """Threads of audit passes whose process died before they finished (oldest first)."""
    runs = orch.runs.list(status="running", graph=GRAPH, limit=100)
    return [r.thread_id for r in sorted(runs, key=lambda r: r.updated_at)]


def run_pass(
    orch: Orchestrator,
    *,
    full: bool = False,
    rules: Sequence[str] | None = None,
    dry_run: bool = False,
    limit: int | None = None,
    actor: str = "auditor",
    thread_id: str | None = None,
    resume: bool = True,
    max_passes: int = 50,
) -> list[RunResult]:
    """Finish any pass a killed process left behind, then audit every open finding.

    Args:
        orch: the runtime (its `auditor` graph).
        full: scan everything rather than from the watermark.
        rules: only these rules.
        dry_run: diagnose and plan, write nothing.
        limit: at most this many findings.
        actor: who the pass acts for (the audit log's actor).
        thread_id: the new pass's thread id; default `audit-<time>-<random>`.
        resume: first resume unfinished passes (what `orchestrator audit` does).
        max_passes: a pass handles as many findings as the run's step limit allows; the
            next pass takes those left, up to this many passes.

    Returns:
        The resumed passes' results, then the new passes' (`status` `completed`, or
        `waiting` on a person's approval of a large fix, which ends the series).
    """
    results: list[RunResult] = []
    if resume and not dry_run:
        for thread in unfinished_passes(orch):
            results.append(orch.resume(thread))
    payload: dict[str, Any] = {"full": full, "dry_run": dry_run}
    if rules:
        payload["rules"] = list(rules)
    if limit is not None:
        payload["limit"] = limit
    for n in range(max_passes):
        thread = (thread_id if n == 0 else None) or (
            f"audit-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
        )
        result = orch.run(GRAPH, payload, context={"actor": actor}, thread_id=thread)
        results.append(result)
        summary = result.values.get("summary") or {}
        handled = int(summary.get("findings", 0)) - int(summary.get("deferred", 0))
        # A pass stops taking findings before the run's step limit; the next one (which
        # needs no new scan) takes the rest, as long as passes make progress.
        if result.status != "completed" or not summary.get("deferred") or handled <= 0:
            break
        payload = {**payload, "full": False}
    return results


def cases_of(result: RunResult) -> list[Case]:
    """The cases a pass handled (so far, for a waiting one)."""
    return [Case.model_validate(c) for c in result.values.get("cases", [])]
