"""The seeded-anomaly evaluation: every kind found, fixed or escalated as it should be."""

from __future__ import annotations

import json
from pathlib import Path

from orchestrator.evaluation.audit import EXPECTED_OUTCOME, evaluate_audit


def test_scripted_evaluation_finds_and_handles_every_kind(tmp_path: Path) -> None:
    result = evaluate_audit(tmp_path, model="scripted", k=1, skus=40, days=40)
    assert result.recall == 1.0 and result.precision == 1.0
    for kind, row in result.kinds.items():
        assert row.injected == 1 and row.detected == 1, kind
        wanted = EXPECTED_OUTCOME[kind]
        assert (row.fixed if wanted == "fixed" else row.escalated) == 1, (kind, row)
    assert set(result.remaining_violations) == {"negative_on_hand", "negative_available"}
    assert result.model_plans > 0


def test_eval_audit_cli_prints_one_object_per_kind_and_a_summary(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from orchestrator.cli import app

    out = CliRunner().invoke(
        app,
        [
            "eval",
            "audit",
            "--model",
            "none",
            "--k",
            "1",
            "--skus",
            "40",
            "--days",
            "30",
            "--kind",
            "raw_duplicate_posting",
            "--kind",
            "orphan_reservation",
            "--json",
            "--keep",
            str(tmp_path),
        ],
        env={"ORCH_MEMORY__ENABLED": "false"},
    )
    assert out.exit_code == 0, out.output
    lines = [json.loads(line) for line in out.output.splitlines() if line.strip()]
    assert [line["kind"] for line in lines] == [
        "raw_duplicate_posting",
        "orphan_reservation",
        "summary",
    ]
    assert all(line["fixed"] == 1.0 for line in lines[:2])
    assert lines[-1]["recall"] == 1.0 and lines[-1]["model_plans"] == 0
