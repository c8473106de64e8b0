"""Races: 20 processes for the last 10 units; concurrent replays of one idempotency key."""

from __future__ import annotations

import multiprocessing
import threading

import pytest
from sqlalchemy.engine import Engine
from store_factories import STAFF, Shop, assert_balanced, race_reserve

from orchestrator.store.services import ReservationView, StoreService

WORKERS = 20


@pytest.mark.slow
def test_twenty_processes_race_for_the_last_ten_units(
    svc: StoreService, shop: Shop, engine: Engine, store_url: str
) -> None:
    svc.reserve("SKU-1", "WH-MAIN", 10, actor=STAFF)  # 20 on hand, 10 left
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(WORKERS)
    results = ctx.Queue()
    procs = [
        ctx.Process(target=race_reserve, args=(store_url, "SKU-1", barrier, results))
        for _ in range(WORKERS)
    ]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    kinds = sorted(kind for kind, _ in outcomes)
    assert [o for o in outcomes if o[0] == "error"] == []
    assert kinds.count("ok") == 10 and kinds.count("insufficient") == 10
    [level] = svc.get_stock("SKU-1", "WH-MAIN")
    assert (level.on_hand, level.reserved, level.available) == (20, 20, 0)
    assert len({rid for kind, rid in outcomes if kind == "ok"}) == 10
    assert_balanced(engine)


def test_concurrent_replays_of_one_key_write_once(
    svc: StoreService, shop: Shop, engine: Engine
) -> None:
    results: list[ReservationView | BaseException] = []
    start = threading.Barrier(8)

    def worker() -> None:
        start.wait()
        try:
            results.append(
                StoreService(engine).reserve(
                    "SKU-2", "WH-MAIN", 3, actor=STAFF, idempotency_key="same"
                )
            )
        except BaseException as exc:
            results.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(isinstance(r, ReservationView) for r in results), results
    assert len({r.id for r in results if isinstance(r, ReservationView)}) == 1
    assert svc.get_stock("SKU-2", "WH-MAIN")[0].reserved == 3
    outcomes = sorted(e.outcome for e in svc.audit_log(idempotency_key="same"))
    assert outcomes == ["ok"] + ["replayed"] * 7
    assert_balanced(engine)


def test_last_unit_race_with_replays_on_pg_guard(
    svc: StoreService, shop: Shop, engine: Engine
) -> None:
    """A key replayed after its first call took the last unit returns that result, not an error."""
    svc.reserve("SKU-3", "WH-MAIN", 19, actor=STAFF)
    first = svc.reserve("SKU-3", "WH-MAIN", 1, actor=STAFF, idempotency_key="last")
    again = svc.reserve("SKU-3", "WH-MAIN", 1, actor=STAFF, idempotency_key="last")
    assert again.replayed and again.model_copy(update={"replayed": False}) == first
