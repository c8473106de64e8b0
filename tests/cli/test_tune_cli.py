"""`orchestrator tune`: text output with the approval to decide, and the --json contract."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orchestrator.cli import app
from orchestrator.testing import seeded_shop


def test_tune_text_then_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCH_MODELS__DEFAULT", "none:rules")
    monkeypatch.setenv("ORCH_MEMORY__ENABLED", "false")
    with seeded_shop(tmp_path / "shop.db", skus=10, days=120) as shop:
        url = shop.settings.store.url
        runner = CliRunner()
        waiting = runner.invoke(app, ["tune", "--db", url, "--actor", "ann"])
        assert waiting.exit_code == 0, waiting.output
        assert "Tuned " in waiting.output and "awaits approval" in waiting.output
        assert "waiting for approval #1" in waiting.output
        approved = runner.invoke(app, ["approvals", "approve", "1", "--by", "boss", "--db", url])
        assert approved.exit_code == 0 and "resumed: completed" in approved.output
        report = tmp_path / "dry.md"
        done = runner.invoke(
            app,
            [
                "tune",
                "--db",
                url,
                "--json",
                "--dry-run",
                "--location",
                "WH-MAIN",
                "--report",
                str(report),
            ],
        )
        assert done.exit_code == 0, done.output
        lines = [json.loads(line) for line in done.output.splitlines()]
        *changes, run = lines
        assert run["kind"] == "run" and run["status"] == "completed" and run["dry_run"]
        assert all(c["kind"] == "change" and c["location"] == "WH-MAIN" for c in changes)
        assert run["counts"].get("keep", 0) + len(changes) <= run["pairs"]
        assert run["report_files"][0] == str(report) and report.exists()
        bad = runner.invoke(app, ["tune", "--db", url, "--limit", "0"])
        assert bad.exit_code != 0
