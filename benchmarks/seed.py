"""Seed throughput: >= 1,000,000 stock-ledger rows on SQLite and on PostgreSQL.

Seeds a fresh SQLite file and a fresh PostgreSQL database (created on the server named by
ORCH_TEST_POSTGRES_URL, default postgresql+psycopg://postgres@127.0.0.1:5432/postgres, and
dropped afterwards) with the same arguments, then prints the seconds per phase, the ledger
rows per second, and PostgreSQL's time as a ratio of SQLite's measured in the same run.
It also checks that the books balance except for the injected anomalies.

    .venv/bin/python benchmarks/seed.py [--skus 1400] [--days 730] [--engines sqlite,postgres]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from orchestrator.store import make_engine
from orchestrator.store.invariants import check_invariants
from orchestrator.store.seed import SeedReport, seed
from orchestrator.testing import postgres_database

PG_ADMIN = os.environ.get(
    "ORCH_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def run(url: str, args: argparse.Namespace) -> SeedReport:
    engine = make_engine(url)
    try:
        report = seed(
            engine,
            skus=args.skus,
            days=args.days,
            anomalies=args.anomalies,
            seed=args.seed,
            customers=args.customers,
        )
        found = check_invariants(engine)
        expected = sorted((a.kind, a.sku, a.location) for a in report.anomalies)
        got = sorted((v.rule, v.sku or "", v.location or "") for v in found.violations)
        print(
            f"  check_invariants: {len(found.violations)} violation(s) in {found.duration_s:.1f} s, "
            + ("exactly the manifest" if got == expected else "DIFFERENT FROM THE MANIFEST")
        )
        return report
    finally:
        engine.dispose()


def show(name: str, report: SeedReport) -> None:
    rate = report.ledger_rows / report.seconds
    print(
        f"{name}: {report.ledger_rows:,} ledger rows in {report.seconds:.1f} s = {rate:,.0f} rows/s"
    )
    total_rows = sum(report.counts.values())
    print(f"  all tables: {total_rows:,} rows = {total_rows / report.seconds:,.0f} rows/s")
    for phase, seconds in report.phase_seconds.items():
        print(f"  {phase:<28} {seconds:7.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skus", type=int, default=1400)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--anomalies", type=int, default=12)
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--engines", default="sqlite,postgres")
    args = parser.parse_args()
    reports: dict[str, SeedReport] = {}
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    if "sqlite" in engines:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{Path(tmp) / 'bench.db'}"
            print(f"sqlite ({url}) ...")
            reports["sqlite"] = run(url, args)
            size = (Path(tmp) / "bench.db").stat().st_size
            print(f"  file size {size / 2**20:,.0f} MiB")
    if "postgres" in engines:
        with postgres_database(PG_ADMIN, prefix="orch_bench") as url:
            print(f"postgres ({url}) ...")
            reports["postgres"] = run(url, args)
    for name, report in reports.items():
        show(name, report)
    if len(reports) == 2:
        ratio = reports["postgres"].seconds / reports["sqlite"].seconds
        print(f"postgres / sqlite time: {ratio:.2f}x")
    small = [n for n, r in reports.items() if r.ledger_rows < 1_000_000]
    if small:
        print(f"NOTE: fewer than 1,000,000 ledger rows on {', '.join(small)}; raise --skus")


if __name__ == "__main__":
    main()
