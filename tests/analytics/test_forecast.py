"""Demand classification and per-series forecasting (small data: statsforecast JIT is slow)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from orchestrator.analytics import (
    ADI_CUTOFF,
    CV2_CUTOFF,
    DemandForecast,
    classify_demand,
    forecast_demand,
)
from orchestrator.errors import ConfigError

pd = pytest.importorskip("pandas")
pytest.importorskip("statsforecast")


class TestClassify:
    def test_cutoffs_are_syntetos_boylan(self) -> None:
        assert (ADI_CUTOFF, CV2_CUTOFF) == (1.32, 0.49)

    @pytest.mark.parametrize(
        ("series", "expected"),
        [
            ([10, 11, 9, 10, 12, 10, 9, 11], "smooth"),
            ([1, 30, 2, 25, 1, 40, 3, 1], "erratic"),
            ([0, 0, 5, 0, 0, 5, 0, 6, 0, 0, 5, 0], "intermittent"),
            ([0, 0, 1, 0, 0, 40, 0, 2, 0, 0, 30, 0], "lumpy"),
            ([0, 5, 0, 6, 0, 5] + [0] * 14, "fading"),
            ([0, 0, 0, 7, 0, 0], "fading"),
            ([0, 0, 0, 0], "zero"),
        ],
    )
    def test_classes(self, series: list[float], expected: str) -> None:
        assert classify_demand(series).demand_class == expected

    def test_profile_figures(self) -> None:
        p = classify_demand([0, 2, 0, 4, 0, 0])
        assert p.periods == 6
        assert p.nonzero_periods == 2
        assert p.adi == 3.0
        assert p.cv2 == pytest.approx(1 / 9)  # sizes 2 and 4: var 1, mean 3
        assert p.trailing_zeros == 2

    @pytest.mark.parametrize("bad", [[], [1.0, float("nan")], [1, -2], [[1, 2]]])
    def test_bad_series(self, bad: list[float]) -> None:
        with pytest.raises(ConfigError):
            classify_demand(bad)


def mixed_table() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    weeks = pd.date_range("2024-01-01", periods=40, freq="W-MON")
    frames = []
    for i in range(3):
        frames.append(
            pd.DataFrame(
                {"series_id": f"smooth{i}", "date": weeks, "quantity": rng.poisson(20, 40)}
            )
        )
    for i in range(3):
        hits = rng.choice(40, 10, replace=False)
        frames.append(
            pd.DataFrame(
                {"series_id": f"inter{i}", "date": weeks[hits], "quantity": rng.integers(4, 6, 10)}
            )
        )
    for i in range(2):
        hits = rng.choice(40, 10, replace=False)
        frames.append(
            pd.DataFrame(
                {
                    "series_id": f"lumpy{i}",
                    "date": weeks[hits],
                    "quantity": rng.choice([1, 2, 60, 90], 10),
                }
            )
        )
    frames.append(pd.DataFrame({"series_id": "fading", "date": weeks[[1, 3, 5]], "quantity": 3}))
    frames.append(pd.DataFrame({"series_id": "dead", "date": weeks[[2, 9]], "quantity": [0, 0]}))
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def mixed() -> DemandForecast:
    return forecast_demand(mixed_table(), horizon=4, lead_time=2)


class TestForecastDemand:
    def test_method_follows_class(self, mixed: DemandForecast) -> None:
        frame = mixed.to_frame().set_index("series_id")
        for sid in ("smooth0", "smooth1", "smooth2"):
            assert frame.loc[sid, "method"] == "AutoETS"
        assert set(frame.loc[["inter0", "inter1", "inter2"], "method"]) == {"CrostonSBA"}
        assert set(frame.loc[["lumpy0", "lumpy1"], "method"]) == {"ADIDA"}
        assert frame.loc["fading", "method"] == "TSB"
        assert frame.loc["dead", "method"] == "Zero"
        assert set(mixed.seconds_by_method) == {"AutoETS", "CrostonSBA", "ADIDA", "TSB"}

    def test_outputs_finite_and_consistent(self, mixed: DemandForecast) -> None:
        for arr in (mixed.horizon_mean, mixed.lead_time_mean, mixed.sd_per_period):
            assert np.isfinite(arr).all()
            assert (arr >= 0).all()
        np.testing.assert_allclose(mixed.lead_time_sd, mixed.sd_per_period * math.sqrt(2))
        np.testing.assert_allclose(mixed.lead_time_demand, mixed.lead_time_mean * 2)
        smooth = mixed.get("smooth0")
        assert 15 < smooth.horizon_mean < 25
        assert 2 < smooth.sd_per_period < 8  # Poisson(20): sd about 4.5
        dead = mixed.get("dead")
        assert (dead.horizon_mean, dead.sd_per_period, dead.lead_time_sd) == (0.0, 0.0, 0.0)

    def test_series_run_to_the_end_of_the_table(self, mixed: DemandForecast) -> None:
        # "fading" sold in weeks 1-5 only; its history runs on to week 39 in zeros.
        profile = mixed.get("fading").profile
        assert profile.periods == 39
        assert profile.trailing_zeros == 34
        assert mixed.get("smooth0").profile.periods == 40

    def test_gaps_are_zero_sales_and_sd_is_in_sample_residuals(self) -> None:
        # Too short for a model: historic average, whose residuals are y - mean, so the
        # in-sample rms is the population standard deviation of the dense series.
        rows = [("s", 0, 4.0), ("s", 2, 8.0), ("s", 3, 0.0)]
        f = forecast_demand(rows, horizon=3, lead_time=4)
        assert f.methods.tolist() == ["HistoricAverage"]
        dense = np.array([4.0, 0.0, 8.0, 0.0])
        assert f.horizon_mean[0] == pytest.approx(dense.mean())
        assert f.sd_per_period[0] == pytest.approx(dense.std())
        assert f.lead_time_sd[0] == pytest.approx(dense.std() * 2)

    def test_returns_are_netted_and_clipped(self) -> None:
        rows = [("s", 0, 5.0), ("s", 0, -2.0), ("s", 1, 3.0), ("s", 2, -4.0), ("s", 3, 3.0)]
        f = forecast_demand(rows, horizon=1, lead_time=1)
        assert f.clipped_periods == 1
        assert f.horizon_mean[0] == pytest.approx((3 + 3 + 0 + 3) / 4)

    def test_single_sale_and_all_zero_never_nan(self) -> None:
        rows = [("one", w, 0.0) for w in range(20)] + [("one", 4, 9.0)]
        rows += [("none", w, 0.0) for w in range(20)]
        f = forecast_demand(rows, horizon=2, lead_time=2)
        assert f.methods.tolist() == ["TSB", "Zero"]
        assert np.isfinite(f.horizon_mean).all() and np.isfinite(f.lead_time_sd).all()

    def test_empty_history(self) -> None:
        with pytest.raises(ConfigError, match="empty"):
            forecast_demand([], horizon=1, lead_time=1)
        with pytest.raises(ConfigError, match="empty"):
            forecast_demand(
                pd.DataFrame({"series_id": [], "date": [], "quantity": []}),
                horizon=1,
                lead_time=1,
            )

    def test_nan_quantity(self) -> None:
        rows = [("s", w, 2.0) for w in range(10)] + [("s", 10, float("nan"))]
        with pytest.raises(ConfigError, match=r"NaN in 1 row\(s\), first at row 10"):
            forecast_demand(rows, horizon=1, lead_time=1)
        f = forecast_demand(rows, horizon=1, lead_time=1, nan_policy="zero")
        assert f.get("s").profile.periods == 11
        assert np.isfinite(f.horizon_mean).all()

    def test_bad_arguments(self) -> None:
        rows = [("s", 0, 1.0)]
        with pytest.raises(ConfigError, match="horizon"):
            forecast_demand(rows, horizon=0, lead_time=1)
        with pytest.raises(ConfigError, match="lead_time"):
            forecast_demand(rows, horizon=1, lead_time=0)
        with pytest.raises(ConfigError, match="season_length"):
            forecast_demand(rows, horizon=1, lead_time=1, season_length=52)
        with pytest.raises(ConfigError, match="ets_model"):
            forecast_demand(rows, horizon=1, lead_time=1, ets_model="AMN")
        with pytest.raises(ConfigError, match="no column"):
            forecast_demand(pd.DataFrame({"sku": ["a"]}), horizon=1, lead_time=1)
        with pytest.raises(ConfigError, match="series id is missing"):
            forecast_demand([(None, 0, 1.0)], horizon=1, lead_time=1)

    def test_full_ets_search_is_available(self) -> None:
        rng = np.random.default_rng(2)
        rows = [("s", w, float(q)) for w, q in enumerate(rng.poisson(30, 30))]
        f = forecast_demand(rows, horizon=2, lead_time=1, ets_model="ZZZ")
        assert f.methods.tolist() == ["AutoETS"]
        assert 20 < f.horizon_mean[0] < 40

    def test_iteration_and_lookup(self, mixed: DemandForecast) -> None:
        assert len(mixed) == 10
        assert [f.series_id for f in mixed][:2] == ["smooth0", "smooth1"]
        with pytest.raises(KeyError):
            mixed.get("nope")
