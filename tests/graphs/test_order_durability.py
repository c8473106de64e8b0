"""The order graph survives SIGKILL between reserve and ship and while it waits for approval.

A real worker process runs the graph and is killed right after the reserve node's writes,
while the run waits for the release approval, right after the payment node's writes and
right after the ship node's writes; each time a new process resumes from the checkpoint
(SQLite, and PostgreSQL with its own checkpointer). Each line ends with exactly one
reservation, one shipment and one ledger movement, and the payment was authorised and
captured once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from orchestrator.store.models import AuditLog, Payment, Reservation, Shipment, StockLedger
from orchestrator.testing import TestShop, seeded_shop

HERE = Path(__file__).resolve().parent
pytestmark = pytest.mark.slow


@pytest.fixture
def shop_any(store_url: str) -> Iterator[TestShop]:
    with seeded_shop(store_url, memory={"enabled": False}) as made:
        yield made


def _worker(shop: TestShop, action: str, thread: str, kill_at: str = "") -> dict[str, object]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
        "ORDER_KILL_AT": kill_at,
        "ORCH_MODELS__DEFAULT": "none:rules",
        "ORCH_MEMORY__ENABLED": "false",
    }
    done = subprocess.run(
        [sys.executable, str(HERE / "order_worker.py"), shop.settings.store.url, action, thread],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
    )
    if kill_at:
        assert done.returncode == -signal.SIGKILL, done.stdout + done.stderr
    else:
        assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.strip().splitlines()
    return json.loads(lines[-1]) if lines else {}


def _count(shop: TestShop, model: type, *where: object) -> int:
    stmt = select(func.count()).select_from(model)  # type: ignore[arg-type]
    for cond in where:
        stmt = stmt.where(cond)  # type: ignore[arg-type]
    with shop.engine.connect() as conn:
        return int(conn.execute(stmt).scalar_one())


def test_sigkill_between_reserve_and_ship_and_while_waiting(shop_any: TestShop) -> None:
    shop = shop_any
    thread = "order-durable-1"
    _worker(shop, "start", thread, kill_at="reserve")
    [created] = shop.service.audit_log(operation="create_order", thread_id=thread)
    order_id = int(created.after["order_id"])  # type: ignore[index]
    assert shop.service.get_order(order_id).status == "placed"

    waiting = _worker(shop, "resume", thread, kill_at="waiting")
    assert waiting["status"] == "waiting" and len(waiting["approvals"]) == 1  # type: ignore[arg-type]

    _worker(shop, "approve", thread, kill_at="payment")
    _worker(shop, "resume", thread, kill_at="ship")
    assert shop.service.get_order(order_id).status == "shipped"
    done = _worker(shop, "resume", thread)
    assert (done["status"], done["outcome"], done["order_id"]) == (
        "completed",
        "completed",
        order_id,
    )

    order = shop.service.get_order(order_id)
    assert order.status == "shipped" and len(order.lines) == 2
    for line in order.lines:
        assert _count(shop, Reservation, Reservation.order_line_id == line.id) == 1
        assert (
            _count(
                shop,
                StockLedger,
                StockLedger.sku == line.sku,
                StockLedger.ref_type == "order",
                StockLedger.ref_id == str(order_id),
            )
            == 1
        )
    assert _count(shop, Shipment, Shipment.order_id == order_id) == 1
    with shop.engine.connect() as conn:
        payments = sorted(
            (kind, status)
            for kind, status in conn.execute(
                select(Payment.kind, Payment.status).where(Payment.order_id == order_id)  # type: ignore[call-overload]
            ).all()
        )
    assert payments == [("authorization", "succeeded"), ("capture", "succeeded")]
    oks = _count(shop, AuditLog, AuditLog.thread_id == thread, AuditLog.outcome == "ok")  # type: ignore[arg-type]
    # create, place, the gate, authorisation, shipment, capture: each exactly once
    assert oks == 6
    assert _count(shop, AuditLog, AuditLog.thread_id == thread, AuditLog.outcome == "replayed") >= 3  # type: ignore[arg-type]
