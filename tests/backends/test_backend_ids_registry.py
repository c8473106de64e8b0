"""Model ids and the provider registry."""

from __future__ import annotations

import subprocess
import sys

import pytest

from orchestrator import ConfigError
from orchestrator.backends import (
    BackendConfig,
    ModelId,
    get_provider,
    known_providers,
    parse_model_id,
    register_provider,
    unregister_provider,
)
from orchestrator.testing import ScriptedModel


@pytest.mark.parametrize(
    ("raw", "provider", "model"),
    [
        ("llamacpp:smollm2", "llamacpp", "smollm2"),
        ("ollama:qwen2.5:7b", "ollama", "qwen2.5:7b"),
        ("vllm:Qwen/Qwen2.5-7B-Instruct", "vllm", "Qwen/Qwen2.5-7B-Instruct"),
        ("OpenAI:gpt-4o-mini", "openai", "gpt-4o-mini"),
        (" openai-compatible : my-model ", "openai-compatible", "my-model"),
    ],
)
def test_parse_model_id(raw: str, provider: str, model: str) -> None:
    mid = parse_model_id(raw)
    assert mid == ModelId(provider, model)
    assert parse_model_id(mid) is mid
    assert parse_model_id(str(mid)) == mid


@pytest.mark.parametrize("raw", ["smollm2", "llamacpp:", ":model", "9x:model", "a b:c", ""])
def test_parse_model_id_rejects_malformed_ids(raw: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_model_id(raw)
    assert repr(raw) in str(info.value)
    assert "provider" in str(info.value)


def test_builtin_providers_are_known() -> None:
    assert {"llamacpp", "vllm", "ollama", "openai", "openai-compatible", "test"} <= set(
        known_providers()
    )
    assert get_provider("vllm").default_base_url == "http://127.0.0.1:8000/v1"
    assert get_provider("ollama").default_base_url == "http://127.0.0.1:11434/v1"
    assert get_provider("llamacpp").default_base_url == "http://127.0.0.1:8080/v1"


def test_unknown_provider_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError) as info:
        get_provider("lamacpp")
    message = str(info.value)
    assert "'lamacpp'" in message
    for name in ("llamacpp", "ollama", "openai", "test", "vllm"):
        assert name in message
    assert "register_provider" in message


def test_register_a_provider_from_user_code() -> None:
    seen: list[BackendConfig] = []

    def factory(config: BackendConfig) -> ScriptedModel:
        seen.append(config)
        return ScriptedModel(responses=["from mine"])

    register_provider("mine", factory, default_base_url="http://127.0.0.1:9999/v1")
    try:
        with pytest.raises(ConfigError, match="already registered"):
            register_provider("mine", factory)
        from orchestrator import load_settings
        from orchestrator.backends import ModelRouter

        router = ModelRouter(load_settings(models={"default": "mine:m1"}).models)
        assert router.chat_model("g").invoke("hi").content == "from mine"
        assert seen[0].model_id == ModelId("mine", "m1")
        assert seen[0].base_url == "http://127.0.0.1:9999/v1"
    finally:
        unregister_provider("mine")
    assert "mine" not in known_providers()


def test_register_rejects_bad_names() -> None:
    with pytest.raises(ConfigError):
        register_provider("Mine", lambda c: ScriptedModel())


def test_importing_backends_loads_no_client_library() -> None:
    code = (
        "import sys, orchestrator.backends, orchestrator.testing, orchestrator.backends.local;"
        "print(','.join(m for m in ('crewai', 'langchain_openai', 'openai') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout.strip()
    assert out == ""
