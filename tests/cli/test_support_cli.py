"""`orchestrator support chat` and `orchestrator eval support` from the command line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from orchestrator.cli import app
from orchestrator.evaluation.support import Picks, pick_ids
from orchestrator.testing import seeded_shop


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Picks]]:
    folder = tmp_path_factory.mktemp("support-cli")
    with seeded_shop(folder / "shop.db") as made:
        yield made.settings.store.url, pick_ids(made.engine)


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ORCH_MODELS__DEFAULT", "none:rules")
    monkeypatch.setenv("ORCH_MEMORY__EMBEDDING", "hash")
    monkeypatch.setenv("ORCH_MEMORY__PATH", str(tmp_path / "memory"))


def _chat(db: str, customer: int, *args: str) -> list[dict[str, Any]]:
    result = CliRunner().invoke(
        app, ["support", "chat", "--customer", str(customer), "--db", db, "--json", *args]
    )
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def test_chat_json_turns_and_a_confirmation_answered_later(shop: tuple[str, Picks]) -> None:
    db, p = shop
    [status] = _chat(db, p.main, "--message", f"Where is order {p.own_shipped}?")
    assert status["specialist"] == "orders" and str(p.own_shipped) in status["reply"]
    assert status["tool_calls"][0]["name"] == "get_order_status"
    [waiting] = _chat(db, p.main, "--message", f"Cancel order {p.own_placed_2}")
    assert waiting["status"] == "waiting"
    assert waiting["awaiting_confirmation"]["changes"] == [
        f"order {p.own_placed_2}: placed -> cancelled"
    ]
    [done] = _chat(db, p.main, "--thread", waiting["thread_id"], "--message", "yes")
    assert done["status"] == "completed" and "is cancelled" in done["reply"]


def test_chat_script_with_no(shop: tuple[str, Picks], tmp_path: Path) -> None:
    db, p = shop
    script = tmp_path / "chat.txt"
    script.write_text(f"# a conversation\nhello\nPlease cancel order {p.own_placed}\n")
    rows = _chat(db, p.main, "--script", str(script), "--no")
    assert [r["specialist"] for r in rows] == ["clarify", "orders", "orders"]
    assert rows[1]["awaiting_confirmation"]["action"] == "cancel_order"
    assert rows[2]["reply"].endswith("stays as it is.")
    assert len({r["thread_id"] for r in rows}) == 1


def test_chat_needs_one_of_message_or_script(shop: tuple[str, Picks]) -> None:
    db, _ = shop
    result = CliRunner().invoke(app, ["support", "chat", "--customer", "1", "--db", db])
    assert result.exit_code == 2 and "--message" in result.output


def test_eval_support_json(tmp_path: Path) -> None:
    folder = tmp_path / "scenarios"
    folder.mkdir()
    (folder / "two.yaml").write_text(
        "- id: status\n  turns: [{message: 'where is order {own_shipped}?'}]\n"
        "  specialist: orders\n  reply_contains: ['{own_shipped}']\n"
        "- id: wrong-expectation\n  turns: [{message: 'hello'}]\n  specialist: orders\n"
    )
    result = CliRunner().invoke(
        app, ["eval", "support", "--scenarios", str(folder), "--embedding", "hash", "--json"]
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["kind"] for r in rows] == ["scenario", "scenario", "summary"]
    assert rows[0]["passed"] and not rows[1]["passed"]
    assert rows[1]["reasons"] == ["answered by clarify, expected orders"]
    assert rows[2]["passed"] == 1 and rows[2]["total"] == 2
