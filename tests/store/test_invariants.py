"""check_invariants: every rule found on injected anomalies, each tripping exactly one rule."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from store_factories import STAFF, Shop
from typer.testing import CliRunner

from orchestrator.errors import InvariantViolation
from orchestrator.store.invariants import RULES, check_invariants
from orchestrator.store.models import utcnow
from orchestrator.store.services import OrderLineIn, POLineIn, StoreService


def _sql(engine: Engine, statement: str, **params: object) -> None:
    with engine.begin() as conn:
        conn.execute(text(statement), params)


def _only(engine: Engine, rule: str, **kw: object) -> None:
    report = check_invariants(engine, **kw)  # type: ignore[arg-type]
    assert not report.ok
    assert {v.rule for v in report.violations} == {rule}, report.violations


def _placed(svc: StoreService, shop: Shop, qty: int = 2) -> int:
    order = svc.create_order(
        shop.customers[0], [OrderLineIn(sku="SKU-1", qty=qty)], location="WH-MAIN", actor=STAFF
    )
    svc.place_order(order.id, actor=STAFF)
    return order.id


def test_clean_store_is_ok(svc: StoreService, shop: Shop, engine: Engine) -> None:
    _placed(svc, shop)
    report = check_invariants(engine)
    assert report.ok and report.violations == []
    assert set(report.counts()) == set(RULES)


def test_ledger_mismatch(shop: Shop, engine: Engine) -> None:
    _sql(engine, "UPDATE stock SET on_hand = on_hand + 3 WHERE sku = 'SKU-2'")
    report = check_invariants(engine)
    [v] = report.violations
    assert (v.rule, v.key, v.expected, v.actual) == ("ledger_mismatch", "SKU-2@WH-MAIN", 20, 23)


def test_negative_on_hand_trips_only_its_rule(
    svc: StoreService, shop: Shop, engine: Engine
) -> None:
    svc.adjust_quantity("SKU-1", "WH-MAIN", -20, reason="stocktake", actor=STAFF)
    _sql(
        engine,
        "INSERT INTO stock_ledger (sku, location, delta, kind, reason, actor, created_at) "
        "VALUES ('SKU-1', 'WH-MAIN', -2, 'sale', 'offline till', 'pos', :now)",
        now=utcnow(),
    )
    _sql(engine, "UPDATE stock SET on_hand = -2 WHERE sku = 'SKU-1'")
    _only(engine, "negative_on_hand")


def test_negative_available_unless_backorders(
    svc: StoreService, shop: Shop, engine: Engine
) -> None:
    _placed(svc, shop, qty=5)
    _sql(
        engine,
        "INSERT INTO stock_ledger (sku, location, delta, kind, reason, actor, created_at) "
        "VALUES ('SKU-1', 'WH-MAIN', -17, 'adjustment', 'damaged', 'x', :now)",
        now=utcnow(),
    )
    _sql(engine, "UPDATE stock SET on_hand = 3 WHERE sku = 'SKU-1'")
    _only(engine, "negative_available")
    assert check_invariants(engine, allow_backorders=True).ok


def test_reserved_mismatch(svc: StoreService, shop: Shop, engine: Engine) -> None:
    _sql(engine, "UPDATE stock SET reserved = 2 WHERE sku = 'SKU-3'")
    _only(engine, "reserved_mismatch")


def test_orphan_reservation(svc: StoreService, shop: Shop, engine: Engine) -> None:
    oid = _placed(svc, shop)
    svc.cancel_order(oid, reason="x", actor=STAFF)
    _sql(
        engine,
        "INSERT INTO reservation (order_id, sku, location, qty, status, created_at, updated_at) "
        "VALUES (:oid, 'SKU-2', 'WH-MAIN', 2, 'open', :now, :now)",
        oid=oid,
        now=utcnow(),
    )
    _sql(engine, "UPDATE stock SET reserved = reserved + 2 WHERE sku = 'SKU-2'")
    _only(engine, "orphan_reservation")
    [v] = check_invariants(engine).violations
    assert v.entity == "reservation" and "cancelled" in v.detail
    svc.release_reservation(int(v.key), reason="orphan of a cancelled order", actor=STAFF)
    assert check_invariants(engine).ok


def test_order_state(svc: StoreService, shop: Shop, engine: Engine) -> None:
    oid = _placed(svc, shop, qty=4)
    _sql(engine, "UPDATE order_line SET qty = 6 WHERE order_id = :oid", oid=oid)
    report = check_invariants(engine)
    assert [v.rule for v in report.violations] == ["order_state"]
    assert report.violations[0].key == str(oid)


def test_po_state(svc: StoreService, shop: Shop, engine: Engine) -> None:
    po = svc.create_purchase_order(
        shop.suppliers[0], "WH-MAIN", [POLineIn(sku="SKU-1", qty=4)], actor=STAFF
    )
    _sql(engine, "UPDATE purchase_order SET status = 'received' WHERE id = :id", id=po.id)
    _only(engine, "po_state")


def test_duplicate_posting_and_stuck(svc: StoreService, shop: Shop, engine: Engine) -> None:
    txn = svc.record_integration_transaction(
        "erp", "R-1", "receipt", "SKU-2", "WH-MAIN", 5, actor=STAFF
    )
    svc.post_integration_transaction(txn.id, actor=STAFF)
    _sql(
        engine,
        "INSERT INTO stock_ledger (sku, location, delta, kind, reason, ref_type, ref_id, actor, created_at) "
        "VALUES ('SKU-2', 'WH-MAIN', 5, 'receipt', 'replayed feed', 'integration', :ref, 'erp', :now)",
        ref=str(txn.id),
        now=utcnow(),
    )
    _sql(engine, "UPDATE stock SET on_hand = on_hand + 5 WHERE sku = 'SKU-2'")
    _only(engine, "duplicate_posting")
    svc.record_integration_transaction("pos", "P-1", "sale", "SKU-3", "WH-MAIN", -1, actor=STAFF)
    assert {v.rule for v in check_invariants(engine).violations} == {"duplicate_posting"}
    later = utcnow() + timedelta(hours=2)
    rules = [v.rule for v in check_invariants(engine, now=later).violations]
    assert sorted(rules) == ["duplicate_posting", "stuck_transaction"]
    assert (
        check_invariants(engine, now=later, stuck_after=timedelta(hours=3)).counts()[
            "stuck_transaction"
        ]
        == 0
    )
    with pytest.raises(InvariantViolation, match="duplicate_posting"):
        check_invariants(engine, raise_on_error=True)


def test_cli_exit_codes(shop: Shop, engine: Engine, store_url: str) -> None:
    from orchestrator.cli import app

    runner = CliRunner()
    ok = runner.invoke(app, ["check-invariants", "--db", store_url])
    assert ok.exit_code == 0, ok.output
    _sql(engine, "UPDATE stock SET on_hand = -1 WHERE sku = 'SKU-1'")
    bad = runner.invoke(app, ["check-invariants", "--db", store_url, "--json"])
    assert bad.exit_code == 1
    assert '"negative_on_hand"' in bad.output and '"ledger_mismatch"' in bad.output
