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
