"""The pricing graph end to end on a seeded store: time per step, and the elasticity figures.

Seeds a fresh SQLite store, then runs the `pricing` graph as a dry run (rules only, no model)
and prints the seconds per step (load, estimate, propose, guard, explain, apply, report), how
many SKUs got their own elasticity, a pooled one or none, the spread of the estimates, and the
proposals by kind. The statsmodels import is timed apart (it is paid once per process).

    .venv/bin/python benchmarks/pricing.py [--skus 120] [--days 365] [--seed 0]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skus", type=int, default=120)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from orchestrator import load_settings
    from orchestrator.backends.none import NoModel
    from orchestrator.runtime import Orchestrator, RunContext
    from orchestrator.store import make_engine
    from orchestrator.store.seed import seed

    folder = Path(tempfile.mkdtemp(prefix="pricing-bench-"))
    settings = load_settings(
        store={"url": f"sqlite:///{folder / 'shop.db'}"}, memory={"enabled": False}
    )
    engine = make_engine(settings.store)
    t0 = time.perf_counter()
    report = seed(engine, skus=args.skus, days=args.days, anomalies=0, seed=args.seed, reset=True)
    engine.dispose()
    print(
        f"seeded {args.skus} SKUs x {args.days} days ({report.ledger_rows:,} ledger rows) in {time.perf_counter() - t0:.1f}s"
    )
    t0 = time.perf_counter()
    import statsmodels.api  # noqa: F401

    print(f"statsmodels import: {time.perf_counter() - t0:.2f}s")
    with Orchestrator(settings, models=NoModel(model_name="rules")) as orch:
        t0 = time.perf_counter()
        result = orch.run("pricing", {"dry_run": True}, context=RunContext(actor="bench"))
        total = time.perf_counter() - t0
    values = result.values
    steps = ", ".join(f"{k} {v:.2f}s" for k, v in values["timings"].items())
    print(f"run: {total:.2f}s ({steps})")
    est = values["estimate_summary"]
    print(
        f"elasticity: {est['sku']} own, {est['category']} pooled, {est['none']} none "
        f"({est['days']} days from {est['since']})"
    )
    found = values["elasticities"].values()
    own = sorted(e["elasticity"] for e in found if e["source"] == "sku")
    categories = sorted(
        {(e["category"], e["elasticity"]) for e in found if e["source"] == "category"}
    )
    if own:
        print(
            f"own estimates: median {statistics.median(own):.2f}, range {own[0]:.2f} .. {own[-1]:.2f}"
        )
    for category, value in categories:
        print(f"  pooled {category}: {value:.2f}")
    kinds: dict[str, int] = {}
    for change in values["changes"]:
        key = f"{change['why']} ({'skipped' if change['status'] == 'skipped' else 'proposed'})"
        kinds[key] = kinds.get(key, 0) + 1
    print("proposals: " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())))


if __name__ == "__main__":
    main()
