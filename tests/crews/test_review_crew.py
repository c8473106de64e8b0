"""The weekly review crew with a scripted CrewAI LLM: structured output, read-only tools, fallback."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from orchestrator.crews import (
    ROLES,
    ReviewNarrative,
    build_weekly_review_crew,
    check_narrative,
    compute_weekly_kpis,
    run_weekly_review,
)
from orchestrator.crews._config import agent_config, task_config
from orchestrator.store.models import AuditLog
from orchestrator.testing import ScriptedModel
from orchestrator.tools import ToolContext

pytestmark = pytest.mark.slow  # crewai takes seconds to import


def _narrative(engine: Engine) -> dict[str, Any]:
    """A narrative that cites the shop's real figures, as a good model would."""
    kpis = compute_weekly_kpis(engine)
    return {
        "summary": "Sales held steady; stock-outs and late purchase orders need attention.",
        "findings": [
            f"{kpis.stockouts.count} stock-outs across three locations",
            f"{kpis.late_purchase_orders} purchase orders are late",
        ],
        "recommendations": [
            "Inventory Manager: replenish A-class lines",
            "Buyer: chase late suppliers",
        ],
    }


def _audit(engine: Engine, operation: str) -> list[AuditLog]:
    with Session(engine) as session:
        stmt = select(AuditLog).where(AuditLog.operation == operation).order_by(AuditLog.id)  # type: ignore[arg-type]
        return [row[0] for row in session.execute(stmt).all()]


def test_yaml_has_the_five_roles_and_tasks_name_them() -> None:
    assert len(ROLES) == 5
    for role in ROLES:
        cfg = agent_config(role)
        assert {"role", "goal", "backstory"} <= set(cfg)
    for task in (
        "analyse_operations",
        "write_weekly_review",
        "assess_customer_impact",
        "propose_markdowns",
    ):
        assert task_config(task)["agent"] in ROLES


def test_factory_builds_a_crew_from_the_yaml(analyst_tools: list[Any]) -> None:
    llm = ScriptedModel().as_crewai_llm()
    crew = build_weekly_review_crew(llm=llm, tools=analyst_tools)
    assert [a.role for a in crew.agents] == [
        "Operations Coordinator",
        "Analytics and Insights Specialist",
    ]
    assert {t.name for t in crew.agents[0].tools} == {t.name for t in analyst_tools}
    assert crew.agents[1].tools == []
    assert crew.tasks[-1].output_pydantic.__name__ == "ReviewNarrative"


def test_review_runs_tools_through_the_runner_and_validates_output(
    shop_engine: Engine, analyst_tools: list[Any]
) -> None:
    narrative = _narrative(shop_engine)
    model = ScriptedModel(
        responses=[
            'Thought: which lines are short?\nAction: low_stock_report\nAction Input: {"limit": 3}',
            "Thought: I have what I need.\nFinal Answer: 1. Stock-outs (owner: inventory). 2. Late POs (owner: purchasing).",
            json.dumps(narrative),
        ]
    )
    review = run_weekly_review(
        shop_engine,
        llm=model.as_crewai_llm(),
        tools=analyst_tools,
        insights=["Last week: chase Nordic Home"],
    )
    assert review.origin == "crew" and review.note is None
    assert review.summary == narrative["summary"]
    assert review.findings == narrative["findings"]
    assert review.insights_used == 1
    first_prompt = "\n".join(str(m.content) for m in model.calls[0].messages)
    assert "stock-outs:" in first_prompt and "Last week: chase Nordic Home" in first_prompt
    calls = _audit(shop_engine, "low_stock_report")
    assert calls and calls[-1].agent == "analyst" and calls[-1].outcome == "ok"
    md = review.to_markdown()
    assert f"| stock-outs | {review.kpis.stockouts.count} |" in md
    assert "_Narrative by the analyst crew._" in md


def test_invalid_output_falls_back_to_a_review_built_in_code(
    shop_engine: Engine, analyst_tools: list[Any]
) -> None:
    model = ScriptedModel(
        responses=["Thought: done\nFinal Answer: all fine", "I think things are fine overall."],
        when_exhausted="echo",
    )
    review = run_weekly_review(shop_engine, llm=model.as_crewai_llm(), tools=analyst_tools)
    assert review.origin == "fallback"
    assert review.note and "not usable" in review.note
    assert any("stock-outs" in f for f in review.findings)
    assert "code (fallback)" in review.to_markdown()


def test_a_backend_failure_falls_back_too(shop_engine: Engine) -> None:
    from orchestrator.errors import BackendUnavailable

    down = BackendUnavailable("llama-server at 127.0.0.1:1 is down")
    model = ScriptedModel(responses=[down] * 3)  # CrewAI tries a failing call three times
    review = run_weekly_review(shop_engine, llm=model.as_crewai_llm(), tools=[])
    assert review.origin == "fallback" and "BackendUnavailable" in (review.note or "")


def test_a_write_attempt_is_refused_and_audited(
    shop_engine: Engine, analyst_ctx: ToolContext, analyst_tools: list[Any]
) -> None:
    # Suppose a write tool slipped into the crew's tool list: it is still bound to the
    # analyst's read-only profile, so the runner refuses the call and audits the refusal.
    from orchestrator.tools import ToolRunner, default_catalog
    from orchestrator.tools.adapters import _crew_tool_class

    spec = default_catalog().get("adjust_quantity")
    write_tool = _crew_tool_class()(
        name=spec.name, description=spec.description, args_schema=spec.args_schema
    )
    write_tool.bind(ToolRunner(), analyst_ctx)
    args = {"sku": "ARD-UNO-001", "location": "WH-MAIN", "delta": -5, "reason": "count: recount"}
    model = ScriptedModel(
        responses=[
            f"Thought: fix the count\nAction: adjust_quantity\nAction Input: {json.dumps(args)}",
            "Thought: I may not write.\nFinal Answer: 1. A count needs a human (owner: inventory).",
            json.dumps(_narrative(shop_engine)),
        ]
    )
    review = run_weekly_review(
        shop_engine, llm=model.as_crewai_llm(), tools=[*analyst_tools, write_tool], tool_names=None
    )
    assert review.origin == "crew"
    refused = _audit(shop_engine, "adjust_quantity")
    assert refused and refused[-1].outcome == "denied" and refused[-1].agent == "analyst"
    assert "not in the allow-list of profile 'analyst'" in refused[-1].reason
    observation = "\n".join(str(m.content) for m in model.calls[1].messages)
    assert "PermissionDenied" in observation


def test_schema_valid_filler_is_rejected_by_the_code(
    shop_engine: Engine, analyst_tools: list[Any]
) -> None:
    # What SmolLM2-135M wrote under constrained decoding: valid JSON, useless text.
    filler = {
        "summary": "The summary is: " + "The task is completed successfully. " * 6,
        "findings": ["The items are: " * 8],
        "recommendations": ["The items are: " * 8],
    }
    kpis = compute_weekly_kpis(shop_engine)
    with pytest.raises(ValueError, match="repetitive text"):
        check_narrative(ReviewNarrative.model_validate(filler), kpis)
    ungrounded = ReviewNarrative(
        summary="All is well this week.",
        findings=["things look fine"],
        recommendations=["carry on"],
    )
    with pytest.raises(ValueError, match="no finding cites a figure"):
        check_narrative(ungrounded, kpis)
    model = ScriptedModel(responses=["Thought: done\nFinal Answer: fine", json.dumps(filler)])
    review = run_weekly_review(shop_engine, llm=model.as_crewai_llm(), tools=analyst_tools)
    assert review.origin == "fallback" and "repetitive text" in (review.note or "")
