"""The support graph: understand a customer's message, act for them, reply.

```
START -> understand -> (order_status | cancel_order | check_stock | handoff) -> reply -> END
```
Runs as the `support` agent profile for the run context's authenticated customer.
`cancel_order` pauses for the customer's yes (`Confirmation` interrupt; resume with
`True`/`"yes"` or `False`/`"no"`), and a shipped order's cancellation also for a person's
approval.
"""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from orchestrator.graphs.support import nodes
from orchestrator.graphs.support.state import SupportInput, SupportState
from orchestrator.runtime.context import RunContext
from orchestrator.runtime.deps import NodeModels, Services

__all__ = ["build_support_graph"]


def build_support_graph(
    *, models: NodeModels, services: Services, **_: Any
) -> StateGraph[SupportState, RunContext, SupportInput, SupportState]:
    """The support graph, uncompiled.

    Args:
        models: the nodes' models: `understand` reads the message.
        services: the store and the tool runner.
    """
    model = models.for_node("understand")
    builder = StateGraph(SupportState, context_schema=RunContext, input_schema=SupportInput)
    builder.add_node("understand", lambda state: nodes.understand(state, model=model))
    for name in ("order_status", "cancel_order", "check_stock", "handoff"):
        builder.add_node(name, _bind(getattr(nodes, name), services))
    builder.add_node("reply", nodes.reply)
    builder.add_edge(START, "understand")
    builder.add_conditional_edges("understand", nodes.route)
    for name in ("order_status", "cancel_order", "check_stock", "handoff"):
        builder.add_edge(name, "reply")
    builder.add_edge("reply", END)
    return builder


def _bind(node: Any, services: Services) -> Any:
    def run(
        state: SupportState, config: RunnableConfig, runtime: Runtime[RunContext]
    ) -> dict[str, Any]:
        return node(state, config, runtime, services=services)

    run.__name__ = node.__name__
    return run
