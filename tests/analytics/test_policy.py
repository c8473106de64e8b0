"""Policy math against Snyder & Shen's examples (as stockpyl reproduces them), hand-derived
closed forms, per-SKU stockpyl loops and properties."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

from orchestrator.analytics import (
    SS_POISSON_MAX_MEAN,
    base_stock_normal,
    base_stock_poisson,
    eoq,
    eoq_all_units_discount,
    eoq_with_backorders,
    normal_loss,
    policy,
    reorder_point,
    rq_eoq_ss,
    safety_stock,
    ss_poisson_exact,
    ss_power_approximation,
)
from orchestrator.errors import ConfigError

stockpyl_eoq = pytest.importorskip("stockpyl.eoq")
stockpyl_nv = pytest.importorskip("stockpyl.newsvendor")
stockpyl_rq = pytest.importorskip("stockpyl.rq")
stockpyl_ss = pytest.importorskip("stockpyl.ss")
stockpyl_lf = pytest.importorskip("stockpyl.loss_functions")

positive = st.floats(min_value=0.01, max_value=1000, allow_nan=False, allow_infinity=False)


def rng_params(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    h = rng.uniform(0.05, 5.0, n)
    return {
        "holding_cost": h,
        "stockout_cost": h * rng.uniform(1.5, 40.0, n),
        "fixed_cost": rng.uniform(1.0, 200.0, n),
        "demand_mean": rng.uniform(1.0, 500.0, n),
        "demand_sd": rng.uniform(0.5, 60.0, n),
        "lead_time": rng.integers(0, 6, n).astype(float),
    }


# --------------------------------------------------------------------------- EOQ family


class TestEOQ:
    def test_example_3_1(self) -> None:
        r = eoq(fixed_cost=8, holding_cost=0.225, demand_rate=1300)
        assert float(r.order_quantity) == pytest.approx(304.0467800264368, rel=1e-12)
        assert float(r.cost) == pytest.approx(68.41052550594829, rel=1e-12)

    def test_problem_3_1(self) -> None:
        r = eoq(fixed_cost=2250, holding_cost=275, demand_rate=182500)
        assert float(r.order_quantity) == pytest.approx(1728.109844993551)
        assert float(r.cost) == pytest.approx(475230.2073732266)

    def test_closed_form_cost_is_minimum(self) -> None:
        r = eoq(fixed_cost=8, holding_cost=0.225, demand_rate=1300)
        q = np.linspace(100, 600, 501)
        g = 8 * 1300 / q + 0.225 * q / 2
        assert float(r.cost) <= g.min() + 1e-9
        # Ordering and holding costs are equal at the optimum: K lambda / Q = h Q / 2.
        assert 8 * 1300 / float(r.order_quantity) == pytest.approx(
            0.225 * float(r.order_quantity) / 2
        )

    def test_vectorized_matches_stockpyl_loop(self) -> None:
        prm = rng_params(200)
        r = eoq(
            fixed_cost=prm["fixed_cost"],
            holding_cost=prm["holding_cost"],
            demand_rate=prm["demand_mean"],
        )
        for i in range(200):
            q, c = stockpyl_eoq.economic_order_quantity(
                prm["fixed_cost"][i], prm["holding_cost"][i], prm["demand_mean"][i]
            )
            assert r.order_quantity[i] == pytest.approx(q, rel=1e-12)
            assert r.cost[i] == pytest.approx(c, rel=1e-12)

    def test_example_3_8_backorders(self) -> None:
        r = eoq_with_backorders(fixed_cost=8, holding_cost=0.225, stockout_cost=5, demand_rate=1300)
        assert float(r.order_quantity) == pytest.approx(310.81255515896464, rel=1e-12)
        assert float(r.stockout_fraction) == pytest.approx(0.0430622009569378, rel=1e-12)
        assert float(r.cost) == pytest.approx(66.92136355097325, rel=1e-12)

    @given(k=positive, h=positive, p=positive, lam=positive)
    @settings(max_examples=50, deadline=None)
    def test_backorders_tend_to_eoq_and_cost_less(
        self, k: float, h: float, p: float, lam: float
    ) -> None:
        plain = eoq(fixed_cost=k, holding_cost=h, demand_rate=lam)
        back = eoq_with_backorders(fixed_cost=k, holding_cost=h, stockout_cost=p, demand_rate=lam)
        assert float(back.cost) <= float(plain.cost) * (1 + 1e-12)
        assert float(back.order_quantity) >= float(plain.order_quantity) * (1 - 1e-12)
        # Closed form of the cost function at the optimum (eq. 3.26).
        q, x = float(back.order_quantity), float(back.stockout_fraction)
        g = h * q * (1 - x) ** 2 / 2 + p * q * x**2 / 2 + k * lam / q
        assert float(back.cost) == pytest.approx(g, rel=1e-9)


class TestAllUnitsDiscount:
    def test_example_3_6(self) -> None:
        r = eoq_all_units_discount(
            fixed_cost=8,
            holding_rate=0.3,
            demand_rate=1300,
            breakpoints=[0, 400, 800],
            unit_costs=[0.75, 0.72, 0.68],
        )
        assert float(r.order_quantity) == 800
        assert int(r.region) == 2
        assert float(r.cost) == pytest.approx(978.60)

    def test_stockpyl_docstring_example(self) -> None:
        r = eoq_all_units_discount(
            fixed_cost=200,
            holding_rate=0.2,
            demand_rate=1000,
            breakpoints=[0, 200, 500],
            unit_costs=[500, 475, 450],
        )
        assert (float(r.order_quantity), int(r.region), float(r.cost)) == (500.0, 2, 472900.0)

    def test_per_sku_schedules_match_stockpyl(self) -> None:
        rng = np.random.default_rng(3)
        n = 150
        k = rng.uniform(5, 300, n)
        i = rng.uniform(0.05, 0.4, n)
        lam = rng.uniform(50, 20000, n)
        steps = rng.uniform(50, 2000, (n, 3))
        b = np.concatenate([np.zeros((n, 1)), np.cumsum(steps, axis=1)], axis=1)
        c = np.sort(rng.uniform(1, 100, (n, 4)), axis=1)[:, ::-1].copy()
        r = eoq_all_units_discount(
            fixed_cost=k, holding_rate=i, demand_rate=lam, breakpoints=b, unit_costs=c
        )
        for j in range(n):
            q, region, cost = stockpyl_eoq.economic_order_quantity_with_all_units_discounts(
                k[j], i[j], lam[j], b[j].tolist(), c[j].tolist()
            )
            assert r.order_quantity[j] == pytest.approx(q, rel=1e-12)
            assert r.region[j] == region
            assert r.cost[j] == pytest.approx(cost, rel=1e-12)

    def test_shared_schedule_broadcasts(self) -> None:
        r = eoq_all_units_discount(
            fixed_cost=[8, 80],
            holding_rate=0.3,
            demand_rate=1300,
            breakpoints=[0, 400, 800],
            unit_costs=[0.75, 0.72, 0.68],
        )
        assert r.order_quantity.shape == (2,)

    def test_bad_schedules(self) -> None:
        base = {"fixed_cost": 8, "holding_rate": 0.3, "demand_rate": 1300}
        with pytest.raises(ConfigError, match="start with 0"):
            eoq_all_units_discount(**base, breakpoints=[10, 400], unit_costs=[1, 0.9])
        with pytest.raises(ConfigError, match="strictly increasing"):
            eoq_all_units_discount(**base, breakpoints=[0, 400, 400], unit_costs=[1, 0.9, 0.8])
        with pytest.raises(ConfigError, match="unit_costs must have the shape"):
            eoq_all_units_discount(**base, breakpoints=[0, 400], unit_costs=[1, 0.9, 0.8])
        with pytest.raises(ConfigError, match="unit_costs must be > 0"):
            eoq_all_units_discount(**base, breakpoints=[0, 400], unit_costs=[1, 0])


# --------------------------------------------------------------------------- base stock


class TestBaseStock:
    def test_example_4_3_newsvendor(self) -> None:
        r = base_stock_normal(holding_cost=0.18, stockout_cost=0.70, demand_mean=50, demand_sd=8)
        # The book rounds z to 2 decimals and gets 56.03; the exact quantile is 56.60.
        assert float(r.base_stock_level) == pytest.approx(56.60395592743389, rel=1e-12)
        assert float(r.cost) == pytest.approx(1.9976051931766445, rel=1e-12)

    def test_problem_4_1_with_lead_time_matches_stockpyl(self) -> None:
        for lead in (0, 1, 3, 7):
            r = base_stock_normal(
                holding_cost=43, stockout_cost=79, demand_mean=900, demand_sd=60, lead_time=lead
            )
            s, c = stockpyl_nv.newsvendor_normal(43, 79, 900, 60, lead_time=lead)
            assert float(r.base_stock_level) == pytest.approx(s, rel=1e-12)
            assert float(r.cost) == pytest.approx(c, rel=1e-12)

    def test_vectorized_matches_stockpyl_loop(self) -> None:
        prm = rng_params(300, seed=1)
        r = base_stock_normal(
            holding_cost=prm["holding_cost"],
            stockout_cost=prm["stockout_cost"],
            demand_mean=prm["demand_mean"],
            demand_sd=prm["demand_sd"],
            lead_time=prm["lead_time"],
        )
        for i in range(300):
            s, c = stockpyl_nv.newsvendor_normal(
                prm["holding_cost"][i],
                prm["stockout_cost"][i],
                prm["demand_mean"][i],
                prm["demand_sd"][i],
                lead_time=prm["lead_time"][i],
            )
            assert r.base_stock_level[i] == pytest.approx(s, rel=1e-10)
            assert r.cost[i] == pytest.approx(c, rel=1e-10)

    @given(
        h=st.floats(0.01, 50),
        ratio=st.floats(0.05, 50),
        mu=st.floats(1, 500),
        cv=st.floats(0.01, 1),
        lead=st.integers(0, 8),
    )
    @settings(max_examples=60, deadline=None)
    def test_normal_cost_is_minimal_at_s_star(
        self, h: float, ratio: float, mu: float, cv: float, lead: int
    ) -> None:
        p = h * ratio
        sd = mu * cv
        r = base_stock_normal(
            holding_cost=h, stockout_cost=p, demand_mean=mu, demand_sd=sd, lead_time=lead
        )
        s_star, g_star = float(r.base_stock_level), float(r.cost)
        sd_l = sd * math.sqrt(lead + 1)
        for delta in (-1.0, -0.1, 0.1, 1.0):
            s = s_star + delta * sd_l
            z = (s - mu * (lead + 1)) / sd_l
            loss = sd_l * float(normal_loss(z))
            g = h * (s - mu * (lead + 1) + loss) + p * loss
            assert g >= g_star * (1 - 1e-9)
        # The cost at S* from the loss function equals the closed form.
        z = (s_star - mu * (lead + 1)) / sd_l
        loss = sd_l * float(normal_loss(z))
        assert h * (s_star - mu * (lead + 1) + loss) + p * loss == pytest.approx(g_star, rel=1e-7)

    def test_poisson_newsvendor_matches_stockpyl(self) -> None:
        r = base_stock_poisson(holding_cost=0.18, stockout_cost=0.70, demand_mean=50)
        assert int(r.base_stock_level) == 56
        assert float(r.cost) == pytest.approx(1.797235211809178, rel=1e-12)

    def test_poisson_vectorized_matches_stockpyl_loop(self) -> None:
        prm = rng_params(300, seed=2)
        mu = prm["demand_mean"] / 10
        r = base_stock_poisson(
            holding_cost=prm["holding_cost"], stockout_cost=prm["stockout_cost"], demand_mean=mu
        )
        for i in range(300):
            s, c = stockpyl_nv.newsvendor_poisson(
                prm["holding_cost"][i], prm["stockout_cost"][i], mu[i]
            )
            assert r.base_stock_level[i] == s
            assert r.cost[i] == pytest.approx(c, rel=1e-9)

    def test_poisson_with_lead_time_hand_derived(self) -> None:
        # stockpyl 1.0.2 (PyPI) has no lead time in newsvendor_poisson; its GitHub source
        # fixed that by using the mean (L + 1) mu. Hand derivation: with L = 2 and mu = 3,
        # demand over 3 periods is Poisson(9); critical ratio 4 / 5 = 0.8; F(10) = 0.7060,
        # F(11) = 0.8030, so S* = 11.
        r = base_stock_poisson(holding_cost=1, stockout_cost=4, demand_mean=3, lead_time=2)
        assert int(r.base_stock_level) == 11
        d = np.arange(0, 200)
        pmf = stats.poisson.pmf(d, 9)
        expected = np.sum(pmf * (1 * np.maximum(11 - d, 0) + 4 * np.maximum(d - 11, 0)))
        assert float(r.cost) == pytest.approx(expected, rel=1e-10)
        # ...and it is what stockpyl 1.0.2 gives for one period of Poisson(9) demand.
        s, c = stockpyl_nv.newsvendor_poisson(1, 4, 9)
        assert (int(r.base_stock_level), float(r.cost)) == (s, pytest.approx(c, rel=1e-12))

    @given(
        h=st.floats(0.01, 20),
        ratio=st.floats(0.05, 50),
        mu=st.floats(0.01, 200),
        lead=st.integers(0, 5),
    )
    @settings(max_examples=60, deadline=None)
    def test_poisson_cost_is_minimal_at_s_star(
        self, h: float, ratio: float, mu: float, lead: int
    ) -> None:
        p = h * ratio
        r = base_stock_poisson(holding_cost=h, stockout_cost=p, demand_mean=mu, lead_time=lead)
        s_star = int(r.base_stock_level)
        lam = mu * (lead + 1)
        d = np.arange(0, int(lam + 20 * math.sqrt(lam) + 40))
        pmf = stats.poisson.pmf(d, lam)

        def g(s: int) -> float:
            return float(np.sum(pmf * (h * np.maximum(s - d, 0) + p * np.maximum(d - s, 0))))

        assert float(r.cost) == pytest.approx(g(s_star), rel=1e-7, abs=1e-9)
        assert g(s_star) <= g(s_star + 1) + 1e-9
        if s_star > 0:
            assert g(s_star) <= g(s_star - 1) + 1e-9


# --------------------------------------------------------------------------- safety stock


class TestSafetyStock:
    def test_store_manager_question(self) -> None:
        # 98% cycle service, sigma 30 a week, 2-week lead time: z = 2.0537, SS = z 30 sqrt 2.
        r = safety_stock(service_level=0.98, demand_sd=30, lead_time=2)
        assert float(r.safety_factor) == pytest.approx(2.053748910631823, rel=1e-12)
        assert float(r.safety_stock) == pytest.approx(2.053748910631823 * 30 * math.sqrt(2))

    def test_reorder_point_adds_mean(self) -> None:
        r = reorder_point(service_level=0.95, demand_mean=100, demand_sd=20, lead_time=4)
        assert float(r.reorder_point) == pytest.approx(400 + 1.6448536269514722 * 40)

    def test_review_period_extends_protection(self) -> None:
        a = safety_stock(service_level=0.9, demand_sd=10, lead_time=3, review_period=1)
        b = safety_stock(service_level=0.9, demand_sd=10, lead_time=4)
        assert float(a.safety_stock) == pytest.approx(float(b.safety_stock))

    def test_cycle_service_matches_base_stock(self) -> None:
        # A base-stock level is a reorder point with review period 1 and the critical ratio.
        bs = base_stock_normal(
            holding_cost=1, stockout_cost=9, demand_mean=50, demand_sd=8, lead_time=2
        )
        rp = reorder_point(
            service_level=0.9, demand_mean=50, demand_sd=8, lead_time=2, review_period=1
        )
        assert float(rp.reorder_point) == pytest.approx(float(bs.base_stock_level))

    @given(beta=st.floats(0.5, 0.9999), q=st.floats(1, 1000), sd=st.floats(0.5, 300))
    @settings(max_examples=80, deadline=None)
    def test_fill_rate_round_trip(self, beta: float, q: float, sd: float) -> None:
        r = safety_stock(
            service_level=beta, demand_sd=sd, lead_time=1, measure="fill_rate", order_quantity=q
        )
        z = float(r.safety_factor)
        # The expected shortage per cycle is (1 - beta) Q: the definition of the fill rate.
        assert sd * float(normal_loss(z)) == pytest.approx((1 - beta) * q, rel=1e-8)
        assert float(r.safety_stock) == pytest.approx(z * sd)

    def test_fill_rate_against_stockpyl_loss(self) -> None:
        r = safety_stock(
            service_level=0.99, demand_sd=50, lead_time=4, measure="fill_rate", order_quantity=300
        )
        loss, _ = stockpyl_lf.standard_normal_loss(float(r.safety_factor))
        assert 100 * loss == pytest.approx(0.01 * 300, rel=1e-9)

    def test_fill_rate_needs_order_quantity(self) -> None:
        with pytest.raises(ConfigError, match="order_quantity"):
            safety_stock(service_level=0.99, demand_sd=5, lead_time=1, measure="fill_rate")
        with pytest.raises(ConfigError, match="only with measure='fill_rate'"):
            safety_stock(service_level=0.99, demand_sd=5, lead_time=1, order_quantity=10)

    def test_normal_loss_matches_stockpyl(self) -> None:
        z = np.linspace(-5, 5, 101)
        expected = [stockpyl_lf.standard_normal_loss(v)[0] for v in z]
        np.testing.assert_allclose(normal_loss(z), expected, rtol=1e-12, atol=1e-15)
        assert float(normal_loss(1.3)) == pytest.approx(0.04552796208651397, rel=1e-12)

    def test_rq_example_5_5(self) -> None:
        r = rq_eoq_ss(
            holding_cost=0.225,
            stockout_cost=7.5,
            fixed_cost=8,
            demand_mean=1300,
            demand_sd=150,
            lead_time=1 / 12,
        )
        assert float(r.reorder_point) == pytest.approx(190.3369965715624, rel=1e-12)
        assert float(r.order_quantity) == pytest.approx(304.0467800264368, rel=1e-12)

    def test_rq_vectorized_matches_stockpyl_loop(self) -> None:
        prm = rng_params(200, seed=4)
        lead = prm["lead_time"] / 12 + 0.01
        r = rq_eoq_ss(
            holding_cost=prm["holding_cost"],
            stockout_cost=prm["stockout_cost"],
            fixed_cost=prm["fixed_cost"],
            demand_mean=prm["demand_mean"],
            demand_sd=prm["demand_sd"],
            lead_time=lead,
        )
        for i in range(200):
            rr, q = stockpyl_rq.r_q_eoqss_approximation(
                prm["holding_cost"][i],
                prm["stockout_cost"][i],
                prm["fixed_cost"][i],
                prm["demand_mean"][i],
                prm["demand_sd"][i],
                lead[i],
            )
            assert r.reorder_point[i] == pytest.approx(rr, rel=1e-10)
            assert r.order_quantity[i] == pytest.approx(q, rel=1e-12)


# --------------------------------------------------------------------------- (s, S)

# Zheng & Federgruen (1991) instances, as in stockpyl's tests: h = 1, p = 9, K = 64.
ZF_MU = [*range(10, 80, 5), 21, 22, 23, 24, 51, 52, 59, 61, 63, 64]
ZF_S = [
    6,
    10,
    14,
    19,
    23,
    28,
    33,
    37,
    42,
    47,
    52,
    56,
    62,
    67,
    15,
    16,
    17,
    18,
    43,
    44,
    51,
    52,
    54,
    55,
]
ZF_BIG_S = [40, 49, 62, 56, 66, 77, 87, 97, 108, 118, 129, 75, 81, 86, 65, 68, 52, 54, 110, 112]
ZF_BIG_S += [126, 131, 73, 74]
ZF_COST = [35.022, 42.698, 49.173, 54.262, 57.819, 61.215, 64.512, 67.776, 70.975, 74.149]
ZF_COST += [77.306, 78.518, 79.037, 79.554, 50.406, 51.632, 52.757, 53.518, 71.611, 72.246]
ZF_COST += [76.679, 77.929, 78.287, 78.402]


def brute_force_ss(h: float, p: float, k: float, mu: float, lead: int) -> tuple[int, int, float]:
    """Exhaustive (s, S) search with the renewal-reward cost, straight from the definition."""
    lam = mu * (lead + 1)
    top = int(lam + 12 * math.sqrt(lam) + 4 * math.sqrt(2 * k * mu / h) + 30)
    d = np.arange(0, top + 200)
    pmf_l = stats.poisson.pmf(d, lam)
    ys = np.arange(-top, top + 1)
    g = np.array(
        [np.sum(pmf_l * (h * np.maximum(y - d, 0) + p * np.maximum(d - y, 0))) for y in ys]
    )
    f = stats.poisson.pmf(np.arange(2 * top + 1), mu)
    m = np.zeros(2 * top + 1)
    m[0] = 1 / (1 - f[0])
    for j in range(1, 2 * top + 1):
        m[j] = m[0] * np.dot(f[1 : j + 1], m[j - 1 :: -1])
    best = (0, 0, math.inf)
    offset = top
    for big_s in range(-top // 4, top + 1):
        terms = m[: big_s + offset + 1] * g[big_s + offset :: -1][: big_s + offset + 1]
        num = k + np.cumsum(terms)
        den = np.cumsum(m[: big_s + offset + 1])
        costs = num / den
        n = int(np.argmin(costs))
        if costs[n] < best[2] - 1e-12:
            best = (big_s - n - 1, big_s, float(costs[n]))
    return best


@pytest.fixture(params=["compiled", "numpy"])
def ss_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test through the compiled (numba) path of ss_poisson_exact, then the numpy one."""
    if request.param == "compiled":
        pytest.importorskip("numba")
        assert policy._ss_kernel() is not None
    else:
        monkeypatch.setattr(policy, "_ss_kernel", lambda: None)
    return str(request.param)


def ss_both(**kwargs: object) -> tuple[policy.SsPoissonResult, policy.SsPoissonResult]:
    """ss_poisson_exact through the compiled path, then through the numpy fallback."""
    pytest.importorskip("numba")
    compiled = ss_poisson_exact(**kwargs)  # type: ignore[arg-type]
    kernel = policy._ss_kernel
    policy._ss_kernel = lambda: None  # type: ignore[assignment]
    try:
        fallback = ss_poisson_exact(**kwargs)  # type: ignore[arg-type]
    finally:
        policy._ss_kernel = kernel  # type: ignore[method-assign]
    return compiled, fallback


def assert_same_policies(a: policy.SsPoissonResult, b: policy.SsPoissonResult) -> None:
    np.testing.assert_array_equal(a.reorder_point, b.reorder_point)
    np.testing.assert_array_equal(a.order_up_to_level, b.order_up_to_level)
    np.testing.assert_allclose(a.cost, b.cost, rtol=1e-9, atol=0)


@pytest.mark.usefixtures("ss_path")
class TestSS:
    def test_example_4_7(self) -> None:
        r = ss_poisson_exact(holding_cost=1, stockout_cost=4, fixed_cost=5, demand_mean=6)
        assert (int(r.reorder_point), int(r.order_up_to_level)) == (4, 10)
        assert float(r.cost) == pytest.approx(8.034111561471644, rel=1e-10)

    def test_problem_4_31(self) -> None:
        r = ss_poisson_exact(holding_cost=40, stockout_cost=125, fixed_cost=150, demand_mean=4)
        assert (int(r.reorder_point), int(r.order_up_to_level)) == (2, 7)
        assert float(r.cost) == pytest.approx(2.235748295669688e02, rel=1e-10)

    def test_zheng_federgruen_instances(self) -> None:
        r = ss_poisson_exact(holding_cost=1, stockout_cost=9, fixed_cost=64, demand_mean=ZF_MU)
        assert r.reorder_point.tolist() == ZF_S
        assert r.order_up_to_level.tolist() == ZF_BIG_S
        np.testing.assert_allclose(r.cost, ZF_COST, atol=6e-4)

    def test_vectorized_matches_stockpyl_loop(self) -> None:
        rng = np.random.default_rng(5)
        n = 12
        h = rng.uniform(0.1, 2, n)
        p = h * rng.uniform(2, 30, n)
        k = rng.uniform(1, 60, n)
        mu = rng.uniform(0.2, 12, n)
        r = ss_poisson_exact(holding_cost=h, stockout_cost=p, fixed_cost=k, demand_mean=mu)
        for i in range(n):
            s, big_s, c = stockpyl_ss.s_s_discrete_exact(h[i], p[i], k[i], True, mu[i])
            assert (r.reorder_point[i], r.order_up_to_level[i]) == (s, big_s)
            assert r.cost[i] == pytest.approx(c, rel=1e-9)

    @pytest.mark.parametrize(
        ("h", "p", "k", "mu", "lead"),
        [(1, 4, 5, 6, 0), (1, 4, 5, 6, 2), (0.5, 10, 40, 1.5, 1), (2, 9, 100, 0.3, 3)],
    )
    def test_lead_time_against_brute_force(
        self, h: float, p: float, k: float, mu: float, lead: int
    ) -> None:
        # stockpyl's (s, S) has no lead time: compare with an exhaustive search instead.
        r = ss_poisson_exact(
            holding_cost=h, stockout_cost=p, fixed_cost=k, demand_mean=mu, lead_time=lead
        )
        s, big_s, c = brute_force_ss(h, p, k, mu, lead)
        assert float(r.cost) == pytest.approx(c, rel=1e-9)
        assert (int(r.reorder_point), int(r.order_up_to_level)) == (s, big_s)

    def test_wider_random_cases_match_stockpyl_loop(self) -> None:
        rng = np.random.default_rng(11)
        n = 30
        h = rng.uniform(0.05, 3, n)
        p = h * rng.uniform(1.2, 60, n)
        k = np.exp(rng.uniform(np.log(0.5), np.log(300), n))
        mu = np.exp(rng.uniform(np.log(0.05), np.log(40), n))
        r = ss_poisson_exact(holding_cost=h, stockout_cost=p, fixed_cost=k, demand_mean=mu)
        for i in range(n):
            s, big_s, c = stockpyl_ss.s_s_discrete_exact(h[i], p[i], k[i], True, mu[i])
            assert (r.reorder_point[i], r.order_up_to_level[i]) == (s, big_s), i
            assert r.cost[i] == pytest.approx(c, rel=1e-9)

    def test_ties_broken_as_zheng_federgruen(self) -> None:
        # S* - s* far below the demand's support: c(s, S*) is the same for many s, and
        # Zheng-Federgruen (stockpyl) returns the largest s with c(s, S*) <= G(s).
        h, p, k, mu = [1.0, 2.0, 1.0], [9.0, 5.0, 30.0], [64.0, 10.0, 5.0], [500.0, 200.0, 60.0]
        r = ss_poisson_exact(holding_cost=h, stockout_cost=p, fixed_cost=k, demand_mean=mu)
        assert r.reorder_point.tolist() == [496, 197, 69]
        assert r.order_up_to_level.tolist() == [529, 208, 75]
        np.testing.assert_allclose(
            r.cost, [103.61046576803002, 43.85753563536456, 23.012873277863886], rtol=1e-9
        )

    def test_empty_catalogue(self) -> None:
        r = ss_poisson_exact(holding_cost=[], stockout_cost=1, fixed_cost=1, demand_mean=1)
        assert r.reorder_point.shape == r.order_up_to_level.shape == r.cost.shape == (0,)

    def test_demand_beyond_supported_range(self) -> None:
        with pytest.raises(
            ConfigError,
            match=(
                r"demand_mean x \(lead_time \+ 1\) must be <= 10,000 for ss_poisson_exact, "
                r"got 12500\.0 at index 1 \(demand_mean 5000\.0, lead_time 1\.5\)"
            ),
        ):
            ss_poisson_exact(
                holding_cost=1,
                stockout_cost=9,
                fixed_cost=64,
                demand_mean=[5, 5000],
                lead_time=[0, 1.5],
            )
        r = ss_poisson_exact(
            holding_cost=1,
            stockout_cost=9,
            fixed_cost=64,
            demand_mean=SS_POISSON_MAX_MEAN / 4,
            lead_time=3,
        )
        assert int(r.reorder_point) < int(r.order_up_to_level)

    @given(
        h=st.floats(0.1, 5), ratio=st.floats(1.5, 30), k=st.floats(0.5, 80), mu=st.floats(0.1, 15)
    )
    @settings(
        max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    def test_optimum_beats_neighbours(self, h: float, ratio: float, k: float, mu: float) -> None:
        p = h * ratio
        r = ss_poisson_exact(holding_cost=h, stockout_cost=p, fixed_cost=k, demand_mean=mu)
        s, big_s = int(r.reorder_point), int(r.order_up_to_level)
        assert float(r.cost) == pytest.approx(
            stockpyl_ss.s_s_cost_discrete(s, big_s, h, p, k, True, mu), rel=1e-9
        )
        for ds, dS in ((-1, 0), (1, 0), (0, 1), (0, -1), (1, 1), (-1, -1)):
            if s + ds < big_s + dS:
                other = stockpyl_ss.s_s_cost_discrete(s + ds, big_s + dS, h, p, k, True, mu)
                assert float(r.cost) <= other * (1 + 1e-9)

    def test_power_approximation_matches_stockpyl(self) -> None:
        r = ss_power_approximation(
            holding_cost=0.18, stockout_cost=0.70, fixed_cost=2.5, demand_mean=50, demand_sd=8
        )
        assert float(r.reorder_point) == pytest.approx(40.19461695647407, rel=1e-12)
        assert float(r.order_up_to_level) == pytest.approx(74.29017010980579, rel=1e-12)
        prm = rng_params(100, seed=6)
        r = ss_power_approximation(
            holding_cost=prm["holding_cost"],
            stockout_cost=prm["stockout_cost"],
            fixed_cost=prm["fixed_cost"],
            demand_mean=prm["demand_mean"],
            demand_sd=prm["demand_sd"],
        )
        for i in range(100):
            s, big_s = stockpyl_ss.s_s_power_approximation(
                prm["holding_cost"][i],
                prm["stockout_cost"][i],
                prm["fixed_cost"][i],
                prm["demand_mean"][i],
                prm["demand_sd"][i],
            )
            assert r.reorder_point[i] == pytest.approx(s, rel=1e-12)
            assert r.order_up_to_level[i] == pytest.approx(big_s, rel=1e-12)


class TestSSPaths:
    """The compiled Zheng-Federgruen kernel and the numpy window search give one answer."""

    def test_random_catalogue(self) -> None:
        rng = np.random.default_rng(21)
        n = 4000
        h = np.exp(rng.normal(np.log(0.4), 1.0, n))
        compiled, fallback = ss_both(
            holding_cost=h,
            stockout_cost=h * rng.uniform(1.1, 80.0, n),
            fixed_cost=np.exp(rng.uniform(np.log(0.2), np.log(500.0), n)),
            demand_mean=np.exp(rng.normal(np.log(3.0), 1.5, n)).clip(0.01, 300),
            lead_time=rng.integers(0, 9, n).astype(float),
        )
        assert_same_policies(compiled, fallback)

    @given(
        h=st.floats(0.01, 10),
        ratio=st.floats(1.01, 200),
        k=st.floats(0.01, 2000),
        mu=st.floats(0.005, 200),
        lead=st.integers(0, 12),
    )
    @settings(max_examples=60, deadline=None)
    def test_property(self, h: float, ratio: float, k: float, mu: float, lead: int) -> None:
        compiled, fallback = ss_both(
            holding_cost=h, stockout_cost=h * ratio, fixed_cost=k, demand_mean=mu, lead_time=lead
        )
        assert_same_policies(compiled, fallback)

    def test_large_means(self) -> None:
        compiled, fallback = ss_both(
            holding_cost=[1, 0.5, 2, 0.01],
            stockout_cost=[9, 20, 5, 3],
            fixed_cost=[64, 500, 10, 2000],
            demand_mean=[2000, 2500, SS_POISSON_MAX_MEAN, 900],
            lead_time=[4, 3, 0, 0],
        )
        assert_same_policies(compiled, fallback)

    def test_threads_do_not_change_results(self) -> None:
        numba = pytest.importorskip("numba")
        rng = np.random.default_rng(8)
        n = 3000
        kwargs = {
            "holding_cost": rng.uniform(0.05, 2, n),
            "stockout_cost": rng.uniform(2.1, 40, n),
            "fixed_cost": rng.uniform(1, 100, n),
            "demand_mean": rng.uniform(0.1, 50, n),
            "lead_time": rng.integers(0, 5, n).astype(float),
        }
        threads = numba.get_num_threads()
        try:
            numba.set_num_threads(1)
            one = ss_poisson_exact(**kwargs)
        finally:
            numba.set_num_threads(threads)
        many = ss_poisson_exact(**kwargs)
        np.testing.assert_array_equal(one.reorder_point, many.reorder_point)
        np.testing.assert_array_equal(one.order_up_to_level, many.order_up_to_level)
        np.testing.assert_array_equal(one.cost, many.cost)

    def test_without_numba_the_loader_falls_back(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setitem(sys.modules, "numba", None)  # import numba raises ImportError
        monkeypatch.delitem(sys.modules, "orchestrator.analytics._ss_numba", raising=False)
        policy._ss_kernel.cache_clear()
        try:
            assert policy._ss_kernel() is None
            r = ss_poisson_exact(holding_cost=1, stockout_cost=4, fixed_cost=5, demand_mean=6)
            assert (int(r.reorder_point), int(r.order_up_to_level)) == (4, 10)
        finally:
            policy._ss_kernel.cache_clear()


# --------------------------------------------------------------------------- compiled closed forms

LARGE = policy._COMPILED_MIN_SKUS + 4_321  # not a multiple of the ss_power block either


class KernelSpy:
    """Stands in for the `_closed_numba` module and records which kernels ran."""

    def __init__(self, module: object) -> None:
        self.module = module
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> object:
        self.calls.append(name)
        return getattr(self.module, name)


@pytest.fixture
def kernels(monkeypatch: pytest.MonkeyPatch) -> KernelSpy:
    pytest.importorskip("numba")
    module = policy._closed_kernels()
    assert module is not None
    spy = KernelSpy(module)
    monkeypatch.setattr(policy, "_closed_kernels", lambda: spy)
    return spy


def closed_form_cases(n: int) -> dict[str, tuple[object, dict[str, object]]]:
    rng = np.random.default_rng(11)
    h = rng.uniform(0.05, 5.0, n)
    steps = rng.uniform(20, 400, (n, 3)).round()
    breaks = np.concatenate([np.zeros((n, 1)), np.cumsum(steps, axis=1)], axis=1)
    unit = rng.uniform(1.0, 60.0, n)
    common = {"fixed_cost": rng.uniform(1.0, 200.0, n), "demand_rate": rng.uniform(1, 5e4, n)}
    ss = {
        "holding_cost": h,
        "stockout_cost": h * rng.uniform(1.5, 40.0, n),
        "fixed_cost": common["fixed_cost"],
        "demand_mean": rng.uniform(0.05, 500.0, n),
    }
    return {
        "eoq": (eoq, {**common, "holding_cost": h}),
        "eoq scalar K": (eoq, {**common, "fixed_cost": 25.0, "holding_cost": h}),
        "eoqb": (
            eoq_with_backorders,
            {**common, "holding_cost": h, "stockout_cost": ss["stockout_cost"]},
        ),
        "eoqb scalar p": (
            eoq_with_backorders,
            {**common, "holding_cost": h, "stockout_cost": 4.0},
        ),
        "discount per-SKU rows": (
            eoq_all_units_discount,
            {
                **common,
                "holding_rate": 0.25,
                "breakpoints": breaks,
                "unit_costs": unit[:, None] * np.array([1.0, 0.97, 0.94, 0.90]),
            },
        ),
        "discount shared": (
            eoq_all_units_discount,
            {
                **common,
                "holding_rate": 0.25,
                "breakpoints": [0.0, 100.0, 400.0, 1500.0],
                "unit_costs": [10.0, 9.7, 9.4, 9.0],
            },
        ),
        "ss_power": (ss_power_approximation, {**ss, "demand_sd": rng.uniform(0.05, 80, n)}),
        "ss_power scalar sd": (ss_power_approximation, {**ss, "demand_sd": 3.0}),
    }


def numpy_path(fn: object, kwargs: dict[str, object]) -> object:
    kernels = policy._closed_kernels
    policy._closed_kernels = lambda: None  # type: ignore[assignment]
    try:
        return fn(**kwargs)  # type: ignore[operator]
    finally:
        policy._closed_kernels = kernels


def message(fn: object, kwargs: dict[str, object]) -> str:
    with pytest.raises(ConfigError) as info:
        fn(**kwargs)  # type: ignore[operator]
    return str(info.value)


CASES = closed_form_cases(LARGE)


class TestCompiledClosedForms:
    @pytest.mark.parametrize("case", list(CASES))
    def test_compiled_equals_numpy_path(self, case: str, kernels: KernelSpy) -> None:
        fn, kwargs = CASES[case]
        compiled = fn(**kwargs)  # type: ignore[operator]
        assert kernels.calls, "the compiled path did not run"
        reference = numpy_path(fn, kwargs)
        for field in compiled.__dataclass_fields__:
            got, want = getattr(compiled, field), getattr(reference, field)
            assert got.shape == want.shape == (LARGE,)
            assert got.dtype == want.dtype
            if want.dtype == np.int64:
                np.testing.assert_array_equal(got, want)
            else:
                np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)

    @pytest.mark.parametrize("case", ["eoq", "eoqb", "discount per-SKU rows", "ss_power"])
    @pytest.mark.parametrize("bad", [-1.0, 0.0, float("nan"), float("inf")])
    def test_bad_value_raises_the_numpy_message(
        self, case: str, bad: float, kernels: KernelSpy
    ) -> None:
        fn, kwargs = CASES[case]
        name = "fixed_cost"
        values = np.array(kwargs[name], dtype=float)
        values[LARGE - 77] = bad
        args = {**kwargs, name: values}
        got = message(fn, args)
        assert kernels.calls, "the compiled path did not run"
        assert got == message(lambda **kw: numpy_path(fn, kw), args)
        assert got.startswith(name) and got.endswith(f"at index {LARGE - 77}")

    @pytest.mark.parametrize(
        ("change", "expected"),
        [
            ((123, 0, 5.0), "breakpoints must start with 0, got 5.0 in row 123"),
            ((456, 2, 10.0), "breakpoints must be strictly increasing"),
            ((789, 3, float("nan")), "breakpoints must be a finite number, got nan at index"),
        ],
    )
    def test_bad_per_sku_schedule_raises_the_numpy_message(
        self, change: tuple[int, int, float], expected: str, kernels: KernelSpy
    ) -> None:
        _, kwargs = CASES["discount per-SKU rows"]
        breaks = np.array(kwargs["breakpoints"])
        row, col, value = change
        breaks[row, col] = value
        args = {**kwargs, "breakpoints": breaks}
        got = message(eoq_all_units_discount, args)
        assert kernels.calls
        assert got == message(lambda **kw: numpy_path(eoq_all_units_discount, kw), args)
        assert got.startswith(expected)

    def test_small_and_multidimensional_input_take_the_numpy_path(self, kernels: KernelSpy) -> None:
        _, kwargs = CASES["eoq"]
        small = {name: np.asarray(v)[:100] for name, v in kwargs.items()}
        eoq(**small)
        square = {name: np.asarray(v)[:10_000].reshape(100, 100) for name, v in kwargs.items()}
        assert eoq(**square).order_quantity.shape == (100, 100)
        assert kernels.calls == []

    def test_without_numba_the_loader_falls_back(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setitem(sys.modules, "numba", None)  # import numba raises ImportError
        monkeypatch.delitem(sys.modules, "orchestrator.analytics._closed_numba", raising=False)
        policy._closed_kernels.cache_clear()
        try:
            assert policy._closed_kernels() is None
            fn, kwargs = CASES["discount per-SKU rows"]
            r = fn(**kwargs)  # type: ignore[operator]
            assert r.order_quantity.shape == (LARGE,)
        finally:
            policy._closed_kernels.cache_clear()


# --------------------------------------------------------------------------- shapes, errors


class TestInputs:
    def test_scalars_give_zero_d_arrays(self) -> None:
        r = eoq(fixed_cost=8, holding_cost=0.225, demand_rate=1300)
        assert r.order_quantity.shape == ()
        assert isinstance(float(r.order_quantity), float)

    def test_broadcasting_and_2d(self) -> None:
        r = base_stock_normal(
            holding_cost=np.ones((2, 3)), stockout_cost=9, demand_mean=[10, 20, 30], demand_sd=2
        )
        assert r.base_stock_level.shape == (2, 3)

    @given(
        arrays=st.lists(
            st.tuples(positive, positive, positive, st.floats(0.5, 100), st.integers(0, 4)),
            min_size=1,
            max_size=20,
        )
    )
    @settings(max_examples=30, deadline=None)
    def test_vectorized_equals_scalar_loop(
        self, arrays: list[tuple[float, float, float, float, int]]
    ) -> None:
        h, p, mu, sd, lead = (np.array(col, dtype=float) for col in zip(*arrays, strict=True))
        vec = base_stock_normal(
            holding_cost=h, stockout_cost=p, demand_mean=mu, demand_sd=sd, lead_time=lead
        )
        pois = base_stock_poisson(holding_cost=h, stockout_cost=p, demand_mean=mu, lead_time=lead)
        for i in range(len(arrays)):
            one = base_stock_normal(
                holding_cost=h[i],
                stockout_cost=p[i],
                demand_mean=mu[i],
                demand_sd=sd[i],
                lead_time=lead[i],
            )
            assert vec.base_stock_level[i] == float(one.base_stock_level)
            assert vec.cost[i] == float(one.cost)
            one_p = base_stock_poisson(
                holding_cost=h[i], stockout_cost=p[i], demand_mean=mu[i], lead_time=lead[i]
            )
            assert pois.base_stock_level[i] == int(one_p.base_stock_level)
            assert pois.cost[i] == float(one_p.cost)

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"holding_cost": [1, 2, 3, -1.0]}, r"holding_cost must be > 0, got -1.0 at index 3"),
            ({"holding_cost": 0}, r"holding_cost must be > 0, got 0.0$"),
            ({"demand_rate": 0}, r"demand_rate must be > 0, got 0.0"),
            ({"fixed_cost": float("nan")}, r"fixed_cost must be a finite number, got nan"),
            (
                {"fixed_cost": [1, float("inf")]},
                r"fixed_cost must be a finite number, got inf at index 1",
            ),
            ({"fixed_cost": "abc"}, r"fixed_cost must be numeric"),
            (
                {"fixed_cost": [1, 2], "holding_cost": [1, 2, 3]},
                r"shapes do not match: fixed_cost \(2,\), holding_cost \(3,\)",
            ),
        ],
    )
    def test_eoq_errors_name_the_argument(self, kwargs: dict[str, object], message: str) -> None:
        args: dict[str, object] = {"fixed_cost": 8, "holding_cost": 0.225, "demand_rate": 1300}
        args.update(kwargs)
        with pytest.raises(ValueError, match=message):
            eoq(**args)  # type: ignore[arg-type]

    def test_every_function_rejects_nan_and_zero_demand(self) -> None:
        nan = float("nan")
        with pytest.raises(ConfigError, match="demand_mean"):
            base_stock_normal(holding_cost=1, stockout_cost=2, demand_mean=0, demand_sd=1)
        with pytest.raises(ConfigError, match="demand_sd must be >= 0"):
            base_stock_normal(holding_cost=1, stockout_cost=2, demand_mean=3, demand_sd=-1)
        with pytest.raises(ConfigError, match="demand_mean"):
            base_stock_poisson(holding_cost=1, stockout_cost=2, demand_mean=[1, 0])
        with pytest.raises(ConfigError, match="stockout_cost"):
            eoq_with_backorders(fixed_cost=1, holding_cost=1, stockout_cost=nan, demand_rate=5)
        with pytest.raises(ConfigError, match="service_level must be strictly between 0 and 1"):
            safety_stock(service_level=1.0, demand_sd=3, lead_time=2)
        with pytest.raises(ConfigError, match=r"lead_time must be >= 0, got -1\.0"):
            reorder_point(service_level=0.9, demand_mean=3, demand_sd=1, lead_time=-1)
        with pytest.raises(ConfigError, match="fixed_cost must be > 0"):
            rq_eoq_ss(
                holding_cost=1,
                stockout_cost=2,
                fixed_cost=0,
                demand_mean=3,
                demand_sd=1,
                lead_time=1,
            )
        with pytest.raises(ConfigError, match=r"demand_mean must be > 0, got 0\.0 at index 1"):
            ss_poisson_exact(holding_cost=1, stockout_cost=2, fixed_cost=3, demand_mean=[1, 0])
        with pytest.raises(ConfigError, match="demand_sd must be > 0"):
            ss_power_approximation(
                holding_cost=1, stockout_cost=2, fixed_cost=3, demand_mean=4, demand_sd=0
            )
        with pytest.raises(ConfigError, match="holding_rate"):
            eoq_all_units_discount(
                fixed_cost=1, holding_rate=-0.1, demand_rate=1, breakpoints=[0], unit_costs=[1]
            )
        with pytest.raises(ConfigError, match="z must be a finite number"):
            normal_loss([0.0, nan])

    def test_config_error_is_value_error(self) -> None:
        assert issubclass(ConfigError, ValueError)
