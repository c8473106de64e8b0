"""One real run of the weekly review crew against the local llama-server (SmolLM2)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from orchestrator import load_settings
from orchestrator.backends import ModelRouter
from orchestrator.crews import WeeklyReview, run_weekly_review

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(1500)]


def test_review_crew_on_the_local_model(
    llama_server: Any, shop_engine: Engine, analyst_tools: list[Any]
) -> None:
    settings = load_settings(
        models={
            "default": "llamacpp:smollm2",
            "base_urls": {"llamacpp": llama_server.base_url},
            # The machines are shared: under load SmolLM2 falls from ~47 to ~3 tokens/s.
            "timeout_s": 400,
            "max_retries": 0,
            "max_tokens": 700,
        }
    )
    llm = ModelRouter(settings.models).crewai_llm("crews", "weekly_review")
    started = time.perf_counter()
    review = run_weekly_review(shop_engine, llm=llm, tools=analyst_tools)
    elapsed = time.perf_counter() - started
    print(
        f"\nweekly review on SmolLM2: origin={review.origin} in {elapsed:.1f} s; note={review.note}"
    )
    print(review.to_markdown())
    assert isinstance(review, WeeklyReview)
    WeeklyReview.model_validate(review.model_dump())
    assert review.summary and review.findings and review.recommendations
    assert review.origin == "crew" or review.note
    assert "# Weekly operations review" in review.to_markdown()
