"""The supply-chain graph: positions in SQL, the supplier score, approvals, sends, receipts,
late-order escalation, the urgent request in words, bad input, and SIGKILL in send/receive."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage
from sqlalchemy import func, select, text, update

from orchestrator.errors import InvalidInput
from orchestrator.graphs.supply_chain import parse_need_date, parse_request, score_offers
from orchestrator.graphs.supply_chain.nodes import explanation_ok, template_explanation
from orchestrator.graphs.supply_chain.queries import OfferRow, positions
from orchestrator.graphs.supply_chain.request import RequestProposal, check_proposal
from orchestrator.graphs.supply_chain.scoring import offer_problem
from orchestrator.graphs.supply_chain.state import Choice
from orchestrator.runtime import RunContext
from orchestrator.settings import SupplySettings
from orchestrator.store.models import (
    PurchaseOrder,
    PurchaseOrderLine,
    StockLedger,
    SupplierOffer,
)
from orchestrator.testing import ScriptedModel, TestShop, seeded_shop

HERE = Path(__file__).resolve().parent
AS_OF = "2026-11-01"
URGENT = "we're running low on Arduino kits for tomorrow's robotics class"
BUYER = RunContext(actor="buyer", channel="cli")


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[TestShop]:
    with seeded_shop(tmp_path / "shop.db") as made:
        yield made


def _count(shop: TestShop, model: type, *where: Any) -> int:
    stmt = select(func.count()).select_from(model)  # type: ignore[arg-type]
    for cond in where:
        stmt = stmt.where(cond)
    with shop.engine.connect() as conn:
        return int(conn.execute(stmt).scalar_one())


def _rules(shop: TestShop, **kwargs: Any) -> Any:
    """An orchestrator whose models always fail: every node takes its deterministic path."""
    from orchestrator.backends.none import NoModel

    return shop.orchestrator(models=NoModel(), **kwargs)


# --- pure parts ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("for tomorrow's robotics class", date(2026, 11, 2)),
        ("we need them today", date(2026, 11, 1)),
        ("the day after tomorrow", date(2026, 11, 3)),
        ("in 3 days", date(2026, 11, 4)),
        ("in two weeks", date(2026, 11, 15)),
        ("by Friday", date(2026, 11, 6)),
        ("next week", date(2026, 11, 8)),
        ("on 20 November", date(2026, 11, 20)),
        ("by November 3rd", date(2026, 11, 3)),
        ("2026-12-24 at the latest", date(2026, 12, 24)),
        ("12 kits on 5/1", date(2027, 1, 5)),
    ],
)
def test_need_dates_are_parsed_in_code(words: str, expected: date) -> None:
    found = parse_need_date(words, date(2026, 11, 1))  # a Sunday
    assert found is not None and found[0] == expected


def test_no_date_no_guess() -> None:
    assert parse_need_date("we're running low on Arduino kits", date(2026, 11, 1)) is None


def test_request_read_by_rules() -> None:
    read = parse_request(URGENT)
    assert [(i.phrase, i.qty) for i in read.items] == [("arduino kits", None)]
    read = parse_request("need 40 more Arduino kits by Friday")
    assert [(i.phrase, i.qty, i.additional) for i in read.items] == [("arduino kits", 40, True)]
    assert [i.phrase for i in parse_request("order 30 unicorn saddles for next week").items] == [
        "unicorn saddles"
    ]


def test_model_items_and_numbers_must_be_in_the_text() -> None:
    proposal = RequestProposal.model_validate(
        {
            "items": [
                {"phrase": "Arduino kits", "qty": 999},
                {"phrase": "gold bars", "qty": 5},
            ]
        }
    )
    checked, notes = check_proposal(proposal, URGENT)
    assert [(i.phrase, i.qty) for i in checked.items] == [("Arduino kits", None)]
    assert any("gold bars" in n for n in notes) and any("999" in n for n in notes)
    # "more" and a missing number are read from the text, not taken from the model.
    ask = URGENT + ", need 40 more"
    for said in ({"phrase": "Arduino kits"}, {"phrase": "Arduino kits", "qty": 40}):
        checked, _ = check_proposal(RequestProposal.model_validate({"items": [said]}), ask)
        assert [(i.qty, i.additional) for i in checked.items] == [(40, True)]


def _offer(
    supplier: int, cost: int, lead: int, moq: int = 1, rate: float = 0.9, country: str = "GB"
) -> OfferRow:
    return OfferRow(
        offer_id=supplier,
        supplier_id=supplier,
        supplier_name=f"S{supplier}",
        supplier_email="",
        country=country,
        sku="X",
        unit_cost_cents=cost,
        lead_time_days=lead,
        moq=moq,
        on_time_rate=rate,
    )


def test_supplier_score_formula() -> None:
    settings = SupplySettings()
    today, need_by = date(2026, 11, 1), date(2026, 11, 5)
    offers = [
        _offer(1, 1000, 2),  # in time, cheapest
        _offer(2, 900, 2, moq=20),  # cheaper unit, but MOQ 20 for a need of 10
        _offer(3, 1000, 9, country="CN"),  # abroad (+8%) and 5 days late
    ]
    history = {1: (8, 10)}
    scored = score_offers(
        offers, need_qty=10, need_by=need_by, today=today, history=history, settings=settings
    )
    assert [o.supplier_id for o in scored] == [1, 2, 3]
    first, second, third = scored
    assert (first.order_qty, first.effective_unit_cents, first.late_days) == (10, 1000, 0)
    assert first.on_time_rate == pytest.approx((8 + 5 * 0.9) / (10 + 5), abs=1e-4)
    assert (second.order_qty, second.effective_unit_cents) == (20, 1800)
    assert second.cost_score == pytest.approx(1000 / 1800, abs=1e-4)
    assert (third.landed_unit_cents, third.late_days) == (1080, 5)
    assert third.time_score == pytest.approx(1 / 6, abs=1e-4)
    assert first.score == pytest.approx(0.5 * 1 + 0.3 * 1 + 0.2 * first.on_time_rate, abs=1e-4)
    # Nobody can make tomorrow: the earliest arrival scores 1 on time, later ones by how much.
    urgent = score_offers(
        [_offer(1, 1000, 22), _offer(2, 1000, 10)],
        need_qty=10,
        need_by=date(2026, 11, 2),
        today=today,
        history={},
        settings=settings,
    )
    assert [(o.supplier_id, o.late_days, o.time_score) for o in urgent] == [
        (2, 9, 1.0),
        (1, 21, pytest.approx(10 / 22, abs=1e-4)),
    ]
    with pytest.raises(ValueError, match="at least 1 unit"):
        score_offers(
            offers, need_qty=0, need_by=need_by, today=today, history={}, settings=settings
        )


def test_bad_offers_are_refused_with_the_reason() -> None:
    assert "negative unit cost" in (offer_problem(_offer(1, -5, 2)) or "")
    assert "negative lead time" in (offer_problem(_offer(1, 5, -2)) or "")
    assert offer_problem(_offer(1, 5, 2)) is None


def test_settings_weights_must_sum_to_one() -> None:
    with pytest.raises(ValueError, match="sum to 1"):
        SupplySettings(weight_cost=0.9)


# --- positions in SQL -------------------------------------------------------------------------


def test_positions_match_the_tables(shop: TestShop) -> None:
    with shop.engine.connect() as conn:
        found = positions(conn, as_of=date(2026, 11, 1), demand_days=28)
        stock = {
            (r.sku, r.location): r
            for r in conn.execute(text("SELECT sku, location, on_hand, reserved FROM stock"))
        }
        on_order: dict[tuple[str, str], int] = {}
        for sku, loc, qty in conn.execute(
            text(
                "SELECT l.sku, p.location, l.qty_ordered - l.qty_received FROM purchase_order_line l "
                "JOIN purchase_order p ON p.id = l.purchase_order_id "
                "WHERE p.status IN ('approved', 'sent', 'partially_received')"
            )
        ):
            on_order[(sku, loc)] = on_order.get((sku, loc), 0) + qty
    assert len(found) == len(stock)
    for p in found:
        row = stock[(p.sku, p.location)]
        assert p.on_order == on_order.get((p.sku, p.location), 0)
        assert p.reserved + p.backorders == row.reserved
        assert p.position == row.on_hand + p.on_order - row.reserved


# --- the graph --------------------------------------------------------------------------------


def test_dry_run_proposes_and_writes_nothing(shop: TestShop) -> None:
    orch = _rules(shop)
    pos_before = _count(shop, PurchaseOrder)
    result = orch.run("supply_chain", {"as_of": AS_OF, "dry_run": True}, context=BUYER)
    assert result.status == "completed"
    values = result.values
    assert values["needs"] and values["orders"] and not values.get("sent")
    for need in values["needs"]:
        assert need["position"] <= need["reorder_point"] and need["need_qty"] >= 1
    for choice in values["choices"]:
        scores = [choice["chosen"]["score"]] + [o["score"] for o in choice["alternatives"]]
        assert scores == sorted(scores, reverse=True)
        assert choice["explanation_source"] == "template"
    assert all(a["status"] == "listed" for a in values["late"])
    assert _count(shop, PurchaseOrder) == pos_before
    assert shop.service.pending_approvals() == []
    assert "What to reorder" in values["report"]


def test_a_tuned_order_quantity_sets_the_order_up_to_level(shop: TestShop) -> None:
    from orchestrator.store.services import Actor

    orch = _rules(shop)
    first = orch.run("supply_chain", {"as_of": AS_OF, "dry_run": True}, context=BUYER)
    need = first.values["needs"][0]
    sku, location, point = need["sku"], need["location"], need["reorder_point"]
    shop.service.set_inventory_policy(
        sku,
        location,
        reorder_point=point,
        safety_stock=0,
        order_quantity=37,
        reason="tuned",
        actor=Actor("planner"),
    )
    again = orch.run("supply_chain", {"as_of": AS_OF, "dry_run": True}, context=BUYER)
    tuned = next(n for n in again.values["needs"] if (n["sku"], n["location"]) == (sku, location))
    assert tuned["order_up_to"] == point + 37
    assert tuned["need_qty"] == point + 37 - tuned["position"]


def test_zero_demand_still_orders_a_sane_quantity(shop: TestShop) -> None:
    # Months after the last sale: no demand in the window at all.
    values = (
        _rules(shop)
        .run("supply_chain", {"as_of": "2027-06-01", "dry_run": True}, context=BUYER)
        .values
    )
    assert values["needs"]
    for need in values["needs"]:
        assert need["daily_demand"] == 0
        assert need["need_qty"] == need["order_up_to"] - need["position"] >= 1
        assert need["order_up_to"] == need["reorder_point"] + 1
        assert need["need_by"] == "2027-06-15"  # as_of + cover_days when nothing sells
    for choice in values["choices"]:
        assert choice["chosen"]["order_qty"] >= choice["need_qty"] >= 1


def _over_budget(tmp_path: Path) -> Any:
    return seeded_shop(tmp_path / "shop.db", supply={"budget_per_run": Decimal("10")})


def test_over_budget_waits_and_approve_sends_each_order_once(tmp_path: Path) -> None:
    with _over_budget(tmp_path) as shop:
        orch = _rules(shop)
        before = _count(shop, PurchaseOrder)
        first = orch.run("supply_chain", {"as_of": AS_OF, "escalate": False}, context=BUYER)
        assert first.status == "waiting" and len(first.approval_ids) == 1
        assert "above the budget 10.00" in first.interrupts[0]["value"]["reason"]
        assert _count(shop, PurchaseOrder) == before
        done = orch.resume(first.thread_id, "approve", by="finance")
        assert done.status == "completed", done.interrupts
        sent = done.values["sent"]
        assert sent and all(s["status"] == "sent" for s in sent)
        assert _count(shop, PurchaseOrder) == before + len(done.values["orders"])
        for s, order in zip(sent, done.values["orders"], strict=True):
            po = shop.service.get_purchase_order(s["po_id"])
            assert po.status == "sent" and po.supplier_id == order["supplier_id"]
            assert {(ln.sku, ln.qty_ordered) for ln in po.lines} == {
                (ln["sku"], ln["qty"]) for ln in order["lines"]
            }
            assert all(ln.unit_cost_cents >= 0 for ln in po.lines)


def test_over_budget_rejected_sends_nothing(tmp_path: Path) -> None:
    with _over_budget(tmp_path) as shop:
        orch = _rules(shop)
        before = _count(shop, PurchaseOrder)
        first = orch.run("supply_chain", {"as_of": AS_OF, "escalate": False}, context=BUYER)
        done = orch.resume(
            first.thread_id, {"decision": "reject", "note": "wait for month end"}, by="finance"
        )
        assert done.status == "completed"
        assert {s["status"] for s in done.values["sent"]} == {"rejected"}
        assert "wait for month end" in done.values["sent"][0]["detail"]
        assert _count(shop, PurchaseOrder) == before


def test_over_budget_edited_sends_what_the_person_approved(tmp_path: Path) -> None:
    with _over_budget(tmp_path) as shop:
        orch = _rules(shop)
        before = _count(shop, PurchaseOrder)
        first = orch.run("supply_chain", {"as_of": AS_OF, "escalate": False}, context=BUYER)
        asked = first.interrupts[0]["value"]["arguments"]
        keep = asked["orders"][0]
        line = keep["lines"][0]
        edited_line = {**line, "qty": line["qty"] + 7, "unit_cost_cents": 1}  # cost is ignored
        bad_line = {"sku": "NOT-ON-IT", "qty": 3}
        edited = {**asked, "orders": [{**keep, "lines": [edited_line, bad_line]}]}
        done = orch.resume(
            first.thread_id,
            {"decision": "edit", "arguments": edited, "note": "one only"},
            by="finance",
        )
        assert done.status == "completed"
        statuses = [s["status"] for s in done.values["sent"]]
        assert statuses.count("sent") == 1
        assert statuses.count("skipped") == len(asked["orders"]) - 1
        assert _count(shop, PurchaseOrder) == before + 1
        [po_id] = [s["po_id"] for s in done.values["sent"] if s["status"] == "sent"]
        po = shop.service.get_purchase_order(po_id)
        assert [(ln.sku, ln.qty_ordered, ln.unit_cost_cents) for ln in po.lines] == [
            (line["sku"], line["qty"] + 7, line["unit_cost_cents"])
        ]
        assert any("NOT-ON-IT" in p["reason"] for p in done.values["problems"])


def test_urgent_request_proposes_and_waits_for_the_caller(shop: TestShop) -> None:
    orch = _rules(shop)
    before = _count(shop, PurchaseOrder)
    first = orch.run(
        "supply_chain", {"as_of": AS_OF, "text": URGENT + ", we need 40 more"}, context=BUYER
    )
    assert first.status == "waiting"
    values = first.values
    assert values["need_by"] == "2026-11-02" and values["request_source"] == "fallback"
    assert [n["sku"] for n in values["needs"]] == ["ARD-UNO-001"]
    assert values["needs"][0]["need_qty"] == 40
    assert any("matches 2 products" in n for n in values["notes"])
    assert any("no supplier delivers ARD-UNO-001 by 2026-11-02" in n for n in values["notes"])
    choice = values["choices"][0]
    assert len(choice["alternatives"]) == 2  # three suppliers offer it, with prices and lead times
    request = first.interrupts[0]["value"]
    assert "the caller confirms" in request["reason"]
    assert request["arguments"]["orders"][0]["lines"][0]["sku"] == "ARD-UNO-001"
    assert _count(shop, PurchaseOrder) == before
    done = orch.resume(first.thread_id, "approve", by="head-of-stem")
    assert done.status == "completed" and not done.values["late"]  # no escalation on this path
    [sent] = done.values["sent"]
    po = shop.service.get_purchase_order(sent["po_id"])
    assert po.status == "sent" and po.lines[0].qty_ordered == 40
    assert po.supplier_id == choice["chosen"]["supplier_id"]


def test_urgent_request_read_by_a_model_is_checked(shop: TestShop) -> None:
    reading = json.dumps(
        {"items": [{"phrase": "Arduino kits", "qty": 40, "additional": True}, {"phrase": "gold"}]}
    )
    from orchestrator.errors import BackendUnavailable

    model = ScriptedModel(
        responses=[AIMessage(content=reading), BackendUnavailable("explain is down")]
    )
    orch = shop.orchestrator(models=model)
    first = orch.run(
        "supply_chain", {"as_of": AS_OF, "text": URGENT + ", we need 40 more"}, context=BUYER
    )
    assert first.values["request_source"] == "model"
    assert any("gold" in n for n in first.values["request"]["notes"])
    assert [n["sku"] for n in first.values["needs"]] == ["ARD-UNO-001"]


def _explainer(fake_price: bool) -> Any:
    """A scripted model reply: explanations written from the facts the model was given."""

    def reply(messages: list[Any]) -> AIMessage:
        facts = json.loads(str(messages[-1].content))["choices"]
        items = [
            {
                "sku": f["sku"],
                "location": f["location"],
                "text": f"{f['supplier']} delivers in {f['lead_time_days']} days"
                + (" at only 0.01 a unit." if fake_price else f" at {f['unit_cost']} a unit."),
            }
            for f in facts
        ]
        return AIMessage(content=json.dumps({"items": items}))

    return reply


@pytest.mark.parametrize("fake_price", [False, True])
def test_model_explanations_kept_only_when_faithful(shop: TestShop, fake_price: bool) -> None:
    model = ScriptedModel(responses=[_explainer(fake_price)])
    values = (
        shop.orchestrator(models=model)
        .run("supply_chain", {"as_of": AS_OF, "dry_run": True, "escalate": False}, context=BUYER)
        .values
    )
    sources = {c["explanation_source"] for c in values["choices"]}
    assert sources == ({"template"} if fake_price else {"model"})
    if not fake_price:
        first = values["choices"][0]
        assert first["explanation"].startswith(first["chosen"]["supplier_name"])


def test_urgent_request_when_stock_is_not_low_says_so(shop: TestShop) -> None:
    orch = _rules(shop)
    before = _count(shop, PurchaseOrder)
    done = orch.run("supply_chain", {"as_of": AS_OF, "text": URGENT}, context=BUYER)
    assert done.status == "completed" and not done.values["needs"]
    reasons = " ".join(p["reason"] for p in done.values["problems"])
    assert "not low" in reasons and "need 40 more" in reasons
    assert _count(shop, PurchaseOrder) == before


def test_unknown_item_gives_a_clear_reason(shop: TestShop) -> None:
    orch = _rules(shop)
    done = orch.run(
        "supply_chain",
        {"as_of": AS_OF, "text": "we need 30 unicorn saddles for tomorrow"},
        context=BUYER,
    )
    assert done.status == "completed" and not done.values["orders"]
    assert "no product matches 'unicorn saddles'" in done.values["problems"][0]["reason"]


def test_bad_items_and_bad_offers_never_write(shop: TestShop) -> None:
    with shop.engine.begin() as conn:
        conn.execute(
            update(SupplierOffer)
            .where(SupplierOffer.sku == "ARD-MEGA-001")  # type: ignore[arg-type]
            .values(active=False)
        )
        cheapest = conn.execute(
            select(SupplierOffer.id)  # type: ignore[call-overload]
            .where(SupplierOffer.sku == "ARD-UNO-001")
            .order_by(SupplierOffer.unit_cost_cents)
        ).first()[0]
        conn.execute(
            update(SupplierOffer)
            .where(SupplierOffer.id == cheapest)  # type: ignore[arg-type]
            .values(unit_cost_cents=-100)
        )
    orch = _rules(shop)
    before = _count(shop, PurchaseOrder)
    first = orch.run(
        "supply_chain",
        {
            "as_of": AS_OF,
            "items": [
                {"sku": "ARD-UNO-001", "qty": 10, "additional": True},
                {"sku": "ARD-MEGA-001", "qty": 10, "additional": True},
                {"sku": "ROBOT-CAR-001", "qty": 0},
                {"sku": "ROBOT-CAR-001", "qty": -4},
                {"sku": "NOPE-1", "qty": 3},
            ],
        },
        context=BUYER,
    )
    problems = " | ".join(f"{p['subject']}: {p['reason']}" for p in first.values["problems"])
    assert "quantity 0" in problems and "quantity -4" in problems
    assert "unknown SKU 'NOPE-1'" in problems
    assert "no supplier has a usable offer for ARD-MEGA-001" in problems
    assert "negative unit cost (-100 cents)" in problems
    [choice] = first.values["choices"]
    assert choice["sku"] == "ARD-UNO-001" and choice["chosen"]["offer_id"] != cheapest
    done = orch.resume(first.thread_id, "approve", by="boss")
    assert _count(shop, PurchaseOrder) == before + 1
    with shop.engine.connect() as conn:
        assert (
            conn.execute(
                select(func.min(PurchaseOrderLine.unit_cost_cents))  # type: ignore[arg-type]
            ).scalar_one()
            >= 0
        )
    assert done.status == "completed"


def test_the_same_sku_twice_is_one_line(shop: TestShop) -> None:
    orch = _rules(shop)
    first = orch.run(
        "supply_chain",
        {
            "as_of": AS_OF,
            "items": [
                {"sku": "ARD-UNO-001", "qty": 10, "additional": True},
                {"sku": "ARD-UNO-001", "qty": 5, "additional": True},
            ],
        },
        context=BUYER,
    )
    [order] = first.values["orders"]
    assert [(ln["sku"], ln["qty"]) for ln in order["lines"]] == [("ARD-UNO-001", 15)]


def test_bad_run_input_is_refused_before_anything(shop: TestShop) -> None:
    orch = _rules(shop)
    for bad in (
        {"as_of": "yesterday"},
        {"as_of": AS_OF, "need_by": "2026-10-01"},
        {"as_of": AS_OF, "location": "MOON-BASE"},
        {"mode": "receive"},
    ):
        with pytest.raises(InvalidInput):
            orch.run("supply_chain", bad, context=BUYER)


def _send_one(shop: TestShop, orch: Any, qty: int = 30) -> int:
    first = orch.run(
        "supply_chain",
        {"as_of": AS_OF, "items": [{"sku": "ARD-UNO-001", "qty": qty, "additional": True}]},
        context=BUYER,
    )
    done = orch.resume(first.thread_id, "approve", by="boss")
    return int(done.values["sent"][0]["po_id"])


def _receipts(shop: TestShop, po_id: int) -> list[int]:
    with shop.engine.connect() as conn:
        return list(
            conn.execute(
                select(StockLedger.delta).where(  # type: ignore[call-overload]
                    StockLedger.ref_type == "purchase_order", StockLedger.ref_id == str(po_id)
                )
            ).scalars()
        )


def test_receive_partial_then_complete_and_never_more_than_ordered(shop: TestShop) -> None:
    orch = _rules(shop)
    po_id = _send_one(shop, orch)
    on_hand = shop.service.get_stock("ARD-UNO-001", "WH-MAIN")[0].on_hand
    part = orch.run(
        "supply_chain",
        {"mode": "receive", "po_id": po_id, "received": {"ARD-UNO-001": 12}, "as_of": "2026-11-12"},
        context=BUYER,
    )
    assert part.values["receipt"]["status"] == "partially_received"
    assert part.values["receipt"]["outstanding"] == {"ARD-UNO-001": 18}
    too_many = orch.run(
        "supply_chain",
        {"mode": "receive", "po_id": po_id, "received": {"ARD-UNO-001": 19}, "as_of": "2026-11-12"},
        context=BUYER,
    )
    assert "receipt" not in too_many.values
    assert "more than ordered: only 18 of 30" in too_many.values["problems"][0]["reason"]
    wrong = orch.run(
        "supply_chain",
        {"mode": "receive", "po_id": po_id, "received": {"ARD-MEGA-001": 1}, "as_of": "2026-11-12"},
        context=BUYER,
    )
    assert "not a line of purchase order" in wrong.values["problems"][0]["reason"]
    assert _receipts(shop, po_id) == [12]
    rest = orch.run(
        "supply_chain", {"mode": "receive", "po_id": po_id, "as_of": "2026-11-20"}, context=BUYER
    )
    receipt = rest.values["receipt"]
    assert receipt["status"] == "received" and receipt["received"] == {"ARD-UNO-001": 18}
    assert receipt["late_days"] > 0  # expected 2026-11-13
    assert sorted(_receipts(shop, po_id)) == [12, 18]
    assert shop.service.get_stock("ARD-UNO-001", "WH-MAIN")[0].on_hand == on_hand + 30
    again = orch.run(
        "supply_chain", {"mode": "receive", "po_id": po_id, "as_of": "2026-11-20"}, context=BUYER
    )
    assert "InvalidTransition" in again.values["problems"][0]["reason"]


def test_late_orders_are_escalated_once(shop: TestShop) -> None:
    orch = _rules(shop)
    first = orch.run("supply_chain", {"as_of": "2026-11-12", "skus": ["NONE"]}, context=BUYER)
    assert first.status == "waiting"
    proposed = first.values["late"]
    assert proposed and all(a["days_late"] > 1 for a in proposed)
    resource = [a for a in proposed if a["action"] == "resource"]
    assert resource, "some late order nothing arrived against has an alternate supplier"
    target = resource[0]
    done = orch.resume(first.thread_id, "approve", by="ops")
    assert done.status == "completed"
    acted = {a["po_id"]: a for a in done.values["late"]}
    assert acted[target["po_id"]]["status"] == "done"
    assert shop.service.get_purchase_order(target["po_id"]).status == "cancelled"
    new = shop.service.get_purchase_order(acted[target["po_id"]]["new_po_id"])
    assert new.status == "sent" and new.supplier_id == target["alternate_supplier_id"]
    assert {ln.sku: ln.qty_ordered for ln in new.lines} == target["outstanding"]
    assert all(a["status"] == "done" for a in done.values["late"])
    again = orch.run("supply_chain", {"as_of": "2026-11-12", "skus": ["NONE"]}, context=BUYER)
    assert again.status == "completed" and not again.values["late"]


def test_escalation_edit_turns_a_resource_into_an_expedite(shop: TestShop) -> None:
    orch = _rules(shop)
    first = orch.run("supply_chain", {"as_of": "2026-11-12", "skus": ["NONE"]}, context=BUYER)
    asked = first.interrupts[0]["value"]["arguments"]["actions"]
    target = next(a for a in asked if a["action"] == "resource")
    dropped = next(a for a in asked if a["po_id"] != target["po_id"])
    kept = [
        {**a, "action": "expedite"} if a["po_id"] == target["po_id"] else a
        for a in asked
        if a["po_id"] != dropped["po_id"]
    ]
    before = _count(shop, PurchaseOrder)
    done = orch.resume(
        first.thread_id, {"decision": "edit", "arguments": {"actions": kept}}, by="ops"
    )
    acted = {a["po_id"]: a for a in done.values["late"]}
    assert acted[target["po_id"]]["action"] == "expedite"
    assert acted[target["po_id"]]["status"] == "done"
    assert acted[dropped["po_id"]]["status"] == "rejected"
    assert shop.service.get_purchase_order(target["po_id"]).status == "sent"
    resourced = sum(1 for a in kept if a["action"] == "resource")
    assert _count(shop, PurchaseOrder) == before + resourced


def test_model_explanations_may_not_change_numbers(shop: TestShop) -> None:
    orch = _rules(shop)
    values = orch.run("supply_chain", {"as_of": AS_OF, "dry_run": True}, context=BUYER).values
    choice = Choice.model_validate(values["choices"][0])
    c = choice.chosen
    faithful = f"{c.supplier_name} is chosen: it arrives {c.arrives} with a {c.lead_time_days}-day lead time."
    assert explanation_ok(faithful, choice)
    assert not explanation_ok(f"{c.supplier_name} costs only 0.01 a unit.", choice)
    assert not explanation_ok("The best supplier.", choice)
    assert c.supplier_name in template_explanation(choice)


# --- resume after SIGKILL in send and receive -------------------------------------------------


@pytest.fixture
def shop_any(store_url: str) -> Iterator[TestShop]:
    with seeded_shop(store_url) as made:
        yield made


def _worker(shop: TestShop, action: str, thread: str, arg: str = "", kill_at: str = "") -> Any:
    env = {
        **os.environ,
        "SUPPLY_KILL_AT": kill_at,
        "ORCH_MODELS__DEFAULT": "none:rules",
        "ORCH_MEMORY__ENABLED": "false",
    }
    return subprocess.run(
        [
            sys.executable,
            str(HERE / "supply_worker.py"),
            shop.settings.store.url,
            action,
            thread,
            arg,
        ],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )


def _killed(done: Any) -> bool:
    return bool(done.returncode == -signal.SIGKILL)


@pytest.mark.slow
def test_sigkill_in_send_and_receive_has_one_effect_each(shop_any: TestShop) -> None:
    shop = shop_any
    sku = "ARD-UNO-001"
    before = _count(shop, PurchaseOrder)

    started = _worker(shop, "order", "supply-1", sku)
    assert json.loads(started.stdout.splitlines()[-1])["status"] == "waiting", started.stderr

    died = _worker(shop, "approve", "supply-1", kill_at="send")
    assert _killed(died), died.stdout + died.stderr
    assert _count(shop, PurchaseOrder) == before + 1  # committed before the checkpoint

    resumed = _worker(shop, "resume", "supply-1")
    out = json.loads(resumed.stdout.splitlines()[-1])
    assert out["status"] == "completed", resumed.stderr
    [sent] = out["values"]["sent"]
    assert _count(shop, PurchaseOrder) == before + 1  # the send replayed
    po_id = int(sent["po_id"])

    died = _worker(shop, "receive", "receive-1", str(po_id), kill_at="receive")
    assert _killed(died), died.stdout + died.stderr
    assert _receipts(shop, po_id) == [30]

    resumed = _worker(shop, "resume", "receive-1")
    out = json.loads(resumed.stdout.splitlines()[-1])
    assert out["status"] == "completed", resumed.stderr
    assert out["values"]["receipt"]["status"] == "received"
    assert out["values"]["receipt"]["replayed"] is True
    assert _receipts(shop, po_id) == [30]
    assert shop.service.get_purchase_order(po_id).status == "received"
