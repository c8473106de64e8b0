"""Reservations per second: `StoreService.reserve` against raw guarded SQL doing the same work.

Both sides, in the same run, on the same schema and engine settings (SQLite: WAL, BEGIN
IMMEDIATE; PostgreSQL: READ COMMITTED):

- services: `svc.reserve(sku, location, 1, actor=..., idempotency_key=...)`: one transaction
  with the idempotency lookup, the guarded UPDATE ... RETURNING, the reservation row, the
  audit row and the idempotency record.
- raw: one transaction with the guarded `UPDATE stock SET reserved = reserved + 1 WHERE ...
  AND on_hand - reserved >= 1 RETURNING ...` and the reservation INSERT, through SQLAlchemy
  `text()` on the same engine.

Each worker process (spawned, its own engine) reserves `--n` units round-robin over 10 SKUs.
The rate is all reservations over the wall time from the common start to the last finish.

Usage:
    python benchmarks/reserve.py --n 2000 --workers 1 2 --engines sqlite postgres
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SKUS = [f"BENCH-{i}" for i in range(10)]
LOCATION = "WH-MAIN"


def _setup(url: str, units: int) -> None:
    from sqlmodel import Session

    from orchestrator.store import create_all, make_engine
    from orchestrator.store.models import Location, Product
    from orchestrator.store.services import Actor, StoreService

    engine = make_engine(url)
    create_all(engine)
    with Session(engine) as s:
        s.add(Location(code=LOCATION, name="Main"))
        for sku in SKUS:
            s.add(Product(sku=sku, name=sku, category="bench", price_cents=100, cost_cents=50))
        s.commit()
    svc = StoreService(engine)
    for sku in SKUS:
        svc.receive_goods(sku, LOCATION, units, reason="opening", actor=Actor("bench"))
    engine.dispose()


_RAW_UPDATE = (
    "UPDATE stock SET reserved = reserved + :q, updated_at = :now "
    "WHERE sku = :sku AND location = :loc AND on_hand - reserved >= :q "
    "RETURNING on_hand, reserved"
)
_RAW_INSERT = (
    "INSERT INTO reservation (order_id, order_line_id, sku, location, qty, status, created_at, "
    "updated_at) VALUES (NULL, NULL, :sku, :loc, :q, 'open', :now, :now)"
)


def _worker(mode: str, url: str, worker: int, n: int, barrier: Any, results: Any) -> None:
    from datetime import UTC, datetime

    from sqlalchemy import text

    from orchestrator.store import make_engine
    from orchestrator.store.services import Actor, StoreService

    engine = make_engine(url)
    svc = StoreService(engine)
    actor = Actor("bench", agent="inventory")
    update, insert = text(_RAW_UPDATE), text(_RAW_INSERT)
    svc.get_stock(SKUS[0])  # connect before the start line
    run = uuid.uuid4().hex[:8]
    barrier.wait()
    start = time.perf_counter()
    failed = 0
    for i in range(n):
        sku = SKUS[(i + worker) % len(SKUS)]
        if mode == "services":
            svc.reserve(sku, LOCATION, 1, actor=actor, idempotency_key=f"{run}-{worker}-{i}")
        else:
            now = datetime.now(UTC)
            params = {"sku": sku, "loc": LOCATION, "q": 1, "now": now}
            with engine.begin() as conn:
                if conn.execute(update, params).first() is None:
                    failed += 1
                    continue
                conn.execute(insert, params)
    end = time.perf_counter()
    results.put((start, end, failed))
    engine.dispose()


def _measure(mode: str, url: str, workers: int, n: int) -> float:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(workers)
    results = ctx.Queue()
    procs = [
        ctx.Process(target=_worker, args=(mode, url, w, n, barrier, results))
        for w in range(workers)
    ]
    for p in procs:
        p.start()
    spans = [results.get(timeout=600) for _ in procs]
    for p in procs:
        p.join()
    if any(failed for _, _, failed in spans):
        raise RuntimeError(f"{mode}: some guarded updates found no stock; raise the opening stock")
    # perf_counter is system-wide monotonic on Linux: comparable across processes.
    wall = max(e for _, e, _ in spans) - min(s for s, _, _ in spans)
    return workers * n / wall


@contextmanager
def _database(engine: str, pg_admin_url: str, tmp: Path) -> Iterator[str]:
    """A fresh database per measurement: a temporary SQLite file or a new PostgreSQL db."""
    from orchestrator.testing import postgres_database

    if engine == "sqlite":
        yield f"sqlite:///{tmp / (uuid.uuid4().hex + '.db')}"
        return
    with postgres_database(pg_admin_url, prefix="orch_bench") as url:
        yield url


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="reservations per worker")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument(
        "--engines", nargs="+", default=["sqlite", "postgres"], choices=["sqlite", "postgres"]
    )
    parser.add_argument(
        "--pg-url",
        default=os.environ.get(
            "ORCH_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
        ),
        help="an admin URL of a PostgreSQL server (a scratch database is made and dropped)",
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="measure each cell this often; best kept"
    )
    args = parser.parse_args(argv)

    from orchestrator.store import make_engine
    from orchestrator.store.invariants import check_invariants

    rows: list[tuple[str, int, float, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for engine_name in args.engines:
            for workers in args.workers:
                best: dict[str, float] = {}
                for _ in range(args.repeat):
                    for mode in ("raw", "services"):
                        with _database(engine_name, args.pg_url, Path(tmp)) as url:
                            _setup(url, units=args.n * max(args.workers) + 10)
                            rate = _measure(mode, url, workers, args.n)
                            if mode == "services":
                                engine = make_engine(url)
                                report = check_invariants(engine)
                                engine.dispose()
                                if not report.ok:
                                    print(
                                        f"invariants broken: {report.violations[:3]}",
                                        file=sys.stderr,
                                    )
                                    return 1
                        best[mode] = max(best.get(mode, 0.0), rate)
                rows.append((engine_name, workers, best["services"], best["raw"]))
                print(
                    f"  {engine_name:8} workers={workers}: services {best['services']:8.0f}/s  "
                    f"raw {best['raw']:8.0f}/s  ratio {best['services'] / best['raw']:.2f}",
                    file=sys.stderr,
                )
    print(f"\nreserve(): {args.n} reservations per worker, cpu count {os.cpu_count()}")
    print(f"{'engine':10} {'workers':>7} {'services/s':>11} {'raw SQL/s':>10} {'ratio':>6}")
    for engine_name, workers, services, raw in rows:
        print(
            f"{engine_name:10} {workers:>7} {services:>11.0f} {raw:>10.0f} {services / raw:>6.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
