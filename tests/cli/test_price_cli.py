"""`orchestrator price`: dry run with --json and --report, a run that waits, bad competitor CSVs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orchestrator.cli import app
from orchestrator.testing import seeded_shop


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("ORCH_MEMORY__ENABLED", "false")
    with seeded_shop(tmp_path / "shop.db") as shop:
        return str(shop.settings.store.url)


def test_dry_run_json_and_report(db: str, tmp_path: Path) -> None:
    report = tmp_path / "out" / "pricing.html"
    done = CliRunner().invoke(
        app, ["price", "--db", db, "--no-model", "--dry-run", "--json", "--report", str(report)]
    )
    assert done.exit_code == 0, done.output
    [line] = done.output.strip().splitlines()
    payload = json.loads(line)
    assert payload["status"] == "completed" and payload["dry_run"] is True
    assert {c["status"] for c in payload["changes"]} <= {"dry_run", "skipped"}
    assert payload["report"] == [str(report), str(report.with_suffix(".md"))]
    page = report.read_text()
    assert "<img" in page and "BAK-SOUR-001" in page
    assert report.with_suffix(".md").read_text().startswith("# Pricing run")


def test_a_run_that_waits_exits_5_and_names_the_approval(db: str) -> None:
    done = CliRunner().invoke(app, ["price", "--db", db, "--no-model"])
    assert done.exit_code == 5, done.output
    assert "waiting for approval 1" in done.output
    assert "applied" in done.output  # the small change was written before the run waited


def test_bad_competitor_csv_is_a_clear_error(db: str, tmp_path: Path) -> None:
    csv = tmp_path / "comp.csv"
    csv.write_text("sku,price\nBAK-SOUR-001,nan\n")
    done = CliRunner().invoke(app, ["price", "--db", db, "--no-model", "--competitors", str(csv)])
    assert done.exit_code == 2, done.output
    assert "competitors" in done.output and "line 2" in done.output
