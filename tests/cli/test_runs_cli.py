"""`orchestrator approvals ...` and `orchestrator runs ...`: decide and inspect from any process."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from orchestrator.cli import app
from orchestrator.runtime import RunContext
from orchestrator.testing import TestShop, seeded_shop


@pytest.fixture
def waiting(tmp_path: Path) -> Any:
    """A shop with a cycle count waiting for the approval of +60 units."""
    with seeded_shop(tmp_path / "shop.db") as shop:
        orch = shop.orchestrator()
        sku = shop.skus[0]
        on_hand = shop.service.get_stock(sku, "WH-MAIN")[0].on_hand
        run = orch.run(
            "cycle_count",
            {
                "counts": [{"sku": sku, "location": "WH-MAIN", "counted": on_hand + 60}],
                "reason": "t",
            },
            context=RunContext(actor="ann"),
            thread_id="count-1",
        )
        orch.close()
        yield shop, run.approval_ids[0], sku, on_hand


def _cli(shop: TestShop, *args: str) -> Any:
    return CliRunner().invoke(app, [*args, "--db", shop.settings.store.url])


def test_list_show_and_json_lines(waiting: Any) -> None:
    shop, approval_id, sku, _ = waiting
    listed = _cli(shop, "approvals", "list", "--json")
    assert listed.exit_code == 0, listed.output
    [row] = [json.loads(line) for line in listed.output.splitlines()]
    assert row["id"] == approval_id and row["thread_id"] == "count-1"
    assert row["arguments"]["sku"] == sku and row["status"] == "pending"
    shown = json.loads(_cli(shop, "approvals", "show", str(approval_id), "--json").output)
    assert shown == row
    text = _cli(shop, "approvals", "list").output
    assert f"#{approval_id} pending" in text and "thread count-1" in text
    runs = [json.loads(line) for line in _cli(shop, "runs", "list", "--json").output.splitlines()]
    assert [(r["thread_id"], r["status"]) for r in runs] == [("count-1", "waiting")]


def test_edit_validates_then_resumes_the_run(waiting: Any) -> None:
    shop, approval_id, sku, on_hand = waiting
    bad = _cli(shop, "approvals", "edit", str(approval_id), "--args", "{not json", "--by", "boss")
    assert bad.exit_code == 2 and "--args is not valid JSON" in bad.output
    wrong = _cli(
        shop,
        "approvals",
        "edit",
        str(approval_id),
        "--by",
        "boss",
        "--args",
        json.dumps({"sku": sku, "location": "WH-MAIN", "delta": "lots", "reason": "x"}),
    )
    assert wrong.exit_code != 0 and "delta" in wrong.output
    assert shop.service.get_approval(approval_id).status == "pending"
    edited = {"sku": sku, "location": "WH-MAIN", "delta": 40, "reason": "only 40 found"}
    done = _cli(
        shop,
        "approvals",
        "edit",
        str(approval_id),
        "--args",
        json.dumps(edited),
        "--by",
        "boss",
        "--json",
    )
    assert done.exit_code == 0, done.output
    payload = json.loads(done.output)
    assert payload["approval"]["status"] == "approved"
    assert payload["approval"]["approved_arguments"] == edited
    assert payload["run"]["status"] == "completed"
    assert shop.service.get_stock(sku, "WH-MAIN")[0].on_hand == on_hand + 40


def test_reject_and_runs_show(waiting: Any) -> None:
    shop, approval_id, sku, on_hand = waiting
    done = _cli(shop, "approvals", "reject", str(approval_id), "--note", "recount", "--by", "boss")
    assert done.exit_code == 0, done.output
    assert "rejected by boss" in done.output and "resumed: completed" in done.output
    assert shop.service.get_stock(sku, "WH-MAIN")[0].on_hand == on_hand
    state = json.loads(_cli(shop, "runs", "show", "count-1", "--json").output)
    assert state["run"]["status"] == "completed" and state["next"] == []
    # newest first: the rejected call (audited as denied), then its request
    assert [e["outcome"] for e in state["audit"]] == ["denied", "approval_required"]
    again = _cli(shop, "runs", "resume", "count-1")
    assert again.exit_code == 2 and "nothing to resume" in again.output
    missing = _cli(shop, "runs", "show", "nope")
    assert missing.exit_code != 0 and "no run" in missing.output
