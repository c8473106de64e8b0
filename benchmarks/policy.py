"""Benchmark: vectorized policy math on a catalogue of SKUs vs a per-SKU stockpyl loop.

Every function of `orchestrator.analytics.policy` runs once over all SKUs (varied, realistic
weekly parameters). The baseline is the per-SKU loop a user would otherwise write with
stockpyl (the reference implementation of Snyder & Shen); it is timed in the same run on
the first `--sample` SKUs (more when that takes under half a second, to time it reliably)
and scaled linearly to the whole catalogue (a per-SKU loop's time is linear in the number of
SKUs). On that sample the results are checked against the
vectorized ones.

Targets (issue 4): every function <= 5 s for 1,000,000 SKUs, and >= 100x the loop.

`eoq`, `eoq_with_backorders`, `eoq_all_units_discount` and `ss_power_approximation` run
through fused compiled kernels for 1-d catalogues of at least 10,000 SKUs when numba is
installed; the `path` column says which path ran, and each is also timed through its numpy
path (unless `--no-fallback`) and compared with it on every SKU.

`ss_poisson_exact` runs through its compiled Zheng-Federgruen kernel when numba is installed
(the `fast` extra; the run says which path it took). Its first call in a process imports numba
and loads the kernel from numba's cache, or compiles it when the cache is empty
(`--fresh-cache` forces that, to time a first run on a new machine). The numpy fallback is
timed once on the same catalogue unless `--no-fallback`.

    .venv/bin/python benchmarks/policy.py              # 1,000,000 SKUs
    .venv/bin/python benchmarks/policy.py --skus 100000 --sample 500
    .venv/bin/python benchmarks/policy.py --only ss_poisson_exact --fresh-cache
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import brentq

from orchestrator.analytics import policy


@dataclass
class Row:
    name: str
    first_s: float
    vector_s: float
    loop_n: int
    loop_s: float
    skus: int
    max_rel_diff: float
    identical: bool
    path: str

    @property
    def loop_scaled_s(self) -> float:
        return self.loop_s / self.loop_n * self.skus

    @property
    def ratio(self) -> float:
        return self.loop_scaled_s / self.vector_s


def catalogue(n: int, seed: int) -> dict[str, np.ndarray]:
    """Weekly parameters for n SKUs: demand, costs and lead times of a mixed retail range."""
    rng = np.random.default_rng(seed)
    unit_cost = np.exp(rng.normal(np.log(20.0), 0.8, n))
    holding = unit_cost * 0.25 / 52  # 25% a year, per week
    mean = np.exp(rng.normal(np.log(3.0), 1.0, n)).clip(0.05, 400)
    return {
        "unit_cost": unit_cost,
        "holding_cost": holding,
        "holding_rate": np.full(n, 0.25),
        "stockout_cost": holding * rng.uniform(5.0, 30.0, n),
        "fixed_cost": rng.uniform(10.0, 40.0, n),
        "demand_mean": mean,
        "demand_sd": mean * rng.uniform(0.2, 1.2, n),
        "lead_time": rng.integers(1, 9, n).astype(np.float64),
        "service_level": rng.uniform(0.85, 0.995, n),
        "annual_demand": mean * 52,
    }


class KernelSpy:
    """Stands in for `policy._closed_kernels()` and records whether a kernel ran."""

    def __init__(self, module: Any) -> None:
        self.module = module
        self.used = False

    def __getattr__(self, name: str) -> Any:
        self.used = True
        return getattr(self.module, name)


CLOSED_FORMS = ("eoq", "eoq_with_backorders", "eoq_all_units_discount", "ss_power_approximation")


def compare(vec: list[np.ndarray], loop: list[list[float]]) -> tuple[float, bool]:
    worst = 0.0
    for v, ref in zip(vec, loop, strict=True):
        r = np.asarray(ref, dtype=np.float64)
        d = np.abs(v[: r.size].astype(np.float64) - r) / np.maximum(np.abs(r), 1e-12)
        worst = max(worst, float(d.max()))
    return worst, worst <= 1e-9


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def run(
    skus: int, sample: int, ss_sample: int, seed: int, only: str | None, fallback: bool
) -> list[Row]:
    import stockpyl.eoq as s_eoq
    import stockpyl.loss_functions as s_lf
    import stockpyl.newsvendor as s_nv
    import stockpyl.rq as s_rq
    import stockpyl.ss as s_ss

    c = catalogue(skus, seed)
    h, p, k = c["holding_cost"], c["stockout_cost"], c["fixed_cost"]
    mu, sd, lt, beta = c["demand_mean"], c["demand_sd"], c["lead_time"], c["service_level"]
    lam_year, h_year = c["annual_demand"], c["holding_cost"] * 52
    rows: list[Row] = []

    def bench(
        name: str,
        vector: Callable[[], list[np.ndarray]],
        loop_one: Callable[[int], tuple[float, ...]],
        n_loop: int = sample,
        repeats: int = 3,
    ) -> list[np.ndarray] | None:
        if only is not None and not name.startswith(only):
            return None
        loader = policy._closed_kernels
        module = loader()
        spy = KernelSpy(module)
        if module is not None:
            policy._closed_kernels = lambda: spy  # type: ignore[assignment]
        try:
            vec, first_s = timed(vector)
            vec_s = first_s
            for _ in range(repeats - 1):
                vec_s = min(vec_s, timed(vector)[1])
        finally:
            policy._closed_kernels = loader
        path = "compiled" if spy.used else "numpy"
        if name.startswith("ss_poisson_exact"):
            path = "numpy" if "(numpy)" in name or policy._ss_kernel() is None else "compiled"
        n_loop = min(n_loop, skus)
        ref, loop_s = timed(lambda: [loop_one(i) for i in range(n_loop)])
        if loop_s < 0.5 and n_loop < skus:
            # Too short to time reliably: loop over enough SKUs to take about a second.
            n_loop = min(skus, int(n_loop / max(loop_s, 1e-4)))
            ref, loop_s = timed(lambda: [loop_one(i) for i in range(n_loop)])
        columns = [list(col) for col in zip(*ref, strict=True)]
        worst, same = compare(vec, columns)
        rows.append(Row(name, first_s, vec_s, n_loop, loop_s, skus, worst, same, path))
        print(f"  {name} ({path}): first call {first_s:.3f} s, best {vec_s:.3f} s", flush=True)
        if name in CLOSED_FORMS and spy.used and fallback:
            policy._closed_kernels = lambda: None  # type: ignore[assignment]
            try:
                slow, slow_s = timed(vector)
                for _ in range(repeats - 1):
                    slow_s = min(slow_s, timed(vector)[1])
            finally:
                policy._closed_kernels = loader
            rel = max(
                float(np.max(np.abs(f - s) / np.maximum(np.abs(s), 1e-300)))
                for f, s in zip(vec, slow, strict=True)
            )
            rows.append(
                Row(f"{name} (numpy)", slow_s, slow_s, n_loop, loop_s, skus, worst, same, "numpy")
            )
            print(
                f"  {name} numpy path: best {slow_s:.3f} s; compiled vs numpy on all {skus:,} "
                f"SKUs: max rel diff {rel:.1e}" + (" (identical)" if rel == 0 else ""),
                flush=True,
            )
        return list(vec)

    bench(
        "eoq",
        lambda: list(_fields(policy.eoq(fixed_cost=k, holding_cost=h_year, demand_rate=lam_year))),
        lambda i: s_eoq.economic_order_quantity(k[i], h_year[i], lam_year[i]),
    )
    bench(
        "eoq_with_backorders",
        lambda: list(
            _fields(
                policy.eoq_with_backorders(
                    fixed_cost=k, holding_cost=h_year, stockout_cost=p * 52, demand_rate=lam_year
                )
            )
        ),
        lambda i: s_eoq.economic_order_quantity_with_backorders(
            k[i], h_year[i], p[i] * 52, lam_year[i]
        ),
    )
    rng = np.random.default_rng(seed + 1)
    steps = rng.uniform(20, 400, (skus, 3)).round()
    breaks = np.concatenate([np.zeros((skus, 1)), np.cumsum(steps, axis=1)], axis=1)
    prices = c["unit_cost"][:, None] * np.array([1.0, 0.97, 0.94, 0.90])[None, :]
    discount = policy.eoq_all_units_discount
    bench(
        "eoq_all_units_discount",
        lambda: list(
            _fields(
                discount(
                    fixed_cost=k,
                    holding_rate=0.25,
                    demand_rate=lam_year,
                    breakpoints=breaks,
                    unit_costs=prices,
                )
            )
        ),
        lambda i: s_eoq.economic_order_quantity_with_all_units_discounts(
            k[i], 0.25, lam_year[i], breaks[i].tolist(), prices[i].tolist()
        ),
    )
    bench(
        "base_stock_normal",
        lambda: list(
            _fields(
                policy.base_stock_normal(
                    holding_cost=h, stockout_cost=p, demand_mean=mu, demand_sd=sd, lead_time=lt
                )
            )
        ),
        lambda i: s_nv.newsvendor_normal(h[i], p[i], mu[i], sd[i], lead_time=lt[i]),
    )
    # stockpyl 1.0.2's newsvendor_poisson has no lead time (its GitHub source adds it as
    # mean (L + 1)); the loop passes the lead-time demand mean, which is the same thing.
    bench(
        "base_stock_poisson",
        lambda: list(
            _fields(
                policy.base_stock_poisson(
                    holding_cost=h, stockout_cost=p, demand_mean=mu, lead_time=lt
                )
            )
        ),
        lambda i: s_nv.newsvendor_poisson(h[i], p[i], mu[i] * (lt[i] + 1)),
    )
    # Cycle-service safety stock z sigma sqrt(L) is newsvendor_normal's S - mean with
    # p / (h + p) = service level over L periods (its lead_time argument covers L + 1).
    bench(
        "safety_stock (cycle)",
        lambda: [policy.safety_stock(service_level=beta, demand_sd=sd, lead_time=lt).safety_stock],
        lambda i: (
            s_nv.newsvendor_normal(1 - beta[i], beta[i], mu[i], sd[i], lead_time=lt[i] - 1)[0]
            - mu[i] * lt[i],
        ),
    )
    q_weeks = np.sqrt(2 * k * mu / h)
    bench(
        "reorder_point (fill rate)",
        lambda: [
            policy.reorder_point(
                service_level=beta,
                demand_mean=mu,
                demand_sd=sd,
                lead_time=lt,
                measure="fill_rate",
                order_quantity=q_weeks,
            ).reorder_point
        ],
        lambda i: (
            mu[i] * lt[i]
            + sd[i]
            * np.sqrt(lt[i])
            * brentq(
                lambda z: (
                    s_lf.standard_normal_loss(z)[0]
                    - (1 - beta[i]) * q_weeks[i] / (sd[i] * np.sqrt(lt[i]))
                ),
                -50,
                40,
                xtol=1e-14,
                rtol=1e-15,
            ),
        ),
    )
    bench(
        "rq_eoq_ss",
        lambda: list(
            _fields(
                policy.rq_eoq_ss(
                    holding_cost=h,
                    stockout_cost=p,
                    fixed_cost=k,
                    demand_mean=mu,
                    demand_sd=sd,
                    lead_time=lt,
                )
            )
        ),
        lambda i: s_rq.r_q_eoqss_approximation(h[i], p[i], k[i], mu[i], sd[i], lt[i]),
    )
    bench(
        "ss_power_approximation",
        lambda: list(
            _fields(
                policy.ss_power_approximation(
                    holding_cost=h, stockout_cost=p, fixed_cost=k, demand_mean=mu, demand_sd=sd
                )
            )
        ),
        lambda i: s_ss.s_s_power_approximation(h[i], p[i], k[i], mu[i], sd[i]),
    )
    z = np.random.default_rng(seed + 2).uniform(-4, 4, skus)
    bench(
        "normal_loss",
        lambda: [policy.normal_loss(z)],
        lambda i: (s_lf.standard_normal_loss(z[i])[0],),
    )

    def ss_exact() -> list[np.ndarray]:
        return list(
            _fields(
                policy.ss_poisson_exact(
                    holding_cost=h, stockout_cost=p, fixed_cost=k, demand_mean=mu
                )
            )
        )

    def ss_loop(i: int) -> tuple[float, ...]:
        return tuple(s_ss.s_s_discrete_exact(h[i], p[i], k[i], True, mu[i]))

    compiled = policy._ss_kernel() is not None
    print(
        "  ss_poisson_exact path: "
        + ("compiled (numba Zheng-Federgruen)" if compiled else "numpy window search (no numba)"),
        flush=True,
    )
    fast = bench(
        "ss_poisson_exact", ss_exact, ss_loop, n_loop=ss_sample, repeats=3 if compiled else 1
    )
    if compiled and fallback:
        kernel = policy._ss_kernel
        policy._ss_kernel = lambda: None  # type: ignore[assignment]
        try:
            slow = bench("ss_poisson_exact (numpy)", ss_exact, ss_loop, n_loop=ss_sample, repeats=1)
        finally:
            policy._ss_kernel = kernel
        if fast is not None and slow is not None:
            differ = int(np.sum((fast[0] != slow[0]) | (fast[1] != slow[1])))
            rel = float(np.max(np.abs(fast[2] - slow[2]) / slow[2]))
            print(
                f"  compiled vs numpy on all {skus:,} SKUs: {differ} (s, S) differ, "
                f"cost max rel diff {rel:.1e}",
                flush=True,
            )
    return rows


def _fields(result: Any) -> list[np.ndarray]:
    return [getattr(result, f) for f in result.__dataclass_fields__ if f != "safety_stock"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skus", type=int, default=1_000_000, help="catalogue size")
    parser.add_argument("--sample", type=int, default=2000, help="SKUs in the stockpyl loop")
    parser.add_argument(
        "--ss-sample", type=int, default=40, help="SKUs in the (slow) stockpyl (s, S) loop"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", help="run only the functions whose name starts with this")
    parser.add_argument(
        "--no-fallback",
        action="store_true",
        help="skip the numpy fallback timings (closed forms and (s, S))",
    )
    parser.add_argument(
        "--fresh-cache",
        action="store_true",
        help="compile the numba kernel into an empty cache (time a first run on a new machine)",
    )
    args = parser.parse_args()
    if args.fresh_cache:
        # Read by numba when it is first imported, which is ss_poisson_exact's first call.
        os.environ["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="numba-cache-")
    print(
        f"{args.skus:,} SKUs; stockpyl loop timed on at least {args.sample:,} SKUs "
        f"({args.ss_sample} for (s, S)) and scaled linearly to {args.skus:,}"
    )
    with open("/proc/loadavg") as f:
        print(f"load average before: {' '.join(f.read().split()[:3])}")
    rows = run(args.skus, args.sample, args.ss_sample, args.seed, args.only, not args.no_fallback)
    header = (
        f"{'function':<31}{'first s':>9}{'best s':>9}{'loop n':>9}{'loop s':>9}"
        f"{'loop s scaled':>15}{'ratio':>11}{'max rel diff':>14}  same  <=5s  >=100x  path"
    )
    print()
    print(
        "first s: the first call in the process (for a compiled path: numba import and cache\n"
        "load, or compilation); best s: the best of 3 calls (1 for the numpy (s, S)),\n"
        "used for the ratio and the 5 s target. loop s scaled = loop s / loop n x SKUs."
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r.name:<31}{r.first_s:>9.3f}{r.vector_s:>9.3f}{r.loop_n:>9}{r.loop_s:>9.2f}"
            f"{r.loop_scaled_s:>15.1f}{r.ratio:>10.0f}x{r.max_rel_diff:>14.1e}"
            f"  {'yes' if r.identical else 'NO':<4}  {'yes' if r.vector_s <= 5 else 'NO':<4}"
            f"  {'yes' if r.ratio >= 100 else 'NO':<6}  {r.path}"
        )
    with open("/proc/loadavg") as f:
        print(f"load average after: {' '.join(f.read().split()[:3])}")


if __name__ == "__main__":
    main()
