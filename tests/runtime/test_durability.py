"""Runs survive SIGKILL: at each node boundary of a two-write graph, and while waiting for an
approval; a new process resumes from the SQLite or PostgreSQL checkpointer, and every write
takes effect exactly once. An approval decided with the CLI in one process resumes a run
started in another.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator.store.models import Approval, IdempotencyRecord, StockLedger
from orchestrator.testing import TestShop

HERE = Path(__file__).resolve().parent
pytestmark = pytest.mark.slow


def _env(shop: TestShop, kill_at: str = "") -> dict[str, str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
        "DURABLE_SKU": shop.skus[0],
        "DURABLE_KILL_AT": kill_at,
        "ORCH_RUNTIME__GRAPHS": json.dumps({"two_writes": "durable_worker:build_two_writes_graph"}),
        "ORCH_MODELS__DEFAULT": "none:rules",
    }
    return env


def _worker(
    shop: TestShop, action: str, thread: str, kill_at: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(HERE / "durable_worker.py"), shop.settings.store.url, action, thread],
        capture_output=True,
        text=True,
        timeout=180,
        env=_env(shop, kill_at),
    )


def _cli(shop: TestShop, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", *args, "--db", shop.settings.store.url],
        capture_output=True,
        text=True,
        timeout=180,
        env=_env(shop),
    )


def _count(shop: TestShop, model: type, *where: object) -> int:
    from sqlalchemy import func, select

    stmt = select(func.count()).select_from(model)  # type: ignore[arg-type]
    for cond in where:
        stmt = stmt.where(cond)  # type: ignore[arg-type]
    with shop.engine.connect() as conn:
        return int(conn.execute(stmt).scalar_one())


def _killed(done: subprocess.CompletedProcess[str]) -> bool:
    return done.returncode == -signal.SIGKILL


def test_sigkill_at_each_boundary_and_while_waiting(shop_any: TestShop) -> None:
    shop = shop_any
    sku = shop.skus[0]
    before = shop.service.get_stock(sku, "WH-MAIN")[0].on_hand
    ledger = _count(shop, StockLedger, StockLedger.sku == sku)
    thread = "durable-1"

    # 1. Killed right after the first write, before its node was checkpointed.
    done = _worker(shop, "start", thread, kill_at="first")
    assert _killed(done), done.stdout + done.stderr
    assert _count(shop, StockLedger, StockLedger.sku == sku) == ledger + 1

    # 2. A new process resumes: the first write replays, the second waits for approval, and
    #    the process is killed while it waits.
    done = _worker(shop, "resume", thread, kill_at="waiting")
    assert _killed(done), done.stdout + done.stderr
    assert json.loads(done.stdout.splitlines()[-1])["status"] == "waiting"
    [approval] = shop.service.pending_approvals(thread_id=thread)
    assert _count(shop, StockLedger, StockLedger.sku == sku) == ledger + 1

    # 3. A person approves with the CLI in another process: the run resumes there, makes the
    #    second write, and the third; the worker process that started it is long gone.
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "orchestrator.cli",
            "approvals",
            "approve",
            str(approval.id),
            "--by",
            "manager",
            "--json",
            "--db",
            shop.settings.store.url,
        ],
        capture_output=True,
        text=True,
        timeout=180,
        env=_env(shop, kill_at="third"),
    )
    # The resumed run dies after the third write (DURABLE_KILL_AT=third in the CLI process).
    assert _killed(done), done.stdout + done.stderr
    assert shop.service.get_approval(approval.id).status == "approved"
    assert _count(shop, StockLedger, StockLedger.sku == sku) == ledger + 3

    # 4. Resume once more: the third write replays, the run completes.
    done = _worker(shop, "resume", thread)
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout.splitlines()[-1])["status"] == "completed"

    assert _count(shop, StockLedger, StockLedger.sku == sku) == ledger + 3
    assert shop.service.get_stock(sku, "WH-MAIN")[0].on_hand == before + 62
    assert _count(shop, Approval) == 1
    assert shop.service.get_approval(approval.id).consumed_at is not None
    keys = _count(shop, IdempotencyRecord, IdempotencyRecord.key.like(f"%|{thread}|%"))  # type: ignore[attr-defined]
    assert keys == 3
    outcomes = sorted((e.tool_call_id, e.outcome) for e in shop.service.audit_log(thread_id=thread))
    assert outcomes.count(("first", "ok")) == 1 and ("first", "replayed") in outcomes
    assert outcomes.count(("second", "ok")) == 1 and outcomes.count(("third", "ok")) == 1
    runs = json.loads(_cli(shop, "runs", "show", thread, "--json").stdout)
    assert runs["run"]["status"] == "completed"


def test_cli_decision_for_a_graph_it_does_not_know(shop: TestShop) -> None:
    """Without ORCH_RUNTIME__GRAPHS the CLI records the decision and says where to resume."""
    thread = "durable-2"
    done = _worker(shop, "start", thread)
    assert json.loads(done.stdout.splitlines()[-1])["status"] == "waiting"
    [approval] = shop.service.pending_approvals(thread_id=thread)
    env = _env(shop)
    env.pop("ORCH_RUNTIME__GRAPHS")
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "orchestrator.cli",
            "approvals",
            "approve",
            str(approval.id),
            "--by",
            "manager",
            "--json",
            "--db",
            shop.settings.store.url,
        ],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)
    assert payload["run"] is None and "does not know" in payload["note"]
    assert payload["approval"]["status"] == "approved"
    done = _worker(shop, "resume", thread)
    assert json.loads(done.stdout.splitlines()[-1])["status"] == "completed"
