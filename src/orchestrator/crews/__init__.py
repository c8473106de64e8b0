"""CrewAI analyst crews on the same tools and model backends as the graphs.

The five analyst roles (inventory manager, sales and customer service, financial and pricing
analyst, operations coordinator, analytics and insights specialist) live in
`config/agents.yaml` and their tasks in `config/tasks.yaml`, CrewAI's classic convention;
`build_<name>_crew(*, llm, tools) -> Crew` factories assemble them:

- `build_weekly_review_crew`: the weekly operations review (`run_weekly_review` computes the
  KPIs in code, runs the crew, validates its structured output, falls back to code);
- `build_pricing_crew`: the pricing and markdown review (`run_pricing_review` finds the
  candidates in code and enforces caps and the margin floor on whatever the crew proposes).

Crews get the analyst profile's read-only tools (`as_crewai_tools(ctx, "analyst")`) and the
CrewAI LLM from the backends (`ModelRouter.crewai_llm`, local llama.cpp by default). crewai is
imported only when a crew is built (it takes seconds), with its telemetry off. See
docs/crews.md.

Example:
    >>> from orchestrator.crews import run_weekly_review
    >>> review = run_weekly_review(engine, llm=router.crewai_llm("crews", "weekly_review"),
    ...                            tools=as_crewai_tools(ctx, "analyst"))
    >>> review.origin in ("crew", "fallback")
    True
"""

from __future__ import annotations

from orchestrator.crews._config import ROLES
from orchestrator.crews.kpis import WeeklyKpis, compute_weekly_kpis
from orchestrator.crews.pricing import (
    MarkdownCandidate,
    MarkdownDecision,
    MarkdownProposal,
    MarkdownProposals,
    PricingReview,
    build_pricing_crew,
    decide_markdowns,
    margin_floor_cents,
    markdown_candidates,
    run_pricing_review,
)
from orchestrator.crews.review import (
    ReviewNarrative,
    WeeklyReview,
    build_weekly_review_crew,
    check_narrative,
    fallback_narrative,
    run_weekly_review,
)

__all__ = [
    "ROLES",
    "MarkdownCandidate",
    "MarkdownDecision",
    "MarkdownProposal",
    "MarkdownProposals",
    "PricingReview",
    "ReviewNarrative",
    "WeeklyKpis",
    "WeeklyReview",
    "build_pricing_crew",
    "build_weekly_review_crew",
    "check_narrative",
    "compute_weekly_kpis",
    "decide_markdowns",
    "fallback_narrative",
    "margin_floor_cents",
    "markdown_candidates",
    "run_pricing_review",
    "run_weekly_review",
]
