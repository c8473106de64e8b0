"""The support scenario suite with the scripted model: every store ends right."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.errors import ConfigError
from orchestrator.evaluation.support import load_scenarios, run_support_eval

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios" / "support"


def test_the_suite_is_large_enough_and_well_formed() -> None:
    scenarios = load_scenarios(SCENARIOS)
    assert len(scenarios) >= 30
    assert sum("hostile" in s.tags for s in scenarios) >= 6
    assert {s.specialist for s in scenarios} >= {
        "orders",
        "products",
        "knowledge",
        "escalation",
        "clarify",
    }


def test_a_bad_scenario_file_names_itself(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("- id: x\n  turns: []\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml"):
        load_scenarios(tmp_path)


@pytest.mark.slow
def test_the_scripted_model_passes_the_suite_and_every_store_is_right() -> None:
    report = run_support_eval(load_scenarios(SCENARIOS), embedding="hash")
    assert report.store_correct == report.total, [r for r in report.results if not r.store_ok]
    failures = [r for r in report.results if not r.passed]
    # The lexical test embedder misses one retrieval that MiniLM (the default) finds.
    assert all("retrieval" in r.tags for r in failures), failures
    assert report.passed >= report.total - 1
