"""Importing orchestrator.analytics stays light: no pandas, statsforecast or numba."""

from __future__ import annotations

import subprocess
import sys


def test_import_stays_light() -> None:
    code = (
        "import sys, orchestrator.analytics;"
        "print(','.join(m for m in ('pandas', 'statsforecast', 'numba', 'scipy.stats')"
        " if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout.strip()
    assert out == "", f"import orchestrator.analytics loaded {out}"
