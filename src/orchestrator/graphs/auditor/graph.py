"""The auditor graph: find discrepancies, diagnose, fix, re-check, escalate, report.

```
START -> scan -> detect -> troubleshoot -> act -> validate -> troubleshoot (next case) ... -> report -> END
                                |                     |-> troubleshoot (same case, attempt < N)
                                |                     '-> escalate (N attempts failed)
                                '-> escalate (the plan is to hand it over) -> troubleshoot / report
```
One case (finding) at a time, each node checkpointed: a run killed anywhere resumes where it
stopped, and the fix it was making replays under the same keys. Writes are made as the
`auditor` agent profile; a fix above `approvals.adjustment_units` waits for a person.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from orchestrator.graphs.auditor import nodes
from orchestrator.graphs.auditor.state import AuditInput, AuditState
from orchestrator.runtime.context import RunContext
from orchestrator.runtime.deps import NodeModels, Services

__all__ = ["build_auditor_graph"]


def build_auditor_graph(
    *,
    models: NodeModels | None = None,
    services: Services,
    use_model: bool = True,
    **_: Any,
) -> StateGraph[AuditState, RunContext, AuditInput, AuditState]:
    """The auditor graph, uncompiled.

    Args:
        models: the nodes' models: `troubleshoot` proposes a cause and a fix.
        services: the store, the tool runner (the `auditor` profile) and the settings
            (`settings.auditor.max_attempts`, read when built).
        use_model: False runs the deterministic playbooks only.

    Example:
        >>> with Orchestrator(settings) as orch:
        ...     result = orch.run("auditor", {"full": True}, context=RunContext(actor="auditor"))
        ...     print(result.values["report"])
    """
    model = models.for_node("troubleshoot") if (models is not None and use_model) else None
    budget = nodes.step_budget(services)
    builder = StateGraph(AuditState, context_schema=RunContext, input_schema=AuditInput)
    builder.add_node("scan", _counted(partial(nodes.scan, services=services)))
    builder.add_node("detect", _counted(partial(nodes.detect, services=services)))
    builder.add_node(
        "troubleshoot", _with_config(nodes.troubleshoot, services=services, model=model)
    )
    builder.add_node("act", _with_config(nodes.act, services=services))
    builder.add_node("validate", _with_runtime(nodes.validate, services=services))
    builder.add_node("escalate", _with_config(nodes.escalate, services=services))
    builder.add_node("report", _with_config(nodes.report))
    builder.add_edge(START, "scan")
    builder.add_edge("scan", "detect")
    builder.add_conditional_edges("detect", partial(nodes.next_case, budget=budget))
    builder.add_conditional_edges("troubleshoot", partial(nodes.after_troubleshoot, budget=budget))
    builder.add_edge("act", "validate")
    builder.add_conditional_edges("validate", partial(nodes.after_validate, budget=budget))
    builder.add_conditional_edges("escalate", partial(nodes.next_case, budget=budget))
    builder.add_edge("report", END)
    return builder


def _counted(node: Any) -> Any:
    def run(state: AuditState) -> dict[str, Any]:
        return {**node(state), "steps": 1}

    return run


def _with_config(node: Any, **bound: Any) -> Any:
    def run(
        state: AuditState, config: RunnableConfig, runtime: Runtime[RunContext]
    ) -> dict[str, Any]:
        return {**node(state, config, runtime, **bound), "steps": 1}

    run.__name__ = node.__name__
    return run


def _with_runtime(node: Any, **bound: Any) -> Any:
    def run(state: AuditState, runtime: Runtime[RunContext]) -> dict[str, Any]:
        return {**node(state, runtime, **bound), "steps": 1}

    run.__name__ = node.__name__
    return run
