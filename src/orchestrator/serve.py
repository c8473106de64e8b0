"""The graphs for LangGraph's own server (`langgraph.json`), one factory per registered graph.

`langgraph dev --no-browser --port 8123` (or `langgraph up`) reads `langgraph.json` at the
repository root, whose `graphs` entries name attributes of this module:
`"support": "./src/orchestrator/serve.py:support"`. Every graph of the runtime's registry
(`BUILTIN_GRAPHS`, plus `ORCH_RUNTIME__GRAPHS`) is exported here under its own name by one
generic factory, so serving another graph needs one line in `langgraph.json` and no code.

The factory builds the graph once per server process with an `Orchestrator` made from the
environment (`ORCH_*`: the store, the models, the knowledge base) and compiles it without a
checkpointer or store: the server brings its own persistence (threads, checkpoints, the
long-term store). A run's `context` is the `RunContext` (`{"actor": ..., "customer_id": ...}`):
the code that authenticates a customer sets it, never the model.

Example request (a customer's message to the support graph):

    POST /runs/wait {"assistant_id": "support", "input": {"message": "where is order 42?"},
                     "context": {"actor": "customer:7", "customer_id": 7, "channel": "web"}}
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from orchestrator.runtime.orchestrator import BUILTIN_GRAPHS

__all__ = ["SERVED", "graph_factory", "orchestrator"]

_lock = threading.Lock()
_orch: Any = None
_graphs: dict[str, Any] = {}


def orchestrator() -> Any:
    """The process's `Orchestrator`, from the environment (made on first use)."""
    global _orch
    with _lock:
        if _orch is None:
            from orchestrator.runtime import Orchestrator

            _orch = Orchestrator()
        return _orch


def graph_factory(name: str) -> Callable[[], Any]:
    """A zero-argument factory for LangGraph's server: graph `name`, compiled once.

    Args:
        name: a graph of the runtime's registry (`Orchestrator.graphs()`).
    """

    def factory() -> Any:
        with _lock:
            cached = _graphs.get(name)
        if cached is not None:
            return cached
        orch = orchestrator()
        spec = orch._graphs.get(name)  # the registry, built-ins and ORCH_RUNTIME__GRAPHS
        if spec is None:
            from orchestrator.errors import ConfigError

            raise ConfigError(f"no graph named {name!r}; registered: {sorted(orch.graphs())}")
        builder = spec.load()(models=orch.node_models(name), services=orch.services, **spec.options)
        compiled = builder.compile(name=name)
        with _lock:
            _graphs[name] = compiled
        return compiled

    factory.__name__ = name
    factory.__doc__ = f"The `{name}` graph for LangGraph's server."
    return factory


SERVED: tuple[str, ...] = tuple(BUILTIN_GRAPHS)
"""The graphs this module exports (every built-in name; one not installed fails when loaded)."""

for _name in SERVED:
    globals()[_name] = graph_factory(_name)

__all__ += SERVED  # each registered graph's factory, by its name
