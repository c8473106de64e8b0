"""`benchmarks/reliability.py` at a small size, on both engines.

Mixed writes from several processes (invariants hold, nothing oversold, no exception outside
the error tree, no deadlock on PostgreSQL), SIGKILL mid-write then replay (every key takes
effect exactly once), and a hypothesis state machine over the whole tool catalogue under every
profile (no exception outside the error tree, every refusal audited, invariants hold). The
script runs the same at full size: `python benchmarks/reliability.py`.
"""

from __future__ import annotations

import pytest

from reliability import run_kills, run_mixed, run_tool_machine


@pytest.mark.slow
def test_mixed_writes_from_several_processes(sqlite_url: str) -> None:
    """SQLite; PostgreSQL's mixed run is test_lock_order's (it counts the deadlocks)."""
    result = run_mixed(sqlite_url, "sqlite", workers=2, seconds=2.0)
    assert result.unexpected == [], result
    assert result.invariants_ok and result.oversold == 0, result.violations
    assert result.calls > 0 and result.outcomes.get("ok", 0) > 0


@pytest.mark.slow
def test_sigkill_mid_write_then_replay_takes_effect_exactly_once(store_url: str) -> None:
    engine = "postgres" if store_url.startswith("postgresql") else "sqlite"
    result = run_kills(store_url, engine, workers=1, keys=15, kills=1)
    assert result.kills == 1
    assert result.duplicates == [] and result.missing == [], result
    assert result.unexpected == [] and result.invariants_ok, result
    assert result.effective_once == result.keys == 15


@pytest.mark.slow
def test_tool_state_machine_over_every_profile(sqlite_url: str) -> None:
    result = run_tool_machine(sqlite_url, "sqlite", examples=3, steps=15)
    assert result.unexpected == [], result.unexpected
    assert result.unaudited == [], result.unaudited
    assert result.invariant_failures == [], result.invariant_failures
    assert result.ok > 0 and sum(result.refused.values()) > 0
