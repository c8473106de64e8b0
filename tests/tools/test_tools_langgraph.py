"""In a LangGraph graph: ApprovalRequired becomes interrupt(), and the re-run node replays."""

from __future__ import annotations

from typing import Any, TypedDict

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt

from orchestrator.errors import ApprovalRequired
from orchestrator.store.services import Actor
from orchestrator.tools import ToolContext

SMALL = {"sku": "PSU-12V", "location": "WH-MAIN", "delta": -2, "reason": "two damaged"}
BIG = {"sku": "ESP32-DEV", "location": "WH-MAIN", "delta": -60, "reason": "flooded shelf"}


class State(TypedDict, total=False):
    on_hand: int


def test_interrupt_resume_replays_earlier_writes(shop: Any) -> None:
    def count(state: State, config: RunnableConfig) -> State:
        ctx = ToolContext.from_config(config, service=shop.svc, agent="inventory")
        assert (ctx.thread_id, ctx.node) == ("graph-1", "count")
        shop.invoke(ctx, "adjust_quantity", SMALL)
        try:
            after = shop.invoke(ctx, "adjust_quantity", BIG)
        except ApprovalRequired as exc:
            decision = interrupt(
                {
                    "tool": exc.tool,
                    "arguments": exc.arguments,
                    "reason": exc.reason,
                    "approval_id": exc.approval_id,
                }
            )
            after = shop.runner.invoke(
                ctx, "adjust_quantity", BIG, approval_id=decision["approval_id"]
            )
        return {"on_hand": after.on_hand}

    builder = StateGraph(State)
    builder.add_node("count", count)
    builder.add_edge(START, "count")
    builder.add_edge("count", END)
    graph = builder.compile(checkpointer=InMemorySaver())
    config: RunnableConfig = {"configurable": {"thread_id": "graph-1"}}
    ledger = shop.ledger_rows()

    first = graph.invoke({}, config)
    [pending] = first["__interrupt__"]
    assert pending.value["tool"] == "adjust_quantity"
    assert pending.value["arguments"]["delta"] == -60
    assert shop.ledger_rows() == ledger + 1  # the small adjustment only

    approval_id = pending.value["approval_id"]
    shop.svc.decide_approval(approval_id, approve=True, actor=Actor("manager"))
    done = graph.invoke(Command(resume={"approval_id": approval_id}), config)
    assert done["on_hand"] == 40
    # The node ran twice; the small adjustment replayed instead of happening again.
    assert shop.ledger_rows() == ledger + 2
    assert shop.svc.get_stock("PSU-12V", "WH-MAIN")[0].on_hand == 8
