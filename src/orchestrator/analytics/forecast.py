"""Demand forecasting per series, with the method chosen by demand classification.

Input is a long table of sales, one row per (series id, date, quantity); a period with no row
had no sales. Each series is bucketed into periods (`freq`), classified by the
Syntetos-Boylan-Croston scheme and forecast with the statsforecast model that suits its class:

| class | ADI | CV^2 | method |
|---|---|---|---|
| smooth | < 1.32 | < 0.49 | AutoETS (additive errors by default, see `ets_model`) |
| erratic | < 1.32 | >= 0.49 | AutoETS |
| intermittent | >= 1.32 | < 0.49 | CrostonSBA (Syntetos-Boylan approximation) |
| lumpy | >= 1.32 | >= 0.49 | ADIDA (temporal aggregation) |
| fading | intermittent or lumpy, or a single sale, and no sale for more than 2 x ADI periods at the end of the history | | TSB (demand probability decays while no sale comes) |
| zero | no sale at all | | none: forecast 0, sd 0 |

ADI (average demand interval) is periods / periods with a sale; CV^2 is the squared
coefficient of variation of the non-zero period quantities (population variance / mean^2;
0 with a single sale). The cut-offs 1.32 and 0.49 are Syntetos, Boylan & Croston (2005).
A series with fewer than `min_history` periods is forecast by its historic average
(statsforecast `HistoricAverage`) whatever its class, since no model can be fitted to it.

Uncertainty: the intermittent models give point forecasts only, so every method's demand
standard deviation per period is the root mean square of its **in-sample one-step residuals**
(y_t minus the fitted value, from statsforecast's `fitted=True`), not a conformal interval:
conformal intervals need several hold-out windows of the horizon, which short intermittent
histories do not have, and cost one refit per window. Over a lead time of L periods the
standard deviation of total demand is that value times sqrt(L) (errors taken as independent
from period to period). With fewer than two residuals the series' own standard deviation
is used.

Data handling:

- an empty table raises `ConfigError`;
- a quantity of NaN raises `ConfigError` naming the row, unless `nan_policy="zero"`, which
  counts it as no sale; a NaN or missing id or date always raises;
- negative quantities (returns) are netted against sales of the same series and period; a
  period whose net is negative counts as zero demand (a return does not create negative
  demand) and is counted in `clipped_periods`;
- each series runs from its own first period to the last period in the whole table, so a
  series that stopped selling ends in zeros;
- forecasts below zero (a falling trend) are clipped to zero.

statsforecast (the `forecast` extra) and pandas are imported when `forecast_demand` is called.
The first call in a process compiles statsforecast's numba code (seconds); later calls are fast.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, cast

import numpy as np
import numpy.typing as npt

from orchestrator.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "ADI_CUTOFF",
    "CV2_CUTOFF",
    "DemandClass",
    "DemandForecast",
    "DemandProfile",
    "ForecastMethod",
    "SeriesForecast",
    "classify_demand",
    "forecast_demand",
]

ADI_CUTOFF = 1.32
"""Average demand interval at and above which demand counts as intermittent."""
CV2_CUTOFF = 0.49
"""Squared coefficient of variation of demand sizes at and above which demand is erratic."""

DemandClass = Literal["smooth", "erratic", "intermittent", "lumpy", "fading", "zero"]
"""The demand classes of the module's table."""
ForecastMethod = Literal["AutoETS", "CrostonSBA", "ADIDA", "TSB", "HistoricAverage", "Zero"]
"""The statsforecast model used for a series ("Zero": no model, a series with no sale)."""

_METHOD_BY_CLASS: dict[DemandClass, ForecastMethod] = {
    "smooth": "AutoETS",
    "erratic": "AutoETS",
    "intermittent": "CrostonSBA",
    "lumpy": "ADIDA",
    "fading": "TSB",
    "zero": "Zero",
}


@dataclass(frozen=True, slots=True)
class DemandProfile:
    """How a demand series behaves: the inputs of the classification."""

    periods: int
    """Number of periods in the history."""
    nonzero_periods: int
    """Periods with a sale."""
    adi: float
    """Average demand interval: periods / nonzero_periods (inf with no sale)."""
    cv2: float
    """Squared coefficient of variation of the non-zero quantities (0 with fewer than two)."""
    trailing_zeros: int
    """Periods without a sale at the end of the history."""
    demand_class: DemandClass
    """The class, by the module's table."""


def classify_demand(quantities: npt.ArrayLike) -> DemandProfile:
    """Classify one series of per-period quantities (zeros included) by ADI and CV^2.

    Args:
        quantities: demand per period, oldest first; zeros for periods without a sale.

    Returns:
        The series' `DemandProfile`.

    Raises:
        ConfigError: the series is empty, or holds NaN, infinity or negative values.

    Example:
        >>> classify_demand([0, 0, 3, 0, 0, 4, 0, 0, 3, 0]).demand_class
        'intermittent'
    """
    y = np.asarray(quantities, dtype=np.float64)
    if y.ndim != 1 or y.size == 0:
        raise ConfigError(f"quantities must be a non-empty 1-d series, got shape {y.shape}")
    if not np.isfinite(y).all() or (y < 0).any():
        bad = int(np.argmax(~np.isfinite(y) | (y < 0)))
        raise ConfigError(
            f"quantities must be finite and >= 0, got {y[bad]} at index {bad}; net returns "
            "into their period and clip at zero first"
        )
    return _profile(y)


def _profile(y: npt.NDArray[np.float64]) -> DemandProfile:
    nonzero = y[y > 0]
    n, k = int(y.size), int(nonzero.size)
    last_sale = int(np.flatnonzero(y > 0)[-1]) if k else -1
    trailing = n - 1 - last_sale
    if k == 0:
        return DemandProfile(n, 0, float("inf"), 0.0, n, "zero")
    adi = n / k
    cv2 = float(nonzero.var() / nonzero.mean() ** 2) if k > 1 else 0.0
    demand_class: DemandClass
    if adi < ADI_CUTOFF and k > 1:
        demand_class = "smooth" if cv2 < CV2_CUTOFF else "erratic"
    elif trailing > 2 * adi or k == 1:
        demand_class = "fading"
    else:
        demand_class = "intermittent" if cv2 < CV2_CUTOFF else "lumpy"
    return DemandProfile(n, k, adi, cv2, trailing, demand_class)


@dataclass(frozen=True, slots=True)
class SeriesForecast:
    """The forecast of one series."""

    series_id: object
    """The id as given in the input."""
    method: ForecastMethod
    """The model that produced the forecast."""
    profile: DemandProfile
    """The classification that chose it."""
    horizon_mean: float
    """Mean demand per period over the horizon."""
    lead_time_mean: float
    """Mean demand per period over the first `lead_time` periods."""
    lead_time_demand: float
    """Expected total demand over the lead time (lead_time_mean x lead_time)."""
    sd_per_period: float
    """Standard deviation of demand per period (in-sample one-step residuals)."""
    lead_time_sd: float
    """Standard deviation of total demand over the lead time: sd_per_period x sqrt(lead_time)."""


@dataclass(frozen=True)
class DemandForecast:
    """Forecasts of many series, as aligned arrays (one entry per series, in input order).

    Feed the arrays straight into `orchestrator.analytics.policy`, for example
    ``reorder_point(service_level=0.98, demand_mean=f.lead_time_mean,
    demand_sd=f.sd_per_period, lead_time=f.lead_time)``; give `demand_mean` a floor
    (``np.maximum(f.lead_time_mean, 1e-9)``) where series without sales are present.
    """

    series_ids: npt.NDArray[np.object_]
    """Series ids, in order of first appearance in the input."""
    methods: npt.NDArray[np.str_]
    """The `ForecastMethod` of each series."""
    demand_classes: npt.NDArray[np.str_]
    """The `DemandClass` of each series."""
    adi: npt.NDArray[np.float64]
    """Average demand interval of each series."""
    cv2: npt.NDArray[np.float64]
    """Squared coefficient of variation of each series' non-zero quantities."""
    periods: npt.NDArray[np.int64]
    """Length of each series' history, in periods."""
    horizon_mean: npt.NDArray[np.float64]
    """Mean demand per period over the horizon."""
    lead_time_mean: npt.NDArray[np.float64]
    """Mean demand per period over the lead time."""
    sd_per_period: npt.NDArray[np.float64]
    """Standard deviation of demand per period."""
    lead_time_sd: npt.NDArray[np.float64]
    """Standard deviation of total demand over the lead time."""
    horizon: int
    """Periods in the horizon."""
    lead_time: int
    """Periods in the lead time."""
    clipped_periods: int
    """(series, period) buckets whose returns exceeded sales and were counted as zero."""
    profiles: tuple[DemandProfile, ...] = ()
    """The classification of each series."""
    seconds_by_method: dict[str, float] = field(default_factory=dict)
    """Wall-clock seconds spent fitting and forecasting each method's series."""

    @property
    def lead_time_demand(self) -> npt.NDArray[np.float64]:
        """Expected total demand over the lead time."""
        return self.lead_time_mean * self.lead_time

    def __len__(self) -> int:
        return int(self.series_ids.shape[0])

    def __iter__(self) -> Iterator[SeriesForecast]:
        for i in range(len(self)):
            yield self._row(i)

    def get(self, series_id: object) -> SeriesForecast:
        """The forecast of one series.

        Raises:
            KeyError: no series has that id.
        """
        hits = np.flatnonzero(self.series_ids == series_id)
        if hits.size == 0:
            raise KeyError(series_id)
        return self._row(int(hits[0]))

    def _row(self, i: int) -> SeriesForecast:
        profile = self.profiles[i]
        return SeriesForecast(
            series_id=self.series_ids[i],
            method=cast(ForecastMethod, str(self.methods[i])),
            profile=profile,
            horizon_mean=float(self.horizon_mean[i]),
            lead_time_mean=float(self.lead_time_mean[i]),
            lead_time_demand=float(self.lead_time_mean[i] * self.lead_time),
            sd_per_period=float(self.sd_per_period[i]),
            lead_time_sd=float(self.lead_time_sd[i]),
        )

    def to_frame(self) -> pd.DataFrame:
        """The forecasts as a pandas DataFrame, one row per series."""
        import pandas as pd

        return pd.DataFrame(
            {
                "series_id": self.series_ids,
                "method": self.methods,
                "demand_class": self.demand_classes,
                "adi": self.adi,
                "cv2": self.cv2,
                "periods": self.periods,
                "horizon_mean": self.horizon_mean,
                "lead_time_mean": self.lead_time_mean,
                "lead_time_demand": self.lead_time_demand,
                "sd_per_period": self.sd_per_period,
                "lead_time_sd": self.lead_time_sd,
            }
        )


# --------------------------------------------------------------------------- input


def _to_frame(
    history: pd.DataFrame | Iterable[tuple[object, object, float]],
    id_col: str,
    date_col: str,
    quantity_col: str,
) -> pd.DataFrame:
    import pandas as pd

    if isinstance(history, pd.DataFrame):
        missing = [c for c in (id_col, date_col, quantity_col) if c not in history.columns]
        if missing:
            raise ConfigError(
                f"history has no column(s) {missing}; it has {list(history.columns)}. "
                "Name the columns with id_col=, date_col=, quantity_col="
            )
        return history[[id_col, date_col, quantity_col]].set_axis(["id", "date", "q"], axis=1)
    rows = list(history)
    if rows and any(len(r) != 3 for r in rows):
        raise ConfigError("history rows must be (series_id, date, quantity) triples")
    return pd.DataFrame(rows, columns=["id", "date", "q"])


def _dense_series(
    frame: pd.DataFrame, freq: str, nan_policy: Literal["raise", "zero"]
) -> tuple[npt.NDArray[np.object_], list[npt.NDArray[np.float64]], int]:
    """Bucket the table into periods; returns ids, one dense array per id, clipped count."""
    import pandas as pd

    if len(frame) == 0:
        raise ConfigError(
            "demand history is empty: pass at least one (series_id, date, quantity) row"
        )
    for col, name in (("id", "series id"), ("date", "date")):
        null = frame[col].isna().to_numpy()
        if null.any():
            row = int(np.argmax(null))
            raise ConfigError(f"{name} is missing in {int(null.sum())} row(s), first at row {row}")
    try:
        q = pd.to_numeric(frame["q"], errors="raise").to_numpy(dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"quantities must be numeric: {exc}") from exc
    bad = np.isnan(q)
    if bad.any():
        if nan_policy != "zero":
            row = int(np.argmax(bad))
            raise ConfigError(
                f"quantity is NaN in {int(bad.sum())} row(s), first at row {row} (series "
                f"{frame['id'].iloc[row]!r}); pass nan_policy='zero' to count NaN as no sale"
            )
        q = np.where(bad, 0.0, q)
    if np.isinf(q).any():
        row = int(np.argmax(np.isinf(q)))
        raise ConfigError(f"quantity is infinite at row {row}")

    dates = frame["date"]
    if pd.api.types.is_integer_dtype(dates):
        period = dates.to_numpy(dtype=np.int64)
    else:
        try:
            stamps = pd.to_datetime(dates)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"dates must be datetimes or integer periods: {exc}") from exc
        period = np.asarray(pd.PeriodIndex(stamps.dt.to_period(freq)).asi8, dtype=np.int64)

    codes, ids = pd.factorize(frame["id"], sort=False)
    n_series = len(ids)
    first = np.full(n_series, np.iinfo(np.int64).max)
    np.minimum.at(first, codes, period)
    last = int(period.max())
    lengths = last - first + 1
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    flat = np.zeros(int(offsets[-1]))
    np.add.at(flat, offsets[codes] + (period - first[codes]), q)
    clipped = int((flat < 0).sum())
    np.maximum(flat, 0.0, out=flat)
    series = [flat[offsets[i] : offsets[i + 1]] for i in range(n_series)]
    return np.asarray(ids, dtype=object), series, clipped


# --------------------------------------------------------------------------- models


def _model(method: ForecastMethod, season_length: int, ets_model: str) -> Any:
    from statsforecast import models

    if method == "AutoETS":
        return models.AutoETS(model=ets_model, season_length=season_length)
    if method == "CrostonSBA":
        return models.CrostonSBA()
    if method == "ADIDA":
        return models.ADIDA()
    if method == "TSB":
        return models.TSB(alpha_d=0.1, alpha_p=0.1)
    return models.HistoricAverage()


def _run_method(
    method: ForecastMethod,
    members: list[int],
    series: list[npt.NDArray[np.float64]],
    steps: int,
    season_length: int,
    ets_model: str,
    n_jobs: int,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Forecast `steps` periods for the member series; returns (forecasts, residual rms)."""
    import pandas as pd
    from statsforecast import StatsForecast

    lengths = np.array([series[i].size for i in members])
    uid = np.repeat(np.arange(len(members)), lengths)
    ds = np.concatenate([np.arange(n) for n in lengths])
    y = np.concatenate([series[i] for i in members])
    frame = pd.DataFrame({"unique_id": uid, "ds": ds, "y": y})
    sf = StatsForecast(models=[_model(method, season_length, ets_model)], freq=1, n_jobs=n_jobs)
    predicted = sf.forecast(h=steps, df=frame, fitted=True)
    fitted = sf.forecast_fitted_values()
    alias = predicted.columns[-1]
    pred = predicted.sort_values(["unique_id", "ds"])
    fc = pred[alias].to_numpy(dtype=np.float64).reshape(len(members), steps)
    fit = fitted.sort_values(["unique_id", "ds"])
    resid = fit["y"].to_numpy(dtype=np.float64) - fit[alias].to_numpy(dtype=np.float64)
    fit_uid = fit["unique_id"].to_numpy()
    ok = np.isfinite(resid)
    sq = np.bincount(fit_uid[ok], weights=resid[ok] ** 2, minlength=len(members))
    count = np.bincount(fit_uid[ok], minlength=len(members))
    own_sd = np.array([series[i].std() for i in members])
    rms = np.where(count >= 2, np.sqrt(sq / np.maximum(count, 1)), own_sd)
    return np.nan_to_num(fc, nan=0.0), rms


def forecast_demand(
    history: pd.DataFrame | Iterable[tuple[object, object, float]],
    *,
    horizon: int,
    lead_time: int,
    freq: str = "W",
    id_col: str = "series_id",
    date_col: str = "date",
    quantity_col: str = "quantity",
    season_length: int = 1,
    ets_model: str = "AZZ",
    min_history: int = 8,
    nan_policy: Literal["raise", "zero"] = "raise",
    n_jobs: int = 1,
) -> DemandForecast:
    """Forecast every series of a long sales table with the method its demand class calls for.

    Args:
        history: a pandas DataFrame with id, date and quantity columns, or an iterable of
            (series_id, date, quantity) rows. Dates are datetimes (bucketed by `freq`) or
            integer period numbers. A missing period means no sale.
        horizon: periods to forecast (>= 1); `horizon_mean` is their mean.
        lead_time: periods of replenishment lead time (>= 1) for `lead_time_mean` and
            `lead_time_sd`.
        freq: pandas period alias for datetime dates ("W", "D", "M", ...).
        id_col: the id column of a DataFrame.
        date_col: the date column of a DataFrame.
        quantity_col: the quantity column of a DataFrame.
        season_length: AutoETS season length in periods (1: no seasonality; statsforecast's
            ETS supports at most 24, so yearly seasonality of weekly data is not modelled).
        ets_model: AutoETS's model string (error, trend, season; Z lets AICc choose). The
            default "AZZ" keeps to additive errors: multiplicative-error models need strictly
            positive demand, which sales series with zero weeks do not have, and leaving them
            out makes the search about 2.4x faster. Pass "ZZZ" for statsforecast's full search.
        min_history: series shorter than this many periods use the historic average.
        nan_policy: "raise" (default) on a NaN quantity, or "zero" to count it as no sale.
        n_jobs: processes statsforecast may use (-1: all cores).

    Returns:
        A `DemandForecast` with one entry per series.

    Raises:
        ConfigError: an empty table, missing columns, NaN quantities (with
            nan_policy="raise"), missing ids or dates, or bad arguments.
        ImportError: statsforecast or pandas is not installed (install the `forecast` extra).

    Example:
        >>> rows = [("A", w, 10 + w % 3) for w in range(30)] + [("B", 3, 2), ("B", 20, 1)]
        >>> f = forecast_demand(rows, horizon=4, lead_time=2)  # doctest: +SKIP
        >>> list(f.methods)  # doctest: +SKIP
        ['AutoETS', 'CrostonSBA']
    """
    if not isinstance(horizon, int) or isinstance(horizon, bool) or horizon < 1:
        raise ConfigError(f"horizon must be an integer >= 1, got {horizon!r}")
    if not isinstance(lead_time, int) or isinstance(lead_time, bool) or lead_time < 1:
        raise ConfigError(f"lead_time must be an integer >= 1 period, got {lead_time!r}")
    if (
        not isinstance(season_length, int)
        or isinstance(season_length, bool)
        or not 1 <= season_length <= 24
    ):
        raise ConfigError(
            f"season_length must be an integer from 1 to 24 (statsforecast's ETS limit), "
            f"got {season_length!r}"
        )
    if not (
        isinstance(ets_model, str)
        and len(ets_model) == 3
        and set(ets_model) <= set("ZAMN")
        and ets_model[1] != "M"
    ):
        raise ConfigError(
            f"ets_model must be three letters from Z, A, M, N (error, trend, season), "
            f"got {ets_model!r}"
        )
    if nan_policy not in ("raise", "zero"):
        raise ConfigError(f"nan_policy must be 'raise' or 'zero', got {nan_policy!r}")
    min_history = max(int(min_history), 2 * season_length + 2)

    frame = _to_frame(history, id_col, date_col, quantity_col)
    ids, series, clipped = _dense_series(frame, freq, nan_policy)
    n = len(series)
    profiles = [_profile(y) for y in series]
    methods: list[ForecastMethod] = []
    for prof in profiles:
        method = _METHOD_BY_CLASS[prof.demand_class]
        if method != "Zero" and prof.periods < min_history:
            method = "HistoricAverage"
        methods.append(method)

    steps = max(horizon, lead_time)
    forecasts = np.zeros((n, steps))
    sd = np.zeros(n)
    seconds: dict[str, float] = {}
    by_method: dict[ForecastMethod, list[int]] = {}
    for i, method in enumerate(methods):
        by_method.setdefault(method, []).append(i)
    for method, members in by_method.items():
        if method == "Zero":
            continue
        start = time.perf_counter()
        fc, rms = _run_method(method, members, series, steps, season_length, ets_model, n_jobs)
        seconds[method] = time.perf_counter() - start
        forecasts[members] = np.maximum(fc, 0.0)
        sd[members] = rms

    return DemandForecast(
        series_ids=ids,
        methods=np.array(methods, dtype=str),
        demand_classes=np.array([p.demand_class for p in profiles], dtype=str),
        adi=np.array([p.adi for p in profiles]),
        cv2=np.array([p.cv2 for p in profiles]),
        periods=np.array([p.periods for p in profiles], dtype=np.int64),
        horizon_mean=forecasts[:, :horizon].mean(axis=1),
        lead_time_mean=forecasts[:, :lead_time].mean(axis=1),
        sd_per_period=sd,
        lead_time_sd=sd * np.sqrt(lead_time),
        horizon=horizon,
        lead_time=lead_time,
        clipped_periods=clipped,
        profiles=tuple(profiles),
        seconds_by_method=seconds,
    )
