"""Backtest: does the tuned policy serve the held-out weeks better than the store's old one?

On a seeded store (default 100 SKUs, about 230 SKU x location pairs, two years of daily
history), hold out the last 8 weeks, tune on the weeks before them (the graph's own code:
`load_scope`, `load_weekly_sales`, `plan_pairs`, `apply_compare`), and simulate the held-out
weeks day by day for every tuned pair, once with each policy, from the same opening stock:

- old policy: the store's reorder point (`stock.reorder_point`) and, as its order quantity,
  the average replenishment the pair actually received in the training period (receipts and
  transfers in);
- new policy: the tuned reorder point and order quantity.

Continuous review, checked at the end of each day: when the inventory position (on hand +
on order) is at or below the reorder point, order enough multiples of Q to lift it above;
an order arrives after the preferred supplier's lead time. Demand each day is the units the
store actually sold that day (sales are censored by the store's own stockouts, so true
demand was, if anything, higher); unmet demand is lost.

Reported per policy: fill rate (units served / units demanded, over all pairs) and average
inventory (mean end-of-day units on hand summed over pairs, and its value at unit cost).
The tuned policy must not be worse on both.

    .venv/bin/python benchmarks/tuning_backtest.py
    .venv/bin/python benchmarks/tuning_backtest.py --skus 300 --holdout-weeks 8
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import and_, func, select


def simulate(
    demand: np.ndarray,
    opening: np.ndarray,
    rop: np.ndarray,
    qty: np.ndarray,
    lead_days: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Served units, demanded units and mean on-hand per pair over the simulated days."""
    days, pairs = demand.shape
    on_hand = opening.astype(np.int64).copy()
    pipeline = np.zeros((days + int(lead_days.max()) + 2, pairs), dtype=np.int64)
    on_order = np.zeros(pairs, dtype=np.int64)
    served = np.zeros(pairs, dtype=np.int64)
    stock_sum = np.zeros(pairs, dtype=np.float64)
    cols = np.arange(pairs)
    for d in range(days):
        arriving = pipeline[d]
        on_hand += arriving
        on_order -= arriving
        sold = np.minimum(demand[d], on_hand)
        served += sold
        on_hand -= sold
        position = on_hand + on_order
        short = position <= rop
        if short.any():
            n = np.floor((rop[short] - position[short]) / qty[short]).astype(np.int64) + 1
            order = n * qty[short]
            on_order[short] += order
            pipeline[d + lead_days[short], cols[short]] += order
        stock_sum += on_hand
    return served, demand.sum(axis=0), stock_sum / days


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skus", type=int, default=100)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--holdout-weeks", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from orchestrator.graphs.inventory_tuning.load import (
        LEDGER,
        history_end,
        load_scope,
        load_weekly_sales,
    )
    from orchestrator.graphs.inventory_tuning.plan import apply_compare, plan_pairs
    from orchestrator.settings import Settings
    from orchestrator.store import make_engine
    from orchestrator.store.seed import seed

    folder = Path(tempfile.mkdtemp(prefix="tuning-backtest-"))
    engine = make_engine(f"sqlite:///{folder / 'shop.db'}")
    start = time.perf_counter()
    seed(engine, skus=args.skus, days=args.days, customers=200, anomalies=0, seed=args.seed)
    print(f"seeded {args.skus} SKUs x {args.days} days in {time.perf_counter() - start:.1f} s")

    settings = Settings.defaults().tuning
    end = history_end(engine)
    assert end is not None
    cutoff = end - timedelta(days=7 * args.holdout_weeks)
    scope = load_scope(engine)
    train = load_weekly_sales(engine, end=cutoff, weeks=settings.history_weeks)
    plans, _ = plan_pairs(scope, train, settings)
    apply_compare(plans, settings)
    tuned = [p for p in plans if p.status == "change" and p.reorder_point is not None]
    print(
        f"tuned {len(tuned)} of {len(plans)} pairs on history up to {cutoff} "
        f"({sum(p.status == 'no_demand' for p in plans)} without demand, "
        f"{sum(p.status == 'no_supplier' for p in plans)} without supplier)"
    )

    # The held-out weeks' daily sales, and each pair's stock when they begin (SQL sums).
    held = load_weekly_sales(engine, end=end, weeks=7 * args.holdout_weeks, days_per_period=1)
    where = {pair: i for i, pair in enumerate(held.pairs)}
    days = 7 * args.holdout_weeks
    demand = np.zeros((days, len(tuned)), dtype=np.int64)
    for j, p in enumerate(tuned):
        i = where.get((p.sku, p.location))
        if i is not None:
            mask = held.pair == i
            demand[held.week[mask], j] = np.maximum(held.units[mask], 0)
    from datetime import UTC, datetime

    cut_at = datetime(cutoff.year, cutoff.month, cutoff.day, tzinfo=UTC)
    with engine.connect() as conn:
        opening_rows = conn.execute(
            select(LEDGER.c.sku, LEDGER.c.location, func.sum(LEDGER.c.delta))
            .where(LEDGER.c.created_at < cut_at)
            .group_by(LEDGER.c.sku, LEDGER.c.location)
        ).all()
        train_from = cut_at - timedelta(weeks=settings.history_weeks)
        refill_rows = conn.execute(
            select(LEDGER.c.sku, LEDGER.c.location, func.avg(LEDGER.c.delta))
            .where(
                and_(
                    LEDGER.c.kind.in_(("receipt", "transfer_in")),
                    LEDGER.c.created_at < cut_at,
                    LEDGER.c.created_at >= train_from,
                )
            )
            .group_by(LEDGER.c.sku, LEDGER.c.location)
        ).all()
    opening_of = {(s, loc): int(v) for s, loc, v in opening_rows}
    refill_of = {(s, loc): float(v) for s, loc, v in refill_rows}
    opening = np.array([max(opening_of.get((p.sku, p.location), 0), 0) for p in tuned])
    lead = np.array([max(p.lead_time_days or 1, 1) for p in tuned])
    old_rop = np.array([max(p.old_reorder_point or 0, 0) for p in tuned])
    old_q = np.array(
        [max(round(refill_of.get((p.sku, p.location), p.order_quantity or 1)), 1) for p in tuned]
    )
    new_rop = np.array([p.reorder_point for p in tuned])
    new_q = np.array([p.order_quantity for p in tuned])
    cost = np.array([(p.unit_cost_cents or 0) / 100 for p in tuned])

    results: dict[str, Any] = {}
    for name, rop, q in (("old", old_rop, old_q), ("new", new_rop, new_q)):
        served, wanted, mean_stock = simulate(demand, opening, rop, q, lead)
        results[name] = {
            "fill_rate": served.sum() / max(wanted.sum(), 1),
            "avg_units": mean_stock.sum(),
            "avg_value": (mean_stock * cost).sum(),
            "pairs_short": int((served < wanted).sum()),
        }
    print(
        f"\nheld-out {args.holdout_weeks} weeks, {len(tuned)} pairs, "
        f"{int(demand.sum()):,} units sold"
    )
    print(f"{'policy':8} {'fill rate':>10} {'avg units':>12} {'avg value':>12} {'pairs short':>12}")
    for name in ("old", "new"):
        r = results[name]
        print(
            f"{name:8} {r['fill_rate']:>10.2%} {r['avg_units']:>12,.0f} "
            f"{r['avg_value']:>12,.0f} {r['pairs_short']:>12}"
        )
    old, new = results["old"], results["new"]
    worse_both = new["fill_rate"] < old["fill_rate"] and new["avg_units"] > old["avg_units"]
    print("\ntuned policy worse on both: " + ("YES (failed)" if worse_both else "no"))
    engine.dispose()
    if worse_both:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
