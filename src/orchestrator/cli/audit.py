"""`orchestrator audit`: run the inventory auditor once or continuously, and its report.

```
orchestrator audit [--db URL] [--full] [--rule R]... [--limit N] [--dry-run] [--no-model]
                   [--watch [--interval S]] [--json]
orchestrator audit report [--db URL] [--out PATH] [--days N]
```

A pass first resumes any pass a killed process left unfinished (its fixes replay under
their keys, so none is applied twice), then scans and handles the open findings. `--watch`
runs a pass every `--interval` seconds (default 300) until stopped, every
`settings.auditor.full_scan_every`-th one a full scan
(Ctrl-C or SIGTERM stop it between passes; a kill mid-pass is resumed by the next start).

`--json` prints one JSON object per line: one per finding handled,
`{"kind": "finding", "thread_id", "finding_id", "rule", "severity", "entity", "key",
"status", "cause", "fix", "plan_source", "attempts", "actions", "rejected", "escalation",
"validation"}`, then one per pass, `{"kind": "summary", "thread_id", "status",
"approval_ids", "scan", "findings", "fixed", "escalated", "by_status", "by_rule",
"success_rate", "model_plans", "rejected_proposals"}`. Ids and figures only: no customer
data. Exit 0 when the pass completed, 5 when it waits for a person's approval.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

import typer

from orchestrator.cli._common import DB_OPTION, open_store, settings_for

__all__ = ["DEFAULT_INTERVAL_S", "audit_app", "register"]

DEFAULT_INTERVAL_S = 300.0
"""`--watch` without `--interval`: seconds between passes."""

audit_app = typer.Typer(
    name="audit",
    help="Find discrepancies in the books, fix what the auditor may, escalate the rest.",
    invoke_without_command=True,
)


def _finding_line(thread: str, case: Any) -> dict[str, Any]:
    return {
        "kind": "finding",
        "thread_id": thread,
        "finding_id": case.finding_id,
        "rule": case.rule,
        "severity": case.severity,
        "entity": case.entity,
        "key": case.key,
        "status": case.status,
        "cause": case.cause,
        "fix": case.fix,
        "plan_source": case.plan_source,
        "attempts": case.attempts,
        "actions": [
            {k: a.get(k) for k in ("attempt", "tool", "outcome", "replayed") if k in a}
            for a in case.actions
        ],
        "rejected": case.rejected,
        "escalation": case.escalation,
        "validation": case.validation,
    }


def _summary_line(result: Any) -> dict[str, Any]:
    summary = dict(result.values.get("summary") or {})
    if not summary:
        from orchestrator.graphs.auditor.nodes import summarize
        from orchestrator.graphs.auditor.passes import cases_of

        summary = summarize(cases_of(result))
    return {
        "kind": "summary",
        "thread_id": result.thread_id,
        "status": result.status,
        "approval_ids": result.approval_ids,
        "scan": result.values.get("scan", {}),
        **summary,
    }


def _print_pass(result: Any, as_json: bool) -> None:
    from orchestrator.graphs.auditor.passes import cases_of

    cases = cases_of(result)
    if as_json:
        for case in cases:
            typer.echo(json.dumps(_finding_line(result.thread_id, case), default=str))
        typer.echo(json.dumps(_summary_line(result), default=str))
        return
    from rich.console import Console
    from rich.table import Table

    from orchestrator.cli._common import print_table

    console = Console()
    table = Table(title=f"audit pass {result.thread_id}: {result.status}")
    for column in ("finding", "rule", "entity", "status", "cause", "fix", "by", "detail"):
        table.add_column(column)
    for c in cases:
        detail = c.validation or (
            f"approval {c.escalation.get('approval_id')}" if c.escalation else ""
        )
        table.add_row(
            str(c.finding_id),
            c.rule,
            f"{c.entity} {c.key}",
            c.status,
            c.cause,
            c.fix,
            c.plan_source,
            detail,
        )
    print_table(table, console)
    summary = _summary_line(result)
    console.print(
        f"{summary.get('findings', 0)} handled: {summary.get('fixed', 0)} fixed, "
        f"{summary.get('escalated', 0)} escalated"
        + (
            f"; waiting for approval {', '.join(map(str, result.approval_ids))} "
            f"(orchestrator approvals approve ID)"
            if result.approval_ids
            else ""
        )
    )


@audit_app.callback()
def audit(
    ctx: typer.Context,
    db: str | None = DB_OPTION,
    full: bool = typer.Option(False, "--full", help="Scan everything, not only what changed."),
    rules: list[str] = typer.Option(None, "--rule", help="Only this rule (repeatable)."),
    limit: int | None = typer.Option(None, "--limit", min=1, help="At most N findings a pass."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Diagnose and plan; write nothing."),
    no_model: bool = typer.Option(
        False, "--no-model", help="Deterministic playbooks only (no model is asked)."
    ),
    watch: bool = typer.Option(False, "--watch", help="Run a pass every --interval seconds."),
    interval: float | None = typer.Option(
        None, "--interval", min=0.01, help="Seconds between passes (default 300)."
    ),
    actor: str = typer.Option("auditor", "--actor", help="Who the passes act for (audit log)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per finding + summary."),
) -> None:
    """Run one audit pass (or, with --watch, one every --interval seconds until stopped)."""
    if ctx.invoked_subcommand is not None:
        return
    from orchestrator.graphs.auditor.passes import run_pass
    from orchestrator.runtime import Orchestrator

    settings = settings_for(db)
    with open_store(settings, create=False):
        pass
    stop = {"now": False}

    def _stop(*_: Any) -> None:
        stop["now"] = True

    if watch:
        signal.signal(signal.SIGTERM, _stop)
    pause = interval if interval is not None else DEFAULT_INTERVAL_S
    waiting = False
    with Orchestrator(settings, upgrade_schema=False) as orch:
        if no_model:
            from orchestrator.graphs.auditor import build_auditor_graph

            orch.register_graph("auditor", build_auditor_graph, replace=True, use_model=False)
        every = int(getattr(settings.auditor, "full_scan_every", 10))
        passes = 0
        while True:
            # Incremental scans miss rows edited around the services without a timestamp:
            # every Nth pass of a watch is a full scan (settings.auditor.full_scan_every).
            results = run_pass(
                orch,
                full=full or (watch and passes > 0 and passes % every == 0),
                rules=rules or None,
                dry_run=dry_run,
                limit=limit,
                actor=actor,
            )
            passes += 1
            for result in results:
                _print_pass(result, as_json)
            waiting = any(r.status == "waiting" for r in results)
            if not watch:
                break
            deadline = time.monotonic() + pause
            try:
                while not stop["now"] and time.monotonic() < deadline:
                    time.sleep(min(0.2, pause))
            except KeyboardInterrupt:
                break
            if stop["now"]:
                break
    if waiting and not watch:
        raise typer.Exit(5)


@audit_app.command("report")
def report(
    db: str | None = DB_OPTION,
    out: Path = typer.Option(
        Path("audit-report.html"), "--out", help="The HTML file (markdown and charts beside it)."
    ),
    days: int = typer.Option(30, "--days", min=1, help="How many days of history to chart."),
) -> None:
    """Write the oversight report: HTML and markdown with charts of the audit metrics."""
    from orchestrator.graphs.auditor.oversight import write_report

    settings = settings_for(db)
    with open_store(settings, create=False) as engine:
        written = write_report(engine, out, days=days)
    for path in written:
        typer.echo(str(path))


def register(app: typer.Typer) -> None:
    """Add the `audit` command group to `app`."""
    app.add_typer(audit_app, name="audit")
