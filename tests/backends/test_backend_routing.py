"""Routing from settings: default < graph < node, fallbacks, secrets, the built-in adapters."""

from __future__ import annotations

import logging

import httpx
import pytest

from orchestrator import BackendUnavailable, ConfigError, load_settings
from orchestrator.backends import BackendRejected, ModelId, ModelRouter
from orchestrator.testing import ScriptedModel


def router(**models: object) -> ModelRouter:
    return ModelRouter(load_settings(models=models).models)


def test_node_then_graph_then_default() -> None:
    r = router(
        default="test:default",
        graphs={"support": "test:support"},
        nodes={"support.router": "test:router", "orders.pick": "test:pick"},
    )
    assert r.model_id_for("support", "router") == ModelId("test", "router")
    assert r.model_id_for("support", "reply") == ModelId("test", "support")
    assert r.model_id_for("support") == ModelId("test", "support")
    assert r.model_id_for("orders", "pick") == ModelId("test", "pick")
    assert r.model_id_for("orders", "other") == ModelId("test", "default")


def test_routing_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCH_MODELS__DEFAULT", "llamacpp:smollm2")
    monkeypatch.setenv("ORCH_MODELS__NODES", '{"support.router": "ollama:qwen2.5:7b"}')
    monkeypatch.setenv("ORCH_MODELS__BASE_URLS", '{"ollama": "http://10.0.0.5:11434/v1"}')
    r = ModelRouter(load_settings().models)
    assert str(r.model_id_for("support", "router")) == "ollama:qwen2.5:7b"
    assert r.backend_config("ollama:x").base_url == "http://10.0.0.5:11434/v1"
    assert r.backend_config("llamacpp:smollm2").base_url == "http://127.0.0.1:8080/v1"


def test_bad_ids_fail_at_construction() -> None:
    with pytest.raises(ConfigError, match="known providers"):
        router(default="test:x", nodes={"support.router": "nope:x"})
    with pytest.raises(ConfigError, match="provider:model"):
        router(default="smollm2")
    with pytest.raises(ConfigError, match=r"graph\.node"):
        router(default="test:x", nodes={"router": "test:y"})


def test_test_provider_echoes_and_pinned_models_win() -> None:
    scripted = ScriptedModel(responses=["pinned reply"])
    r = ModelRouter(
        load_settings(models={"default": "test:echo", "nodes": {"g.n": "test:pinned"}}).models,
        pinned={"test:pinned": scripted},
    )
    assert r.chat_model("g", "other").invoke("hello there").content == "hello there"
    assert r.chat_model("g", "n").invoke("x").content == "pinned reply"
    assert r.chat_model("g", "other") is r.chat_model("g", "other")


def test_fallback_chain_takes_the_next_model_on_backend_errors() -> None:
    local = ScriptedModel(responses=[BackendUnavailable("local is down")])
    cloud = ScriptedModel(responses=["from cloud"])
    r = ModelRouter(
        load_settings(models={"default": "test:local", "fallbacks": ["test:cloud"]}).models,
        pinned={"test:local": local, "test:cloud": cloud},
    )
    model = r.chat_model("support", "router")
    assert model.invoke("hi").content == "from cloud"
    assert len(local.calls) == 1 and len(cloud.calls) == 1


def test_fallbacks_do_not_hide_programming_errors() -> None:
    local = ScriptedModel(responses=[ValueError("a bug")])
    r = ModelRouter(
        load_settings(models={"default": "test:local", "fallbacks": ["test:cloud"]}).models,
        pinned={"test:local": local, "test:cloud": ScriptedModel(responses=["x"])},
    )
    with pytest.raises(ValueError, match="a bug"):
        r.chat_model("g").invoke("hi")


def test_llamacpp_maps_onto_chat_openai_with_settings() -> None:
    r = router(default="llamacpp:smollm2", timeout_s=7.5, max_retries=1, max_tokens=64)
    model = r.build("llamacpp:smollm2")
    from langchain_openai import ChatOpenAI

    assert isinstance(model, ChatOpenAI)
    assert model.openai_api_base == "http://127.0.0.1:8080/v1"
    assert model.request_timeout == 7.5
    assert model.max_retries == 1
    assert model.max_tokens == 64
    assert model.model_name == "smollm2"


def test_openai_needs_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="ORCH_MODELS__API_KEYS"):
        router(default="openai:gpt-4o-mini").build("openai:gpt-4o-mini")


def test_openai_compatible_needs_a_base_url() -> None:
    with pytest.raises(ConfigError, match="ORCH_MODELS__BASE_URLS"):
        router(default="openai-compatible:m").build("openai-compatible:m")


def test_secrets_are_never_logged_or_shown(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    r = router(
        default="openai:gpt-4o-mini",
        api_keys={"openai": "sk-do-not-print"},
        base_urls={"openai": "http://127.0.0.1:1/v1"},
    )
    config = r.backend_config("openai:gpt-4o-mini")
    model = r.build("openai:gpt-4o-mini")
    assert "sk-do-not-print" not in repr(config)
    assert "sk-do-not-print" not in repr(model)
    assert "sk-do-not-print" not in repr(r.settings)
    assert "sk-do-not-print" not in caplog.text


def _model_with_transport(handler: httpx.MockTransport, **models: object) -> object:
    from orchestrator.backends.providers import OpenAICompatibleChatModel

    return OpenAICompatibleChatModel(
        model="smollm2",
        base_url="http://127.0.0.1:8080/v1",
        api_key="local",
        timeout=5,
        max_retries=0,
        http_client=httpx.Client(transport=handler),
    )


def test_connection_refused_becomes_backend_unavailable_naming_url_and_fix() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    model = _model_with_transport(httpx.MockTransport(refuse))
    with pytest.raises(BackendUnavailable) as info:
        model.invoke("hi")  # type: ignore[attr-defined]
    assert "http://127.0.0.1:8080/v1" in str(info.value)
    assert "orchestrator local-model start" in str(info.value)


def test_http_errors_are_typed() -> None:
    def not_ready(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, json={"error": {"message": "Loading model"}})

    with pytest.raises(BackendUnavailable, match="not ready"):
        _model_with_transport(httpx.MockTransport(not_ready)).invoke("hi")  # type: ignore[attr-defined]

    def bad_key(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"error": {"message": "bad key"}})

    with pytest.raises(BackendRejected) as info:
        _model_with_transport(httpx.MockTransport(bad_key)).invoke("hi")  # type: ignore[attr-defined]
    assert info.value.status_code == 401
    assert "ORCH_MODELS__API_KEYS" in str(info.value)


def test_streaming_errors_are_typed_too() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    model = _model_with_transport(httpx.MockTransport(refuse))
    with pytest.raises(BackendUnavailable):
        list(model.stream("hi"))  # type: ignore[attr-defined]


@pytest.mark.slow
def test_crewai_llm_uses_the_native_openai_client_without_litellm() -> None:
    r = router(default="llamacpp:smollm2", timeout_s=9.0, max_retries=1)
    llm = r.crewai_llm("analyst")
    from crewai.llms.providers.openai.completion import OpenAICompletion

    assert isinstance(llm, OpenAICompletion)
    assert llm.base_url == "http://127.0.0.1:8080/v1"
    assert llm.model == "smollm2"
    assert llm.timeout == 9.0
    assert not llm.is_litellm


@pytest.mark.slow
def test_one_scripted_model_drives_crewai_too() -> None:
    scripted = ScriptedModel(responses=["crew answer"])
    r = ModelRouter(load_settings(models={"default": "test:x"}).models, pinned={"test:x": scripted})
    llm = r.crewai_llm("analyst", "forecast")
    assert llm.call([{"role": "user", "content": "go"}]) == "crew answer"
    assert scripted.calls[0].messages[-1].content == "go"


def test_a_reply_cut_at_max_tokens_is_repaired_then_typed() -> None:
    from pydantic import BaseModel

    from orchestrator import StructuredOutputError
    from orchestrator.backends import Capabilities, structured_output

    class Intent(BaseModel):
        intent: str

    bodies: list[bytes] = []

    def truncated(request: httpx.Request) -> httpx.Response:
        bodies.append(request.content)
        return httpx.Response(
            200,
            json={
                "id": "x",
                "object": "chat.completion",
                "created": 0,
                "model": "smollm2",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": '{"intent": "ref'},
                        "finish_reason": "length",
                    }
                ],
                "usage": {"prompt_tokens": 5, "completion_tokens": 8, "total_tokens": 13},
            },
        )

    model = _model_with_transport(httpx.MockTransport(truncated))
    caps = Capabilities(json_schema=True, json_mode=False)
    with pytest.raises(StructuredOutputError, match="ref"):
        structured_output(model, "hi", Intent, capabilities=caps)
    assert len(bodies) == 2
    assert b'"json_schema"' in bodies[0]
