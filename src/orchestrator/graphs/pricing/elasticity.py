"""Price elasticity of demand from a shop's own sales history (statsmodels, imported lazily).

For each SKU, daily units sold are regressed on the log of the price actually charged with a
log-link Poisson GLM (quasi-Poisson standard errors), which is the regression of log demand on
log price that also takes days without a sale:

```
log E[units_t] = a + e * log(price_t) + b * promo_t + day-of-week_t + trend_t (+ yearly sin/cos)
```

`e` is the elasticity (a 1% higher price changes demand by about e%). The promotion dummy
keeps the display and advertising lift of a promotion out of `e`, so `e` is identified by
promotions of different depths and by list-price changes; the yearly terms are fitted when the
history covers at least half a year.

A SKU gets an estimate of its own when its history has at least `min_levels` distinct prices,
enough sales, and the estimate is significantly negative (upper end of its 95% interval below
zero, above -8). Otherwise it is **pooled** with its category: one regression over the
category's SKUs with a level per SKU and one common slope, and the result says so. Where the
category has no usable variation either, there is no estimate, and nothing is moved on
elasticity grounds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel

__all__ = ["Elasticity", "SkuHistory", "design", "estimate_elasticities", "fit_poisson"]

MIN_UNITS = 30
"""Units sold in the window below which a SKU has too little data for its own estimate."""
MIN_SALE_DAYS = 10
LOWEST = -8.0
"""Estimates below this are treated as unusable (a fit on a handful of promotion days)."""


@dataclass(frozen=True)
class SkuHistory:
    """One SKU's daily history over the estimation window (arrays of the same length)."""

    sku: str
    category: str
    units: npt.NDArray[np.float64]
    """Units sold per day (all locations)."""
    price: npt.NDArray[np.float64]
    """The price charged per day (list price less any promotion), in cents."""
    promo: npt.NDArray[np.float64]
    """1.0 on days under a promotion, else 0.0."""
    day_of_week: npt.NDArray[np.int64]
    """0 = Monday."""
    day_of_year: npt.NDArray[np.float64]


class Elasticity(BaseModel):
    """The elasticity used for one SKU, and where it came from."""

    sku: str
    category: str
    elasticity: float | None
    """d log demand / d log price; None: no usable estimate."""
    se: float | None = None
    """Its standard error (quasi-Poisson)."""
    low: float | None = None
    high: float | None = None
    """The 95% interval."""
    source: Literal["sku", "category", "none"]
    """`sku`: its own history; `category`: pooled with its category; `none`: no estimate."""
    price_levels: int = 0
    """Distinct prices in its history."""
    units: int = 0
    """Units sold in the window."""
    note: str = ""
    """Why it was pooled or has no estimate."""


def design(histories: Sequence[SkuHistory], *, yearly: bool) -> tuple[Any, Any]:
    """The regression's (y, X): log price, promotion, day of week, trend, yearly terms and,
    for several SKUs, one level per SKU (the first SKU's is the constant)."""
    ys, xs = [], []
    for g, h in enumerate(histories):
        n = len(h.units)
        cols = [np.ones(n), np.log(h.price), h.promo]
        for d in range(1, 7):
            cols.append((h.day_of_week == d).astype(np.float64))
        cols.append(np.arange(n, dtype=np.float64) / 365.0)
        if yearly:
            angle = 2 * math.pi * h.day_of_year / 365.25
            cols += [np.sin(angle), np.cos(angle)]
        for other in range(1, len(histories)):
            cols.append(np.full(n, 1.0 if other == g else 0.0))
        ys.append(h.units)
        xs.append(np.column_stack(cols))
    return np.concatenate(ys), np.vstack(xs)


def fit_poisson(y: Any, x: Any) -> tuple[float, float] | str:
    """(elasticity, standard error) of column 1 of a log-link Poisson GLM, or why it failed.

    Raises:
        ConfigError: statsmodels is not installed (the `pricing` extra).
    """
    try:
        import statsmodels.api as sm
    except ImportError:
        from orchestrator.errors import ConfigError

        raise ConfigError(
            "the pricing graph estimates elasticity with statsmodels: "
            "pip install 'commerce-orchestrator[pricing]'"
        ) from None

    if np.linalg.matrix_rank(x) < x.shape[1]:
        return "price does not vary apart from promotions of a single depth"
    try:
        fit = sm.GLM(y, x, family=sm.families.Poisson()).fit(scale="X2", maxiter=100)
    except Exception as exc:  # statsmodels raises several kinds on degenerate data
        return f"the regression failed ({type(exc).__name__})"
    coef, se = float(fit.params[1]), float(fit.bse[1])
    if not (math.isfinite(coef) and math.isfinite(se)):
        return "the regression did not converge"
    return coef, se


def _levels(h: SkuHistory) -> int:
    return len(np.unique(np.round(h.price)))


def _usable(coef: float, se: float) -> str | None:
    if coef + 1.96 * se >= 0:
        return f"estimate {coef:.2f} ± {1.96 * se:.2f} is not significantly negative"
    if coef < LOWEST:
        return f"estimate {coef:.2f} is implausibly large"
    return None


def estimate_elasticities(
    histories: Sequence[SkuHistory], *, min_levels: int = 3
) -> dict[str, Elasticity]:
    """Each SKU's elasticity: its own where its history allows, else its category's.

    Args:
        histories: one per SKU, all over the same days.
        min_levels: distinct prices a SKU needs for an estimate of its own.

    Returns:
        By SKU.
    """
    # Small least-squares problems run several times faster on one BLAS thread than on a
    # contended pool (measured 16x on a loaded 2-core machine).
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scipy's stack
        return _estimate(histories, min_levels=min_levels)
    with threadpool_limits(1):
        return _estimate(histories, min_levels=min_levels)


def _estimate(histories: Sequence[SkuHistory], *, min_levels: int) -> dict[str, Elasticity]:
    out: dict[str, Elasticity] = {}
    pooled: dict[str, list[SkuHistory]] = {}
    notes: dict[str, str] = {}
    for h in histories:
        units, levels = int(h.units.sum()), _levels(h)
        if not np.all(np.isfinite(h.price)) or np.any(h.price <= 0):
            out[h.sku] = Elasticity(
                sku=h.sku,
                category=h.category,
                elasticity=None,
                source="none",
                note="the price history has missing or non-positive prices",
            )
            continue
        if units > 0:
            pooled.setdefault(h.category, []).append(h)
        why: str | None = None
        if units < MIN_UNITS or int((h.units > 0).sum()) < MIN_SALE_DAYS:
            why = f"too few sales ({units} units)"
        elif levels < min_levels:
            why = f"too little price variation ({levels} price level{'s' if levels != 1 else ''})"
        else:
            fitted = fit_poisson(*design([h], yearly=len(h.units) >= 180))
            if isinstance(fitted, str):
                why = fitted
            else:
                why = _usable(*fitted)
                if why is None:
                    coef, se = fitted
                    out[h.sku] = Elasticity(
                        sku=h.sku,
                        category=h.category,
                        elasticity=round(coef, 3),
                        se=round(se, 3),
                        low=round(coef - 1.96 * se, 3),
                        high=round(coef + 1.96 * se, 3),
                        source="sku",
                        price_levels=levels,
                        units=units,
                    )
                    continue
        notes[h.sku] = why
    by_category: dict[str, tuple[float, float] | str] = {}
    for h in histories:
        if h.sku in out:
            continue
        if h.category not in by_category:
            group = pooled.get(h.category, [])
            if not group:
                by_category[h.category] = "no sales in the category"
            else:
                fitted = fit_poisson(*design(group, yearly=len(group[0].units) >= 180))
                if isinstance(fitted, tuple):
                    bad = _usable(*fitted)
                    by_category[h.category] = fitted if bad is None else bad
                else:
                    by_category[h.category] = fitted
        cat = by_category[h.category]
        own = notes.get(h.sku, "")
        if isinstance(cat, tuple):
            coef, se = cat
            out[h.sku] = Elasticity(
                sku=h.sku,
                category=h.category,
                elasticity=round(coef, 3),
                se=round(se, 3),
                low=round(coef - 1.96 * se, 3),
                high=round(coef + 1.96 * se, 3),
                source="category",
                price_levels=_levels(h),
                units=int(h.units.sum()),
                note=f"pooled with {h.category}: {own}",
            )
        else:
            out[h.sku] = Elasticity(
                sku=h.sku,
                category=h.category,
                elasticity=None,
                source="none",
                price_levels=_levels(h),
                units=int(h.units.sum()),
                note=f"{own}; {h.category} pooled: {cat}" if own else cat,
            )
    return out


def summary(estimates: Mapping[str, Elasticity]) -> dict[str, int]:
    """How many SKUs got their own estimate, a pooled one, or none."""
    counts = {"sku": 0, "category": 0, "none": 0}
    for e in estimates.values():
        counts[e.source] += 1
    return counts
