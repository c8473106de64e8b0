"""The LangChain and CrewAI adapters, and the lazy crewai import."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from orchestrator.errors import ApprovalRequired
from orchestrator.tools import as_langchain_tools, default_catalog


def test_import_does_not_load_crewai() -> None:
    code = "import sys, orchestrator.tools; print('crewai' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout.strip()
    assert out == "False"


def _in_graph(tools: list[Any], calls: list[dict[str, Any]], context: Any) -> dict[str, str]:
    """Run tool calls through a ToolNode in a graph with `context`; {call id: reply}."""
    from langchain_core.messages import AIMessage
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END, START, MessagesState, StateGraph
    from langgraph.prebuilt import ToolNode

    from orchestrator.runtime import RunContext

    builder = StateGraph(MessagesState, context_schema=RunContext)
    builder.add_node("tools", ToolNode(tools))
    builder.add_edge(START, "tools")
    builder.add_edge("tools", END)
    graph = builder.compile(checkpointer=InMemorySaver())
    out = graph.invoke(
        {"messages": [AIMessage(content="", tool_calls=calls)]},
        {"configurable": {"thread_id": "adapters"}},
        context=context,
    )
    if "__interrupt__" in out:
        return {"__interrupt__": out["__interrupt__"][0].value}
    return {m.tool_call_id: m.content for m in out["messages"] if m.type == "tool"}


def _call(name: str, args: dict[str, Any], call_id: str) -> dict[str, Any]:
    return {"name": name, "args": args, "id": call_id, "type": "tool_call"}


def test_langchain_tools_for_a_profile(shop: Any) -> None:
    tools = {t.name: t for t in as_langchain_tools("support", service=shop.svc)}
    assert set(tools) == default_catalog().profile("support").allowed
    info = tools["get_product_info"]
    assert info.description.startswith("Get one product's details")
    assert set(info.args) == {"sku"}
    assert "SKU" in info.args["sku"]["description"]
    assert "customer_id" not in tools["get_customer_orders"].args
    assert "runtime" not in tools["get_customer_orders"].args
    staff = {t.name: t for t in as_langchain_tools("inventory", service=shop.svc)}
    out = json.loads(staff["get_product_info"].invoke({"sku": "ARD-UNO-R3"}))
    assert out["sku"] == "ARD-UNO-R3" and out["available_units"] == 48


def test_langchain_errors_go_back_to_the_model(shop: Any) -> None:
    from orchestrator.runtime import RunContext

    theirs = shop.order(shop.customer_b, [("ARD-NANO", 1)])
    shipped = shop.order(shop.customer_a, [("ARD-NANO", 1)], ship=True)
    tools = as_langchain_tools("support", service=shop.svc)
    ada = RunContext(actor="web", customer_id=shop.customer_a)
    replies = _in_graph(
        tools,
        [
            _call("get_order_status", {"order_id": "ORD-1"}, "bad"),
            _call("get_product_info", {"sku": "NOPE-9"}, "missing"),
            _call("get_order_status", {"order_id": theirs}, "theirs"),
        ],
        ada,
    )
    assert replies["bad"].startswith("error: InvalidInput") and "order_id='ORD-1'" in replies["bad"]
    assert replies["missing"].startswith("error: UnknownSku") and "'NOPE-9'" in replies["missing"]
    assert replies["theirs"].startswith("error: NotFound")
    paused = _in_graph(
        tools, [_call("cancel_order", {"order_id": shipped, "reason": "lost in post"}, "c")], ada
    )
    assert paused["__interrupt__"]["kind"] == "approval_required"
    # Outside a graph there is no run to pause: ApprovalRequired propagates.
    with pytest.raises(ApprovalRequired):
        staff = {t.name: t for t in as_langchain_tools("order", service=shop.svc)}
        staff["cancel_order"].invoke({"order_id": shipped, "reason": "lost in post"})


def test_langchain_tool_call_message(shop: Any) -> None:
    [tool] = [
        t for t in as_langchain_tools("inventory", service=shop.svc) if t.name == "get_inventory"
    ]
    msg = tool.invoke(
        {"type": "tool_call", "id": "call-1", "name": "get_inventory", "args": {"sku": "ARD-NANO"}}
    )
    assert msg.tool_call_id == "call-1"
    assert json.loads(msg.content)["total_on_hand"] == 30


def test_a_model_cannot_forge_the_injected_runtime(shop: Any) -> None:
    """A `runtime` key in the model's arguments is refused, never used as the run context."""
    from orchestrator.runtime import RunContext

    theirs = shop.order(shop.customer_b, [("ARD-NANO", 1)])
    replies = _in_graph(
        as_langchain_tools("support", service=shop.svc),
        [
            _call(
                "get_order_status",
                {"order_id": theirs, "runtime": {"context": {"customer_id": shop.customer_b}}},
                "forged",
            )
        ],
        RunContext(actor="web", customer_id=shop.customer_a),
    )
    assert replies["forged"].startswith("error:")
    assert f'"id":{theirs}' not in replies["forged"]


@pytest.mark.slow
def test_crewai_tools(shop: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREWAI_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    from crewai.tools import BaseTool

    from orchestrator.tools import as_crewai_tools

    tools = {t.name: t for t in as_crewai_tools(shop.ctx("analyst"))}
    assert set(tools) == set(default_catalog().read_tools())
    inv = tools["get_inventory"]
    assert isinstance(inv, BaseTool)
    assert inv.args_schema.model_json_schema()["properties"]["sku"]["description"]
    assert json.loads(inv.run(sku="ARD-NANO"))["total_on_hand"] == 30
    assert tools["get_product_info"].run(sku="NOPE-3").startswith("error: UnknownSku")
