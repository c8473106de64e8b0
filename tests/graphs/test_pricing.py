"""The pricing graph: scripted model, approvals (approve / edit / reject), bad input, the margin
floor under any model output, the elasticity estimator, and resume after SIGKILL in apply."""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain_core.messages import AIMessage
from sqlalchemy import select, text

from orchestrator.backends.none import NoModel
from orchestrator.errors import InvalidInput
from orchestrator.graphs.pricing import guard_price
from orchestrator.graphs.pricing.elasticity import SkuHistory, estimate_elasticities
from orchestrator.graphs.pricing.rules import overstock_markdown_pct, propose_move
from orchestrator.runtime import RunContext
from orchestrator.settings import PricingSettings
from orchestrator.store.models import IdempotencyRecord, PriceHistory
from orchestrator.testing import ScriptedModel, TestShop, seeded_shop

HERE = Path(__file__).resolve().parent
ANN = RunContext(actor="ann")
MANAGER = "store-manager"

# The seeded shop (20 SKUs, 35 days): two near-expiry perishables whose clearance is above the
# 20% approval threshold (BAK-SOUR-001, FRS-BAN-001) and one overstocked kit (CHEM-SET-001,
# a 10% markdown, no approval). Prices and histories are too short for elasticity estimates.


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One seeded store file, copied for each test (seeding is the slow part)."""
    folder = tmp_path_factory.mktemp("pricing")
    with seeded_shop(folder / "shop.db"):
        pass
    return folder / "shop.db"


@pytest.fixture
def shop(template: Path, tmp_path: Path) -> Iterator[TestShop]:
    yield from _copied_shop(template, tmp_path / "shop.db")


def _copied_shop(template: Path, target: Path) -> Iterator[TestShop]:
    from orchestrator.settings import Settings
    from orchestrator.store import make_engine
    from orchestrator.store.services import StoreService

    shutil.copy(template, target)
    url = f"sqlite:///{target}"
    config = Settings.defaults().model_copy(
        update={
            "store": Settings.defaults().store.model_copy(update={"url": url}),
            "models": Settings.defaults().models.model_copy(update={"default": "test:echo"}),
            "memory": Settings.defaults().memory.model_copy(
                update={"enabled": False, "path": target.with_suffix(".chroma")}
            ),
        }
    )
    engine = make_engine(config.store)
    made = TestShop(
        settings=config,
        engine=engine,
        service=StoreService(engine, settings=config),
        customers=[],
        skus=[],
        location="WH-MAIN",
        placed_orders={},
    )
    try:
        yield made
    finally:
        made.close()


def _history(shop: TestShop) -> list[tuple[str, int, int, int]]:
    with shop.engine.connect() as conn:
        return [
            (str(r[0]), int(r[1]), int(r[2]), int(r[3]))
            for r in conn.execute(
                select(  # type: ignore[call-overload]
                    PriceHistory.sku,
                    PriceHistory.old_price_cents,
                    PriceHistory.new_price_cents,
                    PriceHistory.floor_cents,
                ).order_by(PriceHistory.id)
            )
        ]


def _price(shop: TestShop, sku: str) -> int:
    with shop.engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT price_cents FROM product WHERE sku = :s"), {"s": sku}
            ).scalar_one()
        )


def _changes(result: Any) -> dict[str, dict[str, Any]]:
    return {c["sku"]: c for c in result.values["changes"]}


def test_dry_run_proposes_and_writes_nothing(shop: TestShop) -> None:
    orch = shop.orchestrator(models=NoModel(model_name="rules"))
    result = orch.run("pricing", {"dry_run": True}, context=ANN)
    assert result.status == "completed"
    changes = _changes(result)
    assert {"BAK-SOUR-001", "FRS-BAN-001", "CHEM-SET-001"} <= set(changes)
    assert all(c["status"] in ("dry_run", "skipped") for c in changes.values())
    bak = changes["BAK-SOUR-001"]
    assert bak["clearance"] and bak["needs_approval"]
    assert bak["proposed_price_cents"] == bak["floor_cents"] == bak["cost_cents"]
    assert changes["CHEM-SET-001"]["change_pct"] == pytest.approx(-10.0, abs=0.1)
    assert _history(shop) == []
    assert result.values["report"].startswith("# Pricing run, 2026-11-01")
    assert result.values["explanation"]["source"] == "template"
    assert result.values["estimate_summary"]["sku"] == 0  # 35 days: nothing of its own


def test_approve_applies_each_change_once(shop: TestShop) -> None:
    orch = shop.orchestrator(models=NoModel(model_name="rules"))
    result = orch.run("pricing", {}, context=ANN)
    assert result.status == "waiting"
    # The change that needs no approval is written before the run waits.
    assert [h[0] for h in _history(shop)] == ["CHEM-SET-001"]
    asked = []
    while result.status == "waiting":
        asked.append(result.interrupts[0]["value"]["arguments"]["sku"])
        result = orch.resume(result.thread_id, "approve", by=MANAGER)
    assert asked == ["BAK-SOUR-001", "FRS-BAN-001"]
    changes = _changes(result)
    assert {s: c["status"] for s, c in changes.items()} == {
        "BAK-SOUR-001": "applied",
        "CHEM-SET-001": "applied",
        "FRS-BAN-001": "applied",
    }
    rows = _history(shop)
    assert sorted(r[0] for r in rows) == ["BAK-SOUR-001", "CHEM-SET-001", "FRS-BAN-001"]
    assert all(new >= floor for _, _, new, floor in rows)
    assert _price(shop, "BAK-SOUR-001") == changes["BAK-SOUR-001"]["proposed_price_cents"]
    audit = orch.audit(result.thread_id)
    assert {e.agent for e in audit if e.operation == "set_price"} == {"pricing"}
    # The run left an insight in long-term memory for later runs and analysts.
    from orchestrator.memory.namespaces import recent_insights

    assert result.values["insight_key"] == result.thread_id
    [insight] = recent_insights(orch.long_term_store, topic="pricing")
    assert set(insight.skus) == {"BAK-SOUR-001", "CHEM-SET-001", "FRS-BAN-001"}


def test_edit_and_reject(shop: TestShop) -> None:
    orch = shop.orchestrator(models=NoModel(model_name="rules"))
    before = _price(shop, "FRS-BAN-001")
    result = orch.run("pricing", {}, context=ANN)
    args = dict(result.interrupts[0]["value"]["arguments"])
    assert args["sku"] == "BAK-SOUR-001"
    args["price_cents"] += 20
    result = orch.resume(
        result.thread_id,
        {"decision": "edit", "arguments": args, "note": "a little less"},
        by=MANAGER,
    )
    assert result.status == "waiting"
    result = orch.resume(result.thread_id, {"decision": "reject", "note": "not yet"}, by=MANAGER)
    assert result.status == "completed"
    changes = _changes(result)
    assert changes["BAK-SOUR-001"]["status"] == "applied"
    assert changes["BAK-SOUR-001"]["applied_price_cents"] == args["price_cents"]
    assert "a person changed the price" in changes["BAK-SOUR-001"]["detail"]
    assert changes["FRS-BAN-001"]["status"] == "rejected"
    assert _price(shop, "FRS-BAN-001") == before
    assert _price(shop, "BAK-SOUR-001") == args["price_cents"]
    assert "rejected" in result.values["report"]


def test_an_edit_below_the_floor_is_refused(shop: TestShop) -> None:
    orch = shop.orchestrator(models=NoModel(model_name="rules"))
    result = orch.run("pricing", {}, context=ANN)
    request = result.interrupts[0]["value"]
    bad = {**request["arguments"], "price_cents": 1}
    result = orch.resume(result.thread_id, {"decision": "edit", "arguments": bad}, by=MANAGER)
    while result.status == "waiting":
        result = orch.resume(result.thread_id, "approve", by=MANAGER)
    change = _changes(result)[request["arguments"]["sku"]]
    assert change["status"] == "refused" and "margin floor" in change["detail"]
    assert all(new >= floor for _, _, new, floor in _history(shop))


def test_the_model_explains_but_may_not_invent_numbers(shop: TestShop) -> None:
    good = json.dumps(
        {
            "summary": "Clear the bread and bananas before they spoil; mark down the chemistry set.",
            "reasons": [{"sku": "BAK-SOUR-001", "why": "Use-by is close."}],
        }
    )
    orch = shop.orchestrator(models=ScriptedModel(responses=[good]))
    result = orch.run("pricing", {"dry_run": True}, context=ANN)
    expl = result.values["explanation"]
    assert expl["source"] == "model" and expl["summary"].startswith("Clear the bread")
    assert expl["reasons"]["BAK-SOUR-001"] == "Use-by is close."
    assert "overstocked" in expl["reasons"]["CHEM-SET-001"]  # the template fills in the rest

    invented = json.dumps({"summary": "Cut everything by 99% to 0.01.", "reasons": []})
    orch2 = shop.orchestrator(models=ScriptedModel(responses=[invented]))
    result = orch2.run("pricing", {"dry_run": True}, context=ANN)
    expl = result.values["explanation"]
    assert expl["source"] == "template" and "numbers the facts do not hold" in expl["note"]


def test_bad_input_gives_clear_errors(shop: TestShop) -> None:
    orch = shop.orchestrator(models=NoModel(model_name="rules"))
    for bad, field in [
        ({"competitors": {"BAK-SOUR-001": float("nan")}}, "competitors.BAK-SOUR-001"),
        ({"competitors": {"BAK-SOUR-001": -5}}, "competitors.BAK-SOUR-001"),
        ({"as_of": "yesterday"}, "as_of"),
    ]:
        with pytest.raises(InvalidInput) as caught:
            orch.run("pricing", bad, context=ANN)
        assert caught.value.field == field
    # A negative unit cost in the catalogue: that SKU is left alone, and the report says why.
    with shop.engine.begin() as conn:
        conn.execute(text("UPDATE product SET cost_cents = -10 WHERE sku = 'CHEM-SET-001'"))
    result = orch.run("pricing", {}, context=ANN)
    while result.status == "waiting":
        result = orch.resume(result.thread_id, "approve", by=MANAGER)
    assert "CHEM-SET-001" not in _changes(result)
    assert any(p.startswith("CHEM-SET-001: unit cost -10") for p in result.values["problems"])
    assert "Data problems (1)" in result.values["report"]
    assert "CHEM-SET-001" not in {row[0] for row in _history(shop)}


def test_empty_history_and_zero_demand(tmp_path: Path) -> None:
    from sqlmodel import Session

    from orchestrator.settings import Settings
    from orchestrator.store import create_all, make_engine
    from orchestrator.store.models import Location, Product, Stock

    url = f"sqlite:///{tmp_path / 'empty.db'}"
    engine = make_engine(url)
    create_all(engine)
    with Session(engine) as s:
        s.add(Location(code="WH-MAIN", name="Main"))
        s.add(Product(sku="A-1", name="A", category="c", price_cents=500, cost_cents=300))
        s.add(Product(sku="B-1", name="B", category="c", price_cents=0, cost_cents=0))
        s.commit()
        s.add(Stock(sku="A-1", location="WH-MAIN", on_hand=0))
        s.commit()
    engine.dispose()
    from orchestrator.runtime import Orchestrator

    settings = Settings(store={"url": url}, memory={"enabled": False}, _env_file=None)  # type: ignore[call-arg]
    with Orchestrator(settings, models=NoModel(model_name="rules")) as orch:
        result = orch.run("pricing", {}, context=ANN)
    assert result.status == "completed", result.error
    assert result.values["changes"] == []
    assert result.values["estimate_summary"]["none"] == 1  # B-1 (price 0) is a data problem
    assert result.values["problems"][0].startswith("B-1:")
    assert "no changes" in result.values["report"]


# --- the margin floor under any model output -------------------------------------------------

_json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=True) | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
_replies = st.one_of(
    st.text(max_size=200),
    _json_values.map(lambda v: json.dumps(v, allow_nan=True)),
    st.builds(
        lambda skus, prices: json.dumps(
            {
                "summary": f"set every price to {prices[0]}",
                "reasons": [
                    {"sku": s, "why": f"price_cents={p}"}
                    for s, p in zip(skus, prices, strict=False)
                ],
                "price_cents": prices[0],
            },
            allow_nan=True,
        ),
        st.lists(
            st.sampled_from(["BAK-SOUR-001", "FRS-BAN-001", "CHEM-SET-001", "X"]),
            min_size=1,
            max_size=3,
        ),
        st.lists(st.floats(allow_nan=True) | st.integers(-(10**9), 10**9), min_size=3, max_size=3),
    ),
    st.builds(
        lambda name, args: AIMessage(
            content="", tool_calls=[{"name": name, "args": args, "id": "x1"}]
        ),
        st.sampled_from(["set_price", "PricingExplanation", "adjust_quantity"]),
        st.dictionaries(
            st.sampled_from(["sku", "price_cents", "summary", "reasons"]), _json_values, max_size=4
        ),
    ),
)


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(reply=_replies)
def test_margin_floor_holds_under_any_model_output(
    template: Path, tmp_path: Path, reply: Any
) -> None:
    target = tmp_path / f"h{abs(hash(str(reply))) % 10**9}.db"
    for shop in _copied_shop(template, target):
        orch = shop.orchestrator(models=ScriptedModel(responses=[reply] * 3, when_exhausted="echo"))
        result = orch.run("pricing", {}, context=ANN)
        for _ in range(5):
            if result.status != "waiting":
                break
            result = orch.resume(result.thread_id, "approve", by=MANAGER)
        assert result.status == "completed", result.error
        rows = _history(shop)
        assert rows, "the run wrote nothing"
        with shop.engine.connect() as conn:
            cost = dict(conn.execute(text("SELECT sku, cost_cents FROM product")).all())
        for sku, _old, new, floor in rows:
            assert isinstance(new, int) and new > 0 and new >= floor >= cost[sku]


@given(
    current=st.integers(1, 10**7),
    cost=st.integers(0, 10**7),
    proposed=st.floats(allow_nan=True, allow_infinity=True) | st.integers(-(10**8), 10**8),
    clearance=st.booleans(),
    floor_pct=st.floats(0, 100),
    max_change=st.floats(0.5, 90),
)
def test_guard_never_returns_a_price_below_the_floor(
    current: int, cost: int, proposed: float, clearance: bool, floor_pct: float, max_change: float
) -> None:
    config = PricingSettings(
        margin_floor_pct=floor_pct, max_change_pct=max_change, max_markdown_pct=75
    )
    out = guard_price(
        current_cents=current,
        cost_cents=cost,
        proposed=proposed,
        clearance=clearance,
        settings=config,
    )
    if out.price_cents is not None:
        assert type(out.price_cents) is int and out.price_cents > 0
        assert out.price_cents >= out.floor_cents >= cost
        assert out.price_cents != current
        limit = (75 if clearance else max_change) / 100
        within = current * (1 - limit) - 1 <= out.price_cents <= current * (1 + limit) + 1
        assert within or out.price_cents == out.floor_cents
    else:
        assert out.skip


def test_guard_keeps_promotions_unless_asked() -> None:
    config = PricingSettings()
    held = guard_price(
        current_cents=1000,
        cost_cents=500,
        proposed=900,
        clearance=False,
        settings=config,
        open_promotion="PR-1",
    )
    assert held.price_cents is None and "PR-1" in (held.skip or "")
    moved = guard_price(
        current_cents=1000,
        cost_cents=500,
        proposed=900,
        clearance=False,
        settings=config,
        open_promotion="PR-1",
        allow_promoted=True,
    )
    assert moved.price_cents == 900


# --- the estimator and the move rule --------------------------------------------------------


def _synthetic(
    sku: str, elasticity: float, depths: list[float], seed: int, days: int = 365
) -> SkuHistory:
    rng = np.random.default_rng(seed)
    price = np.full(days, 500.0)
    promo = np.zeros(days)
    for k, depth in enumerate(depths):
        start = 30 + k * 60
        price[start : start + 14] = 500 * (1 - depth)
        promo[start : start + 14] = 1.0
    dow = np.arange(days) % 7
    lam = 20 * (price / 500) ** elasticity * np.exp(0.2 * promo) * (1 + 0.2 * (dow >= 5))
    return SkuHistory(
        sku=sku,
        category="cat",
        units=rng.poisson(lam).astype(float),
        price=price,
        promo=promo,
        day_of_week=dow.astype(np.int64),
        day_of_year=(np.arange(days) % 365).astype(float),
    )


def test_estimator_recovers_elasticity_and_pools_where_it_must() -> None:
    own = _synthetic("OWN", -2.0, [0.1, 0.2, 0.3], seed=1)
    thin = _synthetic("THIN", -2.0, [0.25], seed=2)  # base and one promotion depth: 2 levels
    flat = _synthetic("FLAT", -2.0, [], seed=3)
    found = estimate_elasticities([own, thin, flat])
    assert found["OWN"].source == "sku"
    assert found["OWN"].elasticity == pytest.approx(-2.0, abs=0.35)
    assert found["THIN"].source == "category" and "2 price levels" in found["THIN"].note
    assert found["FLAT"].source == "category" and "1 price level" in found["FLAT"].note
    assert found["THIN"].elasticity == pytest.approx(-2.0, abs=0.35)
    nothing = estimate_elasticities([_synthetic("SOLO", -2.0, [0.2], seed=4)])
    assert nothing["SOLO"].source == "none" and nothing["SOLO"].elasticity is None


def test_moves_only_where_elasticity_and_margin_justify_them() -> None:
    config = PricingSettings()
    # Elastic demand, priced well above the margin-maximising price: cut, by at most 10%.
    cut = propose_move(price=1000, cost=300, elasticity=-3.0, daily_units=5, settings=config)
    assert cut == pytest.approx(900)
    # Inelastic: raise, but not above a competitor's price.
    up = propose_move(
        price=1000, cost=600, elasticity=-0.5, daily_units=5, settings=config, competitor=1050
    )
    assert up == pytest.approx(1050)
    # An uncertain estimate (interval crossing the break-even) moves nothing.
    assert (
        propose_move(
            price=1000,
            cost=300,
            elasticity=-3.0,
            daily_units=5,
            settings=config,
            interval=(-6.0, -0.2),
        )
        is None
    )
    assert (
        propose_move(price=1000, cost=300, elasticity=math.nan, daily_units=5, settings=config)
        is None
    )
    assert (
        propose_move(price=1000, cost=300, elasticity=-3.0, daily_units=0, settings=config) is None
    )
    assert overstock_markdown_pct(days_of_cover=200, elasticity=-2.0, settings=config) == 10.0
    assert overstock_markdown_pct(days_of_cover=95, elasticity=-2.0, settings=config) < 10.0


# --- resume after SIGKILL in apply -----------------------------------------------------------


@pytest.mark.slow
def test_sigkill_in_apply_then_resume_writes_each_price_once(store_url: str) -> None:
    with seeded_shop(store_url) as shop:
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
            "ORCH_MODELS__DEFAULT": "none:rules",
            "ORCH_MEMORY__ENABLED": "false",
            "ORCH_PRICING__APPROVAL_CHANGE_PCT": "100",
        }

        def worker(action: str, kill: bool) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [
                    sys.executable,
                    str(HERE / "pricing_worker.py"),
                    shop.settings.store.url,
                    action,
                    "price-1",
                ],
                capture_output=True,
                text=True,
                timeout=300,
                env={**env, "PRICING_KILL_AFTER_FIRST": "1" if kill else ""},
            )

        done = worker("start", kill=True)
        assert done.returncode == -signal.SIGKILL, done.stdout + done.stderr
        assert len(_history(shop)) == 1
        done = worker("resume", kill=False)
        assert done.returncode == 0, done.stdout + done.stderr
        assert json.loads(done.stdout.splitlines()[-1])["status"] == "completed"
        rows = _history(shop)
        assert sorted(r[0] for r in rows) == ["BAK-SOUR-001", "CHEM-SET-001", "FRS-BAN-001"]
        from sqlalchemy import func

        with shop.engine.connect() as conn:
            keys = conn.execute(
                select(func.count())
                .select_from(IdempotencyRecord)
                .where(
                    IdempotencyRecord.key.like("%|price-1|%")  # type: ignore[attr-defined]
                )
            ).scalar_one()
        assert keys == 3
        outcomes = [
            e.outcome
            for e in shop.service.audit_log(thread_id="price-1")
            if e.operation == "set_price"
        ]
        assert sorted(outcomes) == ["ok", "ok", "ok", "replayed"]
