"""State of the auditor graph."""

from __future__ import annotations

import operator
from typing import Annotated, Any, Literal, TypedDict

from pydantic import BaseModel, Field

__all__ = ["AuditInput", "AuditState", "Case", "CaseStatus"]

CaseStatus = Literal[
    "open", "planned", "fixed", "escalated", "reported", "dry_run", "skipped", "waiting"
]


class Case(BaseModel):
    """One finding as the run handles it: evidence, diagnosis, plan, actions, outcome."""

    finding_id: int
    rule: str
    severity: str = ""
    entity: str = ""
    key: str = ""
    status: CaseStatus = "open"
    """`fixed` (validated), `escalated` (to a person), `reported` (report-only rule),
    `dry_run` (planned, nothing written), `skipped` (already resolved when reached),
    `open` (not reached this pass: the next pass takes it)."""
    attempts: int = 0
    """Fix attempts made in this run (at most `settings.auditor.max_attempts`)."""
    evidence: dict[str, Any] = Field(default_factory=dict)
    """The `Evidence` gathered (ids and figures only)."""
    cause: str = ""
    diagnosis: str = ""
    fix: str = ""
    plan_source: Literal["model", "playbook", ""] = ""
    """Whether the model's proposal was used, or the deterministic playbook."""
    rejected: list[str] = Field(default_factory=list)
    """The model's proposals the code refused, with the reason."""
    model_error: str = ""
    """Why the model gave no proposal (unreachable, no valid output), if it gave none."""
    steps: list[dict[str, Any]] = Field(default_factory=list)
    """The planned tool calls (`FixStep`s) of the current attempt."""
    actions: list[dict[str, Any]] = Field(default_factory=list)
    """Every call made: tool, arguments, outcome, attempt."""
    validation: str = ""
    """What the re-check found after the last attempt."""
    escalation: dict[str, Any] = Field(default_factory=dict)
    """The approval id (and ticket id) a person follows up."""


class AuditInput(TypedDict, total=False):
    """What a pass starts with (everything optional)."""

    full: bool
    """Scan everything, not only what changed since the last scan's watermark."""
    rules: list[str] | None
    """Only these rules (default: every rule)."""
    dry_run: bool
    """Diagnose and plan, write nothing."""
    limit: int | None
    """Handle at most this many open findings this pass (default `settings.auditor`)."""


def _replace(_old: Any, new: Any) -> Any:
    return new


class AuditState(TypedDict, total=False):
    """The graph's state (serializable: plain dicts, lists and strings)."""

    full: bool
    """Full scan requested."""
    rules: list[str] | None
    """The rules of this pass."""
    dry_run: bool
    """Nothing is written."""
    limit: int | None
    """At most this many findings."""
    scan: dict[str, Any]
    """What the scan found: new, seen again, resolved (the `ScanResult`)."""
    cases: Annotated[list[dict[str, Any]], _replace]
    """One `Case` (as a dict) per finding handled, updated as the run goes."""
    cursor: int
    """The index of the case being handled."""
    verdict: Literal["fixed", "retry", "escalate"]
    """What the last re-check decided: next case, another attempt, or a person."""
    steps: Annotated[int, operator.add]
    """Nodes run so far in this pass (a pass stops taking cases before LangGraph's
    recursion limit; the findings it did not reach stay open for the next pass)."""
    report: str
    """The summary a person reads."""
    summary: dict[str, Any]
    """Counts by outcome and by rule."""
