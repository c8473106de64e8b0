"""The business_review graph: KPIs from code, the crew in one node, memory, the report."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from orchestrator.crews.kpis import compute_weekly_kpis
from orchestrator.memory.namespaces import insights_ns, recent_insights
from orchestrator.runtime import RunContext
from orchestrator.store.models import AuditLog, StockLedger
from orchestrator.testing import ScriptedModel, TestShop, seeded_shop

os.environ.setdefault("CREWAI_DISABLE_TELEMETRY", "true")
os.environ.setdefault("OTEL_SDK_DISABLED", "true")

ANN = RunContext(actor="ann", channel="cli")


@pytest.fixture
def shop(tmp_path: Path) -> Any:
    with seeded_shop(tmp_path / "shop.db", skus=20, days=60) as made:
        yield made


def _narrative(shop: TestShop) -> dict[str, Any]:
    kpis = compute_weekly_kpis(shop.engine)
    return {
        "summary": "Sales held steady; stock-outs and late purchase orders need attention.",
        "findings": [
            f"{kpis.stockouts.count} stock-outs across the locations",
            f"{kpis.late_purchase_orders} purchase orders are late",
        ],
        "recommendations": ["Inventory Manager: replenish A-class lines"],
    }


def _count(shop: TestShop, model: Any) -> int:
    with shop.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(model)).scalar_one())


def _orch_with(shop: TestShop, model: Any) -> Any:
    return shop.orchestrator(models=model)  # every node: this model


def test_review_uses_the_crew_stores_an_insight_and_writes_both_reports(
    shop: TestShop, tmp_path: Path
) -> None:
    narrative = _narrative(shop)
    model = ScriptedModel(
        responses=[
            "Thought: I have what I need.\nFinal Answer: 1. Stock-outs (owner: inventory).",
            json.dumps(narrative),
        ]
    )
    ledger = _count(shop, StockLedger)
    orch = _orch_with(shop, model)
    out = tmp_path / "reports" / "week.html"
    result = orch.run("business_review", {"out": str(out)}, context=ANN)
    assert result.status == "completed", result.error
    review = result.values["review"]
    assert review["origin"] == "crew" and review["summary"] == narrative["summary"]
    kpis = compute_weekly_kpis(shop.engine)
    assert result.values["kpis"]["stockouts"]["count"] == kpis.stockouts.count
    md, html = out.with_suffix(".md"), out.with_suffix(".html")
    assert result.values["report_paths"] == [str(md), str(html)]
    assert f"| stock-outs | {kpis.stockouts.count} |" in md.read_text()
    page = html.read_text()
    assert "<h1>Weekly operations review</h1>" in page and narrative["summary"] in page
    assert "data:image/png;base64," in page  # the chart
    # The insight is in long-term memory, keyed by the week: a later run finds it.
    key = result.values["insight_key"]
    assert key == f"review-{result.values['as_of']}"
    item = orch.long_term_store.get(insights_ns("review"), key)
    assert item is not None and item.value["text"] == narrative["summary"]
    assert _count(shop, StockLedger) == ledger  # nothing written to the store


def test_earlier_insights_reach_the_crew_and_a_rerun_replaces_the_weeks_insight(
    shop: TestShop,
) -> None:
    narrative = _narrative(shop)
    first = ScriptedModel(responses=["Thought: ok\nFinal Answer: fine", json.dumps(narrative)])
    orch = _orch_with(shop, first)
    orch.run("business_review", {}, context=ANN)
    second = ScriptedModel(responses=["Thought: ok\nFinal Answer: fine", json.dumps(narrative)])
    orch2 = _orch_with(shop, second)
    result = orch2.run("business_review", {}, context=ANN)
    assert narrative["summary"] in result.values["insights"]
    prompt = "\n".join(str(m.content) for m in second.calls[0].messages)
    assert narrative["summary"] in prompt
    same_week = recent_insights(orch2.long_term_store, topic="review", limit=10)
    assert len(same_week) == 1  # one insight per reviewed week


def test_unusable_crew_output_falls_back_to_code_and_says_why(shop: TestShop) -> None:
    model = ScriptedModel(responses=["Final Answer: fine", "I think all is well."])
    result = _orch_with(shop, model).run("business_review", {}, context=ANN)
    assert result.status == "completed"
    assert result.values["review"]["origin"] == "fallback"
    assert any("not usable" in w for w in result.values["warnings"])
    assert "code (fallback)" in result.values["report_markdown"]


def test_a_model_without_a_crewai_adapter_still_gives_a_review(shop: TestShop) -> None:
    class Plain:
        model_name = "plain"

    result = _orch_with(shop, Plain()).run("business_review", {}, context=ANN)
    assert result.status == "completed"
    assert result.values["review"]["origin"] == "fallback"
    assert any("no crew model" in w for w in result.values["warnings"])


def test_a_bad_date_is_refused_before_anything_runs(shop: TestShop) -> None:
    from orchestrator.errors import InvalidInput

    orch = shop.orchestrator()
    with pytest.raises(InvalidInput, match="as_of"):
        orch.run("business_review", {"as_of": "last tuesday"}, context=ANN)


def test_the_crew_cannot_write_its_tools_are_the_analysts(shop: TestShop) -> None:
    # A crew that tries a write tool by name gets no such tool; nothing is written.
    model = ScriptedModel(
        responses=[
            'Thought: fix it\nAction: adjust_quantity\nAction Input: {"sku": "X", "delta": 5}',
            "Thought: cannot\nFinal Answer: no write tool",
            json.dumps(_narrative(shop)),
        ]
    )
    ledger = _count(shop, StockLedger)
    result = _orch_with(shop, model).run("business_review", {}, context=ANN)
    assert result.status == "completed"
    assert _count(shop, StockLedger) == ledger
    with shop.engine.connect() as conn:
        writes = conn.execute(
            select(func.count())
            .select_from(AuditLog)
            .where(AuditLog.outcome == "ok", AuditLog.operation == "adjust_quantity")  # type: ignore[arg-type]
        ).scalar_one()
    assert writes == 0


def test_cli_review_prints_one_json_object(
    shop: TestShop, tmp_path: Path, monkeypatch: Any
) -> None:
    from orchestrator.cli import app

    monkeypatch.setenv("ORCH_MODELS__DEFAULT", "test:echo")
    monkeypatch.setenv("ORCH_MEMORY__PATH", str(shop.settings.memory.path))
    monkeypatch.setenv("ORCH_MEMORY__EMBEDDING", "hash")
    monkeypatch.setenv("ORCH_CHECKPOINT__URL", f"sqlite:///{tmp_path / 'ckpt.db'}")
    out = tmp_path / "week.md"
    got = CliRunner().invoke(
        app, ["review", "--json", "--out", str(out), "--db", str(shop.settings.store.url)]
    )
    assert got.exit_code == 0, got.output
    lines = [line for line in got.stdout.splitlines() if line.strip()]
    assert len(lines) == 1
    payload = json.loads(lines[0])
    assert payload["status"] == "completed" and payload["origin"] == "fallback"
    assert payload["report_paths"] == [str(out), str(out.with_suffix(".html"))]
    assert set(payload) >= {"thread_id", "summary", "findings", "kpis", "insight_key", "warnings"}
    bad = CliRunner().invoke(
        app, ["review", "--as-of", "soon", "--db", str(shop.settings.store.url)]
    )
    assert bad.exit_code == 2 and "as-of" in bad.output


def test_demo_steps_pass_on_a_seeded_store(shop: TestShop) -> None:
    from rich.console import Console

    from orchestrator.graphs.business_review import demo_steps

    steps = demo_steps(shop.orchestrator(), Console(quiet=True))
    assert [ok for _, ok, _ in steps] == [True, True], steps
