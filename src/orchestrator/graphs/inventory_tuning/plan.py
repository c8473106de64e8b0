"""The numbers of a tuning run: classify, forecast, policy, compare (all code, vectorized).

Per pair with sales: `orchestrator.analytics.forecast_demand` on weekly buckets gives the
demand class, the method, the mean weekly demand over the horizon (mu) and the standard
deviation of weekly demand (sigma); then

- reorder point r = mu L + z sigma sqrt(L) (`analytics.reorder_point`, continuous review,
  L = the preferred supplier's lead time in weeks, at least one day; z from the category's
  cycle service level), rounded up; safety stock = z sigma sqrt(L), rounded up, at most r;
- order quantity Q = EOQ (`analytics.eoq`: K = `order_cost`, h = `holding_rate` x unit cost
  per year, demand mu x 52 per year), rounded up, covering at most `max_order_weeks` of
  demand (a perishable at most its shelf life), and at least the supplier's MOQ.

A pair whose reorder point and order quantity both move by at most `deadband` (and at most
one unit) keeps its policy; a change above `approve_above` (and `approve_min_units` units)
waits for a person.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from orchestrator.graphs.inventory_tuning.load import Scope, WeeklySales
from orchestrator.graphs.inventory_tuning.state import PairPlan
from orchestrator.settings import TuningSettings

__all__ = ["apply_compare", "plan_pairs", "template_reason"]

Progress = Callable[[str, int, int], None]


def template_reason(p: PairPlan) -> str:
    """The deterministic reason for a change (every figure is one the code computed)."""
    was = "no reorder point" if p.old_reorder_point is None else f"was {p.old_reorder_point}"
    return (
        f"{p.demand_class.capitalize() or 'Demand'} demand of {p.weekly_mean:.1f} units/week "
        f"(sd {p.weekly_sd:.1f}) over {p.weeks} weeks; with {p.lead_time_days} days' lead time "
        f"from {p.supplier} and a {round((p.service_level or 0) * 100)}% service target: reorder "
        f"at {p.reorder_point} ({was}), safety stock {p.safety_stock}, order "
        f"{p.order_quantity}."
    )


def _base(row: dict[str, Any], scope: Scope) -> PairPlan:
    offer = scope.offers.get(row["sku"])
    plan = PairPlan(
        sku=row["sku"],
        location=row["location"],
        name=row.get("name") or "",
        category=row.get("category") or "",
        old_reorder_point=row.get("reorder_point"),
        old_safety_stock=row.get("safety_stock"),
        old_order_quantity=row.get("order_quantity"),
        old_method=row.get("method"),
        shelf_life_days=row.get("shelf_life_days") if row.get("perishable") else None,
    )
    if offer is None:
        plan.status = "no_supplier"
        plan.reason = "no active supplier offer: no lead time to plan with; policy left as is"
        return plan
    plan.supplier = offer.supplier
    plan.lead_time_days = offer.lead_time_days
    plan.moq = max(1, offer.moq)
    plan.unit_cost_cents = offer.unit_cost_cents
    if offer.unit_cost_cents <= 0:
        plan.status = "invalid"
        plan.reason = (
            f"unit cost {offer.unit_cost_cents} cents from {offer.supplier} is not positive: "
            "no order quantity can be computed; fix the supplier offer"
        )
    return plan


def plan_pairs(
    scope: Scope,
    sales: WeeklySales,
    settings: TuningSettings,
    *,
    progress: Progress | None = None,
) -> tuple[list[PairPlan], dict[str, float]]:
    """Forecast and compute the policy of every pair in `scope`; compare with the current one.

    Returns:
        One `PairPlan` per scope row (same order) and the seconds spent forecasting and on
        the policy math.
    """
    from orchestrator.analytics import eoq, forecast_demand, reorder_point

    plans = [_base(row, scope) for row in scope.rows]
    where = {pair: i for i, pair in enumerate(sales.pairs)}
    series_of: dict[int, int] = {}  # sales pair index -> plan index
    for j, plan in enumerate(plans):
        i = where.get((plan.sku, plan.location))
        if plan.status != "change":
            continue
        if i is None:
            plan.status = "no_demand"
            plan.reason = f"no sale in the last {sales.weeks} weeks: no policy is computed"
            continue
        series_of[i] = j
    timings = {"forecast": 0.0, "policy": 0.0}
    if not series_of:
        return plans, timings

    import pandas as pd

    start = time.perf_counter()
    keep = np.isin(sales.pair, np.fromiter(series_of, dtype=np.int64))
    frame = pd.DataFrame(
        {
            "series_id": np.vectorize(series_of.__getitem__, otypes=[np.int64])(sales.pair[keep]),
            "date": sales.week[keep],
            "quantity": np.maximum(sales.units[keep], 0).astype(np.float64),
        }
    )
    # Each series runs to the end of the table: make the table end at the last week.
    if frame["date"].max() < sales.weeks - 1:
        frame = pd.concat(
            [
                frame,
                pd.DataFrame(
                    {
                        "series_id": [frame["series_id"].iloc[0]],
                        "date": [sales.weeks - 1],
                        "quantity": [0.0],
                    }
                ),
            ]
        )
    if progress:
        progress("forecast", 0, len(series_of))
    fc = forecast_demand(frame, horizon=settings.horizon_weeks, lead_time=1)
    if progress:
        progress("forecast", len(series_of), len(series_of))
    timings["forecast"] = time.perf_counter() - start

    start = time.perf_counter()
    idx = np.array([int(s) for s in fc.series_ids], dtype=np.int64)
    mu = np.asarray(fc.horizon_mean, dtype=np.float64)
    sd = np.asarray(fc.sd_per_period, dtype=np.float64)
    usable = np.isfinite(mu) & np.isfinite(sd) & (mu > 1e-6) & (sd >= 0)
    sold = np.bincount(
        np.vectorize(series_of.__getitem__, otypes=[np.int64])(sales.pair[keep]),
        weights=np.maximum(sales.units[keep], 0),
        minlength=len(plans),
    )
    for k, j in enumerate(idx.tolist()):
        plan = plans[j]
        plan.demand_class = str(fc.demand_classes[k])
        plan.method = str(fc.methods[k])
        plan.weeks = int(fc.periods[k])
        plan.units_sold = int(sold[j])
        plan.weekly_mean = float(mu[k]) if math.isfinite(mu[k]) else 0.0
        plan.weekly_sd = float(sd[k]) if math.isfinite(sd[k]) else 0.0
        plan.service_level = settings.service_levels.get(plan.category, settings.service_level)
        if not usable[k]:
            if math.isfinite(mu[k]) and math.isfinite(sd[k]):
                plan.status = "no_demand"
                plan.reason = (
                    f"{plan.demand_class} demand forecast to be zero ({plan.method}): "
                    "no policy is computed"
                )
            else:
                plan.status = "invalid"
                plan.reason = f"the forecast is not a number (mean {mu[k]}, sd {sd[k]}): not used"
    live = [k for k in range(len(idx)) if usable[k]]
    if live:
        sel = np.array(live)
        rows = [plans[int(j)] for j in idx[sel]]
        level = np.array([p.service_level for p in rows], dtype=np.float64)
        lead_weeks = np.array([max(p.lead_time_days or 0, 1) / 7 for p in rows])
        cost = np.array([(p.unit_cost_cents or 0) / 100 for p in rows])
        moq = np.array([p.moq for p in rows], dtype=np.float64)
        rp = reorder_point(
            service_level=level, demand_mean=mu[sel], demand_sd=sd[sel], lead_time=lead_weeks
        )
        q = eoq(
            fixed_cost=settings.order_cost,
            holding_cost=settings.holding_rate * cost,
            demand_rate=mu[sel] * 52,
        ).order_quantity
        rop = np.ceil(np.asarray(rp.reorder_point) - 1e-9)
        ss = np.minimum(np.ceil(np.maximum(np.asarray(rp.safety_stock), 0) - 1e-9), rop)
        # Cover at most max_order_weeks of demand, and a perishable's shelf life.
        cover = np.array(
            [min(settings.max_order_weeks * 7, p.shelf_life_days or math.inf) / 7 for p in rows]
        )
        cap = np.maximum(np.ceil(mu[sel] * cover - 1e-9), 1)
        qty = np.maximum(np.minimum(np.ceil(np.asarray(q) - 1e-9), cap), moq)
        for p, r, s, n in zip(rows, rop.tolist(), ss.tolist(), qty.tolist(), strict=True):
            if not (math.isfinite(r) and math.isfinite(s) and math.isfinite(n)):
                p.status = "invalid"
                p.reason = f"the policy math gave a non-finite figure ({r}, {s}, {n}): not used"
                continue
            p.reorder_point, p.safety_stock, p.order_quantity = int(r), int(s), int(n)
    timings["policy"] = time.perf_counter() - start
    return plans, timings


def apply_compare(plans: list[PairPlan], settings: TuningSettings) -> None:
    """Compare each computed policy with the current one: keep, change, or change with approval."""
    for p in plans:
        if p.status != "change" or p.reorder_point is None:
            continue
        assert p.safety_stock is not None and p.order_quantity is not None
        old_r, old_q = p.old_reorder_point, p.old_order_quantity
        d_r = abs(p.reorder_point - old_r) if old_r is not None else p.reorder_point
        p.change = d_r / max(old_r, 1) if old_r is not None else 1.0
        p.impact_cents = d_r * (p.unit_cost_cents or 0)
        known = old_r is not None and old_q is not None and p.old_safety_stock is not None
        if known:
            assert old_r is not None and old_q is not None
            d_q = abs(p.order_quantity - old_q)
            within = d_r <= max(1, settings.deadband * old_r) and d_q <= max(
                1, settings.deadband * old_q
            )
            if within:
                p.status = "keep"
                p.reason = (
                    f"reorder point {p.reorder_point} and order quantity {p.order_quantity} "
                    f"are within {round(settings.deadband * 100)}% of the current "
                    f"{old_r} and {old_q}: kept"
                )
                continue
        big_r = (
            old_r is not None
            and p.change > settings.approve_above
            and d_r > settings.approve_min_units
        )
        big_q = (
            old_q is not None
            and abs(p.order_quantity - old_q) / max(old_q, 1) > settings.approve_above
            and abs(p.order_quantity - old_q) > settings.approve_min_units
        )
        p.needs_approval = bool(big_r or big_q)
        p.reason = template_reason(p)
        p.reason_source = "template"
