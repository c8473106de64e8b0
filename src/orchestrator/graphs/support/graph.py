"""The support graph: a router over four specialists, a bounded agent loop, memory, reply.

```
START -> understand -> (orders | products | knowledge | escalation | clarify)
orders | products | knowledge -> (escalation | agent | remember)      hand-offs, bounded
agent <-> tools (catalogue reads, capped per turn) -> (remember | escalation)
clarify | escalation -> remember -> reply -> END
```
Runs as the `support` agent profile for the run context's authenticated customer. A write
(cancel, modify, return) pauses for the customer's yes (`Confirmation` interrupt; resume with
`True`/`"yes"` or `False`/`"no"`); cancelling a shipped order also waits for a person's
approval. One thread is one conversation: turns accumulate in `messages`, and what a turn left
open (an intent waiting for an order id) carries to the next.
"""

from __future__ import annotations

import logging
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from orchestrator.graphs.support import nodes
from orchestrator.graphs.support.router import ExampleClassifier
from orchestrator.graphs.support.state import SupportInput, SupportState
from orchestrator.runtime.context import RunContext
from orchestrator.runtime.deps import NodeModels, Services
from orchestrator.runtime.nodes import tool_node

__all__ = ["build_support_graph"]

logger = logging.getLogger(__name__)


_CLASSIFIERS: dict[tuple[str, str | None], ExampleClassifier] = {}
"""One classifier per embedder (loading a model and embedding the examples is the slow part)."""


def _classifier(services: Services, examples: bool | Any) -> Any:
    if examples is False or examples is None:
        return None
    if examples is not True:
        return examples
    memory = services.settings.memory
    key = (memory.embedding, memory.embedding_base_url)
    if key not in _CLASSIFIERS:
        try:
            from orchestrator.memory.embeddings import make_embeddings

            _CLASSIFIERS[key] = ExampleClassifier(make_embeddings(settings=services.settings))
        except Exception as exc:  # no embedder: the router still has its rules and the model
            logger.info("support router without the examples classifier: %s", exc)
            return None
    return _CLASSIFIERS[key]


def build_support_graph(
    *,
    models: NodeModels,
    services: Services,
    examples: bool | Any = True,
    max_tool_calls: int | None = None,
    **_: Any,
) -> StateGraph[SupportState, RunContext, SupportInput, SupportState]:
    """The support graph, uncompiled.

    Args:
        models: the nodes' models: `understand` votes on the intent, `agent` runs the tool
            loop for open product questions.
        services: the store, the tool runner and the knowledge base.
        examples: vote with the nearest labelled example utterances (`ExampleClassifier`
            over the settings' embedder); False to leave it out, or your own classifier.
        max_tool_calls: tool calls per turn in the agent loop; default
            `settings.runtime.max_tool_calls_per_turn`.
    """
    understand_model = models.for_node("understand")
    agent_model = models.for_node("agent")
    classifier = _classifier(services, examples)
    cap = max_tool_calls or services.settings.runtime.max_tool_calls_per_turn
    tools = [t for t in services.tools(nodes.AGENT) if t.name in nodes.AGENT_TOOLS]

    def understand(state: SupportState, runtime: Runtime[RunContext]) -> dict[str, Any]:
        return nodes.intake(state, runtime, model=understand_model, classifier=classifier)

    def remember(
        state: SupportState, config: RunnableConfig, runtime: Runtime[RunContext]
    ) -> dict[str, Any]:
        return nodes.remember(state, config, runtime)

    def agent(state: SupportState) -> dict[str, Any]:
        return nodes.agent(state, model=agent_model, tools=tools, max_calls=cap)

    def agent_route(state: SupportState) -> Any:
        return nodes.agent_route(state, max_calls=cap)

    builder = StateGraph(SupportState, context_schema=RunContext, input_schema=SupportInput)
    builder.add_node("understand", understand)
    for name in ("orders", "products", "knowledge", "escalation"):
        builder.add_node(name, _bind(getattr(nodes, name), services))
    builder.add_node("clarify", nodes.clarify)
    builder.add_node("agent", agent)
    builder.add_node("tools", tool_node(tools, max_calls=cap))
    remember_node: Any = remember  # (state, config, runtime): mypy's overloads lack this shape
    builder.add_node("remember", remember_node)
    builder.add_node("reply", nodes.reply)
    builder.add_edge(START, "understand")
    builder.add_conditional_edges("understand", nodes.route)
    for name in ("orders", "products", "knowledge"):
        builder.add_conditional_edges(name, nodes.after_specialist)
    builder.add_conditional_edges("agent", agent_route)
    builder.add_edge("tools", "agent")
    builder.add_edge("clarify", "remember")
    builder.add_edge("escalation", "remember")
    builder.add_edge("remember", "reply")
    builder.add_edge("reply", END)
    return builder


def _bind(node: Any, services: Services) -> Any:
    def run(
        state: SupportState, config: RunnableConfig, runtime: Runtime[RunContext]
    ) -> dict[str, Any]:
        return node(state, config, runtime, services=services)

    run.__name__ = node.__name__
    return run
