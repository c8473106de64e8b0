"""Business review: the weekly operations review crew entered into a graph through one node.

KPIs are computed in code, the analyst crew writes the narrative (checked by code, with a
fallback written from the figures), the summary is stored in long-term memory for later runs,
and the report is written as markdown and HTML (`orchestrator review --out PATH`).
"""

from __future__ import annotations

from orchestrator.graphs.business_review.demo import demo_steps
from orchestrator.graphs.business_review.graph import build_business_review_graph
from orchestrator.graphs.business_review.report import render_html
from orchestrator.graphs.business_review.state import BusinessReviewInput, BusinessReviewState

__all__ = [
    "BusinessReviewInput",
    "BusinessReviewState",
    "build_business_review_graph",
    "demo_steps",
    "render_html",
]
