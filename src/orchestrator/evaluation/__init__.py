"""Evaluations of the built-in graphs on scenario files, with any configured model (docs/eval.md).

- `orchestrator.evaluation.support`: support conversations with the expected final store.
- `orchestrator.evaluation.orders`: orders from intake to shipment with the expected final store.
"""

from __future__ import annotations

__all__: list[str] = []
