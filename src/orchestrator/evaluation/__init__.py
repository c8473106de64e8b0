"""Evaluations of the graphs: scenario suites run against any configured model.

- `orchestrator.evaluation.support`: support conversations with the expected final store.
"""

__all__: list[str] = []
