"""Nodes of the business-review graph: gather, analyse (the crew), remember, report.

Every figure comes from code (`compute_weekly_kpis`); the crew, run in one node, writes the
narrative, which code checks (`check_narrative`) before using it, and falls back to a narrative
written in code when the crew's output is unusable. The crew gets the analyst profile's
read-only tools: it cannot write to the store, and a write it attempts is refused and audited.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from orchestrator.errors import ConfigError, InvalidInput
from orchestrator.graphs.business_review.report import render_html
from orchestrator.graphs.business_review.state import BusinessReviewState
from orchestrator.runtime.deps import NodeModels, Services

__all__ = ["AGENT", "CREW_NODE", "analyse", "gather", "remember", "report"]

logger = logging.getLogger(__name__)

AGENT = "analyst"
"""The agent profile the crew's tools run as (read-only)."""

CREW_NODE = "crew"
"""The node name models are routed by (`ORCH_MODELS__ROUTES__business_review.crew`)."""

_INSIGHTS_QUERY = "weekly operations review: stock, sales, pricing and audit changes"


def _as_of(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput("as_of", value, "an ISO date such as 2026-11-23") from None


def _after_last_sale(engine: Any) -> date | None:
    """The day after the newest sale or shipment (None: no sales yet).

    The default week ends with the last trading day: a stock adjustment made today does not
    make the reviewed week an empty one.
    """
    from sqlalchemy import func, select

    from orchestrator.store.models import StockLedger

    column: Any = StockLedger.created_at
    kind: Any = StockLedger.kind
    with engine.connect() as conn:
        newest = conn.execute(
            select(func.max(column)).where(kind.in_(["sale", "shipment"]))
        ).scalar()
    return None if newest is None else newest.date() + timedelta(days=1)


def gather(state: BusinessReviewState, runtime: Any, *, services: Services) -> dict[str, Any]:
    """Compute the week's KPIs in SQL and read earlier insights from long-term memory.

    The week ends on `as_of` (exclusive), by default the day after the newest sale.
    """
    from orchestrator.crews.kpis import compute_weekly_kpis

    as_of = _as_of(state.get("as_of"))
    if as_of is None:
        as_of = _after_last_sale(services.store.engine)
    kpis = compute_weekly_kpis(services.store.engine, as_of=as_of)
    warnings: list[str] = []
    insights: list[str] = []
    store = getattr(runtime, "store", None)
    if store is not None:
        from orchestrator.memory.namespaces import recent_insights

        try:
            insights = [i.text for i in recent_insights(store, _INSIGHTS_QUERY, limit=5)]
        except Exception as exc:  # memory is context, not a precondition of the review
            warnings.append(f"earlier insights unavailable ({type(exc).__name__}: {exc})")
    return {
        "as_of": kpis.as_of.isoformat(),
        "kpis": kpis.model_dump(mode="json"),
        "insights": insights,
        "warnings": warnings,
    }


def analyse(
    state: BusinessReviewState,
    config: Any,
    runtime: Any,
    *,
    services: Services,
    models: NodeModels,
) -> dict[str, Any]:
    """Run the weekly-review crew on the gathered figures; code checks what it writes."""
    from orchestrator.crews.kpis import WeeklyKpis
    from orchestrator.crews.review import DEFAULT_SHOP, run_weekly_review

    kpis = WeeklyKpis.model_validate(state["kpis"])
    warnings = list(state.get("warnings", []))
    tools: list[Any] = []
    llm: Any = None
    try:
        llm = models.crewai_llm(CREW_NODE)
    except ConfigError as exc:
        warnings.append(f"no crew model: {exc}")
    if llm is not None:
        from orchestrator.tools import as_crewai_tools

        ctx = services.node_context(config, runtime.context, agent=AGENT)
        tools = as_crewai_tools(ctx, AGENT, runner=services.runner)
    review = run_weekly_review(
        services.store.engine,
        llm=llm,
        tools=tools,
        insights=state.get("insights", []),
        kpis=kpis,
        shop=state.get("shop") or DEFAULT_SHOP,
    )
    if review.origin == "fallback" and review.note:
        warnings.append(review.note)
    return {"review": review.model_dump(mode="json"), "warnings": warnings}


def remember(state: BusinessReviewState, runtime: Any) -> dict[str, Any]:
    """Store the review's summary as an insight later runs and analysts search.

    Keyed by the reviewed week, so a re-run of the same week replaces its insight.
    """
    store = getattr(runtime, "store", None)
    if store is None:
        return {"insight_key": None}
    from orchestrator.memory.namespaces import Insight, record_insight

    review = state["review"]
    insight = Insight(
        topic="review",
        text=str(review["summary"])[:2000],
        source="business_review",
        data={
            "as_of": state["as_of"],
            "origin": review["origin"],
            "findings": review["findings"],
            "recommendations": review["recommendations"],
        },
    )
    try:
        key = record_insight(store, insight, key=f"review-{state['as_of']}")
    except Exception as exc:  # the report must still be written
        return {
            "insight_key": None,
            "warnings": [*state.get("warnings", []), f"insight not stored ({exc})"],
        }
    return {"insight_key": key}


def report(state: BusinessReviewState) -> dict[str, Any]:
    """Render the report as markdown (and HTML), and write it when the input named a path."""
    from orchestrator.crews.review import WeeklyReview

    review = WeeklyReview.model_validate(state["review"])
    markdown = review.to_markdown()
    paths: list[str] = []
    out = state.get("out")
    if out:
        base = Path(out)
        base.parent.mkdir(parents=True, exist_ok=True)
        md, html = base.with_suffix(".md"), base.with_suffix(".html")
        md.write_text(markdown, encoding="utf-8")
        html.write_text(render_html(review), encoding="utf-8")
        paths = [str(md), str(html)]
    return {"report_markdown": markdown, "report_paths": paths}
