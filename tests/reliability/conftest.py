"""The reliability suite: `benchmarks/reliability.py` at a small size (CI), plus the checks of
the write path's hardening (lock order, boundary validation, audit completeness, erasure)."""

from __future__ import annotations

import sys
from pathlib import Path

BENCHMARKS = Path(__file__).parents[2] / "benchmarks"
if str(BENCHMARKS) not in sys.path:
    # Spawned workers inherit sys.path, so they import `reliability` the same way.
    sys.path.insert(0, str(BENCHMARKS))
