"""0002_runtime -> 0004_findings: every existing row survives, the finding tables work."""

from __future__ import annotations

from sqlalchemy import inspect, text

from orchestrator.store import make_engine
from orchestrator.store.findings import FindingStore
from orchestrator.store.migrate import current_revision, schema_diff, upgrade


def test_findings_revision_keeps_every_row(store_url: str) -> None:
    engine = make_engine(store_url)
    try:
        upgrade(engine, "0002_runtime")
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO location (code, name, kind) VALUES ('WH', 'W', 'w')"))
            conn.execute(
                text(
                    "INSERT INTO product (sku, name, category, unit, price_cents, cost_cents, "
                    "description, perishable, weight_grams, active, attributes, created_at) "
                    "VALUES ('S-1', 'Widget', 'w', 'each', 100, 50, '', false, 10, true, '{}', "
                    "CURRENT_TIMESTAMP)"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO stock (sku, location, on_hand, reserved, updated_at) "
                    "VALUES ('S-1', 'WH', 7, 0, CURRENT_TIMESTAMP)"
                )
            )
            for delta in (5, 2):
                conn.execute(
                    text(
                        "INSERT INTO stock_ledger (sku, location, delta, kind, reason, actor, "
                        "created_at) VALUES ('S-1', 'WH', :d, 'receipt', '', 'x', "
                        "CURRENT_TIMESTAMP)"
                    ),
                    {"d": delta},
                )
            conn.execute(
                text(
                    "INSERT INTO graph_run (thread_id, graph, status, actor, channel, created_at, "
                    "updated_at) VALUES ('t-1', 'support', 'completed', 'ann', 'api', "
                    "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                )
            )
        before = _counts(engine)
        assert upgrade(engine, "0004_findings") == "0004_findings"
        assert current_revision(engine) == "0004_findings"
        assert _counts(engine) == before
        with engine.connect() as conn:
            assert conn.execute(text("SELECT SUM(delta) FROM stock_ledger")).scalar_one() == 7
            assert conn.execute(text("SELECT thread_id FROM graph_run")).scalar_one() == "t-1"
        names = set(inspect(engine).get_table_names())
        assert {"finding", "finding_attempt", "finding_event", "finding_scan"} <= names
        indexes = {i["name"] for i in inspect(engine).get_indexes("stock_ledger")}
        assert "ix_ledger_sku_location_created" in indexes
        if schema_diff(engine):  # other revisions may follow on a merged head
            upgrade(engine)
        with engine.begin() as conn:
            conn.execute(text("UPDATE stock SET on_hand = 9"))
        findings = FindingStore(engine)
        result = findings.scan(full=True)
        [finding] = findings.open()
        assert result.new == [finding.id] and finding.rule == "ledger_mismatch"
        assert _append_only_refusal(engine)
    finally:
        engine.dispose()


def _counts(engine: object) -> dict[str, int]:
    tables = ("location", "product", "stock", "stock_ledger", "graph_run")
    with engine.connect() as conn:  # type: ignore[attr-defined]
        return {t: conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one() for t in tables}


def _append_only_refusal(engine: object) -> bool:
    try:
        with engine.begin() as conn:  # type: ignore[attr-defined]
            conn.execute(text("DELETE FROM stock_ledger"))
    except Exception as exc:
        return "append-only" in str(exc)
    return False
