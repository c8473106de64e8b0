"""Inventory tuning: forecast demand per SKU x location and set reorder policies.

`build_inventory_tuning_graph` is registered as `inventory_tuning` (`orchestrator tune`).
Every figure is computed by code (`orchestrator.analytics`); the model only writes the
reasons of the biggest changes, which code checks. See docs/tuning.md.
"""

from __future__ import annotations

from orchestrator.graphs.inventory_tuning.demo import demo_steps
from orchestrator.graphs.inventory_tuning.explain import PolicyRationale, check_rationale
from orchestrator.graphs.inventory_tuning.graph import build_inventory_tuning_graph
from orchestrator.graphs.inventory_tuning.state import PairPlan, TuningInput, TuningState

__all__ = [
    "PairPlan",
    "PolicyRationale",
    "TuningInput",
    "TuningState",
    "build_inventory_tuning_graph",
    "check_rationale",
    "demo_steps",
]
