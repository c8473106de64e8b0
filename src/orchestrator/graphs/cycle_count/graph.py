"""The cycle-count graph: compare counted stock with the books, adjust, report.

```
START -> compare -> adjust -> report -> END
```
`adjust` posts `adjust_quantity` as the `inventory` agent, one write per line keyed by the
line (`adjust:<sku>@<location>`); a line above `approvals.adjustment_units` pauses the run
for a person's approval (approve, edit or reject), and the rest wait with it.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from orchestrator.graphs.cycle_count import nodes
from orchestrator.graphs.cycle_count.state import CycleCountInput, CycleCountState
from orchestrator.runtime.context import RunContext
from orchestrator.runtime.deps import NodeModels, Services

__all__ = ["build_cycle_count_graph"]


def build_cycle_count_graph(
    *, models: NodeModels | None = None, services: Services, **_: Any
) -> StateGraph[CycleCountState, RunContext, CycleCountInput, CycleCountState]:
    """The cycle-count graph, uncompiled (it has no LLM node: `models` is unused).

    Args:
        models: the nodes' models (none here).
        services: the store and the tool runner.

    Example:
        >>> graph = build_cycle_count_graph(services=services).compile(checkpointer=saver)
        >>> graph.invoke({"counts": [{"sku": "A1", "location": "WH-MAIN", "counted": 7}],
        ...               "reason": "weekly count"},
        ...              {"configurable": {"thread_id": "count-1"}},
        ...              context=RunContext(actor="ann"))
    """
    builder = StateGraph(CycleCountState, context_schema=RunContext, input_schema=CycleCountInput)
    builder.add_node("compare", partial(nodes.compare, services=services))
    builder.add_node("adjust", _adjust(services))
    builder.add_node("report", nodes.report)
    builder.add_edge(START, "compare")
    builder.add_edge("compare", "adjust")
    builder.add_edge("adjust", "report")
    builder.add_edge("report", END)
    return builder


def _adjust(services: Services) -> Any:
    def adjust(
        state: CycleCountState, config: RunnableConfig, runtime: Runtime[RunContext]
    ) -> dict[str, Any]:
        return nodes.adjust(state, config, runtime, services=services)

    return adjust
