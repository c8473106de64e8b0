"""The supply-chain graph: reorder what runs low, approve, send; receive; escalate late orders.

```
START -> intake -+-> receive -----------------------------------------------------> report -> END
                 +-> find_needs -> choose -> explain -> draft -+-> budget_gate -> send -+
                                                               +-----------------------+-> check_late
check_late -+-> escalation_gate -> resolve_late -> report
            +-> report
```
`intake` fixes the run's date and reads a request in words (the model proposes items, code
checks them against the text and parses the need date); `find_needs` computes inventory
positions in SQL; `choose` scores suppliers in code; `explain` has the model explain each
choice (a template when its text changes a number); `draft` groups by supplier and checks the
budget; `budget_gate` waits for a person when over budget or on an urgent request; `send`
makes one keyed `create_purchase_order` per order (the store's own per-order threshold may ask
again); `check_late` finds late purchase orders and proposes expedite or re-source;
`escalation_gate` and `resolve_late` act on a person's decision. Writes are made as the
`procurement` agent.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Literal

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from orchestrator.graphs.supply_chain import nodes
from orchestrator.graphs.supply_chain.report import report
from orchestrator.graphs.supply_chain.state import SupplyChainInput, SupplyChainState
from orchestrator.runtime.context import RunContext
from orchestrator.runtime.deps import NodeModels, Services
from orchestrator.runtime.nodes import approval_gate

__all__ = ["build_supply_chain_graph"]


def build_supply_chain_graph(
    *, models: NodeModels, services: Services, **_: Any
) -> StateGraph[SupplyChainState, RunContext, SupplyChainInput, SupplyChainState]:
    """The supply-chain graph, uncompiled.

    Args:
        models: the nodes' models: `intake` reads a request in words, `explain` explains the
            supplier choices (both fall back to code when the model fails).
        services: the store and the tool runner.

    Example:
        >>> graph = build_supply_chain_graph(models=models, services=services)
        >>> app = graph.compile(checkpointer=saver)
        >>> app.invoke({"text": "running low on Arduino kits for tomorrow's class"},
        ...            {"configurable": {"thread_id": "t1"}}, context=RunContext(actor="ann"))
    """
    intake_model = models.for_node("intake")
    explain_model = models.for_node("explain")
    builder = StateGraph(SupplyChainState, context_schema=RunContext, input_schema=SupplyChainInput)
    builder.add_node("intake", partial(nodes.intake, services=services, model=intake_model))
    builder.add_node("find_needs", partial(nodes.find_needs, services=services))
    builder.add_node("choose", partial(nodes.choose, services=services))
    builder.add_node("explain", partial(nodes.explain, model=explain_model))
    builder.add_node("draft", partial(nodes.draft, services=services))
    builder.add_node(
        "budget_gate",
        approval_gate(
            nodes.GATE_SUBJECT,
            services=services,
            agent=nodes.AGENT,
            needs=nodes.budget_reason,
            arguments=nodes.budget_arguments,
            key="approval",
        ),
    )
    builder.add_node("send", _writer(nodes.send, services))
    builder.add_node("check_late", partial(nodes.check_late, services=services))
    builder.add_node(
        "escalation_gate",
        approval_gate(
            nodes.ESCALATION_SUBJECT,
            services=services,
            agent=nodes.AGENT,
            needs=nodes.escalation_reason,
            arguments=nodes.escalation_arguments,
            key="escalation",
        ),
    )
    builder.add_node("resolve_late", _writer(nodes.resolve_late, services))
    builder.add_node("receive", _writer(nodes.receive, services))
    builder.add_node("report", report)
    builder.add_edge(START, "intake")
    builder.add_conditional_edges("intake", _after_intake)
    builder.add_edge("find_needs", "choose")
    builder.add_edge("choose", "explain")
    builder.add_edge("explain", "draft")
    builder.add_conditional_edges("draft", _after_draft)
    builder.add_edge("budget_gate", "send")
    builder.add_edge("send", "check_late")
    builder.add_conditional_edges("check_late", _after_check_late)
    builder.add_edge("escalation_gate", "resolve_late")
    builder.add_edge("resolve_late", "report")
    builder.add_edge("receive", "report")
    builder.add_edge("report", END)
    return builder


def _after_intake(state: SupplyChainState) -> Literal["receive", "find_needs"]:
    return "receive" if state.get("mode") == "receive" else "find_needs"


def _after_draft(state: SupplyChainState) -> Literal["budget_gate", "check_late"]:
    if state.get("dry_run") or not state.get("orders"):
        return "check_late"
    return "budget_gate"


def _after_check_late(state: SupplyChainState) -> Literal["escalation_gate", "report"]:
    return "escalation_gate" if nodes.escalation_reason(state) else "report"


def _writer(node: Any, services: Services) -> Any:
    def run(
        state: SupplyChainState, config: RunnableConfig, runtime: Runtime[RunContext]
    ) -> dict[str, Any]:
        return dict(node(state, config, runtime, services=services))

    run.__name__ = node.__name__
    return run
