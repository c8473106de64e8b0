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


def test_langchain_tools_for_a_profile(shop: Any) -> None:
    ctx = shop.ctx("support", customer_id=shop.customer_a)
    tools = {t.name: t for t in as_langchain_tools(ctx)}
    assert set(tools) == default_catalog().profile("support").allowed
    info = tools["get_product_info"]
    assert info.description.startswith("Get one product's details")
    assert set(info.args) == {"sku"}
    assert "SKU" in info.args["sku"]["description"]
    assert "customer_id" not in tools["get_customer_orders"].args
    out = json.loads(info.invoke({"sku": "ARD-UNO-R3"}))
    assert out["sku"] == "ARD-UNO-R3" and out["available_units"] == 48


def test_langchain_errors_go_back_to_the_model(shop: Any) -> None:
    theirs = shop.order(shop.customer_b, [("ARD-NANO", 1)])
    shipped = shop.order(shop.customer_a, [("ARD-NANO", 1)], ship=True)
    ctx = shop.ctx("support", customer_id=shop.customer_a)
    tools = {t.name: t for t in as_langchain_tools(ctx, "support")}
    bad = tools["get_order_status"].invoke({"order_id": "ORD-1"})
    assert bad.startswith("error: InvalidInput") and "order_id='ORD-1'" in bad
    missing = tools["get_product_info"].invoke({"sku": "NOPE-9"})
    assert missing.startswith("error: UnknownSku") and "'NOPE-9'" in missing
    denied = tools["get_order_status"].invoke({"order_id": theirs})
    assert denied.startswith("error: PermissionDenied")
    with pytest.raises(ApprovalRequired):
        tools["cancel_order"].invoke({"order_id": shipped, "reason": "lost in post"})


def test_langchain_tool_call_message(shop: Any) -> None:
    ctx = shop.ctx("inventory")
    [tool] = [t for t in as_langchain_tools(ctx) if t.name == "get_inventory"]
    msg = tool.invoke(
        {"type": "tool_call", "id": "call-1", "name": "get_inventory", "args": {"sku": "ARD-NANO"}}
    )
    assert msg.tool_call_id == "call-1"
    assert json.loads(msg.content)["total_on_hand"] == 30


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
