"""The examples run as a newcomer runs them: `python examples/<name>.py`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _run(name: str, *args: str, embedding: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ORCH_MODELS__DEFAULT": "none:rules"}
    if embedding is not None:
        env["ORCH_MEMORY__EMBEDDING"] = embedding
    return subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def test_store_tour() -> None:
    done = _run("store_tour.py")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    assert len(lines) == 8 and all(line.strip().startswith("ok") for line in lines), done.stdout


def test_custom_graph() -> None:
    done = _run("custom_graph.py", "--no-model")
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "2 x ARD-UNO-001 written off" in out
    assert "waiting for approval 1" in out and "60 x ARD-MEGA-001 written off" in out
    assert "not adjusted: no product with id 'NOPE-404'" in out


def test_business_review(tmp_path: Path) -> None:
    out = tmp_path / "review.html"
    done = _run("business_review.py", "--no-model", "--out", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "narrative by fallback" in done.stdout
    assert "second run saw 1 earlier insight(s)" in done.stdout
    assert out.exists() and out.with_suffix(".md").exists()


def test_supply_chain() -> None:
    done = _run("supply_chain.py", "--no-model")
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "at or below reorder point" in out
    assert "-> needed by 2026-11-02" in out and "waiting for approval 1" in out
    assert "sent purchase order" in out
    assert "partially_received; the rest: received" in out


def test_pricing(tmp_path: Path) -> None:
    report = tmp_path / "pricing.html"
    done = _run("pricing.py", "--no-model", "--report", str(report))
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert out.startswith("dry run: ") and "edit " in out and "reject " in out
    assert "BELOW THE FLOOR" not in out
    assert "price changes written; explanation by template" in out
    assert report.is_file() and report.with_suffix(".md").is_file()


def test_inventory_tuning(tmp_path: Path) -> None:
    done = _run("inventory_tuning.py", "--no-model", "--report-dir", str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "dry run: " in out and "waiting for approval 1" in out
    assert "completed: " in out and "stored: " in out
    assert (tmp_path / "tuning-report.html").exists() and (tmp_path / "tuning-report.md").exists()


def test_support_chat() -> None:
    done = _run("support_chat.py", "--no-model", embedding="hash")
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "[orders] Order" in out and "is shipped" in out
    assert "[cancel_order] Cancel order" in out and "is cancelled." in out
    assert "source: personal-data.md" in out
    assert "(another customer's): placed; 1 denied call(s) audited" in out


def test_order_fulfilment() -> None:
    done = _run("order_fulfilment.py", "--no-model")
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "order #121 shipped" in out and "read by the parser" in out
    assert "waits for approval 1: order value" in out and "approved by store-manager" in out
    assert "no product in the catalogue matches 'breadboards'" in out
    assert "payment declined" in out and "reservations released" in out
