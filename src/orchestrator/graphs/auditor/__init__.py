"""The inventory auditor: detect -> diagnose -> fix -> validate -> escalate, with oversight.

A built-in graph (`Orchestrator.run("auditor", {...})`): it scans the store with the
detector's rules (`orchestrator.store.findings`), gathers evidence for each open finding
with the auditor profile's read tools, lets the model propose a cause and a fix from the
rule's allowed fixes (code checks the proposal against the evidence, a deterministic
playbook is the fallback), fixes through the auditor profile's write tools, re-checks, and
escalates what it cannot fix. See docs/auditor.md.
"""

from __future__ import annotations

from orchestrator.graphs.auditor.demo import demo_steps
from orchestrator.graphs.auditor.graph import build_auditor_graph
from orchestrator.graphs.auditor.passes import run_pass
from orchestrator.graphs.auditor.playbooks import Evidence, FixProposal, FixStep, Plan
from orchestrator.graphs.auditor.state import AuditInput, AuditState, Case

__all__ = [
    "AuditInput",
    "AuditState",
    "Case",
    "Evidence",
    "FixProposal",
    "FixStep",
    "Plan",
    "build_auditor_graph",
    "demo_steps",
    "run_pass",
]
