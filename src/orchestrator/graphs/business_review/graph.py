"""The business-review graph: KPIs from code, the analyst crew's narrative, memory, a report.

```
START -> gather -> analyse -> remember -> report -> END
```
`gather` computes the week's KPIs in SQL and reads earlier insights from long-term memory;
`analyse` runs the weekly-review crew (CrewAI, read-only analyst tools) in one node, its model
routed as `business_review.crew`; `remember` stores the review's summary as an insight
(topic `review`) keyed by the week; `report` renders markdown and HTML, and writes them when
the input names a path. Nothing in the graph writes to the store.
"""

from __future__ import annotations

from functools import partial
from typing import Any, cast

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from orchestrator.graphs.business_review import nodes
from orchestrator.graphs.business_review.state import BusinessReviewInput, BusinessReviewState
from orchestrator.runtime.context import RunContext
from orchestrator.runtime.deps import NodeModels, Services

__all__ = ["build_business_review_graph"]


def build_business_review_graph(
    *, models: NodeModels, services: Services, **_: Any
) -> StateGraph[BusinessReviewState, RunContext, BusinessReviewInput, BusinessReviewState]:
    """The business-review graph, uncompiled.

    Args:
        models: the nodes' models; `crew` must give a CrewAI LLM (`NodeModels.crewai_llm`).
            Without one the review is still written, from code, and says why.
        services: the store and the tool runner.

    Example:
        >>> result = orch.run("business_review", {"out": "reports/week.html"}, actor="ann")
        >>> result.values["report_paths"]
        ['reports/week.md', 'reports/week.html']
    """
    builder = StateGraph(
        BusinessReviewState, context_schema=RunContext, input_schema=BusinessReviewInput
    )

    def gather(state: BusinessReviewState, runtime: Runtime[RunContext]) -> dict[str, Any]:
        return nodes.gather(state, runtime, services=services)

    def analyse(
        state: BusinessReviewState, config: RunnableConfig, runtime: Runtime[RunContext]
    ) -> dict[str, Any]:
        return nodes.analyse(state, config, runtime, services=services, models=models)

    def remember(state: BusinessReviewState, runtime: Runtime[RunContext]) -> dict[str, Any]:
        return nodes.remember(state, runtime)

    builder.add_node("gather", gather)
    builder.add_node("analyse", cast(Any, analyse))  # config + runtime: a signature the stubs lack
    builder.add_node("remember", remember)
    builder.add_node("report", partial(nodes.report))
    builder.add_edge(START, "gather")
    builder.add_edge("gather", "analyse")
    builder.add_edge("analyse", "remember")
    builder.add_edge("remember", "report")
    builder.add_edge("report", END)
    return builder
