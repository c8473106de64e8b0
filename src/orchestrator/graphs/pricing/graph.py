"""The pricing graph: facts -> elasticity -> proposals -> guard rails -> explanation -> apply -> report.

```
START -> load -> estimate -> propose -> guard -> explain -> apply -> approve -> report -> END
```
`apply` writes the changes within `pricing.approval_change_pct` with the `set_price` tool as
the `pricing` agent, one keyed write per SKU (`price:<sku>`); `approve` writes the larger ones,
each pausing the run for a person's approval (approve, edit or reject).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from orchestrator.graphs.pricing import nodes
from orchestrator.graphs.pricing.state import PricingInput, PricingState
from orchestrator.runtime.context import RunContext
from orchestrator.runtime.deps import NodeModels, Services

__all__ = ["build_pricing_graph"]


def build_pricing_graph(
    *, models: NodeModels, services: Services, **_: Any
) -> StateGraph[PricingState, RunContext, PricingInput, PricingState]:
    """The pricing graph, uncompiled.

    Args:
        models: the nodes' models (`explain` is the only LLM node: it writes words, never a
            number).
        services: the store and the tool runner.

    Example:
        >>> graph = build_pricing_graph(models=models, services=services).compile(checkpointer=saver)
        >>> graph.invoke({"dry_run": True}, {"configurable": {"thread_id": "price-1"}},
        ...              context=RunContext(actor="ann"))
    """
    builder = StateGraph(PricingState, context_schema=RunContext, input_schema=PricingInput)
    builder.add_node("load", partial(nodes.load, services=services))
    builder.add_node("estimate", partial(nodes.estimate, services=services))
    builder.add_node("propose", partial(nodes.propose, services=services))
    builder.add_node("guard", partial(nodes.guard, services=services))
    builder.add_node("explain", partial(nodes.explain, model=models.for_node("explain")))
    builder.add_node("apply", _apply(services, large=False))
    builder.add_node("approve", _apply(services, large=True))
    builder.add_node("report", _report())
    builder.add_edge(START, "load")
    builder.add_edge("load", "estimate")
    builder.add_edge("estimate", "propose")
    builder.add_edge("propose", "guard")
    builder.add_edge("guard", "explain")
    builder.add_edge("explain", "apply")
    builder.add_edge("apply", "approve")
    builder.add_edge("approve", "report")
    builder.add_edge("report", END)
    return builder


def _apply(services: Services, *, large: bool) -> Any:
    def apply(
        state: PricingState, config: RunnableConfig, runtime: Runtime[RunContext]
    ) -> dict[str, Any]:
        return nodes.apply(state, config, runtime, services=services, large=large)

    return apply


def _report() -> Any:
    def report(
        state: PricingState, config: RunnableConfig, runtime: Runtime[RunContext]
    ) -> dict[str, Any]:
        return nodes.report(state, config, runtime)

    return report
