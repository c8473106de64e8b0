"""`orchestrator order place|cancel|status`: the JSON contract and the exit codes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from typer.testing import CliRunner

from orchestrator.cli import app
from orchestrator.testing import TestShop, seeded_shop


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestShop]:
    folder = tmp_path_factory.mktemp("order-cli")
    with seeded_shop(folder / "shop.db", memory={"enabled": False}) as made:
        yield made


@pytest.fixture(autouse=True)
def _no_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCH_MODELS__DEFAULT", "none:rules")
    monkeypatch.setenv("ORCH_MEMORY__ENABLED", "false")


def _cli(shop: TestShop, *args: str) -> Any:
    return CliRunner().invoke(app, [*args, "--db", shop.settings.store.url])


def _json(done: Any) -> dict[str, Any]:
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1, done.output
    parsed: dict[str, Any] = json.loads(lines[0])
    return parsed


def test_place_completed_then_status(shop: TestShop) -> None:
    done = _cli(shop, "order", "place", "--customer", "7", "--item", "ARD-UNO-001:2", "--json")
    assert done.exit_code == 0, done.output
    out = _json(done)
    assert out["status"] == "completed" and out["outcome"] == "completed"
    assert set(out) >= {"thread_id", "order_id", "status"} and "reason" not in out
    status = _json(_cli(shop, "order", "status", str(out["order_id"]), "--json"))
    assert status["order"]["status"] == "shipped" and status["thread_id"] == out["thread_id"]
    assert [p["kind"] for p in status["payments"]] == ["authorization", "capture"]
    text = _cli(shop, "order", "status", str(out["order_id"]))
    assert f"order #{out['order_id']} shipped" in text.stdout and "tracking" in text.stdout
    refused = _cli(shop, "order", "cancel", str(out["order_id"]))
    assert refused.exit_code == 1 and "shipped" in refused.output


def test_place_waiting_then_cancel(shop: TestShop) -> None:
    done = _cli(
        shop,
        "order",
        "place",
        "--customer",
        "7",
        "--item",
        "ARD-UNO-001:8",
        "--thread",
        "cli-1",
        "--json",
    )
    assert done.exit_code == 0, done.output
    out = _json(done)
    assert out["status"] == "waiting_approval" and out["thread_id"] == "cli-1"
    assert isinstance(out["approval_id"], int) and out["order_id"]
    cancelled = _json(
        _cli(shop, "order", "cancel", str(out["order_id"]), "--by", "clerk", "--json")
    )
    assert cancelled["order"]["status"] == "cancelled" and cancelled["outcome"] == "cancelled"
    assert all(line["reserved_qty"] == 0 for line in cancelled["order"]["lines"])


def test_place_failed_exits_1_with_the_reason(shop: TestShop) -> None:
    done = _cli(shop, "order", "place", "--customer", "7", "--item", "NOPE-1:0", "--json")
    assert done.exit_code == 1
    out = _json(done)
    assert out["status"] == "failed" and out["order_id"] is None
    assert "unknown SKU 'NOPE-1'" in out["reason"] or "at least 1" in out["reason"]
    text = _cli(shop, "order", "place", "--customer", "7", "--text", "3 breadboards")
    assert text.exit_code == 1 and "breadboards" in text.stdout


def test_bad_item_is_a_usage_error(shop: TestShop) -> None:
    done = _cli(shop, "order", "place", "--customer", "7", "--item", "ARD-UNO-001")
    assert done.exit_code == 2 and "SKU:QTY" in done.output
