"""`orchestrator replenish` and `orchestrator receive`: one JSON object per result, reports,
the urgent request approved with `approvals approve`, receipts refused when they overreach."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from orchestrator.cli import app
from orchestrator.testing import TestShop, seeded_shop

URGENT = "we're running low on Arduino kits for tomorrow's robotics class, need 40 more"


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestShop]:
    # Settings come from the environment in the CLI: no model, no Chroma.
    monkeypatch.setenv("ORCH_MODELS__DEFAULT", "none:rules")
    monkeypatch.setenv("ORCH_MEMORY__ENABLED", "false")
    with seeded_shop(tmp_path / "shop.db") as made:
        yield made


def _cli(shop: TestShop, *args: str) -> Any:
    return CliRunner().invoke(app, [*args, "--db", shop.settings.store.url])


def _one_json(output: str) -> dict[str, Any]:
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    parsed: dict[str, Any] = json.loads(lines[0])
    return parsed


def test_replenish_dry_run_json_and_reports(shop: TestShop, tmp_path: Path) -> None:
    md = tmp_path / "out" / "proposal.md"
    done = _cli(
        shop, "replenish", "--dry-run", "--as-of", "2026-11-01", "--json", "--report", str(md)
    )
    assert done.exit_code == 0, done.output
    out = _one_json(done.output)
    assert out["command"] == "replenish" and out["status"] == "completed"
    assert out["summary"]["dry_run"] is True and out["summary"]["orders_sent"] == 0
    assert out["needs"] and out["orders"] and out["sent"] == []
    assert out["report"] == str(md) and "What to reorder" in md.read_text()
    html = tmp_path / "proposal.html"
    done = _cli(shop, "replenish", "--dry-run", "--as-of", "2026-11-01", "--report", str(html))
    assert done.exit_code == 0, done.output
    assert html.read_text().startswith("<!doctype html>")
    assert "Report written to" in done.output


def test_urgent_request_approved_then_received(shop: TestShop) -> None:
    asked = _cli(shop, "replenish", "--as-of", "2026-11-01", "--text", URGENT, "--json")
    assert asked.exit_code == 0, asked.output
    out = _one_json(asked.output)
    assert out["status"] == "waiting" and out["summary"]["need_by"] == "2026-11-02"
    [request] = out["waiting_for"]
    assert request["kind"] == "approval_required" and request["tool"] == "purchase_orders"

    approved = _cli(
        shop, "approvals", "approve", str(request["approval_id"]), "--by", "head", "--json"
    )
    assert approved.exit_code == 0, approved.output
    run = _one_json(approved.output)["run"]
    assert run["status"] == "completed"
    [sent] = run["values"]["sent"]
    po_id = sent["po_id"]

    part = _cli(shop, "receive", str(po_id), "ARD-UNO-001:15", "--as-of", "2026-11-10", "--json")
    assert part.exit_code == 0, part.output
    receipt = _one_json(part.output)["receipt"]
    assert receipt["status"] == "partially_received" and receipt["outstanding"] == {
        "ARD-UNO-001": 25
    }

    too_many = _cli(shop, "receive", str(po_id), "ARD-UNO-001:26")
    assert too_many.exit_code != 0
    assert "only 25 of 40 are outstanding" in too_many.output
    assert shop.service.get_purchase_order(po_id).lines[0].qty_received == 15

    bad = _cli(shop, "receive", str(po_id), "ARD-UNO-001=3")
    assert bad.exit_code == 2 and "expected SKU:QTY" in bad.output

    rest = _cli(shop, "receive", str(po_id), "--as-of", "2026-11-15")
    assert rest.exit_code == 0, rest.output
    assert "now **received**" in rest.output
    assert shop.service.get_purchase_order(po_id).status == "received"
