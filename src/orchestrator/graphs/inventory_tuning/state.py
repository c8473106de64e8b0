"""State of the inventory-tuning graph."""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypedDict

from pydantic import BaseModel

__all__ = ["PairPlan", "PairStatus", "TuningInput", "TuningState"]

PairStatus = Literal[
    "change",
    "keep",
    "no_demand",
    "no_supplier",
    "invalid",
    "proposed",
    "applied",
    "rejected",
    "refused",
]
"""`change` (to apply), `keep` (within the deadband), `no_demand` (no sale in the history:
no policy), `no_supplier` (no active supplier offer: no lead time), `invalid` (bad data, e.g.
a unit cost that is not positive), then after the run: `proposed` (dry run), `applied`,
`rejected` (a person said no), `refused` (the store refused the write)."""


class PairPlan(BaseModel):
    """What the run found and proposes for one SKU at one location (every figure by code)."""

    sku: str
    location: str
    name: str = ""
    category: str = ""
    unit_cost_cents: int | None = None
    """The preferred supplier's unit cost (else the product's cost)."""
    supplier: str | None = None
    """The preferred supplier's name."""
    lead_time_days: int | None = None
    """The preferred supplier's lead time."""
    moq: int = 1
    shelf_life_days: int | None = None
    """A perishable's shelf life: an order covers at most this many days of demand."""
    weeks: int = 0
    """Weeks of history from the first sale to the end of the history."""
    units_sold: int = 0
    demand_class: str = ""
    method: str = ""
    """The forecasting method (`AutoETS`, `CrostonSBA`, ...)."""
    weekly_mean: float = 0.0
    """Forecast mean demand per week."""
    weekly_sd: float = 0.0
    """Standard deviation of weekly demand (in-sample one-step residuals)."""
    service_level: float | None = None
    old_reorder_point: int | None = None
    old_safety_stock: int | None = None
    old_order_quantity: int | None = None
    old_method: str | None = None
    reorder_point: int | None = None
    safety_stock: int | None = None
    order_quantity: int | None = None
    change: float = 0.0
    """Relative change of the reorder point (|new - old| / max(old, 1)); 1.0 for a new one."""
    impact_cents: int = 0
    """|change of the reorder point| x unit cost: how much stock value moves (for ranking)."""
    needs_approval: bool = False
    status: PairStatus = "change"
    reason: str = ""
    """Why (the rationale of a change, or why nothing was set)."""
    reason_source: Literal["model", "template", "code"] = "code"
    detail: str = ""
    """What happened when applying (or why it was refused)."""


class TuningInput(TypedDict, total=False):
    """What a run starts with (everything optional)."""

    limit: int | None
    """Tune at most this many SKU x location pairs (in SKU order)."""
    category: str | None
    """Only this product category."""
    location: str | None
    """Only this location."""
    dry_run: bool
    """Propose and report; write nothing and ask nobody."""
    report_path: str | None
    """Write the report there (`.html`, with a `.md` beside it, or `.md`)."""


def _replace(_old: Any, new: Any) -> Any:
    return new


class TuningState(TypedDict, total=False):
    """The graph's state (serializable; the sales history itself never enters it)."""

    limit: int | None
    category: str | None
    location: str | None
    dry_run: bool
    report_path: str | None
    as_of: str
    """The day after the latest sale: the history ends there (ISO date)."""
    pairs: Annotated[list[dict[str, Any]], _replace]
    """One `PairPlan` (as a dict) per SKU x location in scope."""
    approval: dict[str, Any]
    """The person's decision on the large changes (`approval_gate`)."""
    timings: Annotated[dict[str, float], _replace]
    """Seconds per stage: load, forecast, policy, explain, apply, report."""
    counts: dict[str, int]
    """Pairs per status at the end."""
    report: str
    """The report as markdown."""
    report_files: list[str]
    """Files the report was written to."""
    notes: list[str]
    """What a person should know about the run (e.g. memory unavailable)."""
