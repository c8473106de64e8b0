"""Cycle count: reconcile counted stock with the books through audited adjustments.

A small built-in graph (`Orchestrator.run("cycle_count", ...)`) and the simplest example of
a graph that writes from hand-written nodes: one keyed write per line, approvals as
interrupts, a report built by code.
"""

from __future__ import annotations

from orchestrator.graphs.cycle_count.graph import build_cycle_count_graph
from orchestrator.graphs.cycle_count.state import (
    CountLine,
    CountResult,
    CycleCountInput,
    CycleCountState,
)

__all__ = [
    "CountLine",
    "CountResult",
    "CycleCountInput",
    "CycleCountState",
    "build_cycle_count_graph",
]
