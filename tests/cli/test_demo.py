"""The main job: seeded store, scripted operations, model intake, invariant check."""

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
from orchestrator.cli.demo import CustomerRequest, parse_request, run_demo, validate_proposal
from orchestrator.settings import Settings
from orchestrator.testing import ScriptedModel


def _quiet() -> Console:
    return Console(file=io.StringIO())


def _settings(url: str) -> Settings:
    return Settings(store={"url": url})


def test_parse_request_reads_ids_and_intent() -> None:
    assert parse_request("where is my order #42?") == CustomerRequest(
        intent="order_status", order_id=42
    )
    assert parse_request("please cancel order 7") == CustomerRequest(
        intent="cancel_order", order_id=7
    )
    assert parse_request("is ARD-UNO-001 in stock?") == CustomerRequest(
        intent="stock_question", sku="ARD-UNO-001"
    )
    assert parse_request("hello there").intent == "other"


def test_validate_proposal_overrules_invented_ids() -> None:
    message = "where is my order #42?"
    decided, verdict = validate_proposal(
        message, CustomerRequest(intent="cancel_order", order_id=9)
    )
    assert decided == CustomerRequest(intent="order_status", order_id=42)
    assert "order_id 9 is not in the message" in verdict
    assert "intent 'cancel_order' disagrees" in verdict


def test_validate_proposal_drops_an_invented_field_but_keeps_the_intent() -> None:
    message = "where is my order #42?"
    decided, verdict = validate_proposal(
        message, CustomerRequest(intent="order_status", order_id=42, sku="MADE-UP-1")
    )
    assert decided == CustomerRequest(intent="order_status", order_id=42)
    assert verdict.startswith("accepted") and "'MADE-UP-1' is not in the message" in verdict


def test_validate_proposal_refuses_an_intent_without_its_id() -> None:
    decided, verdict = validate_proposal(
        "hello there", CustomerRequest(intent="other", order_id=None)
    )
    assert (decided.intent, verdict) == ("other", "accepted")
    decided, verdict = validate_proposal(
        "cancel it please", CustomerRequest(intent="cancel_order", order_id=None)
    )
    assert decided.intent == "other" and verdict.startswith("overruled")


def test_validate_proposal_accepts_a_faithful_reading() -> None:
    proposal = CustomerRequest(intent="order_status", order_id=42)
    assert validate_proposal("where is my order #42?", proposal) == (proposal, "accepted")


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
    assert [row["source"] for row in result.intake] == ["rules"] * 3


def test_demo_model_proposals_are_checked_by_code(tmp_path: Path) -> None:
    """A model that hijacks every request into cancelling order 1 is overruled every time."""
    hijack = json.dumps({"intent": "cancel_order", "order_id": 1, "sku": None})
    model = ScriptedModel(responses=[AIMessage(content=hijack)] * 3)
    result = run_demo(
        _settings(f"sqlite:///{tmp_path / 'demo.db'}"),
        skus=30,
        days=60,
        model=model,
        console=_quiet(),
    )
    assert result.ok, result.steps
    assert result.model_used
    for row in result.intake:
        decided_order = re.search(r"order=(\d+)", row["decision"])
        # The hijacked id never survives unless the customer wrote it themselves.
        assert decided_order is None or decided_order.group(1) in row["message"], row
        assert row["verdict"] != "accepted", row
    outcomes = [row["outcome"] for row in result.intake]
    assert outcomes[1].startswith("refused and audited")


def test_demo_model_failure_takes_the_deterministic_path(tmp_path: Path) -> None:
    model = ScriptedModel(responses=["not json at all"] * 6)
    result = run_demo(
        _settings(f"sqlite:///{tmp_path / 'demo.db'}"),
        skus=30,
        days=60,
        model=model,
        console=_quiet(),
    )
    assert result.ok, result.steps
    assert all("deterministic path" in row["verdict"] for row in result.intake)


@pytest.mark.postgres
def test_demo_on_postgres(postgres_url: str, tmp_path: Path) -> None:
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
