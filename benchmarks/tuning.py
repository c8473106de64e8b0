"""Benchmark: a whole inventory-tuning run at 1,000 and 10,000 SKU x location pairs.

For each size, seeds a fresh SQLite store with two years of daily history and enough SKUs
for the pairs (about 2.3 locations per SKU), then runs the `inventory_tuning` graph through
the `Orchestrator` (model `none:rules`: the reasons come from the template; memory off; no
approval pause: `approve_above` is set out of reach) with `--limit` the size and a report
file, and prints the wall time and its split: load (SQL aggregation), forecast, policy,
explain, apply (one audited, keyed write per changed pair), report (HTML + markdown + charts),
and the rest (graph, checkpoints of the state).

    .venv/bin/python benchmarks/tuning.py
    .venv/bin/python benchmarks/tuning.py --sizes 1000 --engine postgres
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

PG_ADMIN = os.environ.get(
    "ORCH_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
PAIRS_PER_SKU = 2.26


def run(url: str, pairs: int, days: int, folder: Path) -> dict[str, float]:
    from orchestrator import load_settings
    from orchestrator.runtime import Orchestrator, RunContext
    from orchestrator.store import make_engine
    from orchestrator.store.models import Stock
    from orchestrator.store.seed import seed

    engine = make_engine(url)
    start = time.perf_counter()
    report = seed(
        engine,
        skus=int(pairs / PAIRS_PER_SKU) + 10,
        days=days,
        customers=200,
        anomalies=0,
        reset=True,
    )
    seeded = time.perf_counter() - start
    from sqlalchemy import func, select

    with engine.connect() as conn:
        stocked = conn.execute(select(func.count()).select_from(Stock)).scalar_one()
    engine.dispose()
    print(
        f"seeded {report.skus} SKUs, {stocked} pairs, {report.ledger_rows:,} ledger rows "
        f"in {seeded:.1f} s"
    )
    settings = load_settings(
        store={"url": url},
        models={"default": "none:rules"},
        memory={"enabled": False},
        tuning={"approve_above": 1e9},
    )
    with Orchestrator(settings) as orch:
        start = time.perf_counter()
        result = orch.run(
            "inventory_tuning",
            {"limit": pairs, "report_path": str(folder / f"tuning-{pairs}.html")},
            context=RunContext(actor="bench"),
        )
        total = time.perf_counter() - start
    assert result.status == "completed", result.status
    timings = dict(result.values["timings"])
    timings["other"] = total - sum(timings.values())
    timings["total"] = total
    counts = result.values["counts"]
    print(f"  {len(result.values['pairs'])} pairs: {counts}")
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--engine", choices=("sqlite", "postgres"), default="sqlite")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="tuning-bench-"))
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        if args.engine == "sqlite":
            timings = run(f"sqlite:///{folder / f'shop-{size}.db'}", size, args.days, folder)
        else:
            from orchestrator.testing import postgres_database

            with postgres_database(PG_ADMIN, prefix="orch_bench") as url:
                timings = run(url, size, args.days, folder)
        rows.append((size, timings))
    keys = ["load", "forecast", "policy", "explain", "apply", "report", "other", "total"]
    print(f"\n{'pairs':>7} " + " ".join(f"{k:>9}" for k in keys))
    for size, timings in rows:
        print(f"{size:>7,} " + " ".join(f"{timings.get(k, 0.0):>8.1f}s" for k in keys))
    print(f"\nreports in {folder}")


if __name__ == "__main__":
    main()
