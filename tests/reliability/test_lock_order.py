"""PostgreSQL lock order: writes that used to deadlock each other no longer do.

Two processes transfer one SKU in opposite directions while `modify_order` swaps two SKUs of
placed orders in opposite phase and orders of three lines in shuffled SKU order are placed and
cancelled (before the global lock order: 18 and 19 deadlocks in 20 s for the first two).
The server's own deadlock counter must not move, and no call may end in a driver error.
"""

from __future__ import annotations

import pytest
from sqlalchemy.exc import DBAPIError

from orchestrator.errors import WriteConflict
from orchestrator.store import make_engine
from orchestrator.store.services import Actor, StoreService
from reliability import pg_deadlocks, run_mixed


@pytest.mark.postgres
@pytest.mark.slow
def test_opposite_transfers_and_swaps_never_deadlock(postgres_url: str) -> None:
    result = run_mixed(
        postgres_url, "postgres", workers=2, seconds=3.0, kinds=("transfer", "swap", "multi")
    )
    assert result.deadlocks == 0, result
    assert result.unexpected == [], result
    assert set(result.outcomes) == {"ok"}, result.outcomes
    assert min(result.by_kind.values()) > 0 and len(result.by_kind) == 3
    assert result.invariants_ok and result.oversold == 0, result.violations
    assert pg_deadlocks(postgres_url) is not None


@pytest.mark.postgres
def test_a_deadlock_that_outlasts_the_retries_is_a_domain_error(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever the driver says after the last retry, the caller gets `WriteConflict`."""
    from reliability import setup_store

    setup_store(postgres_url, 1)
    engine = make_engine(postgres_url)
    svc = StoreService(engine)
    calls = 0

    def deadlocked(self: object, tx: object, keys: object) -> None:
        nonlocal calls
        calls += 1
        raise _deadlock()

    monkeypatch.setattr(StoreService, "_lock_stock", deadlocked)
    with pytest.raises(WriteConflict) as caught:
        svc.transfer_stock(
            "REL-0", "WH-MAIN", "SHOP-1", 1, actor=Actor("alice"), idempotency_key="dl-1"
        )
    assert calls == 5 and caught.value.attempts == 5
    assert "deadlock" in str(caught.value)
    [entry] = svc.audit_log(idempotency_key="dl-1")
    assert entry.outcome == "error" and "WriteConflict" in (entry.error or "")
    engine.dispose()


def _deadlock() -> DBAPIError:
    import psycopg

    orig = psycopg.errors.DeadlockDetected("deadlock detected")
    return DBAPIError("SELECT ... FOR NO KEY UPDATE", {}, orig)
