"""The auditor graph: the full loop with a scripted model, refusals, retries and escalation,
a large fix waiting for a person, dry runs, and SIGKILL mid-fix on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from orchestrator.errors import BackendUnavailable
from orchestrator.evaluation.audit import agreeing_model, inject_raw
from orchestrator.graphs.auditor import Case
from orchestrator.runtime import RunContext
from orchestrator.store.invariants import check_invariants
from orchestrator.store.models import IdempotencyRecord, Stock, StockLedger
from orchestrator.testing import ScriptedModel, TestShop, seeded_shop

HERE = Path(__file__).resolve().parent
AUDITOR = RunContext(actor="auditor")


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[TestShop]:
    """A small shop with the seeder's six anomalies, on SQLite."""
    with seeded_shop(tmp_path / "shop.db", anomalies=6) as made:
        yield made


def _cases(result: Any) -> list[Case]:
    return [Case.model_validate(c) for c in result.values["cases"]]


def _by_rule(cases: list[Case]) -> dict[str, list[Case]]:
    out: dict[str, list[Case]] = {}
    for c in cases:
        out.setdefault(c.rule, []).append(c)
    return out


def _down() -> ScriptedModel:
    """A model that is never reachable: every node takes its deterministic path."""
    return ScriptedModel(responses=[BackendUnavailable("the model server is down")] * 100)


def _proposing(fix: str, cause: str = "unknown", target: int | None = None) -> ScriptedModel:
    reply = json.dumps({"cause": cause, "fix": fix, "target_id": target, "explanation": "x"})
    return ScriptedModel(responses=[reply] * 50)


def test_full_loop_with_the_scripted_model(shop: TestShop) -> None:
    before = check_invariants(shop.engine)
    assert {v.rule for v in before.violations} >= {
        "ledger_mismatch",
        "negative_on_hand",
        "negative_available",
        "orphan_reservation",
        "stuck_transaction",
        "duplicate_posting",
    }
    orch = shop.orchestrator(models=agreeing_model())
    result = orch.run("auditor", {"full": True}, context=AUDITOR)
    assert result.status == "completed", result.interrupts
    cases = _by_rule(_cases(result))
    for rule in ("ledger_mismatch", "orphan_reservation", "stuck_transaction", "duplicate_posting"):
        assert [c.status for c in cases[rule]] == ["fixed"], (rule, cases[rule])
        assert cases[rule][0].plan_source == "model"
    for rule in ("negative_on_hand", "negative_available"):
        [case] = cases[rule]
        assert case.status == "escalated" and case.cause == "oversold"
        approval = shop.service.get_approval(case.escalation["approval_id"])
        assert approval.status == "pending" and approval.agent == "auditor"
    after = check_invariants(shop.engine)
    assert {v.rule for v in after.violations} == {"negative_on_hand", "negative_available"}
    # The duplicate was reversed once, the stuck receipt posted once.
    [dup] = cases["duplicate_posting"]
    [stuck] = cases["stuck_transaction"]
    with shop.engine.connect() as conn:
        postings = conn.execute(
            select(func.count())
            .select_from(StockLedger)
            .where(StockLedger.ref_type == "integration", StockLedger.ref_id == stuck.key)  # type: ignore[arg-type]
        ).scalar_one()
    assert postings == 1
    assert [a["tool"] for a in dup.actions] == ["reverse_duplicate_posting"]
    # Every action and every diagnosis is in the audit log, with the finding.
    audit = orch.audit(result.thread_id)
    diagnoses = [e for e in audit if e.operation == "audit_diagnosis"]
    assert {e.arguments["finding_id"] for e in diagnoses} == {c.finding_id for c in _cases(result)}
    assert all(e.arguments["evidence"] and e.reason for e in diagnoses)
    writes = [e for e in audit if e.tool in {"correct_stock", "release_reservation"}]
    assert writes and all("audit finding" in (e.arguments.get("reason") or "") for e in writes)
    assert "fixed" in result.values["report"] and result.values["summary"]["escalated"] == 2
    # The pass left an insight for analysts and later runs.
    from orchestrator.memory.namespaces import recent_insights

    [insight] = recent_insights(orch.long_term_store, topic="audit")
    assert insight.source == "auditor" and "2 escalated" in insight.text
    # A second pass finds nothing new to do: the escalated ones wait for a person.
    again = orch.run("auditor", {}, context=AUDITOR)
    assert again.status == "completed" and again.values["cases"] == []


def test_a_model_naming_the_findings_own_transaction_reprocesses_it_once(
    shop: TestShop,
) -> None:
    # The finding's transaction is also among the unposted ones of its evidence: naming it as
    # the target must give one reprocess step, not two (the second would be refused as
    # "posted -> posted" and the fixed finding escalated).
    [stuck] = [v for v in check_invariants(shop.engine).violations if v.rule == "stuck_transaction"]
    model = _proposing("reprocess_transaction", "integration_stalled", target=int(stuck.key))
    result = shop.orchestrator(models=model).run(
        "auditor", {"full": True, "rules": ["stuck_transaction"]}, context=AUDITOR
    )
    [case] = _by_rule(_cases(result))["stuck_transaction"]
    assert case.plan_source == "model" and case.status == "fixed", case
    assert [(a["tool"], a["outcome"]) for a in case.actions] == [("reprocess_transaction", "ok")]


def test_a_fix_outside_the_rules_allowed_set_is_rejected(shop: TestShop) -> None:
    # adjust_quantity is in the auditor profile but not a fix for an orphan reservation.
    orch = shop.orchestrator(models=_proposing("adjust_quantity"))
    result = orch.run("auditor", {"full": True, "rules": ["orphan_reservation"]}, context=AUDITOR)
    [case] = _cases(result)
    assert case.status == "fixed" and case.plan_source == "playbook"
    assert case.fix == "release_reservation"
    assert case.rejected and "not allowed for orphan_reservation" in case.rejected[0]
    refused = shop.service.audit_log(operation="audit_plan_rejected", thread_id=result.thread_id)
    assert refused and refused[0].outcome == "rejected"
    assert not [e for e in orch.audit(result.thread_id) if e.operation == "adjust_quantity"]


def test_a_plan_that_papers_over_an_unposted_transaction_is_rejected(shop: TestShop) -> None:
    [injected] = inject_raw(shop.engine, "raw_unposted_integration", 1, seed=3)
    sku_loc = injected.expected[0][1]
    # The model wants to adjust the stock around a movement that was never posted.
    orch = shop.orchestrator(models=_proposing("reprocess_transaction", target=999_999))
    result = orch.run("auditor", {"full": True, "rules": ["ledger_mismatch"]}, context=AUDITOR)
    [case] = [c for c in _cases(result) if c.key == sku_loc]
    assert case.rejected and "not an unposted one" in case.rejected[0]
    assert case.status == "fixed" and case.cause == "unposted_integration"
    assert [s["tool"] for s in case.steps] == ["correct_stock", "reprocess_transaction"]


def test_a_write_outside_the_auditor_profile_is_refused_and_audited(shop: TestShop) -> None:
    orch = shop.orchestrator(models=_proposing("cancel_order"))
    result = orch.run("auditor", {"full": True, "rules": ["orphan_reservation"]}, context=AUDITOR)
    [case] = _cases(result)
    assert "outside the auditor profile" in case.rejected[0]
    denied = [e for e in orch.audit(result.thread_id) if e.outcome == "denied"]
    assert [(e.operation, e.agent) for e in denied] == [("cancel_order", "auditor")]
    assert "PermissionDenied" in (denied[0].error or "")
    assert not shop.service.audit_log(operation="cancel_order", outcome="ok")
    assert case.status == "fixed"  # the playbook released the hold instead


def test_validation_failure_escalates_after_max_attempts(tmp_path: Path) -> None:
    with seeded_shop(tmp_path / "shop.db", auditor={"max_attempts": 2}) as shop:
        [injected] = inject_raw(shop.engine, "raw_stuck_oversell", 1, seed=5)
        txn = injected.expected[0][1]
        # The model keeps proposing to post a sale that stock cannot cover.
        orch = shop.orchestrator(models=_proposing("reprocess_transaction"))
        result = orch.run(
            "auditor", {"full": True, "rules": ["stuck_transaction"]}, context=AUDITOR
        )
        [case] = _cases(result)
        assert case.key == txn and case.attempts == 2
        assert [a["outcome"] for a in case.actions] == ["not_posted", "not_posted"]
        assert case.status == "escalated" and case.escalation["approval_id"]
        view = shop.service.get_integration_transaction(int(txn))
        assert view.status == "failed"
        from orchestrator.store.findings import FindingStore

        finding = FindingStore(shop.engine).get(case.finding_id)
        assert finding.status == "escalated" and finding.attempts == 2


def test_the_playbook_escalates_a_sale_that_cannot_post_without_trying(shop: TestShop) -> None:
    inject_raw(shop.engine, "raw_stuck_oversell", 1, seed=5)
    orch = shop.orchestrator(models=_down())
    result = orch.run("auditor", {"full": True, "rules": ["stuck_transaction"]}, context=AUDITOR)
    oversell = [c for c in _cases(result) if c.cause == "cannot_post_insufficient_stock"]
    assert oversell and all(c.status == "escalated" and not c.actions for c in oversell)


def test_a_large_fix_waits_for_a_person(shop: TestShop) -> None:
    sku, loc = shop.skus[0], shop.location
    with shop.engine.begin() as conn:
        conn.execute(
            update(Stock)
            .where(Stock.sku == sku, Stock.location == loc)  # type: ignore[arg-type]
            .values(on_hand=Stock.on_hand + 80)
        )
    orch = shop.orchestrator(models=agreeing_model())
    result = orch.run("auditor", {"full": True, "rules": ["ledger_mismatch"]}, context=AUDITOR)
    assert result.status == "waiting" and len(result.approval_ids) == 1
    assert shop.service.get_approval(result.approval_ids[0]).tool == "correct_stock"
    done = orch.resume(result.thread_id, "approve", by="store-manager")
    assert done.status == "completed"
    fixed = [c for c in _cases(done) if c.key == f"{sku}@{loc}"]
    assert [c.status for c in fixed] == ["fixed"]
    assert check_invariants(shop.engine).counts()["ledger_mismatch"] == 0


def test_dry_run_plans_and_writes_nothing(shop: TestShop) -> None:
    orch = shop.orchestrator(models=agreeing_model())
    result = orch.run("auditor", {"full": True, "dry_run": True}, context=AUDITOR)
    cases = _cases(result)
    assert cases and all(c.status == "dry_run" and not c.actions for c in cases)
    assert {c.fix for c in cases} >= {"release_reservation", "escalate"}
    assert not [e for e in orch.audit(result.thread_id) if e.outcome == "ok"]
    assert len(check_invariants(shop.engine).violations) >= 6


def test_raw_broken_integration_anomalies_are_fixed_the_right_way(shop: TestShop) -> None:
    used: set[tuple[str, str]] = set()
    injected = []
    for i, kind in enumerate(
        (
            "raw_unposted_integration",
            "raw_duplicate_posting",
            "raw_cancelled_with_holds",
            "raw_on_hand_drift",
            "raw_reserved_drift",
        )
    ):
        injected += inject_raw(shop.engine, kind, 1, seed=10 + i, avoid=used)  # type: ignore[arg-type]
    orch = shop.orchestrator(models=_down())  # playbooks only
    result = orch.run("auditor", {"full": True}, context=AUDITOR)
    status = {(c.rule, c.key): c.status for c in _cases(result)}
    for anomaly in injected:
        got = [status.get(key) for key in anomaly.expected]
        assert "fixed" in got and set(got) <= {"fixed", "skipped"}, (anomaly, got)
    after = check_invariants(shop.engine)
    assert {v.rule for v in after.violations} == {"negative_on_hand", "negative_available"}


def test_report_and_cli_output_carry_no_customer_pii(shop: TestShop, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from orchestrator.cli import app
    from orchestrator.store.models import Customer

    with shop.engine.connect() as conn:
        people = conn.execute(select(Customer.name, Customer.email)).all()  # type: ignore[call-overload]
    runner = CliRunner()
    db = shop.settings.store.url
    env = {"ORCH_MEMORY__ENABLED": "false", "ORCH_MODELS__DEFAULT": "none:rules"}
    out = runner.invoke(app, ["audit", "--db", db, "--full", "--json"], env=env)
    assert out.exit_code == 0, out.output
    lines = [json.loads(line) for line in out.output.splitlines() if line.strip()]
    assert lines[-1]["kind"] == "summary" and lines[-1]["fixed"] >= 4
    assert all(line["kind"] == "finding" for line in lines[:-1])
    report = runner.invoke(
        app, ["audit", "report", "--db", db, "--out", str(tmp_path / "r.html")], env=env
    )
    assert report.exit_code == 0, report.output
    html = (tmp_path / "r.html").read_text()
    md = (tmp_path / "r.md").read_text()
    assert "Mean time to resolution" in html and "| ledger_mismatch |" in md
    assert (tmp_path / "r-charts" / "success_rate.png").stat().st_size > 1000
    text = out.output + html + md
    for name, email in people:
        assert name not in text and email not in text


# -- SIGKILL during act, resume in a new process -----------------------------------------------


def _worker(
    url: str, action: str, thread: str, kill_at: str = ""
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
        "AUDIT_KILL_AT": kill_at,
        "ORCH_RUNTIME__GRAPHS": json.dumps({"auditor": "audit_worker:build_killable_auditor"}),
        "ORCH_MODELS__DEFAULT": "none:rules",
        "ORCH_MEMORY__ENABLED": "false",
    }
    return subprocess.run(
        [sys.executable, str(HERE / "audit_worker.py"), url, action, thread],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def shop_any(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TestShop]:
    if request.param == "sqlite":
        with seeded_shop(tmp_path / "shop.db", anomalies=6) as made:
            yield made
        return
    from orchestrator.testing import postgres_database

    with (
        postgres_database(
            request.getfixturevalue("postgres_admin_url"), prefix="orch_audit"
        ) as url,
        seeded_shop(url, anomalies=6) as made,
    ):
        yield made


def _count(shop: TestShop, model: Any, *where: Any) -> int:
    stmt = select(func.count()).select_from(model)
    for cond in where:
        stmt = stmt.where(cond)
    with shop.engine.connect() as conn:
        return int(conn.execute(stmt).scalar_one())


@pytest.mark.slow
def test_sigkill_during_act_then_resume_applies_each_fix_once(shop_any: TestShop) -> None:
    shop = shop_any
    thread = "audit-durable-1"
    url = shop.settings.store.url
    # Killed right after the second fix's write, before its node was checkpointed.
    done = _worker(url, "start", thread, kill_at="2")
    assert done.returncode == -signal.SIGKILL, done.stdout + done.stderr
    # A new process finds the unfinished pass and resumes it; the writes replay.
    done = _worker(url, "resume", thread)
    assert done.returncode == 0, done.stdout + done.stderr
    first = json.loads(done.stdout.splitlines()[0])
    assert first["thread_id"] == thread and first["status"] == "completed"
    cases = [Case.model_validate(c) for c in first["cases"]]
    fixed = [c for c in cases if c.status == "fixed"]
    assert {c.rule for c in fixed} >= {
        "ledger_mismatch",
        "orphan_reservation",
        "stuck_transaction",
        "duplicate_posting",
    }
    audit = shop.service.audit_log(thread_id=thread, limit=500)
    writes = [e for e in audit if e.outcome in ("ok", "replayed") and e.idempotency_key]
    ok_keys = [e.idempotency_key for e in writes if e.outcome == "ok"]
    assert len(ok_keys) == len(set(ok_keys)), "a fix was applied twice"
    assert any(e.outcome == "replayed" for e in writes), "the resumed act replayed nothing"
    keys = _count(shop, IdempotencyRecord, IdempotencyRecord.key.like(f"%|{thread}|%"))  # type: ignore[attr-defined]
    assert keys == len(ok_keys)
    stuck = next(c for c in fixed if c.rule == "stuck_transaction")
    dup = next(c for c in fixed if c.rule == "duplicate_posting")

    def ledger_rows(txn: str, ref_type: str) -> int:
        return _count(
            shop,
            StockLedger,
            StockLedger.ref_id == txn,
            StockLedger.ref_type == ref_type,
        )

    assert ledger_rows(stuck.key, "integration") == 1
    assert ledger_rows(dup.key, "integration") == 2
    assert ledger_rows(dup.key, "integration_reversal") == 1
    after = check_invariants(shop.engine)
    assert {v.rule for v in after.violations} == {"negative_on_hand", "negative_available"}


def test_demo_steps_on_a_seeded_store(shop: TestShop) -> None:
    from rich.console import Console

    from orchestrator.backends.none import NoModel
    from orchestrator.graphs.auditor import demo_steps

    orch = shop.orchestrator(models=NoModel(model_name="rules"))
    console = Console(record=True, width=200)
    steps = demo_steps(orch, console)
    assert [name for name, _, _ in steps] == [
        "broken integration writes injected",
        "the auditor fixed them through its own tools",
        "what it may not fix waits for a person",
        "books re-checked",
    ]
    assert all(ok for _, ok, _ in steps), steps
    assert "release_reservation" in console.export_text()


@pytest.mark.slow
def test_watch_runs_passes_until_sigterm(shop: TestShop) -> None:
    env = {
        **os.environ,
        "ORCH_MEMORY__ENABLED": "false",
        "ORCH_MODELS__DEFAULT": "none:rules",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "orchestrator.cli",
            "audit",
            "--db",
            shop.settings.store.url,
            "--watch",
            "--interval",
            "0.2",
            "--json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    summaries: list[dict[str, Any]] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            payload = json.loads(line)
            if payload["kind"] == "summary":
                summaries.append(payload)
            if len(summaries) == 2:
                proc.send_signal(signal.SIGTERM)
                break
        assert proc.wait(timeout=120) == 0, proc.stderr.read() if proc.stderr else ""
    finally:
        if proc.poll() is None:
            proc.kill()
    assert summaries[0]["fixed"] >= 4 and summaries[1]["findings"] == 0
