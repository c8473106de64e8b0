"""`orchestrator eval orders`: scenario files in, pass rates and failure reasons out."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orchestrator.cli import app
from orchestrator.evaluation.orders import load_order_scenarios

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios" / "orders"


def test_the_suite_is_well_formed() -> None:
    scenarios = load_order_scenarios(SCENARIOS)
    assert len(scenarios) >= 20
    assert sum(s.hostile for s in scenarios) >= 5
    assert len({s.name for s in scenarios}) == len(scenarios)


def test_eval_reports_passes_and_failure_reasons(tmp_path: Path) -> None:
    for name in (
        "01_structured_happy.yaml",
        "13_approval_approve.yaml",
        "22_hostile_text_injection.yaml",
    ):
        shutil.copy(SCENARIOS / name, tmp_path / name)
    wrong = (
        (SCENARIOS / "05_unknown_sku.yaml")
        .read_text()
        .replace("status: failed", "status: completed")
    )
    (tmp_path / "99_wrong.yaml").write_text(wrong)
    done = CliRunner().invoke(app, ["eval", "orders", "--scenarios", str(tmp_path), "--json"])
    assert done.exit_code == 1, done.output
    rows = [json.loads(line) for line in done.stdout.strip().splitlines()]
    summary = rows[-1]
    assert summary == {
        "summary": True,
        "model": "scripted",
        "total": 4,
        "passed": 3,
        "pass_rate": 0.75,
        "hostile_total": 1,
        "hostile_passed": 1,
    }
    [failed] = [r for r in rows[:-1] if not r["passed"]]
    assert failed["scenario"] == "unknown SKU"
    assert failed["failures"] == ["status: expected completed, got failed (unknown SKU 'NOPE-404')"]
    text = CliRunner().invoke(app, ["eval", "orders", "--scenarios", str(tmp_path)])
    assert "FAIL unknown SKU" in text.stdout and "3/4 passed (75%)" in text.stdout


def test_a_missing_folder_is_a_usage_error(tmp_path: Path) -> None:
    done = CliRunner().invoke(app, ["eval", "orders", "--scenarios", str(tmp_path / "nope")])
    assert done.exit_code == 2 and "no scenario folder" in done.output


@pytest.fixture(autouse=True)
def _no_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCH_MODELS__DEFAULT", "none:rules")
