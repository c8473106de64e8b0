"""Run-agnostic tools in LangGraph graphs: keys from the run, approvals that round-trip.

The tools are built once (`as_langchain_tools(profile, service=...)`) and read the run
context, thread, checkpoint namespace and tool-call id when called; `ToolNode(tools)` is built
with the graph. An approval belongs to the call that asked for it: resuming after a decision
consumes it, so one decision is one write and no second approval is ever recorded.
"""

from __future__ import annotations

from typing import Annotated, Any, TypedDict

import pytest
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.prebuilt import ToolNode
from langgraph.runtime import Runtime
from langgraph.types import Command

from orchestrator.errors import ConfigError
from orchestrator.runtime import RunContext, Services, tool_node
from orchestrator.store.models import Approval, AuditLog
from orchestrator.store.services import Actor
from orchestrator.tools import ToolContext, as_langchain_tools

BIG = {"sku": "ESP32-DEV", "location": "WH-MAIN", "delta": -60, "reason": "flooded shelf"}
ONE = {"sku": "PSU-12V", "location": "WH-MAIN", "delta": -1, "reason": "damaged"}
MANAGER = Actor("manager")
STAFF = RunContext(actor="ann")


class Msgs(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]


def _call(name: str, args: dict[str, Any], call_id: str) -> dict[str, Any]:
    return {"name": name, "args": args, "id": call_id, "type": "tool_call"}


def _tool_graph(
    tools: list[Any], *, checkpointer: Any = None, crash: dict[str, int] | None = None
) -> Any:
    """START -> tools -> after -> END; `after` raises while crash["times"] > 0."""

    def after(state: Msgs) -> dict[str, Any]:
        if crash and crash["times"] > 0:
            crash["times"] -= 1
            raise RuntimeError("process died after the tools ran")
        return {}

    builder = StateGraph(Msgs, context_schema=RunContext)
    builder.add_node("tools", ToolNode(tools))
    builder.add_node("after", after)
    builder.add_edge(START, "tools")
    builder.add_edge("tools", "after")
    builder.add_edge("after", END)
    return builder.compile(checkpointer=checkpointer or InMemorySaver())


def _ask(*calls: dict[str, Any]) -> dict[str, Any]:
    return {"messages": [HumanMessage("go"), AIMessage(content="", tool_calls=list(calls))]}


def test_two_identical_calls_in_one_thread_are_two_writes(shop: Any) -> None:
    tools = as_langchain_tools("inventory", service=shop.svc)
    graph = _tool_graph(tools)
    ledger = shop.ledger_rows()
    config: RunnableConfig = {"configurable": {"thread_id": "t-x"}}
    graph.invoke(_ask(_call("adjust_quantity", ONE, "c1")), config, context=STAFF)
    graph.invoke(_ask(_call("adjust_quantity", ONE, "c2")), config, context=STAFF)
    assert shop.ledger_rows() == ledger + 2
    assert shop.svc.get_stock("PSU-12V", "WH-MAIN")[0].on_hand == 8


def test_a_node_rerun_after_a_crash_replays(shop: Any) -> None:
    """The tools node dies after two writes, before its checkpoint: its re-run replays them."""
    from langchain_core.tools import tool

    crash = {"times": 1}

    @tool
    def flaky_probe(shelf: str) -> str:
        """A tool whose process dies the first time it runs.

        Args:
            shelf: which shelf.
        """
        if crash["times"] > 0:
            crash["times"] -= 1
            raise RuntimeError("process died mid-node")
        return f"{shelf} ok"

    tools = [*as_langchain_tools("inventory", service=shop.svc), flaky_probe]
    builder = StateGraph(Msgs, context_schema=RunContext)
    builder.add_node("tools", ToolNode(tools))
    builder.add_edge(START, "tools")
    builder.add_edge("tools", END)
    graph = builder.compile(checkpointer=InMemorySaver())
    config: RunnableConfig = {"configurable": {"thread_id": "t-crash"}}
    ledger = shop.ledger_rows()
    with pytest.raises(RuntimeError, match="process died"):
        graph.invoke(
            _ask(
                _call("adjust_quantity", ONE, "c1"),
                _call("adjust_quantity", ONE, "c2"),
                _call("flaky_probe", {"shelf": "A3"}, "c3"),
            ),
            config,
            context=STAFF,
            durability="sync",
        )
    assert shop.ledger_rows() == ledger + 2  # both writes happened before the crash
    done = graph.invoke(None, config, context=STAFF, durability="sync")  # the node re-runs
    assert done["messages"][-1].content == "A3 ok"
    assert shop.ledger_rows() == ledger + 2
    outcomes = sorted(
        (a.tool_call_id or "", a.outcome) for a in shop.audit_rows(AuditLog.thread_id == "t-crash")
    )
    assert outcomes == [("c1", "ok"), ("c1", "replayed"), ("c2", "ok"), ("c2", "replayed")]


def test_subgraphs_with_a_node_of_the_same_name_do_not_collide(shop: Any) -> None:
    tools = as_langchain_tools("inventory", service=shop.svc)

    def sub(name: str) -> Any:
        builder = StateGraph(Msgs, context_schema=RunContext)
        builder.add_node("count", ToolNode(tools))
        builder.add_edge(START, "count")
        builder.add_edge("count", END)
        return builder.compile()

    parent = StateGraph(Msgs, context_schema=RunContext)
    parent.add_node("first", sub("first"))
    parent.add_node("second", sub("second"))
    parent.add_edge(START, "first")
    parent.add_edge("first", "second")
    parent.add_edge("second", END)
    graph = parent.compile(checkpointer=InMemorySaver())
    ledger = shop.ledger_rows()
    # Both subgraphs run the same message (same tool-call id): the namespace tells them apart.
    graph.invoke(
        _ask(_call("adjust_quantity", ONE, "same-id")),
        {"configurable": {"thread_id": "t-sub"}},
        context=STAFF,
    )
    assert shop.ledger_rows() == ledger + 2


def test_approve_then_resume_through_a_tool_node_is_one_approval_one_write(shop: Any) -> None:
    graph = _tool_graph(as_langchain_tools("auditor", service=shop.svc))
    config: RunnableConfig = {"configurable": {"thread_id": "tn-1"}}
    ledger = shop.ledger_rows()
    first = graph.invoke(_ask(_call("adjust_quantity", BIG, "call-1")), config, context=STAFF)
    [pending] = first["__interrupt__"]
    assert pending.value["kind"] == "approval_required"
    assert pending.value["arguments"] == BIG
    approval_id = pending.value["approval_id"]
    approval = shop.svc.get_approval(approval_id)
    assert (approval.thread_id, approval.tool_call_id) == ("tn-1", "call-1")
    assert approval.checkpoint_ns and approval.checkpoint_ns.startswith("tools:")

    shop.svc.decide_approval(approval_id, approve=True, actor=MANAGER)
    done = graph.invoke(Command(resume={"approval_id": approval_id}), config, context=STAFF)
    assert '"on_hand":40' in done["messages"][-1].content
    assert shop.ledger_rows() == ledger + 1
    assert shop.count(Approval) == 1  # the re-run found its own approval: no phantom
    assert shop.svc.get_approval(approval_id).consumed_at is not None
    assert shop.svc.pending_approvals() == []


def test_an_edit_is_performed_with_the_approved_arguments(shop: Any) -> None:
    graph = _tool_graph(as_langchain_tools("auditor", service=shop.svc))
    config: RunnableConfig = {"configurable": {"thread_id": "tn-edit"}}
    first = graph.invoke(_ask(_call("adjust_quantity", BIG, "call-e")), config, context=STAFF)
    approval_id = first["__interrupt__"][0].value["approval_id"]
    shop.svc.decide_approval(
        approval_id, approve=True, arguments={**BIG, "delta": -55}, actor=MANAGER
    )
    graph.invoke(Command(resume=True), config, context=STAFF)
    assert shop.svc.get_stock("ESP32-DEV", "WH-MAIN")[0].on_hand == 45
    # Edited below the threshold: it needed no approval any more, yet the decision is used up.
    assert shop.svc.get_approval(approval_id).consumed_at is not None
    assert shop.count(Approval) == 1


def test_a_rejection_is_told_to_the_model(shop: Any) -> None:
    graph = _tool_graph(as_langchain_tools("auditor", service=shop.svc))
    config: RunnableConfig = {"configurable": {"thread_id": "tn-2"}}
    first = graph.invoke(_ask(_call("adjust_quantity", BIG, "call-2")), config, context=STAFF)
    approval_id = first["__interrupt__"][0].value["approval_id"]
    shop.svc.decide_approval(approval_id, approve=False, actor=MANAGER, note="recount first")
    done = graph.invoke(Command(resume={"decision": "reject"}), config, context=STAFF)
    reply = done["messages"][-1].content
    assert reply.startswith("error: ApprovalRejected")
    assert "rejected by manager: recount first" in reply
    assert shop.svc.get_stock("ESP32-DEV", "WH-MAIN")[0].on_hand == 100
    assert shop.count(Approval) == 1


def test_a_resume_value_is_not_a_decision(shop: Any) -> None:
    """Whoever can resume a thread cannot approve its writes: only a recorded decision counts."""
    graph = _tool_graph(as_langchain_tools("auditor", service=shop.svc))
    config: RunnableConfig = {"configurable": {"thread_id": "tn-forged"}}
    first = graph.invoke(_ask(_call("adjust_quantity", BIG, "call-f")), config, context=STAFF)
    approval_id = first["__interrupt__"][0].value["approval_id"]
    again = graph.invoke(
        Command(resume={"approval_id": approval_id, "decision": "approve"}), config, context=STAFF
    )
    assert again["__interrupt__"][0].value["approval_id"] == approval_id
    assert shop.svc.get_stock("ESP32-DEV", "WH-MAIN")[0].on_hand == 100
    assert shop.count(Approval) == 1


def test_approve_then_resume_through_a_plain_node(shop: Any) -> None:
    services = Services.for_store(shop.svc)

    def count(state: Msgs, config: RunnableConfig, runtime: Runtime[RunContext]) -> dict[str, Any]:
        ctx = services.node_context(config, runtime.context, agent="inventory")
        services.invoke(ctx, "adjust_quantity", ONE)  # step-1: no approval needed
        after = services.invoke(ctx, "adjust_quantity", BIG)  # step-2: waits for a person
        return {"messages": [AIMessage(content=f"on hand {after.on_hand}")]}

    builder = StateGraph(Msgs, context_schema=RunContext)
    builder.add_node("count", count)
    builder.add_edge(START, "count")
    builder.add_edge("count", END)
    graph = builder.compile(checkpointer=InMemorySaver())
    config: RunnableConfig = {"configurable": {"thread_id": "plain-1"}}
    ledger = shop.ledger_rows()
    first = graph.invoke({"messages": []}, config, context=STAFF)
    approval_id = first["__interrupt__"][0].value["approval_id"]
    assert shop.ledger_rows() == ledger + 1
    # Re-asking while pending (a resume before the decision) records nothing new.
    waiting = graph.invoke(Command(resume="too early"), config, context=STAFF)
    assert waiting["__interrupt__"][0].value["approval_id"] == approval_id
    shop.svc.decide_approval(approval_id, approve=True, actor=MANAGER)
    done = graph.invoke(Command(resume="decided"), config, context=STAFF)
    assert done["messages"][-1].content == "on hand 40"
    assert shop.ledger_rows() == ledger + 2  # the first adjustment replayed
    assert shop.count(Approval) == 1


def test_a_graph_write_without_a_thread_id_is_a_config_error(shop: Any) -> None:
    builder = StateGraph(Msgs, context_schema=RunContext)
    builder.add_node("tools", ToolNode(as_langchain_tools("inventory", service=shop.svc)))
    builder.add_edge(START, "tools")
    builder.add_edge("tools", END)
    graph = builder.compile()  # no checkpointer, no thread id
    with pytest.raises(ConfigError, match="thread id"):
        graph.invoke(_ask(_call("adjust_quantity", ONE, "c1")), context=STAFF)
    assert shop.svc.get_stock("PSU-12V", "WH-MAIN")[0].on_hand == 10


def test_customer_scope_comes_from_the_run_context(shop: Any) -> None:
    theirs = shop.order(shop.customer_b, [("ARD-NANO", 1)])
    mine = shop.order(shop.customer_a, [("ARD-NANO", 1)])
    graph = _tool_graph(as_langchain_tools("support", service=shop.svc))
    ada = RunContext(actor="web", customer_id=shop.customer_a)
    out = graph.invoke(
        _ask(
            _call("get_order_status", {"order_id": theirs}, "c1"),
            _call("get_order_status", {"order_id": mine}, "c2"),
            _call("get_order_status", {"order_id": 10**9}, "c3"),
        ),
        {"configurable": {"thread_id": "cust"}},
        context=ada,
    )
    replies = {m.tool_call_id: m.content for m in out["messages"] if m.type == "tool"}
    # Another customer's order reads exactly like a missing one (no existence oracle) ...
    assert replies["c1"].replace(str(theirs), "N") == replies["c3"].replace(str(10**9), "N")
    assert replies["c1"].startswith("error: NotFound")
    assert f'"id":{mine}' in replies["c2"]
    # ... and the audit log keeps the difference.
    [denied] = shop.audit_rows(AuditLog.outcome == "denied")
    assert denied.tool_call_id == "c1" and "another customer" in (denied.error or "")
    # Without a customer in the context, the customer-facing profile refuses everything.
    anon = graph.invoke(
        _ask(_call("get_order_status", {"order_id": mine}, "c4")),
        {"configurable": {"thread_id": "anon"}},
        context=STAFF,
    )
    assert anon["messages"][-1].content.startswith("error: PermissionDenied")


def test_tool_node_caps_calls_per_turn(shop: Any) -> None:
    node = tool_node(as_langchain_tools("inventory", service=shop.svc), max_calls=2)
    builder = StateGraph(Msgs, context_schema=RunContext)
    builder.add_node("tools", node)
    builder.add_edge(START, "tools")
    builder.add_edge("tools", END)
    graph = builder.compile(checkpointer=InMemorySaver())
    calls = [_call("adjust_quantity", ONE, f"c{i}") for i in range(4)]
    out = graph.invoke(_ask(*calls), {"configurable": {"thread_id": "cap"}}, context=STAFF)
    replies = [m.content for m in out["messages"] if m.type == "tool"]
    assert sum(r.startswith("error: ToolLimit") for r in replies) == 2
    assert shop.svc.get_stock("PSU-12V", "WH-MAIN")[0].on_hand == 8


def test_tools_are_built_once_and_bound_to_no_run(shop: Any) -> None:
    tools = as_langchain_tools("inventory", service=shop.svc)
    assert all("runtime" not in t.tool_call_schema.model_json_schema()["properties"] for t in tools)
    g1 = _tool_graph(tools)
    g2 = _tool_graph(tools)
    g1.invoke(
        _ask(_call("adjust_quantity", ONE, "c1")),
        {"configurable": {"thread_id": "a"}},
        context=RunContext(actor="ann"),
    )
    g2.invoke(
        _ask(_call("adjust_quantity", ONE, "c1")),
        {"configurable": {"thread_id": "b"}},
        context=RunContext(actor="bob"),
    )
    actors = sorted(r.actor for r in shop.audit_rows(AuditLog.operation == "adjust_quantity"))
    assert actors == ["ann", "bob"]
    with pytest.raises(ConfigError):
        ToolContext.for_node({}, object(), service=shop.svc, agent="inventory")
