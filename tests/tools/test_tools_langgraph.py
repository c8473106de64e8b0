"""In a LangGraph graph: ApprovalRequired becomes interrupt(), and the re-run node replays."""

from __future__ import annotations

from typing import Annotated, Any, TypedDict

from langchain_core.messages import AIMessage, AnyMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.prebuilt import ToolNode
from langgraph.types import Command, interrupt

from orchestrator.errors import ApprovalRequired
from orchestrator.store.services import Actor
from orchestrator.tools import ToolContext, as_langchain_tools

SMALL = {"sku": "PSU-12V", "location": "WH-MAIN", "delta": -2, "reason": "two damaged"}
BIG = {"sku": "ESP32-DEV", "location": "WH-MAIN", "delta": -60, "reason": "flooded shelf"}


class State(TypedDict, total=False):
    on_hand: int


class Msgs(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]


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


def _tool_node_graph(shop: Any, ctx_factory: Any) -> Any:
    def tools_node(state: Msgs, config: RunnableConfig) -> Any:
        ctx = ctx_factory(config)
        node = ToolNode(as_langchain_tools(ctx, on_approval="interrupt"))
        return node.invoke(state, config)

    builder = StateGraph(Msgs)
    builder.add_node("tools", tools_node)
    builder.add_edge(START, "tools")
    builder.add_edge("tools", END)
    return builder.compile(checkpointer=InMemorySaver())


def test_tool_node_interrupts_for_approval(shop: Any) -> None:
    graph = _tool_node_graph(
        shop, lambda config: ToolContext.from_config(config, service=shop.svc, agent="auditor")
    )
    call = {"name": "adjust_quantity", "args": BIG, "id": "call-1", "type": "tool_call"}
    config: RunnableConfig = {"configurable": {"thread_id": "tn-1"}}
    first = graph.invoke({"messages": [AIMessage(content="", tool_calls=[call])]}, config)
    [pending] = first["__interrupt__"]
    assert pending.value["kind"] == "approval_required"
    assert pending.value["arguments"]["delta"] == -60
    approval_id = pending.value["approval_id"]
    shop.svc.decide_approval(approval_id, approve=True, actor=Actor("manager"))
    done = graph.invoke(Command(resume={"approval_id": approval_id}), config)
    reply = done["messages"][-1]
    assert reply.tool_call_id == "call-1"
    assert '"on_hand":40' in reply.content


def test_tool_node_rejection_is_told_to_the_model(shop: Any) -> None:
    graph = _tool_node_graph(
        shop, lambda config: ToolContext.from_config(config, service=shop.svc, agent="auditor")
    )
    call = {"name": "adjust_quantity", "args": BIG, "id": "call-2", "type": "tool_call"}
    config: RunnableConfig = {"configurable": {"thread_id": "tn-2"}}
    first = graph.invoke({"messages": [AIMessage(content="", tool_calls=[call])]}, config)
    approval_id = first["__interrupt__"][0].value["approval_id"]
    shop.svc.decide_approval(approval_id, approve=False, actor=Actor("manager"), note="recount")
    done = graph.invoke(Command(resume={"approved": False, "note": "recount first"}), config)
    assert done["messages"][-1].content == (
        "error: ApprovalRejected: a human declined adjust_quantity: recount first"
    )
    assert shop.svc.get_stock("ESP32-DEV", "WH-MAIN")[0].on_hand == 100
