"""State of the business-review graph."""

from __future__ import annotations

from typing import Any, TypedDict

__all__ = ["BusinessReviewInput", "BusinessReviewState"]


class BusinessReviewInput(TypedDict, total=False):
    """What a run starts with (every field optional)."""

    as_of: str
    """ISO date: the review covers the 7 days before it; default the day after the newest
    ledger row."""
    shop: str
    """How the crew's prompts name the shop."""
    out: str
    """Where to write the report: `PATH.md` and `PATH.html` (the suffix given is replaced)."""


class BusinessReviewState(TypedDict, total=False):
    """The graph's state (serializable: plain dicts and strings)."""

    as_of: str
    shop: str
    out: str
    kpis: dict[str, Any]
    """The week's figures (`orchestrator.crews.kpis.WeeklyKpis`), computed in code."""
    insights: list[str]
    """Earlier insights from long-term memory, given to the crew as context."""
    review: dict[str, Any]
    """The validated review (`orchestrator.crews.review.WeeklyReview`)."""
    insight_key: str | None
    """The key the run's own insight was stored under (None: no long-term store)."""
    report_markdown: str
    """The report as markdown."""
    report_paths: list[str]
    """The files written (empty without `out`)."""
    warnings: list[str]
    """What did not work but did not stop the review (memory unavailable, crew fell back)."""
