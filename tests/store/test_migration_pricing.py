"""0002_runtime -> 0006_pricing: a store with data gains the price history, keeps every row."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text

from orchestrator.store import make_engine
from orchestrator.store.migrate import current_revision, head_revision, schema_diff, upgrade
from orchestrator.store.services import Actor, StoreService


def test_pricing_revision_upgrades_a_runtime_database_with_data(store_url: str) -> None:
    engine = make_engine(store_url)
    try:
        assert upgrade(engine, "0002_runtime") == "0002_runtime"
        assert "price_history" not in inspect(engine).get_table_names()
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO product (sku, name, category, unit, price_cents, cost_cents, "
                    "description, perishable, weight_grams, active, attributes, created_at) "
                    "VALUES ('MILK-1', 'Milk', 'dairy', 'each', 199, 137, '', true, 500, true, "
                    "'{}', CURRENT_TIMESTAMP)"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO audit_log (at, actor, operation, arguments, outcome, reason) "
                    "VALUES (CURRENT_TIMESTAMP, 'ann', 'seed', '{}', 'ok', '')"
                )
            )
        assert upgrade(engine) == head_revision() == current_revision(engine)
        assert schema_diff(engine) == []
        with engine.connect() as conn:
            assert conn.execute(text("SELECT price_cents FROM product")).scalar_one() == 199
            assert conn.execute(text("SELECT count(*) FROM audit_log")).scalar_one() == 1
            assert conn.execute(text("SELECT count(*) FROM price_history")).scalar_one() == 0
        svc = StoreService(engine)
        change = svc.set_price("MILK-1", 179, reason="overstock", actor=Actor("ann"))
        assert (change.old_price_cents, change.new_price_cents) == (199, 179)
        with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
            conn.execute(text("DELETE FROM price_history"))
    finally:
        engine.dispose()
