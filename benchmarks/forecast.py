"""Benchmark: `forecast_demand` on a catalogue of weekly series (default 10,000 x 104 weeks).

The catalogue mixes regular demand (Poisson around a level, some with a trend), yearly
seasonal demand, intermittent and lumpy demand, and items that stop selling. The table holds
only weeks with a sale, as a sales export would (gaps mean zero).

Two timings: "cold" is the first call in a fresh process (it includes importing pandas and
statsforecast); "warm" is a second call in the same process. statsforecast 2.1.1 runs its
models in a compiled C++ extension (no numba JIT), so cold and warm differ by import and
first-call set-up only.

Target (issue 4): <= 60 s on this 2-core machine.

    .venv/bin/python benchmarks/forecast.py
    .venv/bin/python benchmarks/forecast.py --series 1000 --n-jobs 2
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from typing import Any

import numpy as np


def catalogue(series: int, weeks: int, seed: int) -> Any:
    """A long sales table: (series_id, date, quantity) rows for weeks with a sale."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    dates = pd.date_range("2023-01-02", periods=weeks, freq="W-MON")
    t = np.arange(weeks)
    kinds = rng.choice(
        ["regular", "trend", "seasonal", "intermittent", "lumpy", "fading"],
        size=series,
        p=[0.30, 0.10, 0.20, 0.20, 0.12, 0.08],
    )
    ids, ds, qs = [], [], []
    for i, kind in enumerate(kinds):
        level = float(np.exp(rng.normal(np.log(15), 0.8)))
        if kind == "regular":
            y = rng.poisson(level, weeks)
        elif kind == "trend":
            y = rng.poisson(np.maximum(level * (1 + rng.uniform(-0.5, 1.0) * t / weeks), 0.1))
        elif kind == "seasonal":
            phase = rng.uniform(0, 2 * np.pi)
            y = rng.poisson(level * (1 + 0.6 * np.sin(2 * np.pi * t / 52 + phase)))
        elif kind == "intermittent":
            y = rng.binomial(1, rng.uniform(0.1, 0.5), weeks) * rng.poisson(3, weeks).clip(1)
        elif kind == "lumpy":
            y = rng.binomial(1, rng.uniform(0.05, 0.4), weeks) * rng.choice(
                [1, 2, 5, 40, 100], weeks
            )
        else:
            stop = int(rng.integers(weeks // 3, weeks - 20))
            y = rng.binomial(1, 0.4, weeks) * rng.poisson(2, weeks).clip(1) * (t < stop)
        sold = np.flatnonzero(y > 0)
        if sold.size == 0:  # keep the series in the table: a zero row
            sold = np.array([0])
        ids.append(np.full(sold.size, f"SKU{i:06d}"))
        ds.append(dates[sold].to_numpy())
        qs.append(y[sold])
    return pd.DataFrame(
        {
            "series_id": np.concatenate(ids),
            "date": np.concatenate(ds),
            "quantity": np.concatenate(qs).astype(float),
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--weeks", type=int, default=104)
    parser.add_argument("--horizon", type=int, default=8)
    parser.add_argument("--lead-time", type=int, default=2)
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    start = time.perf_counter()
    import pandas  # noqa: F401
    import statsforecast  # noqa: F401

    from orchestrator.analytics import forecast_demand

    import_s = time.perf_counter() - start
    table = catalogue(args.series, args.weeks, args.seed)
    print(
        f"{args.series:,} series x {args.weeks} weeks: {len(table):,} sale rows; "
        f"n_jobs={args.n_jobs}; import of pandas + statsforecast {import_s:.1f} s"
    )

    timings = []
    result = None
    for label in ("cold", "warm"):
        start = time.perf_counter()
        result = forecast_demand(
            table, horizon=args.horizon, lead_time=args.lead_time, n_jobs=args.n_jobs
        )
        total = time.perf_counter() - start
        timings.append((label, total, dict(result.seconds_by_method)))
    assert result is not None

    counts = Counter(result.methods.tolist())
    classes = Counter(result.demand_classes.tolist())
    print("demand classes:", ", ".join(f"{k} {v:,}" for k, v in sorted(classes.items())))
    print()
    methods = sorted(counts, key=lambda m: -counts[m])
    header = f"{'run':<6}{'total s':>9}{'':>3}" + "".join(f"{m:>17}" for m in methods)
    print(header)
    print(f"{'series':<6}{'':>12}" + "".join(f"{counts[m]:>17,}" for m in methods))
    for label, total, split in timings:
        cells = "".join(f"{split.get(m, 0.0):>16.2f}s" for m in methods)
        print(f"{label:<6}{total:>9.2f}{'':>3}{cells}")
    cold_total = timings[0][1] + import_s
    print()
    print(
        f"cold incl. imports: {cold_total:.1f} s; warm: {timings[1][1]:.1f} s; "
        f"target <= 60 s: {'met' if cold_total <= 60 else 'MISSED'}"
    )
    print(
        "non-finite outputs:",
        int((~np.isfinite(result.horizon_mean)).sum() + (~np.isfinite(result.lead_time_sd)).sum()),
    )


if __name__ == "__main__":
    main()
