"""The inventory-tuning graph: dry run, approve / reject / edit, model reasons checked by code,
bad data that never becomes a NaN or negative policy, the report files, and exactly one write
per policy after a SIGKILL in the apply step (SQLite and PostgreSQL).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from langchain_core.messages import BaseMessage
from sqlalchemy import func, select, text

from orchestrator.errors import InvalidInput
from orchestrator.runtime import RunContext
from orchestrator.store.models import AuditLog, InventoryPolicy, InventoryPolicyHistory
from orchestrator.testing import ScriptedModel, TestShop, seeded_shop

HERE = Path(__file__).resolve().parent
CTX = RunContext(actor="planner")


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[TestShop]:
    with seeded_shop(tmp_path / "shop.db", skus=12, days=150) as made:
        yield made


def _orch(shop: TestShop, model: Any = None, **tuning: Any) -> Any:
    if tuning:
        shop.settings = shop.settings.model_copy(
            update={"tuning": shop.settings.tuning.model_copy(update=tuning)}
        )
    return shop.orchestrator(models=model or ScriptedModel(when_exhausted="echo"))


def _count(shop: TestShop, model: type, *where: Any) -> int:
    stmt = select(func.count()).select_from(model)  # type: ignore[arg-type]
    for cond in where:
        stmt = stmt.where(cond)
    with shop.engine.connect() as conn:
        return int(conn.execute(stmt).scalar_one())


def _pairs(result: Any, status: str | None = None) -> list[dict[str, Any]]:
    return [p for p in result.values["pairs"] if status is None or p["status"] == status]


def _no_bad_policy(shop: TestShop) -> None:
    with shop.engine.connect() as conn:
        bad = conn.execute(
            text(
                "SELECT COUNT(*) FROM inventory_policy WHERE reorder_point < 0 OR "
                "safety_stock < 0 OR order_quantity < 1 OR safety_stock > reorder_point OR "
                "service_level <> service_level"
            )
        ).scalar_one()
        negative_stock_rop = conn.execute(
            text("SELECT COUNT(*) FROM stock WHERE reorder_point < 0")
        ).scalar_one()
    assert bad == 0 and negative_stock_rop == 0


def test_dry_run_proposes_and_writes_nothing(shop: TestShop) -> None:
    orch = _orch(shop)
    result = orch.run("inventory_tuning", {"dry_run": True}, context=CTX)
    assert result.status == "completed"
    proposed = _pairs(result, "proposed")
    assert proposed and result.values["counts"]["proposed"] == len(proposed)
    assert _count(shop, InventoryPolicy) == 0
    assert _count(shop, AuditLog, AuditLog.operation == "set_inventory_policy") == 0
    assert shop.service.pending_approvals() == []
    assert "dry run" in result.values["report"]
    for p in proposed:
        assert p["reorder_point"] >= p["safety_stock"] >= 0 and p["order_quantity"] >= 1


def test_approve_applies_every_change_and_a_second_run_keeps_them(shop: TestShop) -> None:
    orch = _orch(shop)
    result = orch.run("inventory_tuning", {}, context=CTX)
    assert result.status == "waiting"
    [approval] = shop.service.pending_approvals(thread_id=result.thread_id)
    changes = approval.arguments["changes"]
    assert changes and all("was" in c for c in changes)
    done = orch.resume(result.thread_id, "approve", by="manager")
    assert done.status == "completed"
    applied = _pairs(done, "applied")
    assert len(applied) == done.values["counts"]["applied"] > 0
    assert _count(shop, InventoryPolicy) == len(applied)
    for p in applied:
        [level] = shop.service.get_stock(p["sku"], p["location"])
        policy = shop.service.get_inventory_policy(p["sku"], p["location"])
        assert policy is not None and level.reorder_point == policy.reorder_point
        assert policy.method.startswith("forecast:") and policy.set_by == "planner"
    audit = shop.service.audit_log(thread_id=done.thread_id, limit=1000)
    assert sum(a.operation == "set_inventory_policy" and a.outcome == "ok" for a in audit) == len(
        applied
    )
    again = orch.run("inventory_tuning", {}, context=CTX)
    assert again.status == "completed"
    assert again.values["counts"] == {"keep": len(applied)}
    _no_bad_policy(shop)


def test_reject_skips_the_large_changes_and_applies_the_small(shop: TestShop) -> None:
    orch = _orch(shop, approve_min_units=12)
    result = orch.run("inventory_tuning", {}, context=CTX)
    assert result.status == "waiting"
    large = {(p["sku"], p["location"]) for p in _pairs(result) if p["needs_approval"]}
    small = {(p["sku"], p["location"]) for p in _pairs(result, "change") if not p["needs_approval"]}
    assert large and small
    before = {pair: shop.service.get_stock(*pair)[0].reorder_point for pair in large}
    done = orch.resume(result.thread_id, {"decision": "reject", "note": "recount first"}, by="boss")
    assert done.status == "completed"
    status = {(p["sku"], p["location"]): p for p in _pairs(done)}
    for pair in large:
        assert status[pair]["status"] == "rejected" and "recount first" in status[pair]["detail"]
        assert shop.service.get_inventory_policy(*pair) is None
        assert shop.service.get_stock(*pair)[0].reorder_point == before[pair]
    assert all(status[pair]["status"] == "applied" for pair in small)
    assert "rejected by boss" in done.values["report"]


def test_edit_changes_figures_leaves_out_and_refuses_bad_edits(shop: TestShop) -> None:
    orch = _orch(shop)
    result = orch.run("inventory_tuning", {}, context=CTX)
    [approval] = shop.service.pending_approvals(thread_id=result.thread_id)
    changes = [dict(c) for c in approval.arguments["changes"]]
    assert len(changes) >= 3
    edited, dropped, broken = changes[0], changes[1], changes[2]
    edited["reorder_point"] = edited["reorder_point"] + 7
    broken["safety_stock"] = broken["reorder_point"] + 1  # inconsistent: refused, not written
    kept = [c for c in changes if c is not dropped]
    done = orch.resume(
        result.thread_id,
        {"decision": "edit", "arguments": {"changes": kept}, "note": "my numbers"},
        by="boss",
    )
    assert done.status == "completed"
    status = {(p["sku"], p["location"]): p for p in _pairs(done)}
    first = status[(edited["sku"], edited["location"])]
    assert first["status"] == "applied" and "boss changed it" in first["detail"]
    policy = shop.service.get_inventory_policy(edited["sku"], edited["location"])
    assert policy is not None and policy.reorder_point == edited["reorder_point"]
    assert status[(dropped["sku"], dropped["location"])]["status"] == "rejected"
    assert shop.service.get_inventory_policy(dropped["sku"], dropped["location"]) is None
    bad = status[(broken["sku"], broken["location"])]
    assert bad["status"] == "refused" and "safety_stock" in bad["detail"]
    assert shop.service.get_inventory_policy(broken["sku"], broken["location"]) is None
    _no_bad_policy(shop)


def _figure(messages: list[BaseMessage], name: str) -> str:
    found = re.search(rf"- {name}: (\S+)", str(messages[-1].content))
    assert found, messages[-1].content
    return found.group(1)


def test_model_reasons_are_checked_against_the_computed_figures(shop: TestShop) -> None:
    def honest(messages: list[BaseMessage]) -> str:
        new = _figure(messages, "new_reorder_point")
        weekly = _figure(messages, "weekly_demand")
        return json.dumps(
            {"reason": f"Sales now run at {weekly} a week, so reorder at {new} units."}
        )

    invented = json.dumps({"reason": "Demand doubled to 9999 units, reorder far earlier now."})
    model = ScriptedModel(responses=[honest, invented], when_exhausted="echo")
    orch = _orch(model=model, shop=shop, max_explained=2, approve_above=1000.0)
    done = orch.run("inventory_tuning", {}, context=CTX)
    assert done.status == "completed"
    explained = sorted(
        _pairs(done, "applied"), key=lambda p: (-p["impact_cents"], -p["change"], p["sku"])
    )[:2]
    assert explained[0]["reason_source"] == "model"
    assert explained[0]["reason"].startswith("Sales now run at")
    assert explained[1]["reason_source"] == "template" and "9999" not in explained[1]["reason"]
    assert any("1 model-written reasons were refused" in n for n in done.values["notes"])
    policy = shop.service.get_inventory_policy(explained[0]["sku"], explained[0]["location"])
    assert policy is not None and policy.reason == explained[0]["reason"]


def test_bad_data_gives_clear_reasons_and_never_a_bad_policy(
    shop: TestShop, monkeypatch: pytest.MonkeyPatch
) -> None:
    import orchestrator.analytics as analytics

    skus = sorted({p for p in shop.skus})
    negative, no_offer = skus[0], skus[1]
    with shop.engine.begin() as conn:
        conn.execute(
            text("UPDATE supplier_offer SET unit_cost_cents = -5 WHERE sku = :s"), {"s": negative}
        )
        conn.execute(
            text("UPDATE supplier_offer SET active = false WHERE sku = :s"), {"s": no_offer}
        )
        conn.execute(
            text(
                "INSERT INTO product (sku, name, category, unit, price_cents, cost_cents, "
                "description, perishable, weight_grams, active, attributes, created_at) "
                "SELECT 'NEW-0001', 'Brand new', category, unit, price_cents, cost_cents, '', "
                "perishable, weight_grams, true, '{}', created_at FROM product WHERE sku = :s"
            ),
            {"s": negative},
        )
        conn.execute(
            text(
                "INSERT INTO stock (sku, location, on_hand, reserved, reorder_point, updated_at) "
                "VALUES ('NEW-0001', 'WH-MAIN', 0, 0, NULL, CURRENT_TIMESTAMP)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO supplier_offer (supplier_id, sku, unit_cost_cents, lead_time_days, "
                "moq, on_time_rate, active) SELECT supplier_id, 'NEW-0001', unit_cost_cents, "
                "lead_time_days, moq, on_time_rate, active FROM supplier_offer WHERE sku = :s"
            ),
            {"s": skus[2]},
        )
    real = analytics.forecast_demand
    poisoned: list[object] = []

    def nan_forecast(*args: Any, **kwargs: Any) -> Any:
        fc = real(*args, **kwargs)
        mean = np.array(fc.horizon_mean, dtype=np.float64)
        mean[-1] = np.nan
        poisoned.append(fc.series_ids[-1])
        return dataclasses.replace(fc, horizon_mean=mean)

    monkeypatch.setattr(analytics, "forecast_demand", nan_forecast)
    orch = _orch(shop, approve_above=1000.0)
    done = orch.run("inventory_tuning", {}, context=CTX)
    assert done.status == "completed"
    by_pair = {(p["sku"], p["location"]): p for p in _pairs(done)}
    neg = [p for (s, _), p in by_pair.items() if s == negative]
    assert neg and all(p["status"] == "invalid" and "not positive" in p["reason"] for p in neg)
    off = [p for (s, _), p in by_pair.items() if s == no_offer]
    assert off and all(p["status"] == "no_supplier" for p in off)
    assert by_pair[("NEW-0001", "WH-MAIN")]["status"] == "no_demand"
    assert "no sale" in by_pair[("NEW-0001", "WH-MAIN")]["reason"]
    nan_pairs = [p for p in _pairs(done) if "not a number" in p["reason"]]
    assert len(nan_pairs) == 1 and nan_pairs[0]["status"] == "invalid" and poisoned
    for p in [*neg, *off, *nan_pairs, by_pair[("NEW-0001", "WH-MAIN")]]:
        assert shop.service.get_inventory_policy(p["sku"], p["location"]) is None
    assert done.values["counts"]["applied"] > 0
    _no_bad_policy(shop)
    assert "Not tuned" in done.values["report"]


def test_bad_run_input_is_refused(shop: TestShop) -> None:
    orch = _orch(shop)
    with pytest.raises(InvalidInput, match="limit"):
        orch.run("inventory_tuning", {"limit": 0}, context=CTX)
    nothing = orch.run("inventory_tuning", {"location": "NOWHERE"}, context=CTX)
    assert nothing.status == "completed" and nothing.values["pairs"] == []
    assert "nothing in scope" in nothing.values["notes"][0]


def test_scoped_run_writes_the_report_files(shop: TestShop, tmp_path: Path) -> None:
    orch = _orch(shop, charts=2, approve_above=1000.0)
    target = tmp_path / "out" / "tuning.html"
    done = orch.run(
        "inventory_tuning",
        {"limit": 6, "location": "WH-MAIN", "report_path": str(target)},
        context=CTX,
    )
    assert done.status == "completed"
    assert len(done.values["pairs"]) <= 6
    assert {p["location"] for p in done.values["pairs"]} == {"WH-MAIN"}
    page = target.read_text()
    assert page.count("<img") == 2 and "Inventory tuning report" in page
    markdown = target.with_suffix(".md").read_text()
    assert markdown.count("![") == 2 and "| SKU |" in markdown
    assert len(list((tmp_path / "out" / "tuning_charts").glob("*.png"))) == 2
    for key in ("load", "forecast", "policy", "apply", "report"):
        assert key in done.values["timings"]


def test_the_run_records_a_tuning_insight(shop: TestShop) -> None:
    from langgraph.store.memory import InMemoryStore

    from orchestrator.memory.namespaces import recent_insights

    memory = InMemoryStore()
    orch = shop.orchestrator(models=ScriptedModel(when_exhausted="echo"), long_term_store=memory)
    orch.services.settings.tuning.approve_above = 1000.0
    done = orch.run("inventory_tuning", {"limit": 5}, context=CTX)
    assert done.status == "completed"
    [insight] = recent_insights(memory, topic="tuning")
    assert "policies changed" in insight.text and insight.source.endswith(done.thread_id)


# --- SIGKILL in the apply step ---------------------------------------------------------------


@pytest.fixture
def shop_any(store_url: str) -> Iterator[TestShop]:
    with seeded_shop(store_url, skus=10, days=120) as made:
        yield made


def _worker(
    shop: TestShop, action: str, thread: str, kill_after: int = 0
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
        "TUNING_KILL_AFTER": str(kill_after),
        "ORCH_MODELS__DEFAULT": "none:rules",
        "ORCH_MEMORY__ENABLED": "false",
    }
    return subprocess.run(
        [sys.executable, str(HERE / "tuning_worker.py"), shop.settings.store.url, action, thread],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


@pytest.mark.slow
def test_sigkill_in_apply_writes_each_policy_once(shop_any: TestShop) -> None:
    shop = shop_any
    thread = "tune-durable"
    done = _worker(shop, "start", thread, kill_after=3)
    assert done.returncode == -signal.SIGKILL, done.stdout + done.stderr
    assert _count(shop, InventoryPolicyHistory) == 3

    done = _worker(shop, "resume", thread)
    assert done.returncode == 0, done.stdout + done.stderr
    status = json.loads(done.stdout.splitlines()[-1])
    assert status["status"] == "completed"
    applied = status["counts"]["applied"]
    assert applied > 3
    assert _count(shop, InventoryPolicyHistory) == applied == _count(shop, InventoryPolicy)
    assert (
        _count(shop, InventoryPolicy, InventoryPolicy.version != 1) == 0  # type: ignore[arg-type]
    )
    audit = shop.service.audit_log(thread_id=thread, operation="set_inventory_policy", limit=1000)
    ok = [a for a in audit if a.outcome == "ok"]
    replayed = [a for a in audit if a.outcome == "replayed"]
    assert len(ok) == applied and len({a.tool_call_id for a in ok}) == applied
    assert len(replayed) == 3
    _no_bad_policy(shop)


def test_demo_steps(tmp_path: Path) -> None:
    from rich.console import Console

    from orchestrator.graphs.inventory_tuning import demo_steps

    with seeded_shop(tmp_path / "demo.db", skus=30, days=150, tuning={"charts": 2}) as demo:
        orch = demo.orchestrator(models=ScriptedModel(when_exhausted="echo"))
        console = Console(record=True, width=120)
        steps = demo_steps(orch, console, report_dir=tmp_path / "report")
    assert [name for name, _, _ in steps] == [
        "tuning proposes without writing (dry run)",
        "tuning pauses for the large changes",
        "approved, every change applied once",
        "tuning report written",
    ]
    assert all(ok for _, ok, _ in steps), steps
    assert (tmp_path / "report" / "tuning-report.html").exists()
    assert "policies changed" in console.export_text()


def _plan(**kw: Any) -> Any:
    from orchestrator.graphs.inventory_tuning import PairPlan

    base: dict[str, Any] = {
        "sku": "ARD-UNO-001",
        "location": "WH-MAIN",
        "name": "Uno R3 Kit 2-pack",
        "supplier": "Maker 24 Ltd",
        "lead_time_days": 8,
        "weeks": 52,
        "demand_class": "smooth",
        "method": "AutoETS",
        "weekly_mean": 15.04,
        "weekly_sd": 6.12,
        "service_level": 0.98,
        "old_reorder_point": 12,
        "reorder_point": 31,
        "safety_stock": 14,
        "order_quantity": 79,
        "change": 19 / 12,
        "status": "applied",
    }
    base.update(kw)
    return PairPlan(**base)


def test_the_template_passes_its_own_check_and_invented_figures_do_not() -> None:
    from orchestrator.graphs.inventory_tuning import check_rationale
    from orchestrator.graphs.inventory_tuning.plan import template_reason

    plan = _plan()
    assert check_rationale(plan, template_reason(plan)) is None
    assert check_rationale(plan, "Reorder at 31 (was 12): about 15 a week.") is None
    assert "40" in (check_rationale(plan, "Reorder at 40 units from now on.") or "")
    assert check_rationale(plan, "ARD-UNO-001 at WH-MAIN from Maker 24 Ltd: 98% service.") is None
    assert "repetition" in (check_rationale(plan, "stock " * 12) or "")


def test_the_html_table_keeps_the_biggest_changes() -> None:
    from orchestrator.graphs.inventory_tuning.report import HTML_ROWS, ReportData, render_html

    plans = [_plan(sku=f"S-{i:05d}", impact_cents=i) for i in range(HTML_ROWS + 5)]
    page = render_html(ReportData(plans=plans, as_of="2026-11-01", dry_run=False))
    assert f"The {HTML_ROWS:,} biggest of {HTML_ROWS + 5:,} changes" in page
    assert f"S-{HTML_ROWS + 4:05d}" in page and "S-00000<" not in page


def test_a_store_without_sales_tunes_nothing(tmp_path: Path) -> None:
    from sqlmodel import Session

    from orchestrator import load_settings
    from orchestrator.runtime import Orchestrator
    from orchestrator.store import create_all, make_engine
    from orchestrator.store.models import Location, Product, Stock, Supplier, SupplierOffer

    settings = load_settings(
        store={"url": f"sqlite:///{tmp_path / 'empty.db'}"},
        models={"default": "none:rules"},
        memory={"enabled": False},
    )
    engine = make_engine(settings.store)
    create_all(engine)
    with Session(engine) as s:
        s.add(Location(code="WH-MAIN", name="Main"))
        s.add(Product(sku="A-1", name="A", category="c", price_cents=100, cost_cents=50))
        supplier = Supplier(name="Acme")
        s.add(supplier)
        s.commit()
        s.add(Stock(sku="A-1", location="WH-MAIN", on_hand=0, reorder_point=3))
        s.add(
            SupplierOffer(supplier_id=supplier.id, sku="A-1", unit_cost_cents=40, lead_time_days=3)
        )
        s.commit()
    engine.dispose()
    with Orchestrator(settings) as orch:
        done = orch.run("inventory_tuning", {}, context=CTX)
        assert done.status == "completed"
        [pair] = done.values["pairs"]
        assert pair["status"] == "no_demand" and "no sales history" in pair["reason"]
        assert orch.service.get_inventory_policy("A-1", "WH-MAIN") is None
        assert orch.service.get_stock("A-1", "WH-MAIN")[0].reorder_point == 3
