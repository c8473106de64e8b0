"""The main job: a seeded store, the runtime running graphs, the invariant check."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage
from rich.console import Console
from typer.testing import CliRunner

from orchestrator.cli import app
from orchestrator.cli.demo import run_demo
from orchestrator.settings import Settings
from orchestrator.testing import ScriptedModel


def _quiet() -> Console:
    return Console(file=io.StringIO())


def _settings(url: str) -> Settings:
    return Settings(store={"url": url})


def test_demo_without_model(tmp_path: Path) -> None:
    result = run_demo(
        _settings(f"sqlite:///{tmp_path / 'demo.db'}"),
        skus=30,
        days=60,
        use_model=False,
        console=_quiet(),
    )
    assert result.ok, result.steps
    assert result.anomalies_found == result.anomalies_injected == 6
    assert not result.model_used
    assert [row["source"] for row in result.conversation] == ["rules"] * 4
    assert (tmp_path / "demo.checkpoints.db").is_file()


def test_demo_model_proposals_are_checked_by_code(tmp_path: Path) -> None:
    """A model that hijacks every request into cancelling order 1 is overruled every time."""
    hijack = json.dumps({"intent": "cancel_order", "order_id": 1, "sku": None})
    model = ScriptedModel(responses=[AIMessage(content=hijack)], when_exhausted="repeat")
    result = run_demo(
        _settings(f"sqlite:///{tmp_path / 'demo.db'}"),
        skus=30,
        days=60,
        model=model,
        console=_quiet(),
    )
    assert result.ok, result.steps
    assert result.model_used
    for row in result.conversation:
        # The hijacked id never survives unless the customer wrote it themselves.
        for call in row["tool_calls"]:
            order_id = call["arguments"].get("order_id")
            assert order_id is None or re.search(rf"\b{order_id}\b", row["message"]), row


def test_demo_model_failure_takes_the_deterministic_path(tmp_path: Path) -> None:
    model = ScriptedModel(responses=["not json at all"], when_exhausted="repeat")
    result = run_demo(
        _settings(f"sqlite:///{tmp_path / 'demo.db'}"),
        skus=30,
        days=60,
        model=model,
        console=_quiet(),
    )
    assert result.ok, result.steps
    assert all("deterministic path" in row["verdict"] for row in result.conversation)


@pytest.mark.postgres
def test_demo_on_postgres(postgres_url: str) -> None:
    result = run_demo(
        _settings(postgres_url),
        skus=30,
        days=60,
        use_model=False,
        console=_quiet(),
    )
    assert result.ok, result.steps


def test_demo_command_exit_status(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'sub' / 'demo.db'}"
    out = CliRunner().invoke(
        app, ["demo", "--db", db, "--skus", "30", "--days", "60", "--no-model"]
    )
    assert out.exit_code == 0, out.output
    assert "check invariants" in out.output
    assert "approved, resumed, adjusted once" in out.output
