"""Single-location inventory-policy math, vectorized over SKUs.

Every function takes keyword-only arguments that may be scalars or numpy arrays of one shape
(or shapes that broadcast together); one call computes a whole catalogue. Results are small
frozen dataclasses whose fields are numpy arrays of the broadcast shape; for scalar input they
are 0-d (numpy scalars or 0-d arrays: ``float(result.order_quantity)`` gives a Python float).

The formulas and their names follow Snyder & Shen, *Fundamentals of Supply Chain Theory*
(2nd ed.), chapters 3-5, and the results match the `stockpyl` library, which reproduces the
book's examples.

Conventions:

| quantity | unit and meaning |
|---|---|
| `demand_rate`, `demand_mean` | items per time unit (EOQ, (r, Q)) or per period (base-stock, (s, S)) |
| `demand_sd` | standard deviation of demand per time unit / per period |
| `holding_cost` | cost per item held per time unit / per period (purchase cost excluded) |
| `stockout_cost` | cost per item backordered per time unit / per period |
| `fixed_cost` | cost per order placed |
| `holding_rate` | holding cost per time unit as a fraction of the unit purchase cost |
| `lead_time` (base-stock, (s, S)) | periods; an order-up-to decision covers `lead_time + 1` periods of demand |
| `lead_time` ((r, Q), safety stock) | same time unit as the demand; covers `lead_time (+ review_period)` |
| `cost` | expected cost per time unit (EOQ, (r, Q)) or per period (base-stock, (s, S)) |

With numba installed (the `fast` extra), `eoq`, `eoq_with_backorders`, `eoq_all_units_discount`
and `ss_power_approximation` run 1-d catalogues of 10,000 SKUs or more through fused compiled
kernels (`_closed_numba`: one pass, no temporaries) that return the numpy path's results;
anything else, and every call without numba, takes the numpy path.

Bad input (NaN, infinity, a cost or demand that must be positive but is not, shapes that do
not broadcast) raises `orchestrator.errors.ConfigError`, a `ValueError` whose message names
the argument and the offending value with its index; no function returns NaN for valid input.
"""

from __future__ import annotations

import functools
import importlib
import math
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Literal, TypeAlias, cast

import numpy as np
import numpy.typing as npt
from scipy import special

from orchestrator.analytics._validate import as_float_array, broadcast
from orchestrator.errors import ConfigError

__all__ = [
    "SS_POISSON_MAX_MEAN",
    "BaseStockResult",
    "EOQBackorderResult",
    "EOQDiscountResult",
    "EOQResult",
    "PoissonBaseStockResult",
    "RQResult",
    "ReorderPointResult",
    "SSResult",
    "SafetyStockResult",
    "ServiceMeasure",
    "SsPoissonResult",
    "base_stock_normal",
    "base_stock_poisson",
    "eoq",
    "eoq_all_units_discount",
    "eoq_with_backorders",
    "normal_loss",
    "reorder_point",
    "rq_eoq_ss",
    "safety_stock",
    "ss_poisson_exact",
    "ss_power_approximation",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
SsKernel: TypeAlias = Callable[
    [FloatArray, FloatArray, FloatArray, FloatArray, FloatArray],
    tuple[IntArray, IntArray, FloatArray],
]

ServiceMeasure = Literal["cycle", "fill_rate"]
"""`"cycle"`: probability of no stockout in a replenishment cycle (type 1); `"fill_rate"`:
fraction of demand met from stock (type 2)."""

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


# --------------------------------------------------------------------------- result types


@dataclass(frozen=True, slots=True)
class EOQResult:
    """Economic order quantity and its cost."""

    order_quantity: FloatArray
    """Q* = sqrt(2 K lambda / h), items per order."""
    cost: FloatArray
    """Ordering plus holding cost per time unit of `demand_rate` at Q* (purchase cost excluded);
    per year when the rates are annual."""


@dataclass(frozen=True, slots=True)
class EOQBackorderResult:
    """EOQ with planned backorders: order quantity, stockout fraction, cost."""

    order_quantity: FloatArray
    """Q* = sqrt(2 K lambda (h + p) / (h p)), items per order."""
    stockout_fraction: FloatArray
    """x* = h / (h + p): the fraction of each cycle spent out of stock (backordered)."""
    cost: FloatArray
    """Ordering, holding and backorder cost per time unit at (Q*, x*), purchase cost excluded."""


@dataclass(frozen=True, slots=True)
class EOQDiscountResult:
    """EOQ with all-units quantity discounts."""

    order_quantity: FloatArray
    """Optimal order quantity: a region's own EOQ when it falls inside that region, otherwise
    a breakpoint."""
    region: IntArray
    """Index j of the price region the order falls in (b_j <= Q* < b_{j+1})."""
    cost: FloatArray
    """Purchase, ordering and holding cost per time unit: c_j lambda + K lambda / Q + i c_j Q / 2."""


@dataclass(frozen=True, slots=True)
class BaseStockResult:
    """Base-stock (order-up-to) level for normal demand; the newsvendor when lead_time = 0."""

    base_stock_level: FloatArray
    """S* = mu (L + 1) + z sigma sqrt(L + 1), z the p / (h + p) quantile of the standard normal."""
    cost: FloatArray
    """Expected holding and stockout cost per period at S*: (h + p) phi(z) sigma sqrt(L + 1)."""


@dataclass(frozen=True, slots=True)
class PoissonBaseStockResult:
    """Base-stock (order-up-to) level for Poisson demand; the newsvendor when lead_time = 0."""

    base_stock_level: IntArray
    """S*: the smallest integer S with F(S) >= p / (h + p), F the Poisson(mu (L + 1)) cdf."""
    cost: FloatArray
    """Expected holding and stockout cost per period at S*: h E[(S - D)+] + p E[(D - S)+]."""


@dataclass(frozen=True, slots=True)
class SafetyStockResult:
    """Safety stock for a service target."""

    safety_stock: FloatArray
    """z sigma sqrt(lead_time + review_period), items (negative when a fill-rate target is met
    by the order quantity alone)."""
    safety_factor: FloatArray
    """z, the number of standard deviations of protection-interval demand held."""


@dataclass(frozen=True, slots=True)
class ReorderPointResult:
    """Reorder point = expected demand over the protection interval + safety stock."""

    reorder_point: FloatArray
    """mu (lead_time + review_period) + safety stock, items of inventory position."""
    safety_stock: FloatArray
    """The safety-stock part of the reorder point, items."""
    safety_factor: FloatArray
    """z, the number of standard deviations of protection-interval demand held."""


@dataclass(frozen=True, slots=True)
class RQResult:
    """(r, Q) policy by the EOQ plus safety stock approximation."""

    reorder_point: FloatArray
    """r = lambda L + z sigma sqrt(L) with z the p / (h + p) normal quantile."""
    order_quantity: FloatArray
    """Q = EOQ = sqrt(2 K lambda / h)."""
    safety_stock: FloatArray
    """r - lambda L, items."""


@dataclass(frozen=True, slots=True)
class SsPoissonResult:
    """Optimal periodic-review (s, S) policy for Poisson demand."""

    reorder_point: IntArray
    """s*: order when the inventory position is at or below s."""
    order_up_to_level: IntArray
    """S*: order up to S."""
    cost: FloatArray
    """Expected ordering, holding and stockout cost per period under (s*, S*)."""


@dataclass(frozen=True, slots=True)
class SSResult:
    """Heuristic (s, S) policy by the power approximation."""

    reorder_point: FloatArray
    """s: order when the inventory position is at or below s."""
    order_up_to_level: FloatArray
    """S = s + Q_p."""


# --------------------------------------------------------------------------- helpers


def _normal_pdf(z: FloatArray) -> FloatArray:
    return np.exp(-0.5 * z * z) * _INV_SQRT_2PI


def _critical_ratio_z(holding: FloatArray, stockout: FloatArray) -> FloatArray:
    return np.asarray(special.ndtri(stockout / (holding + stockout)), dtype=np.float64)


def normal_loss(z: npt.ArrayLike) -> FloatArray:
    """The standard normal loss function L(z) = E[(Z - z)+] = phi(z) - z (1 - Phi(z)).

    The expected shortfall of a standard normal variable above z; the complementary loss is
    z + L(z).

    Args:
        z: one value or an array of values.

    Returns:
        L(z), a float64 array of z's shape.

    Raises:
        ConfigError: z holds NaN or infinity.

    Example:
        >>> round(float(normal_loss(1.3)), 6)
        0.045528
    """
    zz = as_float_array("z", z, "any")
    return np.asarray(_normal_pdf(zz) - zz * special.ndtr(-zz), dtype=np.float64)


def _inverse_normal_loss(target: FloatArray) -> FloatArray:
    """z with L(z) = target (> 0), by Newton's method from the left.

    L is convex and decreasing, so Newton's iterates from a point left of the root increase
    monotonically to it; z0 = -target is always left of the root since L(z) > -z.
    """
    z = -target.copy()
    for _ in range(200):
        gap = _normal_pdf(z) - z * special.ndtr(-z) - target
        step = gap / special.ndtr(-z)
        z = z + step
        if not np.any(np.abs(step) > 1e-12 * np.maximum(1.0, np.abs(z))):
            break
    return z


def _poisson_pmf(k: FloatArray, mean: FloatArray) -> FloatArray:
    safe_k = np.maximum(k, 0.0)
    pmf = np.exp(safe_k * np.log(mean) - mean - special.gammaln(safe_k + 1.0))
    return np.where(k < 0, 0.0, pmf)


def _poisson_cdf(k: FloatArray, mean: FloatArray) -> FloatArray:
    return np.where(k < 0, 0.0, special.pdtr(np.maximum(k, 0.0), mean))


def _poisson_quantile(prob: FloatArray, mean: FloatArray) -> FloatArray:
    """The smallest integer k >= 0 with F(k) >= prob, F the Poisson(mean) cdf (as scipy's ppf)."""
    prob, mean = np.broadcast_arrays(prob, mean)
    shape = prob.shape
    prob, mean = prob.ravel(), mean.ravel()
    z = special.ndtri(prob)
    k = np.floor(np.maximum(mean + z * np.sqrt(mean) + (z * z - 1.0) / 6.0, 0.0))
    # The Cornish-Fisher guess is almost always right or one off: step only the SKUs that
    # need it.
    low = np.flatnonzero(_poisson_cdf(k, mean) < prob)
    while low.size:
        k[low] += 1.0
        low = low[_poisson_cdf(k[low], mean[low]) < prob[low]]
    high = np.flatnonzero(k > 0)
    high = high[_poisson_cdf(k[high] - 1.0, mean[high]) >= prob[high]]
    while high.size:
        k[high] -= 1.0
        high = high[k[high] > 0]
        high = high[_poisson_cdf(k[high] - 1.0, mean[high]) >= prob[high]]
    return k.reshape(shape)


def _poisson_cost(
    level: FloatArray, holding: FloatArray, stockout: FloatArray, mean: FloatArray
) -> FloatArray:
    """Newsvendor cost h E[(S - D)+] + p E[(D - S)+] for D ~ Poisson(mean), integer S."""
    cdf = _poisson_cdf(level, mean)
    pmf = _poisson_pmf(level, mean)
    shortfall = (mean - level) * (1.0 - cdf) + mean * pmf
    leftover = (level - mean) * cdf + mean * pmf
    return np.asarray(holding * leftover + stockout * shortfall, dtype=np.float64)


# --------------------------------------------------------------------------- compiled path

_COMPILED_MIN_SKUS = 10_000
"""Smallest catalogue that `eoq`, `eoq_with_backorders`, `eoq_all_units_discount` and
`ss_power_approximation` send to their compiled kernels (when numba is installed); below it
the call overhead outweighs the gain and the numpy path runs."""


@functools.cache
def _closed_kernels() -> ModuleType | None:
    """The fused closed-form kernels (`_closed_numba`), or None when numba cannot be imported.

    Imported on first use so that `import orchestrator.analytics` never imports numba.
    """
    try:
        return importlib.import_module("orchestrator.analytics._closed_numba")
    except ImportError:
        return None


def _catalogue(
    *values: npt.ArrayLike, rows: int = 1
) -> tuple[list[FloatArray | float], int] | None:
    """The arguments as contiguous 1-d float64 arrays (a float for a scalar or a length-1
    array) and the catalogue length n, when the compiled path applies; otherwise None.

    It applies when every argument is a scalar or a 1-d array of length 1 or n (with `rows`,
    the rows of a per-SKU schedule, also 1 or n) and n >= `_COMPILED_MIN_SKUS`. Anything
    else, including values that do not convert, goes to the numpy path, which checks it.
    """
    arrays = []
    for value in values:
        try:
            array = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            return None
        if array.ndim > 1:
            return None
        arrays.append(np.ascontiguousarray(array.reshape(-1)))
    n = max([rows, *(a.shape[0] for a in arrays)])
    if (
        n < _COMPILED_MIN_SKUS
        or rows not in (1, n)
        or any(a.shape[0] not in (1, n) for a in arrays)
    ):
        return None
    return [float(a[0]) if a.shape[0] == 1 else a for a in arrays], n


# --------------------------------------------------------------------------- EOQ family


def eoq(
    *, fixed_cost: npt.ArrayLike, holding_cost: npt.ArrayLike, demand_rate: npt.ArrayLike
) -> EOQResult:
    """Economic order quantity: Q* = sqrt(2 K lambda / h) and its cost sqrt(2 K lambda h).

    Snyder & Shen eqs. (3.4)-(3.5). The cost is ordering plus holding per time unit; the
    purchase cost c lambda does not depend on Q and is excluded.

    Args:
        fixed_cost: K, cost per order (> 0).
        holding_cost: h, cost per item per time unit (> 0).
        demand_rate: lambda, items per time unit (> 0).

    Returns:
        `EOQResult` with `order_quantity` and `cost`.

    Raises:
        ConfigError: an argument is NaN, infinite, not > 0, or the shapes do not broadcast.

    Example:
        >>> r = eoq(fixed_cost=8, holding_cost=0.225, demand_rate=1300)  # Example 3.1
        >>> round(float(r.order_quantity), 2), round(float(r.cost), 2)
        (304.05, 68.41)
    """
    fast = _catalogue(fixed_cost, holding_cost, demand_rate)
    kernels = None if fast is None else _closed_kernels()
    if fast is not None and kernels is not None:
        (k1, h1, lam1), n = fast
        q, cost = np.empty(n), np.empty(n)
        if kernels.eoq(k1, h1, lam1, q, cost) == 0:
            return EOQResult(order_quantity=q, cost=cost)
        # Not 0: a bad value, which the numpy path below reports by name and index.
    k, h, lam = broadcast(
        fixed_cost=as_float_array("fixed_cost", fixed_cost, "positive"),
        holding_cost=as_float_array("holding_cost", holding_cost, "positive"),
        demand_rate=as_float_array("demand_rate", demand_rate, "positive"),
    )
    q = np.multiply(k, lam, out=np.empty(k.shape))
    q *= 2.0
    q /= h
    q = np.sqrt(q, out=q)
    return EOQResult(order_quantity=q, cost=q * h)


def eoq_with_backorders(
    *,
    fixed_cost: npt.ArrayLike,
    holding_cost: npt.ArrayLike,
    stockout_cost: npt.ArrayLike,
    demand_rate: npt.ArrayLike,
) -> EOQBackorderResult:
    """EOQ with planned backorders (EOQB), Snyder & Shen eqs. (3.27)-(3.29).

    Args:
        fixed_cost: K, cost per order (> 0).
        holding_cost: h, cost per item per time unit (> 0).
        stockout_cost: p, cost per item backordered per time unit (> 0).
        demand_rate: lambda, items per time unit (> 0).

    Returns:
        `EOQBackorderResult` with `order_quantity`, `stockout_fraction` and `cost`.

    Raises:
        ConfigError: an argument is NaN, infinite, not > 0, or the shapes do not broadcast.

    Example:
        >>> r = eoq_with_backorders(  # Example 3.8
        ...     fixed_cost=8, holding_cost=0.225, stockout_cost=5, demand_rate=1300
        ... )
        >>> round(float(r.order_quantity), 2), round(float(r.stockout_fraction), 4)
        (310.81, 0.0431)
    """
    fast = _catalogue(fixed_cost, holding_cost, stockout_cost, demand_rate)
    kernels = None if fast is None else _closed_kernels()
    if fast is not None and kernels is not None:
        (k1, h1, p1, lam1), n = fast
        q, fraction, cost = np.empty(n), np.empty(n), np.empty(n)
        if kernels.eoq_with_backorders(k1, h1, p1, lam1, q, fraction, cost) == 0:
            return EOQBackorderResult(order_quantity=q, stockout_fraction=fraction, cost=cost)
    k, h, p, lam = broadcast(
        fixed_cost=as_float_array("fixed_cost", fixed_cost, "positive"),
        holding_cost=as_float_array("holding_cost", holding_cost, "positive"),
        stockout_cost=as_float_array("stockout_cost", stockout_cost, "positive"),
        demand_rate=as_float_array("demand_rate", demand_rate, "positive"),
    )
    h_plus_p = h + p
    fraction = h / h_plus_p  # x* = h / (h + p)
    backorder_h = fraction * p  # h p / (h + p)
    q = np.multiply(k, lam, out=np.empty(k.shape))
    q *= 2.0
    q /= backorder_h
    q = np.sqrt(q, out=q)
    return EOQBackorderResult(order_quantity=q, stockout_fraction=fraction, cost=q * backorder_h)


def _check_schedule(
    breakpoints: npt.ArrayLike, unit_costs: npt.ArrayLike
) -> tuple[FloatArray, FloatArray]:
    b = as_float_array("breakpoints", breakpoints, "nonnegative")
    c = as_float_array("unit_costs", unit_costs, "positive")
    if b.ndim not in (1, 2) or b.shape[-1] < 1:
        raise ConfigError(
            f"breakpoints must be a 1-d schedule or a 2-d array (one row per SKU), "
            f"got shape {b.shape}"
        )
    if c.shape != b.shape:
        raise ConfigError(f"unit_costs must have the shape of breakpoints {b.shape}, got {c.shape}")
    first = b[..., 0]
    if np.any(first != 0):
        bad = np.atleast_1d(first)
        index = int(np.argmax(bad != 0))
        raise ConfigError(
            f"breakpoints must start with 0, got {float(bad[index])}"
            + (f" in row {index}" if b.ndim == 2 else "")
        )
    steps = np.diff(b, axis=-1)
    if np.any(steps <= 0):
        where = np.argwhere(steps <= 0)[0]
        raise ConfigError(
            f"breakpoints must be strictly increasing, got {b[tuple(where)]} then "
            f"{b[(*where[:-1], where[-1] + 1)]} at index {tuple(int(i) for i in where)}"
        )
    return b, c


def eoq_all_units_discount(
    *,
    fixed_cost: npt.ArrayLike,
    holding_rate: npt.ArrayLike,
    demand_rate: npt.ArrayLike,
    breakpoints: npt.ArrayLike,
    unit_costs: npt.ArrayLike,
) -> EOQDiscountResult:
    """EOQ under all-units quantity discounts (Snyder & Shen section 3.4, eqs. (3.18)-(3.19)).

    An order of Q units with b_j <= Q < b_{j+1} pays c_j for every unit. Candidates are each
    region's own EOQ sqrt(2 K lambda / (i c_j)) when it falls inside its region, and each
    breakpoint b_k (k >= 1) priced in region k; the cheapest candidate wins (the first one
    on ties, as in stockpyl).

    Args:
        fixed_cost: K, cost per order (> 0); scalar or one per SKU.
        holding_rate: i, holding cost per time unit as a fraction of the unit cost (> 0).
        demand_rate: lambda, items per time unit (> 0).
        breakpoints: b_0 = 0 < b_1 < ... < b_n; a 1-d schedule shared by all SKUs, or a 2-d
            array with one row per SKU (all rows of one length).
        unit_costs: c_0, ..., c_n (> 0), the shape of `breakpoints`.

    Returns:
        `EOQDiscountResult` with `order_quantity`, `region` and `cost` (purchase cost
        included), shaped like the broadcast of the scalar arguments and the rows.

    Raises:
        ConfigError: bad values, a schedule that does not start at 0 or does not increase,
            or shapes that do not broadcast.

    Example:
        >>> r = eoq_all_units_discount(
        ...     fixed_cost=8, holding_rate=0.3, demand_rate=1300,
        ...     breakpoints=[0, 400, 800], unit_costs=[0.75, 0.72, 0.68],
        ... )  # Example 3.6
        >>> float(r.order_quantity), int(r.region), round(float(r.cost), 2)
        (800.0, 2, 978.6)
    """
    fast = _discount_compiled(fixed_cost, holding_rate, demand_rate, breakpoints, unit_costs)
    if fast is not None:
        return fast
    b, c = _check_schedule(breakpoints, unit_costs)
    k, i, lam = broadcast(
        fixed_cost=as_float_array("fixed_cost", fixed_cost, "positive"),
        holding_rate=as_float_array("holding_rate", holding_rate, "positive"),
        demand_rate=as_float_array("demand_rate", demand_rate, "positive"),
    )
    try:
        shape = np.broadcast_shapes(k.shape, b.shape[:-1])
    except ValueError as exc:
        raise ConfigError(
            f"argument shapes do not match: scalar arguments {k.shape}, "
            f"breakpoints rows {b.shape[:-1]}"
        ) from exc
    n = b.shape[-1]
    k_, i_, lam_ = (np.array(np.broadcast_to(a, shape)) for a in (k, i, lam))
    b_ = np.broadcast_to(b, (*shape, n))
    c_ = np.broadcast_to(c, (*shape, n))
    order_cost = k_ * lam_
    best_cost = np.full(shape, np.inf)
    best_q = np.zeros(shape)
    best_region = np.zeros(shape, dtype=np.int64)
    q = np.empty(shape)
    cost = np.empty(shape)
    scratch = np.empty(shape)

    def offer(region: int, realizable: npt.NDArray[np.bool_] | None) -> None:
        # cost = c_j lambda + K lambda / Q + i c_j Q / 2, in place; `scratch` holds i c_j.
        unit = c_[..., region]
        np.divide(order_cost, q, out=cost)
        np.add(cost, unit * lam_, out=cost)
        np.add(cost, scratch * q / 2.0, out=cost)
        better = cost < best_cost
        if realizable is not None:
            better &= realizable
        np.copyto(best_cost, cost, where=better)
        np.copyto(best_q, q, where=better)
        np.copyto(best_region, region, where=better)

    # Candidates in stockpyl's order, so that ties resolve as there: each region's own EOQ
    # when it lies inside the region, then each breakpoint b_k (k >= 1) priced in region k.
    for j in range(n):
        np.multiply(i_, c_[..., j], out=scratch)
        np.divide(order_cost, scratch, out=q)
        q *= 2.0
        np.sqrt(q, out=q)
        inside = q >= b_[..., j]
        if j + 1 < n:
            inside &= q < b_[..., j + 1]
        offer(j, inside)
    for j in range(1, n):
        np.multiply(i_, c_[..., j], out=scratch)
        np.copyto(q, b_[..., j])
        offer(j, None)
    return EOQDiscountResult(order_quantity=best_q, region=best_region, cost=best_cost)


def _discount_compiled(
    fixed_cost: npt.ArrayLike,
    holding_rate: npt.ArrayLike,
    demand_rate: npt.ArrayLike,
    breakpoints: npt.ArrayLike,
    unit_costs: npt.ArrayLike,
) -> EOQDiscountResult | None:
    """`eoq_all_units_discount` by its compiled kernel, or None for the numpy path.

    A shared 1-d schedule is checked here once; per-SKU rows (a 2-d schedule) are checked by
    the kernel as it reads them.
    """
    try:
        b = np.asarray(breakpoints, dtype=np.float64)
        c = np.asarray(unit_costs, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if b.ndim not in (1, 2) or b.shape != c.shape or b.shape[-1] < 1:
        return None
    shared = b.ndim == 1
    fast = _catalogue(fixed_cost, holding_rate, demand_rate, rows=1 if shared else b.shape[0])
    kernels = None if fast is None else _closed_kernels()
    if fast is None or kernels is None:
        return None
    if shared:
        b, c = _check_schedule(b, c)
    (k1, rate1, lam1), n = fast
    b2 = np.ascontiguousarray(b.reshape(-1, b.shape[-1]))
    c2 = np.ascontiguousarray(c.reshape(-1, c.shape[-1]))
    q, region, cost = np.empty(n), np.empty(n, np.int64), np.empty(n)
    if kernels.eoq_all_units_discount(k1, rate1, lam1, b2, c2, not shared, q, region, cost):
        return None
    return EOQDiscountResult(order_quantity=q, region=region, cost=cost)


# --------------------------------------------------------------------------- base stock


def base_stock_normal(
    *,
    holding_cost: npt.ArrayLike,
    stockout_cost: npt.ArrayLike,
    demand_mean: npt.ArrayLike,
    demand_sd: npt.ArrayLike,
    lead_time: npt.ArrayLike = 0,
) -> BaseStockResult:
    """Optimal base-stock level for normal demand (the newsvendor when lead_time = 0).

    Periodic review: an order placed now arrives after `lead_time` periods, so the level must
    cover `lead_time + 1` periods of demand, with mean mu (L + 1) and standard deviation
    sigma sqrt(L + 1) (periods independent). S* is the critical-ratio p / (h + p) quantile
    (Snyder & Shen eqs. (4.30), (4.37)).

    Args:
        holding_cost: h, cost per item left over per period (> 0).
        stockout_cost: p, cost per item short per period (> 0).
        demand_mean: mu, mean demand per period (> 0).
        demand_sd: sigma, standard deviation of demand per period (>= 0).
        lead_time: L, periods (>= 0, may be fractional).

    Returns:
        `BaseStockResult` with `base_stock_level` and expected `cost` per period.

    Raises:
        ConfigError: bad values or shapes that do not broadcast.

    Example:
        >>> r = base_stock_normal(  # Example 4.3
        ...     holding_cost=0.18, stockout_cost=0.70, demand_mean=50, demand_sd=8
        ... )
        >>> round(float(r.base_stock_level), 2), round(float(r.cost), 4)
        (56.6, 1.9976)
    """
    h, p, mu, sd, lt = broadcast(
        holding_cost=as_float_array("holding_cost", holding_cost, "positive"),
        stockout_cost=as_float_array("stockout_cost", stockout_cost, "positive"),
        demand_mean=as_float_array("demand_mean", demand_mean, "positive"),
        demand_sd=as_float_array("demand_sd", demand_sd, "nonnegative"),
        lead_time=as_float_array("lead_time", lead_time, "nonnegative"),
    )
    z = _critical_ratio_z(h, p)
    periods = lt + 1.0
    sd_lt = sd * np.sqrt(periods)
    return BaseStockResult(
        base_stock_level=mu * periods + z * sd_lt,
        cost=(h + p) * _normal_pdf(z) * sd_lt,
    )


def base_stock_poisson(
    *,
    holding_cost: npt.ArrayLike,
    stockout_cost: npt.ArrayLike,
    demand_mean: npt.ArrayLike,
    lead_time: npt.ArrayLike = 0,
) -> PoissonBaseStockResult:
    """Optimal base-stock level for Poisson demand (the newsvendor when lead_time = 0).

    Demand over the `lead_time + 1` periods the level must cover is Poisson with mean
    mu (L + 1). (stockpyl 1.0.2 on PyPI ignores the lead time here; its GitHub source and this
    function use mu (L + 1).)

    Args:
        holding_cost: h, cost per item left over per period (> 0).
        stockout_cost: p, cost per item short per period (> 0).
        demand_mean: mu, mean demand per period (> 0).
        lead_time: L, periods (>= 0).

    Returns:
        `PoissonBaseStockResult` with the integer `base_stock_level` and expected `cost` per
        period.

    Raises:
        ConfigError: bad values or shapes that do not broadcast.

    Example:
        >>> r = base_stock_poisson(holding_cost=0.18, stockout_cost=0.70, demand_mean=50)
        >>> int(r.base_stock_level), round(float(r.cost), 4)
        (56, 1.7972)
    """
    h, p, mu, lt = broadcast(
        holding_cost=as_float_array("holding_cost", holding_cost, "positive"),
        stockout_cost=as_float_array("stockout_cost", stockout_cost, "positive"),
        demand_mean=as_float_array("demand_mean", demand_mean, "positive"),
        lead_time=as_float_array("lead_time", lead_time, "nonnegative"),
    )
    lam = mu * (lt + 1.0)
    level = _poisson_quantile(p / (h + p), lam)
    return PoissonBaseStockResult(
        base_stock_level=level.astype(np.int64),
        cost=_poisson_cost(level, h, p, lam),
    )


# --------------------------------------------------------------------------- safety stock


def _safety_factor(
    service_level: FloatArray,
    sd_protect: FloatArray,
    measure: ServiceMeasure,
    order_quantity: npt.ArrayLike | None,
) -> tuple[FloatArray, FloatArray]:
    if measure == "cycle":
        if order_quantity is not None:
            raise ConfigError("order_quantity is used only with measure='fill_rate'")
        z = np.asarray(special.ndtri(service_level), dtype=np.float64)
        return z, sd_protect
    if measure != "fill_rate":
        raise ConfigError(f"measure must be 'cycle' or 'fill_rate', got {measure!r}")
    if order_quantity is None:
        raise ConfigError(
            "measure='fill_rate' needs order_quantity: the expected demand per replenishment "
            "cycle (the order quantity Q, or the mean demand per review period for base-stock)"
        )
    q = as_float_array("order_quantity", order_quantity, "positive")
    beta, sd, q = broadcast(service_level=service_level, demand_sd=sd_protect, order_quantity=q)
    if np.any(sd <= 0):
        index = np.argwhere(np.atleast_1d(sd) <= 0)[0]
        raise ConfigError(
            "demand_sd and the protection interval must be > 0 for a fill-rate target, got "
            f"{float(np.atleast_1d(sd)[tuple(index)])}"
        )
    z = _inverse_normal_loss((1.0 - beta) * q / sd)
    return z, sd


def safety_stock(
    *,
    service_level: npt.ArrayLike,
    demand_sd: npt.ArrayLike,
    lead_time: npt.ArrayLike,
    review_period: npt.ArrayLike = 0,
    measure: ServiceMeasure = "cycle",
    order_quantity: npt.ArrayLike | None = None,
) -> SafetyStockResult:
    """Safety stock z sigma sqrt(L + R) for a cycle-service or fill-rate target.

    Demand over the protection interval (lead time L plus review period R; R = 0 for
    continuous review) is taken as normal with standard deviation sigma sqrt(L + R).

    - `measure="cycle"` (type 1): z = Phi^-1(service_level), the probability of no stockout
      per replenishment cycle.
    - `measure="fill_rate"` (type 2): z solves sigma_LR L(z) = (1 - service_level) Q through
      the standard normal loss function L, where Q (`order_quantity`) is the expected demand
      per replenishment cycle; the fraction of demand met from stock is then service_level.

    Args:
        service_level: target in (0, 1), e.g. 0.98.
        demand_sd: sigma, standard deviation of demand per time unit (>= 0; > 0 for fill rate).
        lead_time: L, in the time unit of `demand_sd` (>= 0).
        review_period: R, same unit (>= 0); 0 for continuous review, 1 for a base-stock policy
            reviewed every period.
        measure: "cycle" or "fill_rate".
        order_quantity: Q, items per replenishment (> 0); needed for "fill_rate" only.

    Returns:
        `SafetyStockResult` with `safety_stock` and `safety_factor`.

    Raises:
        ConfigError: bad values, a missing or superfluous `order_quantity`, or shapes that do
            not broadcast.

    Example:
        >>> r = safety_stock(service_level=0.98, demand_sd=30, lead_time=2)
        >>> round(float(r.safety_stock), 1)
        87.1
    """
    beta, sd, lt, rp = broadcast(
        service_level=as_float_array("service_level", service_level, "probability"),
        demand_sd=as_float_array("demand_sd", demand_sd, "nonnegative"),
        lead_time=as_float_array("lead_time", lead_time, "nonnegative"),
        review_period=as_float_array("review_period", review_period, "nonnegative"),
    )
    z, sd_protect = _safety_factor(beta, sd * np.sqrt(lt + rp), measure, order_quantity)
    return SafetyStockResult(
        safety_stock=z * sd_protect, safety_factor=z * np.ones_like(sd_protect)
    )


def reorder_point(
    *,
    service_level: npt.ArrayLike,
    demand_mean: npt.ArrayLike,
    demand_sd: npt.ArrayLike,
    lead_time: npt.ArrayLike,
    review_period: npt.ArrayLike = 0,
    measure: ServiceMeasure = "cycle",
    order_quantity: npt.ArrayLike | None = None,
) -> ReorderPointResult:
    """Reorder point mu (L + R) + safety stock, for a cycle-service or fill-rate target.

    The same conventions as `safety_stock`; `demand_mean` is per time unit of `lead_time`.

    Args:
        service_level: target in (0, 1).
        demand_mean: mu, mean demand per time unit (> 0).
        demand_sd: sigma, standard deviation of demand per time unit (>= 0).
        lead_time: L, in the time unit of the demand (>= 0).
        review_period: R, same unit (>= 0); 0 for continuous review.
        measure: "cycle" or "fill_rate".
        order_quantity: Q, items per replenishment (> 0); needed for "fill_rate" only.

    Returns:
        `ReorderPointResult` with `reorder_point`, `safety_stock` and `safety_factor`.

    Raises:
        ConfigError: bad values, a missing or superfluous `order_quantity`, or shapes that do
            not broadcast.

    Example:
        >>> r = reorder_point(service_level=0.98, demand_mean=100, demand_sd=30, lead_time=2)
        >>> round(float(r.reorder_point), 1)
        287.1
    """
    beta, mu, sd, lt, rp = broadcast(
        service_level=as_float_array("service_level", service_level, "probability"),
        demand_mean=as_float_array("demand_mean", demand_mean, "positive"),
        demand_sd=as_float_array("demand_sd", demand_sd, "nonnegative"),
        lead_time=as_float_array("lead_time", lead_time, "nonnegative"),
        review_period=as_float_array("review_period", review_period, "nonnegative"),
    )
    z, sd_protect = _safety_factor(beta, sd * np.sqrt(lt + rp), measure, order_quantity)
    ss = z * sd_protect
    return ReorderPointResult(
        reorder_point=mu * (lt + rp) + ss,
        safety_stock=ss,
        safety_factor=z * np.ones_like(ss),
    )


def rq_eoq_ss(
    *,
    holding_cost: npt.ArrayLike,
    stockout_cost: npt.ArrayLike,
    fixed_cost: npt.ArrayLike,
    demand_mean: npt.ArrayLike,
    demand_sd: npt.ArrayLike,
    lead_time: npt.ArrayLike,
) -> RQResult:
    """(r, Q) policy by the "EOQ plus safety stock" approximation (Snyder & Shen eq. (5.21)).

    Continuous review: Q is the EOQ and r the p / (h + p) quantile of lead-time demand,
    normal with mean lambda L and standard deviation sigma sqrt(L). The lead time is in the
    time unit of the demand rate (e.g. years: 1/12 for a month when lambda is per year).

    Args:
        holding_cost: h, cost per item per time unit (> 0).
        stockout_cost: p, cost per item backordered per time unit (> 0).
        fixed_cost: K, cost per order (> 0).
        demand_mean: lambda, mean demand per time unit (> 0).
        demand_sd: sigma, standard deviation of demand per time unit (>= 0).
        lead_time: L, in the time unit of the demand (>= 0).

    Returns:
        `RQResult` with `reorder_point`, `order_quantity` and `safety_stock`.

    Raises:
        ConfigError: bad values or shapes that do not broadcast.

    Example:
        >>> r = rq_eoq_ss(  # Example 5.5
        ...     holding_cost=0.225, stockout_cost=7.5, fixed_cost=8,
        ...     demand_mean=1300, demand_sd=150, lead_time=1 / 12,
        ... )
        >>> round(float(r.reorder_point), 2), round(float(r.order_quantity), 2)
        (190.34, 304.05)
    """
    h, p, k, lam, sd, lt = broadcast(
        holding_cost=as_float_array("holding_cost", holding_cost, "positive"),
        stockout_cost=as_float_array("stockout_cost", stockout_cost, "positive"),
        fixed_cost=as_float_array("fixed_cost", fixed_cost, "positive"),
        demand_mean=as_float_array("demand_mean", demand_mean, "positive"),
        demand_sd=as_float_array("demand_sd", demand_sd, "nonnegative"),
        lead_time=as_float_array("lead_time", lead_time, "nonnegative"),
    )
    ss = _critical_ratio_z(h, p) * sd * np.sqrt(lt)
    return RQResult(
        reorder_point=lam * lt + ss,
        order_quantity=np.sqrt(2.0 * k * lam / h),
        safety_stock=ss,
    )


# --------------------------------------------------------------------------- (s, S)


def ss_power_approximation(
    *,
    holding_cost: npt.ArrayLike,
    stockout_cost: npt.ArrayLike,
    fixed_cost: npt.ArrayLike,
    demand_mean: npt.ArrayLike,
    demand_sd: npt.ArrayLike,
) -> SSResult:
    """Heuristic (s, S) by the power approximation (Ehrhardt & Mosier 1984).

    Snyder & Shen eqs. (4.77)-(4.80) with no lead time, as stockpyl computes them:
    Q_p = 1.30 mu^0.494 (K/h)^0.506 (1 + sigma^2/mu^2)^0.116,
    z = sqrt(Q_p h / (sigma p)), s = 0.973 mu + sigma (0.183/z + 1.063 - 2.192 z), S = s + Q_p.

    Args:
        holding_cost: h, cost per item per period (> 0).
        stockout_cost: p, cost per item short per period (> 0).
        fixed_cost: K, cost per order (> 0).
        demand_mean: mu, mean demand per period (> 0).
        demand_sd: sigma, standard deviation of demand per period (> 0).

    Returns:
        `SSResult` with `reorder_point` (s) and `order_up_to_level` (S), both real numbers.

    Raises:
        ConfigError: bad values or shapes that do not broadcast.

    Example:
        >>> r = ss_power_approximation(
        ...     holding_cost=0.18, stockout_cost=0.70, fixed_cost=2.5,
        ...     demand_mean=50, demand_sd=8,
        ... )
        >>> round(float(r.reorder_point), 2), round(float(r.order_up_to_level), 2)
        (40.19, 74.29)
    """
    fast = _catalogue(holding_cost, stockout_cost, fixed_cost, demand_mean, demand_sd)
    kernels = None if fast is None else _closed_kernels()
    if fast is not None and kernels is not None:
        result = _ss_power_blocked(kernels, *fast)
        if result is not None:
            return result
    h, p, k, mu, sd = broadcast(
        holding_cost=as_float_array("holding_cost", holding_cost, "positive"),
        stockout_cost=as_float_array("stockout_cost", stockout_cost, "positive"),
        fixed_cost=as_float_array("fixed_cost", fixed_cost, "positive"),
        demand_mean=as_float_array("demand_mean", demand_mean, "positive"),
        demand_sd=as_float_array("demand_sd", demand_sd, "positive"),
    )
    # One exp of a sum of logs costs half of three powers.
    cv = sd / mu
    q = 0.494 * np.log(mu) + 0.506 * np.log(k / h) + 0.116 * np.log1p(cv * cv)
    q = 1.30 * np.exp(q)
    z = np.sqrt((q / sd) * (h / p))
    s = 0.973 * mu + sd * (0.183 / z + 1.063 - 2.192 * z)
    return SSResult(reorder_point=s, order_up_to_level=s + q)


_SS_POWER_BLOCK = 16_384
"""SKUs per block of the compiled `ss_power_approximation`: its buffers stay in cache."""


def _ss_power_blocked(
    kernels: ModuleType, arrays: list[FloatArray | float], n: int
) -> SSResult | None:
    """`ss_power_approximation` in cache-sized blocks, or None when an input is bad.

    numba's scalar log and exp cost several times numpy's vectorized ones, so each block
    runs the arithmetic compiled and the four transcendental functions through numpy, on
    buffers that stay in cache: one read of each input and one write of each output, with
    the numpy path's functions and order of operations (the same bits). Both release the
    GIL, so the catalogue is split over numba's thread count of Python threads.
    """
    s_out, big_s_out = np.empty(n), np.empty(n)
    blocks = -(-n // _SS_POWER_BLOCK)
    parts = max(1, min(kernels.threads(), blocks))
    bounds = [blocks * j // parts * _SS_POWER_BLOCK for j in range(parts)] + [n]
    bad = [0] * parts

    def run(part: int) -> None:
        h, p, k, mu, sd = arrays
        stop = bounds[part + 1]
        buffers = np.empty((3, _SS_POWER_BLOCK))
        for start in range(bounds[part], stop, _SS_POWER_BLOCK):
            k_over_h, cv2, mean = buffers[:, : min(_SS_POWER_BLOCK, stop - start)]
            if kernels.ss_power_prepare(h, p, k, mu, sd, start, k_over_h, cv2, mean):
                bad[part] = 1
                return
            np.log(k_over_h, out=k_over_h)
            np.log1p(cv2, out=cv2)
            np.log(mean, out=mean)
            kernels.ss_power_exponent(k_over_h, cv2, mean)
            np.exp(k_over_h, out=k_over_h)
            kernels.ss_power_finish(h, p, mu, sd, start, k_over_h, s_out, big_s_out)

    helpers = [threading.Thread(target=run, args=(part,)) for part in range(1, parts)]
    for thread in helpers:
        thread.start()
    run(0)
    for thread in helpers:
        thread.join()
    if any(bad):
        return None
    return SSResult(reorder_point=s_out, order_up_to_level=big_s_out)


def ss_poisson_exact(
    *,
    holding_cost: npt.ArrayLike,
    stockout_cost: npt.ArrayLike,
    fixed_cost: npt.ArrayLike,
    demand_mean: npt.ArrayLike,
    lead_time: npt.ArrayLike = 0,
) -> SsPoissonResult:
    """Optimal periodic-review (s, S) policy for Poisson demand, exactly.

    The cost of (s, S) is c(s, S) = (K + sum_{d=0}^{S-s-1} m(d) G(S - d)) / M(S - s)
    (Zheng & Federgruen 1991; Snyder & Shen section 4.6), where G is the newsvendor cost
    with demand over `lead_time + 1` periods and m, M the renewal functions of one period's
    demand. Two implementations give the same policies:

    - with numba installed (the `fast` extra), the Zheng–Federgruen algorithm itself
      (stockpyl's `s_s_discrete_exact`, Snyder & Shen Algorithm 4.2), compiled and run per
      SKU over numba's threads: about 2-5 µs per typical retail SKU. The first call on a
      machine compiles it (about 5 s; cached in `__pycache__` for later processes).
    - without numba, an exhaustive numpy search of a window that provably holds the
      optimum (an optimal policy has G(S*) <= c*, G(s* + 1) <= c* and S* >= y*, the
      newsvendor level, so with any achievable cost c_u >= c* it lies in {y: G(y) <= c_u}),
      all SKUs at once; its work grows with the square of S* - s*, tens of microseconds per
      SKU (see `benchmarks/policy.py`).

    Both return stockpyl's `s_s_discrete_exact` policy, with the cost to 1e-9 relative, and
    break ties in cost as it does: S* is the smallest optimal order-up-to level and s* the
    largest s with c(s, S*) <= G(s).

    Args:
        holding_cost: h, cost per item on hand at the end of a period (> 0).
        stockout_cost: p, cost per item backordered at the end of a period (> 0).
        fixed_cost: K, cost per order (> 0).
        demand_mean: mu, mean of the Poisson demand per period (> 0); the lead-time demand
            mean mu (L + 1) must be at most 10,000 (`SS_POISSON_MAX_MEAN`).
        lead_time: L, periods (>= 0).

    Returns:
        `SsPoissonResult` with integer `reorder_point` (s), `order_up_to_level` (S) and the
        expected `cost` per period.

    Raises:
        ConfigError: bad values, shapes that do not broadcast, or mu (L + 1) above 10,000.

    Example:
        >>> r = ss_poisson_exact(  # Example 4.7
        ...     holding_cost=1, stockout_cost=4, fixed_cost=5, demand_mean=6
        ... )
        >>> int(r.reorder_point), int(r.order_up_to_level), round(float(r.cost), 4)
        (4, 10, 8.0341)
    """
    h, p, k, mu, lt = broadcast(
        holding_cost=as_float_array("holding_cost", holding_cost, "positive"),
        stockout_cost=as_float_array("stockout_cost", stockout_cost, "positive"),
        fixed_cost=as_float_array("fixed_cost", fixed_cost, "positive"),
        demand_mean=as_float_array("demand_mean", demand_mean, "positive"),
        lead_time=as_float_array("lead_time", lead_time, "nonnegative"),
    )
    shape = h.shape
    lam = mu * (lt + 1.0)
    if lam.size and lam.max() > SS_POISSON_MAX_MEAN:
        at = tuple(np.argwhere(lam > SS_POISSON_MAX_MEAN)[0])
        where = {0: "", 1: f" at index {int(at[0])}"}.get(
            lam.ndim, f" at index {tuple(int(i) for i in at)}"
        )
        raise ConfigError(
            f"demand_mean x (lead_time + 1) must be <= {SS_POISSON_MAX_MEAN:,.0f} for "
            f"ss_poisson_exact, got {float(lam[at])}{where} (demand_mean {float(mu[at])}, "
            f"lead_time {float(lt[at])}); for such demand use ss_power_approximation"
        )
    flat = [np.ascontiguousarray(a.ravel()) for a in (h, p, k, mu, lam)]
    kernel = _ss_kernel()
    solve = _ss_poisson if kernel is None else kernel
    s_out, big_s_out, cost_out = solve(*flat)
    return SsPoissonResult(
        reorder_point=s_out.reshape(shape),
        order_up_to_level=big_s_out.reshape(shape),
        cost=cost_out.reshape(shape),
    )


SS_POISSON_MAX_MEAN = 10_000.0
"""Largest lead-time demand mean mu (L + 1) that `ss_poisson_exact` accepts.

Both implementations build Poisson tables over mean +/- (10 sd + 10) per SKU, so their work
and memory grow with the mean; at this bound one SKU takes milliseconds. Beyond it a normal
approximation (`ss_power_approximation`) is as accurate as demand data allow."""


@functools.cache
def _ss_kernel() -> SsKernel | None:
    """The compiled Zheng–Federgruen kernel, or None when numba cannot be imported.

    Imported on first use so that `import orchestrator.analytics` never imports numba.
    """
    try:
        from orchestrator.analytics._ss_numba import ss_poisson_zf
    except ImportError:
        return None
    return cast(SsKernel, ss_poisson_zf)


_SS_CHUNK_CELLS = 4_000_000
"""Upper bound on (SKUs in a chunk) x (window width), to keep the work arrays in memory."""


def _renewal(mu: FloatArray, width: int) -> FloatArray:
    """m(0..width-1) for one period's Poisson(mu) demand, one row per SKU.

    m(j) is the expected number of periods the inventory position spends exactly j below
    the order-up-to level: m(0) = 1 / (1 - f(0)), m(j) = m(0) sum_{l=1}^{j} f(l) m(j - l).
    """
    n = mu.shape[0]
    levels = np.arange(width, dtype=np.float64)
    pmf = _poisson_pmf(levels[None, :], mu[:, None])
    m = np.empty((n, width))
    m0 = 1.0 / -np.expm1(-mu)
    m[:, 0] = m0
    # Poisson mass beyond mu + 10 sqrt(mu) + 10 is below 1e-18: leave it out of the sums.
    support = int(np.ceil((mu + 10.0 * np.sqrt(mu)).max())) + 10 if n else 1
    for j in range(1, width):
        lo = max(0, j - support)
        m[:, j] = m0 * np.einsum(
            "ij,ij->i", pmf[:, 1 : j - lo + 1], m[:, j - 1 : lo - 1 if lo else None : -1]
        )
    return m


def _g(y: FloatArray, h: FloatArray, p: FloatArray, lam: FloatArray) -> FloatArray:
    return _poisson_cost(y, h, p, lam)


def _g_window(levels: FloatArray, h: FloatArray, p: FloatArray, lam: FloatArray) -> FloatArray:
    """G over consecutive integer levels (one row per SKU), from one cdf call per row.

    The cdf along a row is its value below the first level plus the running sum of the pmf,
    which avoids an incomplete-gamma evaluation per cell.
    """
    lam_ = lam[:, None]
    pmf = _poisson_pmf(levels, lam_)
    cdf = np.cumsum(pmf, axis=1)
    cdf += _poisson_cdf(levels[:, :1] - 1.0, lam_)
    np.minimum(cdf, 1.0, out=cdf)
    shortfall = (lam_ - levels) * (1.0 - cdf) + lam_ * pmf
    leftover = (levels - lam_) * cdf + lam_ * pmf
    return np.asarray(h[:, None] * leftover + p[:, None] * shortfall, dtype=np.float64)


def _first_at_most(
    lo: FloatArray,
    hi: FloatArray,
    level: FloatArray,
    h: FloatArray,
    p: FloatArray,
    lam: FloatArray,
    *,
    decreasing: bool,
) -> FloatArray:
    """Integer bisection on a monotone stretch of G: the boundary of {y: G(y) <= level}.

    `decreasing=True`: on [lo, hi] with G decreasing and G(hi) <= level, the smallest y with
    G(y) <= level. `decreasing=False`: on [lo, hi] with G increasing and G(lo) <= level, the
    largest such y.
    """
    lo, hi = lo.copy(), hi.copy()
    while np.any(hi - lo > 1):
        mid = np.floor((lo + hi) / 2.0)
        ok = _g(mid, h, p, lam) <= level
        if decreasing:
            hi = np.where(ok, mid, hi)
            lo = np.where(ok, lo, mid)
        else:
            lo = np.where(ok, mid, lo)
            hi = np.where(ok, hi, mid)
    if decreasing:
        return np.where(_g(lo, h, p, lam) <= level, lo, hi)
    return np.where(_g(hi, h, p, lam) <= level, hi, lo)


def _ss_poisson(
    h: FloatArray, p: FloatArray, k: FloatArray, mu: FloatArray, lam: FloatArray
) -> tuple[IntArray, IntArray, FloatArray]:
    n = h.shape[0]
    if n == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0)
    y_star = _poisson_quantile(p / (h + p), lam)
    g_star = _g(y_star, h, p, lam)
    # An achievable cost bounds the optimum: order up to y* whenever the position falls
    # below it, or the power approximation's policy, whichever is cheaper.
    c_upper = k * -np.expm1(-mu) + g_star
    sd = np.sqrt(mu)
    power = ss_power_approximation(
        holding_cost=h, stockout_cost=p, fixed_cost=k, demand_mean=mu, demand_sd=sd
    )
    guess_big_s = np.maximum(np.round(power.order_up_to_level + (lam - mu)), y_star)
    guess_s = np.minimum(np.round(power.reorder_point + (lam - mu)), y_star - 1.0)
    guess_width = np.minimum(guess_big_s - guess_s, 4.0 * np.sqrt(2.0 * k * mu / h) + 50.0)
    guess_s = guess_big_s - guess_width
    c_upper = np.minimum(c_upper, _ss_cost_windows(h, p, k, mu, lam, guess_s, guess_big_s))
    # {y: G(y) <= c_upper} = [a, b] since G is convex; G(y) >= p (lam - y) and
    # G(y) >= h (y - lam) bracket it.
    a_lo = np.minimum(np.floor(lam - c_upper / p) - 1.0, y_star)
    b_hi = np.maximum(np.ceil(lam + c_upper / h) + 1.0, y_star)
    a = _first_at_most(a_lo, y_star, c_upper, h, p, lam, decreasing=True)
    b = _first_at_most(y_star, b_hi, c_upper, h, p, lam, decreasing=False)
    lowest_s = a - 1.0
    width = (b - lowest_s).astype(np.int64)  # largest S - s in the window

    s_out = np.empty(n, np.int64)
    big_s_out = np.empty(n, np.int64)
    cost_out = np.empty(n)
    for idx, w in _chunks(width):
        s_i, big_s_i, c_i = _ss_search(
            h[idx], p[idx], k[idx], mu[idx], lam[idx], lowest_s[idx], y_star[idx], b[idx], w
        )
        s_out[idx], big_s_out[idx], cost_out[idx] = s_i, big_s_i, c_i
    # Where c(., S*) is flat (demand never lands within S* - s of S*: S* - s below the
    # Poisson support), several s tie; Zheng-Federgruen (and stockpyl) return
    # max{y < S*: c(y, S*) <= G(y)}, which is below the largest tied s when G(s) < c*.
    s_float = s_out.astype(np.float64)
    flat = np.flatnonzero(_g(s_float, h, p, lam) < cost_out)
    if flat.size:
        s_out[flat] = _last_at_least(
            s_float[flat], cost_out[flat], h[flat], p[flat], lam[flat]
        ).astype(np.int64)
    return s_out, big_s_out, cost_out


def _last_at_least(
    start: FloatArray, level: FloatArray, h: FloatArray, p: FloatArray, lam: FloatArray
) -> FloatArray:
    """max{y < start: G(y) >= level}, for start below y* with G(start) < level."""
    lo = np.minimum(np.floor(lam - level / p) - 1.0, start - 1.0)  # G(lo) >= p (lam - lo)
    hi = start.copy()
    while np.any(hi - lo > 1):
        mid = np.floor((lo + hi) / 2.0)
        above = _g(mid, h, p, lam) >= level
        lo = np.where(above, mid, lo)
        hi = np.where(above, hi, mid)
    return lo


def _chunks(widths: IntArray) -> Iterator[tuple[IntArray, int]]:
    """Group SKUs of similar window width, so that little work is spent on padding."""
    order = np.argsort(widths, kind="stable")
    sorted_widths = widths[order]
    n = widths.shape[0]
    start = 0
    while start < n:
        low = int(sorted_widths[start])
        limit = int(low * 1.25) + 8
        stop = min(
            n,
            start + max(1, _SS_CHUNK_CELLS // limit),
            int(np.searchsorted(sorted_widths, limit, side="right")),
        )
        yield order[start:stop], max(1, int(sorted_widths[stop - 1]))
        start = stop


def _ss_cost_windows(
    h: FloatArray,
    p: FloatArray,
    k: FloatArray,
    mu: FloatArray,
    lam: FloatArray,
    s: FloatArray,
    big_s: FloatArray,
) -> FloatArray:
    """c(s, S) for one (s, S) per SKU, in chunks."""
    n = h.shape[0]
    out = np.empty(n)
    widths = (big_s - s).astype(np.int64)
    for idx, w in _chunks(widths):
        m = _renewal(mu[idx], w)
        offsets = np.arange(w, dtype=np.float64)
        rising = big_s[idx, None] - (w - 1.0) + offsets[None, :]
        g = _g_window(rising, h[idx], p[idx], lam[idx])[:, ::-1]
        inside = offsets[None, :] < widths[idx, None]
        numerator = k[idx] + np.sum(np.where(inside, m * g, 0.0), axis=1)
        total = np.sum(np.where(inside, m, 0.0), axis=1)
        out[idx] = numerator / total
    return out


def _ss_search(
    h: FloatArray,
    p: FloatArray,
    k: FloatArray,
    mu: FloatArray,
    lam: FloatArray,
    lowest_s: FloatArray,
    y_star: FloatArray,
    b: FloatArray,
    width: int,
) -> tuple[IntArray, IntArray, FloatArray]:
    """Exhaustive search of s in [lowest_s, S - 1], S in [y*, b] for one chunk of SKUs."""
    rows = h.shape[0]
    m = _renewal(mu, width)
    big_m = np.cumsum(m, axis=1)  # big_m[:, n - 1] = M(n)
    # g[:, i] = G(lowest_s + 1 + i); levels beyond b are never an order-up-to level.
    levels = lowest_s[:, None] + 1.0 + np.arange(width, dtype=np.float64)[None, :]
    g = _g_window(levels, h, p, lam)
    best_cost = np.full(rows, np.inf)
    best_s = np.zeros(rows)
    best_big_s = np.zeros(rows)
    first = int((y_star - lowest_s - 1.0).min())
    buffer = np.empty((rows, width))
    for i in range(first, width):
        big_s = lowest_s + 1.0 + i
        valid = (big_s >= y_star) & (big_s <= b)
        if not valid.any():
            continue
        costs = np.multiply(m[:, : i + 1], g[:, i::-1], out=buffer[:, : i + 1])
        costs[:, 0] += k
        np.cumsum(costs, axis=1, out=costs)
        np.divide(costs, big_m[:, : i + 1], out=costs)
        n_best = np.argmin(costs, axis=1)
        c = costs[np.arange(rows), n_best]
        better = valid & (c < best_cost)
        best_cost = np.where(better, c, best_cost)
        best_s = np.where(better, big_s - n_best - 1.0, best_s)
        best_big_s = np.where(better, big_s, best_big_s)
    return best_s.astype(np.int64), best_big_s.astype(np.int64), best_cost
