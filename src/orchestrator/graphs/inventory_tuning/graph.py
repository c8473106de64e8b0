"""The inventory-tuning graph: forecast demand, set reorder policies, report.

```
START -> plan -> explain -> approve -> apply -> report -> END
```
- `plan` (code): load sales per SKU x location by SQL aggregation, classify demand,
  forecast, compute the policy, compare with the current one;
- `explain` (model `inventory_tuning.explain`): the reason of the biggest changes, checked by
  code (no figure the code did not compute), else a template's;
- `approve`: one approval for all changes above `tuning.approve_above` (approve, edit the
  list, or reject: the small changes go ahead either way); none in a dry run;
- `apply`: one keyed `set_inventory_policy` write per change, as the `inventory` agent;
- `report`: markdown in the state, HTML and markdown files with charts when asked, and an
  insight (topic `tuning`) in long-term memory.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from orchestrator.graphs.inventory_tuning import nodes
from orchestrator.graphs.inventory_tuning.state import TuningInput, TuningState
from orchestrator.runtime.context import RunContext
from orchestrator.runtime.deps import NodeModels, Services
from orchestrator.runtime.nodes import approval_gate

__all__ = ["build_inventory_tuning_graph"]


def build_inventory_tuning_graph(
    *, models: NodeModels, services: Services, **_: Any
) -> StateGraph[TuningState, RunContext, TuningInput, TuningState]:
    """The inventory-tuning graph, uncompiled.

    Args:
        models: the nodes' models (`explain` writes the reasons of the biggest changes).
        services: the store and the tool runner; `services.extras["tuning_progress"]`, if
            set, is called as `progress(phase, done, total)` while forecasting and applying.

    Example:
        >>> with Orchestrator(settings) as orch:
        ...     result = orch.run("inventory_tuning", {"limit": 100, "dry_run": True},
        ...                       context=RunContext(actor="planner"))
        ...     print(result.values["report"])
    """
    builder = StateGraph(TuningState, context_schema=RunContext, input_schema=TuningInput)
    builder.add_node("plan", partial(nodes.plan, services=services))
    builder.add_node(
        "explain", partial(nodes.explain, model=models.for_node("explain"), services=services)
    )
    builder.add_node(
        "approve",
        approval_gate(
            "inventory_policy_changes",
            services=services,
            agent=nodes.AGENT,
            needs=nodes.approval_needed,
            arguments=nodes.approval_arguments,
        ),
    )
    builder.add_node("apply", _with_runtime(nodes.apply, services))
    builder.add_node("report", _with_runtime(nodes.report, services))
    builder.add_edge(START, "plan")
    builder.add_edge("plan", "explain")
    builder.add_edge("explain", "approve")
    builder.add_edge("approve", "apply")
    builder.add_edge("apply", "report")
    builder.add_edge("report", END)
    return builder


def _with_runtime(fn: Any, services: Services) -> Any:
    def node(
        state: TuningState, config: RunnableConfig, runtime: Runtime[RunContext]
    ) -> dict[str, Any]:
        return fn(state, config, runtime, services=services)

    node.__name__ = fn.__name__
    return node
