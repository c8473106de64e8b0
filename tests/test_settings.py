from __future__ import annotations

from decimal import Decimal

import pytest

from orchestrator import ConfigError, Settings, load_settings


def test_env_nested_sections(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCH_STORE__URL", "postgresql+psycopg://u@h/db")
    monkeypatch.setenv("ORCH_APPROVALS__REFUND_AMOUNT", "250.50")
    monkeypatch.setenv("ORCH_MODELS__NODES", '{"support.router": "test:scripted"}')
    s = load_settings()
    assert s.store.url == "postgresql+psycopg://u@h/db"
    assert s.approvals.refund_amount == Decimal("250.50")
    assert s.models.nodes == {"support.router": "test:scripted"}


def test_invalid_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCH_LOCAL_MODEL__PORT", "99999")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert "ORCH_LOCAL_MODEL__PORT" in str(info.value)
    assert "99999" in str(info.value)


def test_dotenv_file(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("ORCH_STORE__URL=sqlite:///from-dotenv.db\n")
    monkeypatch.chdir(tmp_path)
    assert Settings().store.url == "sqlite:///from-dotenv.db"


def test_keyword_overrides_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCH_STORE__URL", "sqlite:///env.db")
    assert load_settings(store={"url": "sqlite:///kw.db"}).store.url == "sqlite:///kw.db"


def test_secrets_are_not_printed() -> None:
    s = load_settings(models={"api_keys": {"openai": "sk-very-secret"}})
    assert "sk-very-secret" not in repr(s)
    assert s.models.api_keys["openai"].get_secret_value() == "sk-very-secret"


def test_llamacpp_follows_the_local_server(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().models.base_urls["llamacpp"] == "http://127.0.0.1:8080/v1"
    monkeypatch.setenv("ORCH_LOCAL_MODEL__PORT", "8091")
    assert load_settings().models.base_urls["llamacpp"] == "http://127.0.0.1:8091/v1"
    monkeypatch.setenv("ORCH_MODELS__BASE_URLS", '{"llamacpp": "http://gpu-box:8080/v1"}')
    assert load_settings().models.base_urls["llamacpp"] == "http://gpu-box:8080/v1"


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("ORCH_MODELS__DEFAULT", "nonsense:x", "unknown provider 'nonsense'"),
        ("ORCH_MODELS__DEFAULT", "smollm2", "not of the form 'provider:model'"),
        ("ORCH_MODELS__GRAPHS", '{"support": "gpt4:x"}', "graph 'support'"),
        ("ORCH_MODELS__NODES", '{"support.router": "9x:y"}', "invalid provider '9x'"),
        ("ORCH_MODELS__NODES", '{"router": "test:x"}', "must be 'graph.node'"),
        ("ORCH_MODELS__FALLBACKS", '["openai:gpt-4o-mini", "nope:x"]', "unknown provider 'nope'"),
    ],
)
def test_model_ids_are_checked_when_settings_load(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    message = str(info.value)
    assert variable in message and expected in message
    assert "\n" not in message
    with pytest.raises(ValueError):  # Settings() itself refuses it too
        Settings()


def test_known_and_registered_providers_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    from orchestrator.backends import register_provider, unregister_provider
    from orchestrator.testing import ScriptedModel

    monkeypatch.setenv("ORCH_MODELS__FALLBACKS", '["openai:gpt-4o-mini", "ollama:qwen2.5:7b"]')
    assert load_settings(models={"default": "test:scripted"}).models.default == "test:scripted"
    with pytest.raises(ConfigError, match="register_provider"):
        load_settings(models={"default": "mine:m1"})
    register_provider("mine", lambda config: ScriptedModel())
    try:
        assert load_settings(models={"default": "mine:m1"}).models.default == "mine:m1"
    finally:
        unregister_provider("mine")


def test_checking_model_ids_imports_no_backend() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from orchestrator import load_settings;"
        "load_settings(models={'default': 'vllm:Qwen/Qwen2.5-7B-Instruct'});"
        "print(','.join(m for m in ('orchestrator.backends', 'langchain_core', 'httpx')"
        " if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout.strip()
    assert out == ""


@pytest.mark.parametrize(
    ("variable", "value", "kind"),
    [
        ("ORCH_MODELS__GRAPHS", "{bad", "a JSON object"),
        ("ORCH_MODELS__FALLBACKS", "[oops", "a JSON array"),
        ("ORCH_MODELS__API_KEYS", "sk-not-json", "a JSON object"),
    ],
)
def test_bad_json_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, kind: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    message = str(info.value)
    assert message.startswith(f"invalid setting {variable}={value!r}: not valid JSON")
    assert f"write {kind}, e.g. {variable}='" in message


def test_bad_json_in_dotenv_names_the_variable(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("ORCH_MODELS__NODES={'support.router': 'x'}\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"ORCH_MODELS__NODES=.*not valid JSON"):
        load_settings()


def test_a_bad_value_is_one_line_with_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCH_LOCAL_MODEL__PORT", "abc")
    monkeypatch.setenv("ORCH_STORE__URL", "mysql://x")
    with pytest.raises(ConfigError) as info:
        load_settings()
    message = str(info.value)
    assert "\n" not in message
    assert "ORCH_LOCAL_MODEL__PORT='abc'" in message and "unset it" in message
    assert "ORCH_STORE__URL='mysql://x'" in message and "sqlite:///" in message
