"""Fused compiled kernels for the closed-form policy functions, compiled with numba.

The compiled path of `eoq`, `eoq_with_backorders`, `eoq_all_units_discount` and
`ss_power_approximation` in `orchestrator.analytics.policy`, for large 1-d catalogues. Their
numpy paths are bound by memory bandwidth: several passes over the inputs (the bound checks)
and temporaries for every intermediate. Each kernel here reads every input once, checks it,
and writes the results, in one loop over SKUs. The all-units discount loop runs over numba's
threads (``prange``) and the power approximation over as many Python threads; `eoq` and
`eoq_with_backorders` do a few flops per 40 bytes moved, so one thread already runs at memory
speed, and a second one only contends for page faults on the fresh output arrays (measured:
often several times slower).

Importing this module imports numba, so `policy` imports it on the first large call (and
keeps the numpy path when numba is missing). Compiled with ``cache=True``, like `_ss_numba`.

Conventions shared by the kernels:

- An argument is a 1-d float64 array of the catalogue's length n or a float (a scalar
  argument); SKU i reads ``_at(x, i)``, which numba compiles to ``x[i]`` or ``x``, so scalars
  are never broadcast into copies and each combination of arrays and scalars gets its own
  machine code (compiled on its first use, then cached).
- A kernel returns the number of values that break the numpy path's bounds (NaN, infinity,
  or not > 0). When it is not 0 the outputs are garbage and the caller runs the numpy path,
  which raises the `ConfigError` that names the argument, the value and its index.
- The arithmetic is the numpy path's, operation for operation and without fastmath, so
  results are the numpy path's to the last bit. numba's scalar ``log`` and ``exp`` cost
  several times numpy's vectorized ones, so `ss_power_approximation` runs in cache-sized
  blocks: these kernels do its arithmetic and numpy its logarithms and exponential.
"""

from __future__ import annotations

import math
from typing import TypeAlias

import numpy as np
import numpy.typing as npt
from numba import get_num_threads, njit, prange, types
from numba.extending import overload

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Arg: TypeAlias = FloatArray | float
"""A per-SKU argument: an array of the catalogue's length, or one float for every SKU."""


def threads() -> int:
    """numba's thread count (``NUMBA_NUM_THREADS``, `numba.set_num_threads`)."""
    return int(get_num_threads())


@njit(cache=True, inline="always")
def _bad(x: float) -> int:
    """1 unless x is finite and > 0 (NaN fails both comparisons); no branch."""
    return 1 - int((x > 0.0) & (x < math.inf))


def _at(x, i):
    """SKU i's value of an argument: x[i] for an array, x itself for a scalar (compiled only)."""
    raise NotImplementedError


# Unannotated: numba requires the overload and its implementations to have one signature.
@overload(_at, inline="always")
def _at_overload(x, i):
    if isinstance(x, types.Array):
        return lambda x, i: x[i]
    return lambda x, i: x


@njit(cache=True, nogil=True, fastmath=False, error_model="numpy")
def eoq(k: Arg, h: Arg, lam: Arg, q_out: FloatArray, cost_out: FloatArray) -> int:
    """Q* = sqrt(2 K lambda / h) and cost Q* h into q_out, cost_out."""
    n = q_out.shape[0]
    bad = 0
    for i in range(n):
        k_i, h_i, lam_i = _at(k, i), _at(h, i), _at(lam, i)
        bad += _bad(k_i) + _bad(h_i) + _bad(lam_i)
        q = math.sqrt(k_i * lam_i * 2.0 / h_i)
        q_out[i] = q
        cost_out[i] = q * h_i
    return bad


@njit(cache=True, nogil=True, fastmath=False, error_model="numpy")
def eoq_with_backorders(
    k: Arg,
    h: Arg,
    p: Arg,
    lam: Arg,
    q_out: FloatArray,
    fraction_out: FloatArray,
    cost_out: FloatArray,
) -> int:
    """EOQB: Q*, x* = h / (h + p) and the cost into the three outputs."""
    n = q_out.shape[0]
    bad = 0
    for i in range(n):
        k_i, h_i, p_i, lam_i = _at(k, i), _at(h, i), _at(p, i), _at(lam, i)
        bad += _bad(k_i) + _bad(h_i) + _bad(p_i) + _bad(lam_i)
        fraction = h_i / (h_i + p_i)
        backorder_h = fraction * p_i
        q = math.sqrt(k_i * lam_i * 2.0 / backorder_h)
        q_out[i] = q
        fraction_out[i] = fraction
        cost_out[i] = q * backorder_h
    return bad


@njit(cache=True, parallel=True, fastmath=False, error_model="numpy")
def eoq_all_units_discount(
    k: Arg,
    rate: Arg,
    lam: Arg,
    b: FloatArray,
    c: FloatArray,
    check_schedule: bool,
    q_out: FloatArray,
    region_out: IntArray,
    cost_out: FloatArray,
) -> int:
    """All-units discount EOQ; b and c are (rows, regions) with rows 1 (shared) or n.

    Candidates in the numpy path's (and stockpyl's) order: each region's own EOQ when it lies
    inside its region, then each breakpoint b_j (j >= 1) priced in region j; a later
    candidate wins only when strictly cheaper. With `check_schedule` each row is checked as
    the numpy path checks it (finite, starts at 0, strictly increasing, costs > 0).
    """
    n = q_out.shape[0]
    regions = b.shape[1]
    sb = min(b.shape[0] - 1, 1)
    bad = 0
    for i in prange(n):
        k_i, rate_i, lam_i = _at(k, i), _at(rate, i), _at(lam, i)
        row = i * sb
        bad_i = _bad(k_i) + _bad(rate_i) + _bad(lam_i)
        if check_schedule:
            if b[row, 0] != 0.0:
                bad_i += 1
            for j in range(regions):
                bad_i += _bad(c[row, j])
                if not b[row, j] < math.inf:
                    bad_i += 1
                if j > 0 and not b[row, j] > b[row, j - 1]:
                    bad_i += 1
        bad += bad_i
        order_cost = k_i * lam_i
        best_cost = math.inf
        best_q = 0.0
        best_region = 0
        for j in range(regions):
            unit = c[row, j]
            scratch = rate_i * unit
            q = math.sqrt(order_cost / scratch * 2.0)
            inside = q >= b[row, j]
            if j + 1 < regions:
                inside = inside and q < b[row, j + 1]
            cost = order_cost / q + unit * lam_i + scratch * q / 2.0
            if inside and cost < best_cost:
                best_cost, best_q, best_region = cost, q, j
        for j in range(1, regions):
            unit = c[row, j]
            scratch = rate_i * unit
            q = b[row, j]
            cost = order_cost / q + unit * lam_i + scratch * q / 2.0
            if cost < best_cost:
                best_cost, best_q, best_region = cost, q, j
        q_out[i] = best_q
        region_out[i] = best_region
        cost_out[i] = best_cost
    return bad


@njit(cache=True, nogil=True, fastmath=False, error_model="numpy")
def ss_power_prepare(
    h: Arg,
    p: Arg,
    k: Arg,
    mu: Arg,
    sd: Arg,
    start: int,
    k_over_h: FloatArray,
    cv2: FloatArray,
    mean: FloatArray,
) -> int:
    """Power approximation, step 1 for SKUs start.. (as many as the buffers hold).

    Checks the inputs and writes the arguments of its logarithms: K / h, (sigma / mu)^2, mu.
    """
    bad = 0
    for j in range(k_over_h.shape[0]):
        i = start + j
        h_i, p_i, k_i, mu_i, sd_i = _at(h, i), _at(p, i), _at(k, i), _at(mu, i), _at(sd, i)
        bad += _bad(h_i) + _bad(p_i) + _bad(k_i) + _bad(mu_i) + _bad(sd_i)
        cv = sd_i / mu_i
        k_over_h[j] = k_i / h_i
        cv2[j] = cv * cv
        mean[j] = mu_i
    return bad


@njit(cache=True, nogil=True, fastmath=False, error_model="numpy")
def ss_power_exponent(
    log_k_over_h: FloatArray, log1p_cv2: FloatArray, log_mean: FloatArray
) -> None:
    """Power approximation, step 2: log(Q_p / 1.30) into log_k_over_h."""
    for j in range(log_k_over_h.shape[0]):
        log_k_over_h[j] = 0.494 * log_mean[j] + 0.506 * log_k_over_h[j] + 0.116 * log1p_cv2[j]


@njit(cache=True, nogil=True, fastmath=False, error_model="numpy")
def ss_power_finish(
    h: Arg,
    p: Arg,
    mu: Arg,
    sd: Arg,
    start: int,
    exp_exponent: FloatArray,
    s_out: FloatArray,
    big_s_out: FloatArray,
) -> None:
    """Power approximation, step 3: s and S from Q_p / 1.30 = exp(exponent)."""
    for j in range(exp_exponent.shape[0]):
        i = start + j
        h_i, p_i, mu_i, sd_i = _at(h, i), _at(p, i), _at(mu, i), _at(sd, i)
        q = 1.30 * exp_exponent[j]
        z = math.sqrt(q / sd_i * (h_i / p_i))
        s = 0.973 * mu_i + sd_i * (0.183 / z + 1.063 - 2.192 * z)
        s_out[i] = s
        big_s_out[i] = s + q
