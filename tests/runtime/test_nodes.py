"""The runtime's building blocks: proposals with fallbacks (sync and async), choose_tool as a
ToolNode call, the approval gate, the tools router, and settings that stay where they belong."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

import pytest
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.prebuilt import ToolNode
from pydantic import BaseModel
from typing_extensions import TypedDict

from orchestrator.backends import Capabilities, achoose_tool, choose_tool
from orchestrator.backends.none import NoModel
from orchestrator.errors import BackendUnavailable
from orchestrator.runtime import (
    RunContext,
    Services,
    approval_gate,
    apropose,
    propose,
    route_tools,
    structured_node,
)
from orchestrator.testing import ScriptedModel, TestShop

PROTOCOL = Capabilities(native_tools=False, json_schema=True, json_mode=True)


class Intent(BaseModel):
    intent: str
    order_id: int | None = None


def test_propose_uses_the_model_and_falls_back_on_backend_errors() -> None:
    good = ScriptedModel(responses=[json.dumps({"intent": "status", "order_id": 4})])
    proposal = propose(good, "where is order 4", Intent, fallback=lambda: Intent(intent="rules"))
    assert (proposal.source, proposal.value.order_id) == ("model", 4)
    broken = ScriptedModel(responses=["not json", "still not json"] * 2)
    fell = propose(broken, "x", Intent, fallback=lambda: Intent(intent="rules"))
    assert (fell.source, fell.value.intent) == ("fallback", "rules")
    assert fell.error and "StructuredOutputError" in fell.error
    none = propose(NoModel(), "x", Intent, fallback=lambda: Intent(intent="rules"))
    assert none.source == "fallback" and "BackendUnavailable" in (none.error or "")
    down = ScriptedModel(responses=[BackendUnavailable("server down")])
    assert propose(down, "x", Intent, fallback=lambda: Intent(intent="r")).source == "fallback"


def test_apropose_and_the_async_structured_node() -> None:
    model = ScriptedModel(responses=[json.dumps({"intent": "a"}), json.dumps({"intent": "b"})])
    proposal = asyncio.run(apropose(model, "x", Intent, fallback=lambda: Intent(intent="r")))
    assert (proposal.source, proposal.value.intent) == ("model", "a")
    node = structured_node(
        model,
        Intent,
        prompt=lambda s: s["message"],
        fallback=lambda s: Intent(intent="rules"),
        key="intent",
    )
    out = asyncio.run(node.ainvoke({"message": "hi"}))
    assert out["intent"].intent == "b" and out["intent_source"] == "model"
    broken = structured_node(
        ScriptedModel(responses=[BackendUnavailable("down")]),
        Intent,
        prompt=lambda s: s["message"],
        fallback=lambda s: Intent(intent="rules"),
        key="intent",
    )
    assert broken.invoke({"message": "hi"}) == {
        "intent": Intent(intent="rules"),
        "intent_source": "fallback",
    }


class Msgs(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]


def test_a_protocol_choice_becomes_a_tool_call_a_tool_node_runs(shop: TestShop) -> None:
    """A model without native tool calls (SmolLM2) still drives a ToolNode, through code."""
    services = Services.for_store(shop.service)
    tools = services.tools("inventory")
    sku = shop.skus[0]
    reply = json.dumps({"tool": "get_inventory", "args": {"sku": sku}})
    model = ScriptedModel(responses=[reply, reply], capabilities=PROTOCOL)
    choice = choose_tool(model, "how many do we have?", tools)
    assert (choice.name, choice.via) == ("get_inventory", "protocol")
    same = asyncio.run(achoose_tool(model, "again?", tools))
    assert same.args == choice.args
    message = choice.as_message()
    assert message.tool_calls[0]["id"].startswith("call_")

    builder = StateGraph(Msgs, context_schema=RunContext)
    builder.add_node("tools", ToolNode(tools))
    builder.add_edge(START, "tools")
    builder.add_edge("tools", END)
    graph = builder.compile(checkpointer=InMemorySaver())
    out = graph.invoke(
        {"messages": [HumanMessage("stock?"), message]},
        {"configurable": {"thread_id": "choice"}},
        context=RunContext(actor="ann"),
    )
    assert json.loads(out["messages"][-1].content)["sku"] == sku


def test_route_tools() -> None:
    route = route_tools(max_calls=2, over="escalate", done="reply")
    call = {"name": "t", "args": {}, "id": "1"}
    assert route({"messages": [HumanMessage("hi"), AIMessage("hello")]}) == "reply"
    one = AIMessage("", tool_calls=[call])
    assert route({"messages": [HumanMessage("hi"), one]}) == "tools"
    three = AIMessage("", tool_calls=[{**call, "id": str(i)} for i in range(3)])
    assert route({"messages": [HumanMessage("hi"), three]}) == "escalate"


class Release(TypedDict, total=False):
    order_value: int
    approval: dict[str, Any]


def _gate_graph(services: Services) -> Any:
    gate = approval_gate(
        "release_order",
        services=services,
        agent="order",
        needs=lambda s: (
            f"order value {s['order_value']} over 1000" if s["order_value"] > 1000 else None
        ),
        arguments=lambda s: {"order_value": s["order_value"]},
    )
    builder = StateGraph(Release, context_schema=RunContext)
    builder.add_node("gate", gate)
    builder.add_edge(START, "gate")
    builder.add_edge("gate", END)
    return builder.compile(checkpointer=InMemorySaver())


@pytest.mark.parametrize("decision", ["approve", "edit", "reject"])
def test_approval_gate(shop: TestShop, decision: str) -> None:
    from langgraph.types import Command

    from orchestrator.store.services import Actor

    services = Services.for_store(shop.service)
    graph = _gate_graph(services)
    ann = RunContext(actor="ann")
    config: RunnableConfig = {"configurable": {"thread_id": f"gate-{decision}"}}
    small = graph.invoke({"order_value": 10}, {"configurable": {"thread_id": "s"}}, context=ann)
    assert small["approval"] == {
        "approved": True,
        "arguments": {"order_value": 10},
        "approval_id": None,
    }
    first = graph.invoke({"order_value": 5000}, config, context=ann)
    request = first["__interrupt__"][0].value
    assert request["kind"] == "approval_required" and request["tool"] == "release_order"
    approval_id = request["approval_id"]
    edited = {"order_value": 900} if decision == "edit" else None
    shop.service.decide_approval(
        approval_id,
        approve=decision != "reject",
        arguments=edited,
        note="checked",
        actor=Actor("boss"),
    )
    done = graph.invoke(Command(resume=True), config, context=ann)["approval"]
    assert done["approval_id"] == approval_id
    assert done["approved"] is (decision != "reject")
    if decision == "edit":
        assert done["arguments"] == {"order_value": 900}
    if decision != "reject":
        assert shop.service.get_approval(approval_id).consumed_at is not None
    assert len(shop.service.approvals()) == 1


def test_library_objects_do_not_read_the_environment(
    shop: TestShop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the application's settings (Orchestrator, CLI, load_settings) read ORCH_*."""
    from orchestrator.store.services import StoreService

    monkeypatch.setenv("ORCH_APPROVALS__ADJUSTMENT_UNITS", "1")
    assert StoreService(shop.engine).settings.approvals.adjustment_units == 50
    assert shop.orchestrator().settings.approvals.adjustment_units == 50  # given settings
    from orchestrator import load_settings
    from orchestrator.runtime import Orchestrator

    url = shop.settings.store.url
    with Orchestrator(load_settings(store={"url": url})) as orch:
        assert orch.settings.approvals.adjustment_units == 1
