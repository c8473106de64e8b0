"""A worker process for the durability tests: runs a two-write graph and can die on purpose.

    DURABLE_KILL_AT=first|third|waiting python durable_worker.py URL start|resume THREAD

The graph (`two_writes`): first (adjust +1, no approval) -> second (adjust +60: waits for a
person's approval) -> third (adjust +1) -> END. `DURABLE_KILL_AT=first|third` SIGKILLs the
process right after that node's write, before LangGraph checkpoints the node; `waiting`
SIGKILLs it once the run waits for the approval. It prints the run's status as JSON.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from typing_extensions import TypedDict

from orchestrator import load_settings
from orchestrator.runtime import NodeModels, Orchestrator, RunContext, Services

SKU_ENV = "DURABLE_SKU"
KILL_ENV = "DURABLE_KILL_AT"


class State(TypedDict, total=False):
    done: list[str]


def _die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def build_two_writes_graph(*, models: NodeModels, services: Services) -> Any:
    sku = os.environ[SKU_ENV]
    kill_at = os.environ.get(KILL_ENV, "")

    def write(name: str, delta: int) -> Any:
        def node(
            state: State, config: RunnableConfig, runtime: Runtime[RunContext]
        ) -> dict[str, Any]:
            ctx = services.node_context(config, runtime.context, agent="inventory")
            args = {"sku": sku, "location": "WH-MAIN", "delta": delta, "reason": name}
            services.invoke(ctx, "adjust_quantity", args, call_id=name)
            if kill_at == name:
                _die()
            return {"done": [*state.get("done", []), name]}

        return node

    builder = StateGraph(State, context_schema=RunContext)
    builder.add_node("first", write("first", 1))
    builder.add_node("second", write("second", 60))
    builder.add_node("third", write("third", 1))
    builder.add_edge(START, "first")
    builder.add_edge("first", "second")
    builder.add_edge("second", "third")
    builder.add_edge("third", END)
    return builder


def main() -> None:
    url, action, thread = sys.argv[1:4]
    kill_at = os.environ.get(KILL_ENV, "")
    # The graph is named in ORCH_RUNTIME__GRAPHS, so every process (the CLI too) knows it.
    with Orchestrator(load_settings(store={"url": url})) as orch:
        if action == "start":
            result = orch.run("two_writes", {"done": []}, context={"actor": "w"}, thread_id=thread)
        else:
            result = orch.resume(thread)
        print(json.dumps({"status": result.status, "approvals": result.approval_ids}))
        if kill_at == "waiting" and result.status == "waiting":
            _die()


if __name__ == "__main__":
    main()
