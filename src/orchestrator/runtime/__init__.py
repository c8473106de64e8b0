"""The runtime: one composition root (`Orchestrator`), the run context, graph building blocks.

```
Orchestrator(settings)        builds the store service, model router, tool runner,
                              checkpointer (SQLite by default, PostgreSQL by URL) and
                              long-term store; registers graphs; run / stream / resume / state
RunContext                    who a run acts for (the graphs' LangGraph context_schema)
NodeModels, Services          what a graph builder gets: a model per node, the services
perform_with_approval         ApprovalRequired -> interrupt() -> the decision -> the write
ApprovalRequest/Decision      the interrupt's value and a person's decision
tool_node, route_tools        a profile's ToolNode with a per-turn cap, and its edge
propose, structured_node      validated structured output with a deterministic fallback
approval_gate                 a node that waits for a person's decision
```

Example:
    >>> from orchestrator.runtime import Orchestrator, RunContext
    >>> with Orchestrator() as orch:
    ...     result = orch.run("cycle_count", {"counts": [...]}, context=RunContext(actor="ann"))
See docs/runtime.md.
"""

from __future__ import annotations

from orchestrator.runtime.checkpoint import checkpoint_url, open_checkpointer
from orchestrator.runtime.context import RunContext
from orchestrator.runtime.deps import NodeModels, Services
from orchestrator.runtime.nodes import (
    Proposal,
    approval_gate,
    apropose,
    calls_this_turn,
    propose,
    route_tools,
    structured_node,
    tool_node,
)
from orchestrator.runtime.orchestrator import (
    BUILTIN_GRAPHS,
    GraphBuilder,
    GraphSpec,
    Orchestrator,
    RunResult,
    RunState,
    StreamEvent,
)
from orchestrator.tools.approval import (
    ApprovalDecision,
    ApprovalRequest,
    in_graph_run,
    perform_with_approval,
)

__all__ = [
    "BUILTIN_GRAPHS",
    "ApprovalDecision",
    "ApprovalRequest",
    "GraphBuilder",
    "GraphSpec",
    "NodeModels",
    "Orchestrator",
    "Proposal",
    "RunContext",
    "RunResult",
    "RunState",
    "Services",
    "StreamEvent",
    "approval_gate",
    "apropose",
    "calls_this_turn",
    "checkpoint_url",
    "in_graph_run",
    "open_checkpointer",
    "perform_with_approval",
    "propose",
    "route_tools",
    "structured_node",
    "tool_node",
]
