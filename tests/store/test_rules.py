"""Each invariant rule on crafted data, on SQLite and PostgreSQL: positives and look-alikes.

A look-alike is data that resembles the anomaly but is correct (a cancelled order whose
reservation was released, a transaction pending for less than the threshold): the rule
must stay silent on it.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from store_factories import STAFF, Shop

from orchestrator.errors import ConfigError, InvalidInput
from orchestrator.store.invariants import (
    DEFAULT_RULES,
    RULE_SPECS,
    RULES,
    Scope,
    check_invariants,
)
from orchestrator.store.models import utcnow
from orchestrator.store.services import OrderLineIn, POLineIn, StoreService


def _sql(engine: Engine, statement: str, **params: object) -> None:
    with engine.begin() as conn:
        conn.execute(text(statement), params)


def _keys(engine: Engine, rule: str, **kw: object) -> list[str]:
    report = check_invariants(engine, rules=[rule], **kw)  # type: ignore[arg-type]
    assert {v.rule for v in report.violations} <= {rule}
    return [v.key for v in report.violations]


def _placed(svc: StoreService, shop: Shop, sku: str = "SKU-1", qty: int = 2) -> int:
    order = svc.create_order(
        shop.customers[0], [OrderLineIn(sku=sku, qty=qty)], location="WH-MAIN", actor=STAFF
    )
    svc.place_order(order.id, actor=STAFF)
    return order.id


def test_rule_specs_are_complete() -> None:
    assert tuple(RULE_SPECS) == RULES
    fixes = {
        "adjust_quantity",
        "correct_stock",
        "release_reservation",
        "reprocess_transaction",
        "set_transaction_status",
        "reverse_duplicate_posting",
        "escalate",
    }
    from orchestrator.tools.registry import BUILTIN_PROFILES

    auditor = set(BUILTIN_PROFILES["auditor"][0])
    for spec in RULE_SPECS.values():
        assert spec.severity in ("info", "warning", "error", "critical")
        assert set(spec.allowed_fixes) <= fixes, spec.id
        assert set(spec.allowed_fixes) - {"escalate"} <= auditor, spec.id
        assert spec.diagnosis
        assert spec.report_only == (spec.allowed_fixes == ()), spec.id
    assert RULE_SPECS["no_movement"].report_only and RULE_SPECS["no_movement"].severity == "info"
    assert "no_movement" not in DEFAULT_RULES and "failed_transaction" not in DEFAULT_RULES
    from orchestrator.store.invariants import _rule_names

    with pytest.raises(ConfigError, match="unknown invariant rule"):
        _rule_names(["ledger_mismatch", "nope"])


def test_ledger_mismatch(svc: StoreService, shop: Shop, engine: Engine) -> None:
    svc.adjust_quantity("SKU-1", "WH-MAIN", -3, reason="damaged", actor=STAFF)  # look-alike
    assert _keys(engine, "ledger_mismatch") == []
    _sql(engine, "UPDATE stock SET on_hand = on_hand + 3 WHERE sku = 'SKU-2'")
    _sql(
        engine,
        "INSERT INTO stock_ledger (sku, location, delta, kind, reason, actor, created_at) "
        "VALUES ('SKU-3', 'SHOP-1', 4, 'receipt', 'no stock row', 'x', :now)",
        now=utcnow(),
    )
    assert _keys(engine, "ledger_mismatch") == ["SKU-2@WH-MAIN", "SKU-3@SHOP-1"]
    scoped = check_invariants(
        engine, rules=["ledger_mismatch"], scope=Scope(stock=[("SKU-2", "WH-MAIN")])
    )
    assert [v.key for v in scoped.violations] == ["SKU-2@WH-MAIN"]
    other = check_invariants(
        engine, rules=["ledger_mismatch"], scope=Scope(stock=[("SKU-1", "WH-MAIN")])
    )
    assert other.ok and other.violations == []
    assert check_invariants(engine, rules=["ledger_mismatch"], scope=Scope(orders=[1])).ok


def test_reserved_mismatch(svc: StoreService, shop: Shop, engine: Engine) -> None:
    _placed(svc, shop, qty=3)  # look-alike: reserved through the services
    assert _keys(engine, "reserved_mismatch") == []
    _sql(engine, "UPDATE stock SET reserved = reserved + 1 WHERE sku = 'SKU-1'")
    assert _keys(engine, "reserved_mismatch") == ["SKU-1@WH-MAIN"]


def test_negative_on_hand_and_reserved(svc: StoreService, shop: Shop, engine: Engine) -> None:
    svc.adjust_quantity("SKU-1", "WH-MAIN", -20, reason="all sold", actor=STAFF)  # zero: fine
    assert _keys(engine, "negative_on_hand") == []
    _sql(engine, "UPDATE stock SET on_hand = -2 WHERE sku = 'SKU-1'")
    _sql(engine, "UPDATE stock SET reserved = -1 WHERE sku = 'SKU-2'")
    assert _keys(engine, "negative_on_hand") == ["SKU-1@WH-MAIN"]
    assert _keys(engine, "negative_reserved") == ["SKU-2@WH-MAIN"]
    [v] = check_invariants(engine, rules=["negative_on_hand"], evidence=True).violations
    assert v.severity == "critical"
    stock = next(r for r in v.evidence if r["table"] == "stock")
    assert (stock["on_hand"], stock["ledger_sum"]) == (-2, 0)


def test_negative_available(svc: StoreService, shop: Shop, engine: Engine) -> None:
    _placed(svc, shop, qty=5)
    _sql(engine, "UPDATE stock SET on_hand = 5 WHERE sku = 'SKU-1'")  # reserved == on_hand
    assert _keys(engine, "negative_available") == []
    _sql(engine, "UPDATE stock SET on_hand = 4 WHERE sku = 'SKU-1'")
    assert _keys(engine, "negative_available") == ["SKU-1@WH-MAIN"]
    assert _keys(engine, "negative_available", allow_backorders=True) == []


def test_orphan_reservation(svc: StoreService, shop: Shop, engine: Engine) -> None:
    cancelled = _placed(svc, shop)
    svc.cancel_order(cancelled, reason="changed mind", actor=STAFF)  # released: a look-alike
    shipped = _placed(svc, shop, sku="SKU-2")
    svc.ship_order(shipped, carrier="dpd", actor=STAFF)  # committed: a look-alike
    assert _keys(engine, "orphan_reservation") == []
    now = utcnow()
    for oid, sku in ((cancelled, "SKU-3"), (shipped, "SKU-3")):
        _sql(
            engine,
            "INSERT INTO reservation (order_id, sku, location, qty, status, created_at, "
            "updated_at) VALUES (:oid, :sku, 'WH-MAIN', 1, 'open', :now, :now)",
            oid=oid,
            sku=sku,
            now=now,
        )
    keys = _keys(engine, "orphan_reservation")
    assert len(keys) == 2
    report = check_invariants(engine, rules=["orphan_reservation"], evidence=True)
    details = sorted(v.detail.rsplit(" ", 1)[-1] for v in report.violations)
    assert details == ["cancelled", "shipped"]
    first = report.violations[0]
    assert first.entities["order_id"] == cancelled
    assert {r["table"] for r in first.evidence} >= {"reservation", "orders"}
    by_order = check_invariants(engine, rules=["orphan_reservation"], scope=Scope(orders=[shipped]))
    assert [v.entities["order_id"] for v in by_order.violations] == [shipped]


def test_order_state_shipped_still_holding(svc: StoreService, shop: Shop, engine: Engine) -> None:
    oid = _placed(svc, shop)
    assert _keys(engine, "order_state") == []
    _sql(engine, "UPDATE orders SET status = 'shipped' WHERE id = :id", id=oid)
    assert _keys(engine, "order_state") == [str(oid)]
    assert check_invariants(engine, rules=["order_state"], scope=Scope(orders=[oid + 1])).ok


def test_duplicate_posting_and_its_reversal(svc: StoreService, shop: Shop, engine: Engine) -> None:
    txn = svc.record_integration_transaction(
        "erp", "R-9", "receipt", "SKU-2", "WH-MAIN", 5, actor=STAFF
    )
    svc.post_integration_transaction(txn.id, actor=STAFF)  # posted once: a look-alike
    assert _keys(engine, "duplicate_posting") == []
    with pytest.raises(InvalidInput, match="nothing to reverse"):
        svc.reverse_duplicate_posting(txn.id, reason="check", actor=STAFF)
    _sql(
        engine,
        "INSERT INTO stock_ledger (sku, location, delta, kind, reason, ref_type, ref_id, actor, "
        "created_at) VALUES ('SKU-2', 'WH-MAIN', 5, 'receipt', 'replayed', 'integration', :ref, "
        "'erp', :now)",
        ref=str(txn.id),
        now=utcnow(),
    )
    _sql(engine, "UPDATE stock SET on_hand = on_hand + 5 WHERE sku = 'SKU-2'")
    assert _keys(engine, "duplicate_posting") == [str(txn.id)]
    reversal = svc.reverse_duplicate_posting(
        txn.id, reason="feed replayed", actor=STAFF, idempotency_key="rev-1"
    )
    assert (reversal.postings, reversal.reversed, reversal.delta) == (2, 1, -5)
    assert reversal.stock.on_hand == 25
    again = svc.reverse_duplicate_posting(
        txn.id, reason="feed replayed", actor=STAFF, idempotency_key="rev-1"
    )
    assert again.replayed and again.delta == -5
    assert check_invariants(engine).ok
    with pytest.raises(InvalidInput, match="nothing to reverse"):
        svc.reverse_duplicate_posting(txn.id, reason="twice", actor=STAFF)


def test_stuck_and_failed_transactions(svc: StoreService, shop: Shop, engine: Engine) -> None:
    stuck = svc.record_integration_transaction(
        "pos", "P-1", "sale", "SKU-3", "WH-MAIN", -1, actor=STAFF
    )
    failed = svc.record_integration_transaction(
        "pos", "P-2", "sale", "SKU-3", "WH-MAIN", -1, actor=STAFF
    )
    svc.fail_integration_transaction(failed.id, error="timeout", actor=STAFF)
    assert _keys(engine, "stuck_transaction") == []  # pending for less than the threshold
    later = utcnow() + timedelta(hours=2)
    assert _keys(engine, "stuck_transaction", now=later) == [str(stuck.id)]
    assert _keys(engine, "stuck_transaction", now=later, stuck_after=timedelta(hours=3)) == []
    assert _keys(engine, "failed_transaction") == [str(failed.id)]
    # Queued again just now: it waits afresh, it is not stuck since it was first recorded.
    _sql(
        engine,
        "UPDATE integration_transaction SET created_at = :old WHERE id = :id",
        old=utcnow() - timedelta(days=2),
        id=failed.id,
    )
    svc.set_transaction_status(failed.id, "pending", reason="retry", actor=STAFF)
    assert _keys(engine, "failed_transaction") == []
    assert _keys(engine, "stuck_transaction") == []
    svc.reprocess_transaction(failed.id, actor=STAFF)
    assert _keys(engine, "failed_transaction") == []
    # failed_transaction is not a default rule: the books can balance with one failed.
    svc.fail_integration_transaction(stuck.id, error="bad sku", actor=STAFF)
    assert check_invariants(engine).ok
    assert not check_invariants(engine, rules=["failed_transaction"]).ok


def test_po_receipt_mismatch(svc: StoreService, shop: Shop, engine: Engine) -> None:
    po = svc.create_purchase_order(
        shop.suppliers[0],
        "WH-MAIN",
        [POLineIn(sku="SKU-1", qty=10), POLineIn(sku="SKU-2", qty=4)],
        actor=STAFF,
    )
    svc.approve_purchase_order(po.id, actor=STAFF)
    svc.send_purchase_order(po.id, actor=STAFF)
    svc.receive_purchase_order(po.id, {"SKU-1": 4}, actor=STAFF)  # a look-alike: partial
    assert _keys(engine, "po_receipt_mismatch") == []
    assert check_invariants(engine).ok
    _sql(
        engine,
        "UPDATE purchase_order_line SET qty_received = 6 WHERE purchase_order_id = :po "
        "AND sku = 'SKU-1'",
        po=po.id,
    )
    report = check_invariants(engine, rules=["po_receipt_mismatch"], evidence=True)
    [v] = report.violations
    assert (v.key, v.sku, v.expected, v.actual) == (str(po.id), "SKU-1", 6, 4)
    assert {r["table"] for r in v.evidence} >= {"purchase_order_line", "po_receipts"}
    _sql(
        engine,
        "INSERT INTO stock_ledger (sku, location, delta, kind, reason, ref_type, ref_id, actor, "
        "created_at) VALUES ('SKU-3', 'WH-MAIN', 2, 'receipt', 'stray', 'purchase_order', :ref, "
        "'x', :now)",
        ref=str(po.id),
        now=utcnow(),
    )
    _sql(engine, "UPDATE stock SET on_hand = on_hand + 2 WHERE sku = 'SKU-3'")
    skus = sorted(
        v.sku or "" for v in check_invariants(engine, rules=["po_receipt_mismatch"]).violations
    )
    assert skus == ["SKU-1", "SKU-3"]
    assert check_invariants(
        engine, rules=["po_receipt_mismatch"], scope=Scope(purchase_orders=[po.id + 1])
    ).ok


def test_no_movement_is_report_only(svc: StoreService, shop: Shop, engine: Engine) -> None:
    assert _keys(engine, "no_movement") == []  # everything just received
    svc.adjust_quantity("SKU-3", "WH-MAIN", -20, reason="sold out", actor=STAFF)
    later = utcnow() + timedelta(days=31)
    report = check_invariants(engine, rules=["no_movement"], now=later)
    # SKU-3 has nothing on hand: idle, but nothing is sitting there.
    assert [v.key for v in report.violations] == ["SKU-1@WH-MAIN", "SKU-2@WH-MAIN"]
    assert report.ok  # report-only: never a failed check
    assert report.violations[0].severity == "info"
    assert _keys(engine, "no_movement", now=later, no_movement_after=timedelta(days=40)) == []


def test_docs_auditor_table_matches_rule_specs() -> None:
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "auditor.md").read_text()
    for spec in RULE_SPECS.values():
        row = next(line for line in doc.splitlines() if line.startswith(f"| `{spec.id}`"))
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[1:3] == [spec.severity, spec.entity], spec.id
        assert cells[0].endswith("*") == (not spec.default), spec.id
        fixes = [f.strip("` ") for f in cells[5].split(",")] if spec.allowed_fixes else []
        assert fixes == list(spec.allowed_fixes), spec.id


def test_cli_rule_and_evidence(shop: Shop, engine: Engine, store_url: str) -> None:
    import json

    from typer.testing import CliRunner

    from orchestrator.cli import app

    runner = CliRunner()
    _sql(engine, "UPDATE stock SET on_hand = on_hand + 2 WHERE sku = 'SKU-1'")
    _sql(engine, "UPDATE stock SET reserved = 1 WHERE sku = 'SKU-2'")
    only = runner.invoke(
        app, ["check-invariants", "--db", store_url, "--rule", "ledger_mismatch", "--json"]
    )
    assert only.exit_code == 1, only.output
    [line] = only.stdout.strip().splitlines()  # one JSON object on one line
    report = json.loads(line)
    assert report["rules"] == ["ledger_mismatch"] and not report["ok"]
    assert [v["key"] for v in report["violations"]] == ["SKU-1@WH-MAIN"]
    assert report["violations"][0]["severity"] == "error"
    assert report["violations"][0]["evidence"] == []
    shown = runner.invoke(
        app,
        ["check-invariants", "--db", store_url, "--rule", "reserved_mismatch", "--evidence"],
    )
    assert shown.exit_code == 1 and "stock: sku=SKU-2" in shown.stdout
    idle = runner.invoke(
        app, ["check-invariants", "--db", store_url, "--rule", "no_movement", "--json"]
    )
    assert idle.exit_code == 0 and json.loads(idle.stdout)["ok"]
    unknown = runner.invoke(app, ["check-invariants", "--db", store_url, "--rule", "nope"])
    assert unknown.exit_code == 2 and "ledger_mismatch" in unknown.output


def test_transaction_posting_mismatch(svc: StoreService, shop: Shop, engine: Engine) -> None:
    posted = svc.record_integration_transaction(
        "erp", "R-1", "receipt", "SKU-1", "WH-MAIN", 3, actor=STAFF
    )
    svc.post_integration_transaction(posted.id, actor=STAFF)
    pending = svc.record_integration_transaction(
        "erp", "R-2", "receipt", "SKU-2", "WH-MAIN", 4, actor=STAFF
    )
    lost = svc.record_integration_transaction(
        "erp", "R-3", "receipt", "SKU-3", "WH-MAIN", 5, actor=STAFF
    )
    # Look-alikes: posted once, pending and not on the ledger, a reversed duplicate.
    assert _keys(engine, "transaction_posting_mismatch") == []
    # A broken integration: one on the ledger but still pending, one marked posted but
    # never on the ledger, and a posting of a transaction that does not exist.
    _sql(
        engine,
        "INSERT INTO stock_ledger (sku, location, delta, kind, reason, ref_type, ref_id, actor, "
        "created_at) VALUES ('SKU-2', 'WH-MAIN', 4, 'receipt', 'feed', 'integration', :ref, "
        "'erp', :now)",
        ref=str(pending.id),
        now=utcnow(),
    )
    _sql(engine, "UPDATE stock SET on_hand = on_hand + 4 WHERE sku = 'SKU-2'")
    _sql(engine, "UPDATE integration_transaction SET status = 'posted' WHERE id = :id", id=lost.id)
    _sql(
        engine,
        "INSERT INTO stock_ledger (sku, location, delta, kind, reason, ref_type, ref_id, actor, "
        "created_at) VALUES ('SKU-1', 'WH-MAIN', 1, 'receipt', 'feed', 'integration', '424242', "
        "'erp', :now)",
        now=utcnow(),
    )
    _sql(engine, "UPDATE stock SET on_hand = on_hand + 1 WHERE sku = 'SKU-1'")
    report = check_invariants(engine, rules=["transaction_posting_mismatch"])
    found = {v.key: v.detail for v in report.violations}
    assert set(found) == {str(pending.id), str(lost.id), "424242"}
    assert "pending, but posted to the ledger 1 time(s)" in found[str(pending.id)]
    assert "not on the ledger" in found[str(lost.id)]
    assert "no such transaction" in found["424242"]
    assert check_invariants(
        engine, rules=["transaction_posting_mismatch"], scope=Scope(transactions=[posted.id])
    ).ok
    # The services never post a transaction that is on the ledger already.
    with pytest.raises(InvalidInput, match="count it twice"):
        svc.reprocess_transaction(pending.id, actor=STAFF)
    with pytest.raises(InvalidInput, match="count it twice"):
        svc.set_transaction_status(pending.id, "posted", reason="x", actor=STAFF)
