"""The structured-output and tool-choice ladders, and the capability probe, on scripted models."""

from __future__ import annotations

import json
from typing import Literal

import httpx
import pytest
from langchain_core.messages import AIMessage
from langchain_core.tools import tool
from pydantic import BaseModel, Field

from orchestrator import BackendUnavailable, StructuredOutputError, ToolCallError
from orchestrator.backends import (
    BackendRejected,
    Capabilities,
    capabilities_of,
    choose_tool,
    clear_probe_cache,
    probe_backend,
    structured_output,
)
from orchestrator.testing import ScriptedModel

CONSTRAINED = Capabilities(native_tools=False, json_schema=True, json_mode=True)
JSON_MODE = Capabilities(native_tools=False, json_schema=False, json_mode=True)
BARE = Capabilities(native_tools=False, json_schema=False, json_mode=False)
NATIVE = Capabilities(native_tools=True, json_schema=True, json_mode=True)


class Intent(BaseModel):
    """A customer message's intent."""

    intent: Literal["order_status", "refund", "other"]
    urgent: bool = False


@tool
def get_stock(sku: str) -> str:
    """Look up the stock of one SKU.

    Args:
        sku: the product's SKU.
    """
    return f"{sku}: 4"


@tool
def cancel_order(order_id: int, reason: str) -> str:
    """Cancel an order.

    Args:
        order_id: the order's number.
        reason: why.
    """
    return "cancelled"


def test_constrained_decoding_sends_the_json_schema() -> None:
    model = ScriptedModel(
        responses=['{"intent": "refund", "urgent": true}'], capabilities=CONSTRAINED
    )
    result = structured_output(model, "I want my money back", Intent)
    assert result == Intent(intent="refund", urgent=True)
    fmt = model.calls[0].kwargs["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["name"] == "Intent"
    assert fmt["json_schema"]["schema"] == Intent.model_json_schema()


def test_json_mode_repairs_once_with_the_validation_errors() -> None:
    model = ScriptedModel(
        responses=['{"intent": "complaint"}', 'Sure! {"intent": "other"}'], capabilities=JSON_MODE
    )
    assert structured_output(model, "hm", Intent).intent == "other"
    assert [c.kwargs["response_format"] for c in model.calls] == [{"type": "json_object"}] * 2
    repair = model.calls[1].messages
    assert repair[-2].content == '{"intent": "complaint"}'
    assert "not valid" in str(repair[-1].content)
    assert "complaint" in str(repair[-1].content)


def test_bare_prompt_when_no_json_support() -> None:
    model = ScriptedModel(responses=['```json\n{"intent": "order_status"}\n```'], capabilities=BARE)
    assert structured_output(model, "where is it", Intent).intent == "order_status"
    assert "response_format" not in model.calls[0].kwargs


def test_two_invalid_replies_raise_structured_output_error() -> None:
    model = ScriptedModel(responses=["no idea", '{"intent": 3}'], capabilities=JSON_MODE)
    with pytest.raises(StructuredOutputError) as info:
        structured_output(model, "?", Intent)
    assert "Intent" in str(info.value)
    assert "no idea" in str(info.value)
    assert len(model.calls) == 2


def test_refused_json_schema_falls_back_to_json_mode() -> None:
    model = ScriptedModel(
        responses=[
            BackendRejected("http://x/v1", 400, "response_format not supported"),
            '{"intent": "other"}',
        ],
        capabilities=CONSTRAINED,
    )
    assert structured_output(model, "?", Intent).intent == "other"
    assert model.calls[1].kwargs["response_format"] == {"type": "json_object"}


def test_unreachable_backend_raises_backend_unavailable() -> None:
    caps = Capabilities(reachable=False, detail="no model server answers at http://127.0.0.1:9/v1")
    with pytest.raises(BackendUnavailable, match=r"127\.0\.0\.1:9"):
        structured_output(ScriptedModel(), "?", Intent, capabilities=caps)


def test_schema_instruction_is_in_the_system_message() -> None:
    model = ScriptedModel(responses=['{"intent": "other"}'], capabilities=CONSTRAINED)
    structured_output(model, [("system", "You route messages."), ("human", "hi")], Intent)
    sent = model.calls[0].messages
    assert sent[0].type == "system" and "JSON schema" in str(sent[0].content)
    assert [m.type for m in sent[1:]] == ["system", "human"]


def test_native_tool_call() -> None:
    call = {"name": "get_stock", "args": {"sku": "A1"}, "id": "c1"}
    model = ScriptedModel(responses=[AIMessage(content="", tool_calls=[call])], capabilities=NATIVE)
    choice = choose_tool(model, "stock of A1?", [get_stock, cancel_order])
    assert (choice.name, choice.args, choice.via, choice.call_id) == (
        "get_stock",
        {"sku": "A1"},
        "native",
        "c1",
    )
    assert [t.name for t in model.bound_tools] == ["get_stock", "cancel_order"]


def test_no_native_call_falls_back_to_the_text_protocol() -> None:
    model = ScriptedModel(
        responses=[
            "I think you should check stock",
            '{"tool": "get_stock", "args": {"sku": "B2"}}',
        ],
        capabilities=NATIVE,
    )
    choice = choose_tool(model, "stock of B2?", [get_stock, cancel_order])
    assert (choice.name, choice.args, choice.via) == ("get_stock", {"sku": "B2"}, "protocol")
    schema = model.calls[1].kwargs["response_format"]["json_schema"]["schema"]
    assert [b["properties"]["tool"]["const"] for b in schema["anyOf"]] == [
        "get_stock",
        "cancel_order",
    ]


def test_protocol_validates_arguments_and_repairs() -> None:
    model = ScriptedModel(
        responses=[
            '{"tool": "cancel_order", "args": {"order_id": "abc"}}',
            '{"tool": "cancel_order", "args": {"order_id": 7, "reason": "asked"}}',
        ],
        capabilities=CONSTRAINED,
    )
    choice = choose_tool(model, "cancel 7", [get_stock, cancel_order])
    assert choice.args == {"order_id": 7, "reason": "asked"}


def test_unknown_tool_twice_raises_tool_call_error() -> None:
    model = ScriptedModel(
        responses=['{"tool": "drop_table", "args": {}}', '{"tool": "rm", "args": {}}'],
        capabilities=JSON_MODE,
    )
    with pytest.raises(ToolCallError, match="drop_table"):
        choose_tool(model, "?", [get_stock])


def test_pydantic_models_work_as_tools() -> None:
    class Refund(BaseModel):
        """Refund an order."""

        order_id: int = Field(gt=0)

    model = ScriptedModel(
        responses=['{"tool": "Refund", "args": {"order_id": 5}}'], capabilities=CONSTRAINED
    )
    choice = choose_tool(model, "refund 5", [Refund])
    assert choice == choice.__class__("Refund", {"order_id": 5}, "protocol")
    single = model.calls[0].kwargs["response_format"]["json_schema"]["schema"]
    assert single["properties"]["tool"] == {"const": "Refund"}


def _fake_server(
    *, tools: bool, schema: bool
) -> tuple[httpx.MockTransport, list[dict[str, object]]]:
    seen: list[dict[str, object]] = []

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/health":
            return httpx.Response(200, json={"status": "ok"})
        body = json.loads(request.content)
        seen.append(body)
        if "tools" in body:
            message: dict[str, object] = {"role": "assistant", "content": "Paris is sunny"}
            if tools:
                message["tool_calls"] = [
                    {
                        "id": "1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                    }
                ]
            return httpx.Response(200, json={"choices": [{"message": message}]})
        fmt = body.get("response_format", {})
        if fmt.get("type") == "json_schema" and not schema:
            return httpx.Response(400, json={"error": "unsupported"})
        return httpx.Response(200, json={"choices": [{"message": {"content": '{"answer": 4}'}}]})

    return httpx.MockTransport(handle), seen


def test_probe_reports_capabilities_and_caches_them() -> None:
    clear_probe_cache()
    transport, seen = _fake_server(tools=False, schema=True)
    caps = probe_backend("http://127.0.0.1:8080/v1", model="smollm2", transport=transport)
    assert caps == Capabilities(True, False, True, True, caps.detail)
    assert "no native tool call" in caps.detail
    n = len(seen)
    assert probe_backend("http://127.0.0.1:8080/v1", model="smollm2", transport=transport) is caps
    assert len(seen) == n
    clear_probe_cache()


def test_probe_json_mode_only() -> None:
    clear_probe_cache()
    transport, _ = _fake_server(tools=True, schema=False)
    caps = probe_backend("http://127.0.0.1:8081/v1", transport=transport, refresh=True)
    assert (caps.native_tools, caps.json_schema, caps.json_mode) == (True, False, True)
    clear_probe_cache()


def test_probe_unreachable_names_the_url_and_the_fix() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    caps = probe_backend("http://127.0.0.1:8082/v1", transport=httpx.MockTransport(refuse))
    assert not caps.reachable
    assert "http://127.0.0.1:8082/v1" in caps.detail
    assert "orchestrator local-model start" in caps.detail


def test_capabilities_of_unwraps_fallbacks_and_declared_capabilities() -> None:
    primary = ScriptedModel(capabilities=JSON_MODE)
    assert capabilities_of(primary.with_fallbacks([ScriptedModel()])) is JSON_MODE
    assert capabilities_of(primary.bind(stop=["x"])) is JSON_MODE


def test_structured_output_follows_the_fallback_when_the_primary_is_down() -> None:
    down = Capabilities(
        reachable=False, detail="no model server answers at http://127.0.0.1:8080/v1"
    )
    local = ScriptedModel(responses=[BackendUnavailable("down")], capabilities=down)
    cloud = ScriptedModel(responses=['{"intent": "refund"}'], capabilities=CONSTRAINED)
    chain = local.with_fallbacks([cloud], exceptions_to_handle=(BackendUnavailable,))
    assert capabilities_of(chain) is CONSTRAINED
    assert structured_output(chain, "money back", Intent).intent == "refund"
    assert cloud.calls[0].kwargs["response_format"]["type"] == "json_schema"


def test_capabilities_of_a_chat_openai_without_base_url_is_full() -> None:
    from langchain_openai import ChatOpenAI

    caps = capabilities_of(ChatOpenAI(model="gpt-4o-mini", api_key="sk-x"))
    assert caps.native_tools and caps.json_schema
