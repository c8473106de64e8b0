"""The examples run as a newcomer runs them: `python examples/<name>.py`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _run(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ORCH_MODELS__DEFAULT": "none:rules"}
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


def test_auditor() -> None:
    done = _run("auditor.py", "--no-model")
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "injected raw_duplicate_posting" in out and "fixed" in out
    after = next(line for line in out.splitlines() if line.startswith("check-invariants after"))
    assert "negative_on_hand" in after and "duplicate_posting" not in after
    assert "report: " in out
