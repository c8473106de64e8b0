"""Zheng–Federgruen (1991) search for the optimal (s, S) policy, compiled with numba.

The compiled path of `orchestrator.analytics.policy.ss_poisson_exact`. Importing this module
imports numba, so `policy` imports it only when `ss_poisson_exact` is first called (and falls
back to its numpy search when numba is missing). The kernels are compiled with
``cache=True``: the first call on a machine compiles them (several seconds) and stores the
machine code in ``__pycache__``; later processes load it in well under a second.

Conventions follow stockpyl's ``s_s_discrete_exact`` (Snyder & Shen, Algorithm 4.2):

- G(y) = h E[(y - D)+] + p E[(D - y)+] with D ~ Poisson(lam), lam = mu (L + 1): the expected
  holding and stockout cost one period after an order-up-to decision covering L + 1 periods.
- m(0) = 1 / (1 - f(0)), m(j) = m(0) sum_{l=1}^{j} f(l) m(j - l) and M(j) = sum_{i<j} m(i),
  with f the pmf of one period's Poisson(mu) demand (the renewal quantities).
- c(s, S) = (K + sum_{d=0}^{S-s-1} m(d) G(S - d)) / M(S - s). stockpyl sums left to right;
  here the sums run in four interleaved partial sums of a fixed order (faster, and the same
  on every machine), so costs agree with stockpyl's to rounding (about 1e-15 relative).

Each SKU is independent: the outer loop runs SKUs in chunks over numba's threads, and a
SKU's result does not depend on the thread or the chunk that computes it.

Poisson probabilities are built by the recurrence f(k + 1) = f(k) lam / (k + 1) outward from
the mode, starting from 1 and normalised by their sum over mode +/- (10 sd + 10), where the
omitted mass is below 1e-20: no exp(-lam) underflow and no log-gamma cancellation, so the
tables are accurate to a few ulps times their length for any mean the caller allows.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from numba import njit, prange

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_CHUNK = 256
"""SKUs per task of the parallel loop; each task reuses its own work buffers."""


@njit(cache=True)
def _support(mean: float) -> tuple[int, int]:
    """[lo, hi]: the integers outside which Poisson(mean) has less than 1e-20 of its mass."""
    spread = 10.0 * math.sqrt(mean) + 10.0
    lo = max(0, math.floor(mean - spread))
    hi = math.ceil(mean + spread)
    return lo, hi


@njit(cache=True)
def _pmf(mean: float, lo: int, hi: int, out: FloatArray) -> None:
    """Poisson(mean) pmf on lo..hi into out[0 : hi - lo + 1], from the mode, normalised."""
    mode = min(max(math.floor(mean), lo), hi)
    # The ratios first (independent divisions), then the running products.
    for k in range(mode, hi):
        out[k + 1 - lo] = mean / (k + 1)
    for k in range(mode, lo, -1):
        out[k - 1 - lo] = k / mean
    out[mode - lo] = 1.0
    for i in range(mode - lo, hi - lo):
        out[i + 1] *= out[i]
    for i in range(mode - lo, 0, -1):
        out[i - 1] *= out[i]
    total = 0.0
    for i in range(hi - lo + 1):
        total += out[i]
    scale = 1.0 / total
    for i in range(hi - lo + 1):
        out[i] *= scale


@njit(cache=True)
def _losses(lo: int, hi: int, pmf: FloatArray, below: FloatArray, above: FloatArray) -> None:
    """below[i] = E[(y - D)+] and above[i] = E[(D - y)+] at y = lo + i, for y in lo..hi.

    Each is summed from its own end of the table (E[(y + 1 - D)+] = E[(y - D)+] + F(y),
    E[(D - y + 1)+] = E[(D - y)+] + P(D > y - 1)), so neither is a difference of large
    numbers.
    """
    n = hi - lo + 1
    cdf = 0.0
    below[0] = 0.0
    for i in range(n - 1):
        cdf += pmf[i]
        below[i + 1] = below[i] + cdf
    tail = 0.0
    above[n - 1] = 0.0
    for i in range(n - 1, 0, -1):
        tail += pmf[i]
        above[i - 1] = above[i] + tail


@njit(cache=True, inline="always")
def _g(y: int, lo: int, hi: int, below: FloatArray, above: FloatArray, h: float, p: float) -> float:
    """G(y), the newsvendor cost at integer level y (linear outside the table)."""
    if y < lo:
        return p * (above[0] + (lo - y))
    if y > hi:
        return h * (below[hi - lo] + (y - hi))
    return h * below[y - lo] + p * above[y - lo]


@njit(cache=True, inline="always")
def _dot_reversed(a: FloatArray, first: int, b: FloatArray, top: int, n: int) -> float:
    """sum_{d=0}^{n-1} a[first + d] b[top - d], in four interleaved partial sums.

    The order of the additions is fixed (no fastmath), so results are the same on every
    machine and thread; four partial sums let the additions overlap.
    """
    s0 = 0.0
    s1 = 0.0
    s2 = 0.0
    s3 = 0.0
    d = 0
    while d + 4 <= n:
        s0 += a[first + d] * b[top - d]
        s1 += a[first + d + 1] * b[top - d - 1]
        s2 += a[first + d + 2] * b[top - d - 2]
        s3 += a[first + d + 3] * b[top - d - 3]
        d += 4
    while d < n:
        s0 += a[first + d] * b[top - d]
        d += 1
    return (s0 + s1) + (s2 + s3)


@njit(cache=True, inline="always")
def _extend_m(
    m: FloatArray,
    big_m: FloatArray,
    done: int,
    upto: int,
    m0: float,
    f: FloatArray,
    f_lo: int,
    f_hi: int,
) -> None:
    """Fill m(j) and M(j + 1) = M(j) + m(j) for j in done..upto - 1 (buffers large enough)."""
    first = max(1, f_lo)
    for j in range(done, upto):
        if j == 0:
            m[0] = m0
            big_m[0] = m0
            continue
        # sum_{l=first}^{min(j, f_hi)} f(l) m(j - l)
        count = min(j, f_hi) - first + 1
        total = _dot_reversed(f, first - f_lo, m, j - first, count) if count > 0 else 0.0
        m[j] = m0 * total
        big_m[j] = big_m[j - 1] + m[j]


@njit(cache=True, inline="always")
def _cost(k: float, m: FloatArray, big_m: FloatArray, g: FloatArray, top: int, n: int) -> float:
    """c(s, S) = (K + sum_{d<n} m(d) G(S - d)) / M(n) with n = S - s and G(S) = g[top]."""
    return (k + _dot_reversed(m, 0, g, top, n)) / big_m[n - 1]


@njit(cache=True)
def _ss_one(
    h: float,
    p: float,
    k: float,
    mu: float,
    lam: float,
    pmf: FloatArray,
    below: FloatArray,
    above: FloatArray,
    f: FloatArray,
    m: FloatArray,
    big_m: FloatArray,
    g: FloatArray,
) -> tuple[int, int, float, int]:
    """Zheng–Federgruen for one SKU: (s*, S*, c(s*, S*), 0), or (0, 0, 0.0, size) when m, M
    or G need more than their `size` entries (the caller grows them and calls again).

    pmf, below, above and f must fit the supports of lam and mu. No array is reassigned here:
    numba would count references to it on every pass through the loops.
    """
    capacity = min(m.shape[0], big_m.shape[0], g.shape[0])
    lo, hi = _support(lam)
    _pmf(lam, lo, hi, pmf)
    _losses(lo, hi, pmf, below, above)
    f_lo, f_hi = _support(mu)
    _pmf(mu, f_lo, f_hi, f)
    m0 = 1.0 / -math.expm1(-mu)

    # y*: the smallest y with F(y) >= p / (h + p), the newsvendor level.
    ratio = p / (h + p)
    y_star = hi
    cdf = 0.0
    for i in range(hi - lo + 1):
        cdf += pmf[i]
        if cdf >= ratio:
            y_star = lo + i
            break

    # s0 = s(y*): step s down from y* - 1 until c(s, y*) <= G(s). c(s - 1, S) adds one term
    # to c(s, S)'s sums, in the order stockpyl sums them.
    s = y_star
    num = k
    while True:
        s -= 1
        j = y_star - s - 1
        if j >= capacity:
            return 0, 0, 0.0, 2 * capacity
        _extend_m(m, big_m, j, j + 1, m0, f, f_lo, f_hi)
        num += m[j] * _g(s + 1, lo, hi, below, above, h, p)
        if num / big_m[j] <= _g(s, lo, hi, below, above, h, p):
            break
    done = y_star - s

    # From here every level y >= s0 + 1 that a cost needs is in g[y - base].
    base = s + 1
    if y_star - base + 1 >= capacity:
        return 0, 0, 0.0, 2 * capacity
    for y in range(base, y_star + 1):
        g[y - base] = _g(y, lo, hi, below, above, h, p)

    s_hat = s
    big_s_hat = y_star
    g_hat = _cost(k, m, big_m, g, y_star - base, y_star - s)

    big_s = y_star + 1
    while True:
        top = big_s - base
        if top >= capacity:
            return 0, 0, 0.0, 2 * capacity
        g_big_s = _g(big_s, lo, hi, below, above, h, p)
        g[top] = g_big_s
        if g_big_s > g_hat:
            break
        n = big_s - s
        if n > done:
            _extend_m(m, big_m, done, n, m0, f, f_lo, f_hi)
            done = n
        cost = _cost(k, m, big_m, g, top, n)
        if cost < g_hat:
            # Raise s while c(s, S) <= G(s + 1); the last cost computed is c(s, S) at the
            # final s, the new incumbent's (stockpyl recomputes the same sums).
            big_s_hat = big_s
            while cost <= g[s + 1 - base]:
                s += 1
                cost = _cost(k, m, big_m, g, top, big_s - s)
            s_hat = s
            g_hat = cost
        big_s += 1
    return s_hat, big_s_hat, g_hat, 0


@njit(cache=True, parallel=True)
def ss_poisson_zf(
    h: FloatArray, p: FloatArray, k: FloatArray, mu: FloatArray, lam: FloatArray
) -> tuple[IntArray, IntArray, FloatArray]:
    """Optimal (s, S) and c(s, S) for each SKU of 1-d float64 arrays (lam = mu (L + 1))."""
    n = h.shape[0]
    s_out = np.empty(n, np.int64)
    big_s_out = np.empty(n, np.int64)
    cost_out = np.empty(n)
    chunks = (n + _CHUNK - 1) // _CHUNK
    for c in prange(chunks):
        start = c * _CHUNK
        stop = min(n, start + _CHUNK)
        size = 1
        f_size = 1
        for i in range(start, stop):
            lo, hi = _support(lam[i])
            size = max(size, hi - lo + 1)
            f_lo, f_hi = _support(mu[i])
            f_size = max(f_size, f_hi - f_lo + 1)
        pmf = np.empty(size)
        below = np.empty(size)
        above = np.empty(size)
        f = np.empty(f_size)
        capacity = 256
        m = np.empty(capacity)
        big_m = np.empty(capacity)
        g = np.empty(capacity)
        for i in range(start, stop):
            while True:
                s_i, big_s_i, cost_i, needed = _ss_one(
                    h[i], p[i], k[i], mu[i], lam[i], pmf, below, above, f, m, big_m, g
                )
                if needed == 0:
                    break
                capacity = needed
                m = np.empty(capacity)
                big_m = np.empty(capacity)
                g = np.empty(capacity)
            s_out[i] = s_i
            big_s_out[i] = big_s_i
            cost_out[i] = cost_i
    return s_out, big_s_out, cost_out
