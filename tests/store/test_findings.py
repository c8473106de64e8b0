"""FindingStore on SQLite and PostgreSQL: the same finding across scans, incremental scans,
re-checks of one finding, statuses, attempts and the oversight metrics."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from store_factories import STAFF, Shop

from orchestrator.errors import InvalidInput, NotFound
from orchestrator.settings import Settings
from orchestrator.store.findings import FindingStore
from orchestrator.store.models import utcnow
from orchestrator.store.services import OrderLineIn, StoreService


def _sql(engine: Engine, statement: str, **params: object) -> None:
    with engine.begin() as conn:
        conn.execute(text(statement), params)


def _break(engine: Engine, sku: str, by: int = 3, *, touch: bool = True) -> None:
    stamp = ", updated_at = :now" if touch else ""
    _sql(
        engine,
        f"UPDATE stock SET on_hand = on_hand + :by{stamp} WHERE sku = :sku",
        by=by,
        sku=sku,
        now=utcnow(),
    )


def test_a_finding_seen_again_is_the_same_finding(shop: Shop, engine: Engine) -> None:
    findings = FindingStore(engine)
    first = findings.scan()
    assert first.full and first.new == [] and first.violations == 0
    _break(engine, "SKU-2")
    second = findings.scan(full=True)
    [fid] = second.new
    third = findings.scan(full=True)
    assert third.new == [] and third.seen == 1 and third.resolved == []
    finding = findings.get(fid)
    assert (finding.rule, finding.key, finding.status) == (
        "ledger_mismatch",
        "SKU-2@WH-MAIN",
        "open",
    )
    assert finding.entities == {"sku": "SKU-2", "location": "WH-MAIN"}
    assert finding.severity == "error" and "correct_stock" in finding.allowed_fixes
    assert finding.last_seen > finding.first_seen == finding.opened_at
    assert {row["table"] for row in finding.evidence} >= {"stock", "stock_ledger"}
    _break(engine, "SKU-2", -3)
    gone = findings.scan(full=True)
    assert gone.resolved == [fid]
    assert findings.get(fid).status == "resolved" and findings.get(fid).resolved_at
    _break(engine, "SKU-2", 1)
    back = findings.scan(full=True)
    assert back.reopened == [fid] and back.new == []
    again = findings.get(fid)
    assert (again.status, again.occurrences, again.resolved_at) == ("open", 2, None)
    assert again.detail == "on_hand is 21 but its ledger rows sum to 20"


def test_incremental_scan_checks_what_changed(shop: Shop, engine: Engine) -> None:
    findings = FindingStore(engine)
    findings.scan()
    _break(engine, "SKU-1")  # stamped: an incremental scan sees it
    result = findings.scan()
    assert not result.full and result.scope_size is not None and result.scope_size >= 1
    [fid] = result.new
    # Changed around the services without a timestamp: only a full scan sees it...
    _break(engine, "SKU-3", touch=False)
    findings.settings.auditor.incremental_overlap_s = 0
    assert findings.scan().new == []
    assert len(findings.scan(full=True).new) == 1
    # ...and an incremental scan resolves only what it looked at.
    _break(engine, "SKU-3", -3, touch=False)
    assert findings.scan().resolved == []
    _break(engine, "SKU-1", -3)
    assert findings.scan().resolved == [fid]
    assert len(findings.scan(full=True).resolved) == 1


def test_incremental_scan_follows_orders_and_transactions(
    svc: StoreService, shop: Shop, engine: Engine
) -> None:
    findings = FindingStore(engine)
    order = svc.create_order(
        shop.customers[0], [OrderLineIn(sku="SKU-1", qty=2)], location="WH-MAIN", actor=STAFF
    )
    svc.place_order(order.id, actor=STAFF)
    findings.scan()
    svc.cancel_order(order.id, reason="x", actor=STAFF)
    _sql(
        engine,
        "INSERT INTO reservation (order_id, sku, location, qty, status, created_at, updated_at) "
        "VALUES (:oid, 'SKU-2', 'WH-MAIN', 2, 'open', :now, :now)",
        oid=order.id,
        now=utcnow(),
    )
    _sql(engine, "UPDATE stock SET reserved = reserved + 2 WHERE sku = 'SKU-2'")
    txn = svc.record_integration_transaction(
        "pos", "P-1", "sale", "SKU-3", "WH-MAIN", -1, actor=STAFF
    )
    result = findings.scan(now=utcnow() + timedelta(hours=2))
    assert not result.full
    rules = sorted(findings.get(fid).rule for fid in result.new)
    assert rules == ["orphan_reservation", "stuck_transaction"]
    [stuck] = findings.open(rule="stuck_transaction")
    assert stuck.key == str(txn.id) and stuck.severity == "warning"
    [orphan] = findings.open(rule="orphan_reservation")
    svc.release_reservation(int(orphan.key), reason="orphan", actor=STAFF)
    assert findings.scan(now=utcnow() + timedelta(hours=2)).resolved == [orphan.id]


def test_recheck_looks_at_one_finding(shop: Shop, engine: Engine) -> None:
    findings = FindingStore(engine)
    _break(engine, "SKU-1")
    _break(engine, "SKU-2")
    one, two = findings.scan().new
    _break(engine, "SKU-1", -3)
    assert findings.recheck(one).status == "resolved"
    still = findings.recheck(two)
    assert still.status == "open" and still.evidence
    assert findings.get(two).last_seen == still.last_seen
    findings.set_status(one, "fixed", by="auditor", note="validated")
    _break(engine, "SKU-1", 2)
    reopened = findings.recheck(one)
    assert (reopened.status, reopened.occurrences) == ("open", 2)
    with pytest.raises(NotFound):
        findings.recheck(9999)


def test_statuses_attempts_and_metrics(shop: Shop, engine: Engine) -> None:
    findings = FindingStore(engine)
    for sku in ("SKU-1", "SKU-2", "SKU-3"):
        _break(engine, sku)
    _sql(engine, "UPDATE stock SET on_hand = -1 WHERE sku = 'SKU-3'")
    findings.scan()
    # negative_on_hand is critical: it comes first.
    waiting = findings.open()
    assert waiting[0].rule == "negative_on_hand"
    assert len(findings.open(limit=2)) == 2
    a, b, c = (f.id for f in findings.open(rule="ledger_mismatch"))
    findings.set_status(a, "fixing", by="auditor")
    viewed = findings.record_attempt(
        a,
        diagnosis="count confirms the ledger",
        plan={"tool": "correct_stock", "args": {"on_hand": 20}},
        outcome="applied",
    )
    assert viewed.attempts == 1 and viewed.history[0].plan["tool"] == "correct_stock"
    _break(engine, "SKU-1", -3)
    assert findings.recheck(a).status == "resolved"
    fixed = findings.set_status(a, "fixed", by="auditor", note="re-check passed")
    assert fixed.status == "fixed" and fixed.resolved_at is not None
    findings.record_attempt(b, diagnosis="unknown", plan={}, outcome="escalated")
    findings.set_status(b, "escalated", by="auditor", note="ticket 7")
    findings.set_status(c, "ignored", by="ann", note="known")
    with pytest.raises(InvalidInput):
        findings.set_status(c, "done", by="ann")
    with pytest.raises(InvalidInput):
        findings.set_status(c, "open", by=" ")
    # An ignored finding seen again stays ignored; an escalated one stays escalated.
    findings.scan(full=True)
    assert findings.get(c).status == "ignored" and findings.get(b).status == "escalated"
    assert findings.open(rule="ledger_mismatch") == []
    m = findings.metrics()
    assert m.by_rule == {"ledger_mismatch": 3, "negative_on_hand": 1}
    assert m.by_status == {"fixed": 1, "escalated": 1, "ignored": 1, "open": 1}
    assert (m.fixed_automatically, m.escalated, m.attempts) == (1, 1, 2)
    assert m.success_rate == 0.5
    assert m.mean_time_to_resolution_s is not None and m.mean_time_to_resolution_s >= 0
    assert set(m.mttr_by_rule_s) == {"ledger_mismatch"}
    assert m.scans == 2
    assert findings.metrics(since=utcnow() + timedelta(hours=1)).findings == 0


def test_a_truncated_rule_resolves_nothing(shop: Shop, engine: Engine) -> None:
    settings = Settings.defaults()
    settings.auditor.scan_limit = 1
    findings = FindingStore(engine, settings=settings)
    _break(engine, "SKU-1")
    _break(engine, "SKU-2")
    first = findings.scan(full=True)
    assert first.truncated_rules == ["ledger_mismatch"] and len(first.new) == 1
    assert findings.scan(full=True).resolved == []


def test_report_only_findings_are_kept_apart(shop: Shop, engine: Engine) -> None:
    findings = FindingStore(engine)
    result = findings.scan(now=utcnow() + timedelta(days=40))
    assert len(result.new) == 3 and result.open_by_rule == {"no_movement": 3}
    assert findings.open() == []
    shown = findings.open(include_report_only=True)
    assert {f.rule for f in shown} == {"no_movement"} and shown[0].report_only
    assert shown[0].allowed_fixes == ()
    with pytest.raises(InvalidInput):
        findings.scan(rules=["nope"])


def test_recheck_without_a_filterable_entity(shop: Shop, engine: Engine) -> None:
    # A receipt posted against a reference that is no purchase order id.
    _sql(
        engine,
        "INSERT INTO stock_ledger (sku, location, delta, kind, reason, ref_type, ref_id, actor, "
        "created_at) VALUES ('SKU-1', 'WH-MAIN', 2, 'receipt', 'x', 'purchase_order', 'EXT-7', "
        "'erp', :now)",
        now=utcnow(),
    )
    _break(engine, "SKU-1", 2)
    findings = FindingStore(engine)
    [fid] = findings.scan(rules=["po_receipt_mismatch"]).new
    found = findings.recheck(fid)
    assert (found.key, found.status) == ("EXT-7", "open")
    assert "no line for it" in found.detail
    events = findings.events(finding_id=fid)
    assert [(e.from_status, e.to_status, e.by) for e in events] == [(None, "open", "scan")]
    findings.set_status(fid, "escalated", by="auditor", note="ticket")
    assert [e.to_status for e in findings.events(since=events[0].at)] == ["open", "escalated"]


def test_concurrent_scans_make_each_finding_once(shop: Shop, engine: Engine) -> None:
    from concurrent.futures import ThreadPoolExecutor

    for sku in ("SKU-1", "SKU-2", "SKU-3"):
        _break(engine, sku)
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(lambda _: FindingStore(engine).scan(full=True), range(3)))
    assert sorted(fid for r in results for fid in r.new) == sorted(
        f.id for f in FindingStore(engine).open()
    )
    findings = FindingStore(engine)
    assert len(findings.open()) == 3
    firsts = [e for e in findings.events() if e.from_status is None]
    assert len(firsts) == 3


def test_a_scan_resolves_many_findings_at_once(shop: Shop, engine: Engine) -> None:
    findings = FindingStore(engine)
    for sku in ("SKU-1", "SKU-2", "SKU-3"):
        _break(engine, sku)
    created = findings.scan(full=True).new
    assert len(created) == 3
    findings.set_status(created[0], "escalated", by="auditor")
    findings.set_status(created[1], "fixing", by="auditor")
    for sku in ("SKU-1", "SKU-2", "SKU-3"):
        _break(engine, sku, -3)
    assert findings.scan(full=True).resolved == sorted(created)
    events = [e for e in findings.events() if e.to_status == "resolved"]
    assert sorted((e.finding_id, e.from_status) for e in events) == sorted(
        zip(created, ["escalated", "fixing", "open"], strict=True)
    )
    assert findings.metrics().escalated == 1
