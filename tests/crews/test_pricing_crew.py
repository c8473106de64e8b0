"""The pricing review: candidates and the margin floor in code, whatever the crew proposes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from orchestrator.crews import (
    MarkdownCandidate,
    MarkdownProposal,
    decide_markdowns,
    margin_floor_cents,
    markdown_candidates,
    run_pricing_review,
)
from orchestrator.testing import ScriptedModel


def _cand(
    sku: str,
    reason: str,
    *,
    price: int = 1000,
    cost: int = 600,
    cap: float = 30.0,
    days: int | None = None,
) -> MarkdownCandidate:
    near = reason == "near_expiry"
    return MarkdownCandidate(
        sku=sku,
        name=sku.title(),
        reason=reason,  # type: ignore[arg-type]
        on_hand=10,
        price_cents=price,
        cost_cents=cost,
        days_to_expiry=days,
        max_discount_pct=cap,
        floor_cents=margin_floor_cents(cost, near_expiry=near),
    )


def test_margin_floor() -> None:
    assert margin_floor_cents(600, near_expiry=False) == 630
    assert margin_floor_cents(601, near_expiry=False) == 632  # rounded up, never below 5%
    assert margin_floor_cents(600, near_expiry=True) == 600


def test_decisions_enforce_caps_steps_and_the_floor() -> None:
    cands = [
        _cand("OVER", "overstock"),
        _cand("THIN", "overstock", price=660, cost=600),
        _cand("MILK", "near_expiry", price=200, cost=150, cap=50.0, days=1),
    ]
    proposals = [
        MarkdownProposal(sku="OVER", discount_pct=27, reason="slow"),  # 27% -> 20% (10% steps)
        MarkdownProposal(sku="THIN", discount_pct=20, reason="slow"),  # 528 < floor 630
        MarkdownProposal(sku="MILK", discount_pct=95, reason="expires"),  # cap 50%, floor 150
        MarkdownProposal(sku="NOPE", discount_pct=10, reason="not a candidate"),
        MarkdownProposal(sku="OVER", discount_pct=0, reason="duplicate, ignored"),
    ]
    decisions, ignored = decide_markdowns(cands, proposals)
    by = {d.sku: d for d in decisions}
    assert ignored == ["NOPE"]
    assert (by["OVER"].proposed_price_cents, by["OVER"].discount_pct, by["OVER"].clamped) == (
        800,
        20.0,
        True,
    )
    assert (by["THIN"].proposed_price_cents, by["THIN"].clamped) == (630, True)
    assert (by["MILK"].proposed_price_cents, by["MILK"].discount_pct, by["MILK"].clamped) == (
        150,
        25.0,
        True,
    )
    assert all(d.proposed_price_cents >= d.floor_cents for d in decisions)
    kept, _ = decide_markdowns(cands, [MarkdownProposal(sku="OVER", discount_pct=10)])
    assert (kept[0].proposed_price_cents, kept[0].clamped) == (900, False)


def test_candidates_from_the_books(shop_engine: Engine) -> None:
    cands = markdown_candidates(shop_engine)
    assert cands, "the seeded shop has overstock or near-expiry lines"
    for c in cands:
        assert c.floor_cents == margin_floor_cents(
            c.cost_cents, near_expiry=c.reason == "near_expiry"
        )
        if c.reason == "near_expiry":
            assert c.days_to_expiry is not None and 0 <= c.days_to_expiry <= 2
        else:
            assert c.days_of_cover is None or c.days_of_cover > 90
    reasons = [c.reason for c in cands]
    assert reasons == sorted(reasons, key=lambda r: r != "near_expiry")


@pytest.mark.slow
def test_the_crew_cannot_price_below_the_floor(
    shop_engine: Engine, analyst_tools: list[Any]
) -> None:
    cands = markdown_candidates(shop_engine)
    greedy = {
        "proposals": [{"sku": c.sku, "discount_pct": 90, "reason": "clear it all"} for c in cands]
    }
    model = ScriptedModel(
        responses=[
            "Thought: demand is soft.\nFinal Answer: all candidates would sell faster at a lower price.",
            json.dumps(greedy),
        ]
    )
    review = run_pricing_review(
        shop_engine, llm=model.as_crewai_llm(), tools=analyst_tools, candidates=cands
    )
    assert review.origin == "crew"
    assert len(review.decisions) == len(cands)
    for d, c in zip(review.decisions, cands, strict=True):
        assert d.proposed_price_cents >= c.floor_cents
        assert d.discount_pct <= c.max_discount_pct
        assert d.clamped
    assert "floors and caps enforced in code" in review.to_markdown()


@pytest.mark.slow
def test_unusable_proposals_fall_back_to_the_policy(shop_engine: Engine) -> None:
    cands = markdown_candidates(shop_engine)
    model = ScriptedModel(
        responses=["Final Answer: ok", '{"proposals": [{"sku": "NOT-A-SKU", "discount_pct": 10}]}']
    )
    review = run_pricing_review(shop_engine, llm=model.as_crewai_llm(), tools=[], candidates=cands)
    assert review.origin == "fallback" and "no proposal names a candidate" in (review.note or "")
    assert [d.sku for d in review.decisions] == [c.sku for c in cands]
    assert all(d.proposed_price_cents >= d.floor_cents for d in review.decisions)
