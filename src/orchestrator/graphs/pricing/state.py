"""State of the pricing graph."""

from __future__ import annotations

from typing import Any, TypedDict

__all__ = ["PricingInput", "PricingState"]


class PricingInput(TypedDict, total=False):
    """What a run starts with (every key optional)."""

    category: str | None
    """Only this category; default every active product."""
    competitors: dict[str, int]
    """Competitor prices in cents by SKU (`orchestrator price --competitors CSV` reads them):
    a raise never goes above a competitor's price."""
    dry_run: bool
    """Propose and report, write nothing."""
    change_promoted: bool
    """Also change items under an open promotion (default: `ORCH_PRICING__CHANGE_PROMOTED`)."""
    as_of: str | None
    """Today, ISO date; default the day after the newest ledger row."""


class PricingState(PricingInput, total=False):
    """The graph's state (serializable: plain dicts, lists and strings)."""

    products: list[dict[str, Any]]
    """Active products in scope: price, cost, stock, 28-day demand, days of cover, open promotion."""
    problems: list[str]
    """Catalogue data the run could not price (negative cost, non-positive price), with why."""
    candidates: list[dict[str, Any]]
    """Markdown candidates (near expiry, overstock) found by the markdown policy."""
    elasticities: dict[str, dict[str, Any]]
    """`Elasticity` by SKU: the estimate used and whether it was pooled."""
    estimate_summary: dict[str, Any]
    """SKUs with their own estimate, pooled with their category, and without one; window."""
    series: dict[str, dict[str, Any]]
    """Weekly units and average charged price of the changed SKUs (for the report's charts)."""
    changes: list[dict[str, Any]]
    """One `PriceChange` per proposal, updated as the run goes (guarded, applied, ...)."""
    explanation: dict[str, Any]
    """The explanation: `summary`, `reasons` by SKU, `source` (`model` or `template`), `note`."""
    report: str
    """The report in markdown."""
    insight_key: str | None
    """The long-term memory item the run wrote (topic `pricing`), if any."""
    timings: dict[str, float]
    """Seconds per step."""
