"""A customer's support run whose messages carry their email and phone: no log line, no
exception and no append-only row keeps either (the domain rows may; erasure rewrites those)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy import String, cast, inspect, select, text

from orchestrator.runtime import RunContext
from orchestrator.testing import seeded_shop

EMAIL = "ada.lovelace@example.org"
PHONE = "+44 20 7946 0958"


def test_a_full_support_run_logs_and_records_no_personal_data(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with seeded_shop(tmp_path / "shop.db") as shop:
        cid = shop.customers[0]
        order_id = shop.placed_orders[cid][0] if shop.placed_orders.get(cid) else 1
        orch = shop.orchestrator()
        context = RunContext(actor=f"customer:{cid}", customer_id=cid, channel="web")
        thread = None
        for message in (
            f"Hi, it's me ({EMAIL}, {PHONE}). Where is my order #{order_id}?",
            f"Please cancel my order {order_id}; reach me on {PHONE} or {EMAIL}.",
            f"My email is {EMAIL}, I want to complain about my parcel.",
        ):
            run = orch.run("support", {"message": message}, context=context, thread_id=thread)
            thread = run.thread_id
            assert run.status in ("completed", "waiting")
        insp = inspect(shop.engine)
        tables = ("audit_log", "idempotency_record", "stock_ledger", "graph_run")
        columns = {t: [c["name"] for c in insp.get_columns(t)] for t in tables}
        held = []
        with shop.engine.connect() as conn:
            for table, names in columns.items():
                for name in names:
                    for needle in (EMAIL, PHONE):
                        hit = conn.execute(
                            select(text("1"))
                            .select_from(text(table))
                            .where(cast(text(f'"{name}"'), String).contains(needle))
                            .limit(1)
                        ).first()
                        if hit is not None:
                            held.append(f"{table}.{name}")
    assert held == []
    assert EMAIL not in caplog.text and PHONE not in caplog.text
