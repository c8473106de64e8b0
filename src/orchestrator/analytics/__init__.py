"""Inventory analytics: demand forecasting and vectorized inventory-policy math.

Pure functions with no I/O and no dependency on the store. The policy math
(`orchestrator.analytics.policy`) needs only numpy and scipy, and runs `ss_poisson_exact`
compiled when numba (the `fast` extra) is installed, importing it on first call; the forecasting functions
(`orchestrator.analytics.forecast`) need the `forecast` extra (statsforecast, pandas), which
they import when called, so importing this package stays light.
"""

from __future__ import annotations

from orchestrator.analytics.forecast import (
    ADI_CUTOFF,
    CV2_CUTOFF,
    DemandClass,
    DemandForecast,
    DemandProfile,
    ForecastMethod,
    SeriesForecast,
    classify_demand,
    forecast_demand,
)
from orchestrator.analytics.policy import (
    SS_POISSON_MAX_MEAN,
    BaseStockResult,
    EOQBackorderResult,
    EOQDiscountResult,
    EOQResult,
    PoissonBaseStockResult,
    ReorderPointResult,
    RQResult,
    SafetyStockResult,
    ServiceMeasure,
    SsPoissonResult,
    SSResult,
    base_stock_normal,
    base_stock_poisson,
    eoq,
    eoq_all_units_discount,
    eoq_with_backorders,
    normal_loss,
    reorder_point,
    rq_eoq_ss,
    safety_stock,
    ss_poisson_exact,
    ss_power_approximation,
)

__all__ = [
    "ADI_CUTOFF",
    "CV2_CUTOFF",
    "SS_POISSON_MAX_MEAN",
    "BaseStockResult",
    "DemandClass",
    "DemandForecast",
    "DemandProfile",
    "EOQBackorderResult",
    "EOQDiscountResult",
    "EOQResult",
    "ForecastMethod",
    "PoissonBaseStockResult",
    "RQResult",
    "ReorderPointResult",
    "SSResult",
    "SafetyStockResult",
    "SeriesForecast",
    "ServiceMeasure",
    "SsPoissonResult",
    "base_stock_normal",
    "base_stock_poisson",
    "classify_demand",
    "eoq",
    "eoq_all_units_discount",
    "eoq_with_backorders",
    "forecast_demand",
    "normal_loss",
    "reorder_point",
    "rq_eoq_ss",
    "safety_stock",
    "ss_poisson_exact",
    "ss_power_approximation",
]
