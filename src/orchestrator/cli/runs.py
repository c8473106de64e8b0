"""CLI commands for runs and approvals, from any process sharing the store and checkpointer.

```
orchestrator approvals list [--all] [--thread T] [--json]
orchestrator approvals show ID [--json]
orchestrator approvals approve ID [--by NAME] [--note TEXT] [--json]
orchestrator approvals reject ID --note TEXT [--by NAME] [--json]
orchestrator approvals edit ID --args JSON [--by NAME] [--note TEXT] [--json]
orchestrator runs list [--status S] [--graph G] [--json]
orchestrator runs show THREAD [--json]
orchestrator runs resume THREAD [--json]
```

Deciding an approval that a waiting run is paused on resumes that run (one call: the decision
is recorded, the run performs the write once, and the command prints where the run stopped).
`--json` prints one JSON object per result (a JSON object per line for lists).
"""

from __future__ import annotations

import getpass
import json
from typing import Any

import typer

from orchestrator.cli._common import DB_OPTION, open_orchestrator

approvals_app = typer.Typer(
    name="approvals",
    help="List and decide the writes waiting for a person's approval.",
    no_args_is_help=True,
)
runs_app = typer.Typer(
    name="runs", help="List and inspect graph runs (threads).", no_args_is_help=True
)

_DB = DB_OPTION
_JSON = typer.Option(False, "--json", help="Print JSON (one object per result).")
_BY = typer.Option(
    None, "--by", help="Who decides (recorded with the decision); default your login name."
)


def _orchestrator(db: str | None) -> Any:
    """The runtime on the store (which must exist: nothing here creates one)."""
    return open_orchestrator(db)


def _dump(model: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(model.model_dump_json())
    return data


def _emit(payload: Any) -> None:
    typer.echo(json.dumps(payload, default=str, sort_keys=False))


def _approval_line(a: Any) -> str:
    where = f" thread {a.thread_id}" if a.thread_id else ""
    args = json.dumps(a.effective_arguments, default=str)
    return f"#{a.id} {a.status:8} {a.tool} {args}{where}\n    {a.reason}"


# -- approvals ---------------------------------------------------------------------------


@approvals_app.command("list")
def approvals_list(
    db: str | None = _DB,
    show_all: bool = typer.Option(False, "--all", help="Decided ones too (newest first)."),
    thread: str | None = typer.Option(None, "--thread", help="Only those of one run."),
    limit: int = typer.Option(100, "--limit", min=1, max=1000),
    as_json: bool = _JSON,
) -> None:
    """List approvals waiting for a decision (oldest first), or all with --all."""
    with _orchestrator(db) as orch:
        if show_all:
            rows = orch.service.approvals(thread_id=thread, limit=limit)
        else:
            rows = orch.service.pending_approvals(limit, thread_id=thread)
    if as_json:
        for row in rows:
            _emit(_dump(row))
        return
    if not rows:
        typer.echo("no approvals waiting" if not show_all else "no approvals")
    for row in rows:
        typer.echo(_approval_line(row))


@approvals_app.command("show")
def approvals_show(approval_id: int, db: str | None = _DB, as_json: bool = _JSON) -> None:
    """Show one approval: what it would do, why, who asked, and any decision."""
    with _orchestrator(db) as orch:
        row = orch.service.get_approval(approval_id)
    if as_json:
        _emit(_dump(row))
        return
    typer.echo(_approval_line(row))
    typer.echo(f"    asked by {row.actor} (agent {row.agent}) at {row.created_at:%Y-%m-%d %H:%M}")
    if row.decided_by:
        typer.echo(f"    {row.status} by {row.decided_by}: {row.decision_note or ''}")
    if row.consumed_at:
        typer.echo(f"    performed at {row.consumed_at:%Y-%m-%d %H:%M}")


def _decide(
    db: str | None,
    approval_id: int,
    decision: dict[str, Any],
    by: str | None,
    as_json: bool,
) -> None:
    from orchestrator.errors import ConfigError, NotFound

    who = by or getpass.getuser()
    note = ""
    with _orchestrator(db) as orch:
        if isinstance(decision.get("arguments"), str):
            decision = {**decision, "arguments": _json_object(decision["arguments"])}
        approval = orch.service.get_approval(approval_id)
        run = None
        if approval.thread_id and approval.status == "pending":
            try:
                waiting = approval_id in _waiting_approvals(orch, approval.thread_id)
            except NotFound:
                waiting = False
            except ConfigError as exc:  # a graph this process does not know
                waiting = False
                note = (
                    f"decision recorded; the run {approval.thread_id} waits in a graph this "
                    f"process does not know ({exc}); resume it where it is registered "
                    f"(Orchestrator.resume({approval.thread_id!r})) or name the graph in "
                    "ORCH_RUNTIME__GRAPHS"
                )
            if waiting:
                run = orch.resume(
                    approval.thread_id, {**decision, "approval_id": approval_id}, by=who
                )
        if run is None:
            orch.decide(approval_id, decision, by=who)
        approval = orch.service.get_approval(approval_id)
    if as_json:
        payload: dict[str, Any] = {
            "approval": _dump(approval),
            "run": _dump(run) if run is not None else None,
        }
        if note:
            payload["note"] = note
        _emit(payload)
        return
    typer.echo(_approval_line(approval))
    typer.echo(f"    {approval.status} by {approval.decided_by}")
    if run is not None:
        typer.echo(f"run {run.thread_id} ({run.graph}) resumed: {run.status}")
        for item in run.interrupts:
            typer.echo(f"    waits for: {json.dumps(item['value'], default=str)}")
    if note:
        typer.echo(note)


def _json_object(text: str) -> dict[str, Any]:
    """`--args` as a JSON object, or a `ConfigError` saying what is wrong with it."""
    from orchestrator.errors import ConfigError

    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"--args is not valid JSON ({exc.msg} at column {exc.colno}); pass a JSON object "
            """such as '{"sku": "A1", "delta": -40, ...}'"""
        ) from exc
    if not isinstance(value, dict):
        raise ConfigError("--args must be a JSON object of the tool's complete arguments")
    return value


def _waiting_approvals(orch: Any, thread_id: str) -> set[int]:
    """The approvals run `thread_id` is paused on."""
    state = orch.state(thread_id)
    return {
        int(i["value"]["approval_id"])
        for i in state.interrupts
        if isinstance(i.get("value"), dict) and i["value"].get("kind") == "approval_required"
    }


@approvals_app.command("approve")
def approvals_approve(
    approval_id: int,
    db: str | None = _DB,
    by: str | None = _BY,
    note: str = typer.Option("", "--note", help="Why (recorded with the decision)."),
    as_json: bool = _JSON,
) -> None:
    """Approve a write as asked; a run waiting on it resumes and performs it once."""
    _decide(db, approval_id, {"decision": "approve", "note": note}, by, as_json)


@approvals_app.command("reject")
def approvals_reject(
    approval_id: int,
    note: str = typer.Option(..., "--note", help="Why (the agent is told)."),
    db: str | None = _DB,
    by: str | None = _BY,
    as_json: bool = _JSON,
) -> None:
    """Reject a write; a run waiting on it resumes without it."""
    _decide(db, approval_id, {"decision": "reject", "note": note}, by, as_json)


@approvals_app.command("edit")
def approvals_edit(
    approval_id: int,
    args: str = typer.Option(
        ..., "--args", help="The complete new arguments as a JSON object, e.g. '{\"delta\": -40}'."
    ),
    db: str | None = _DB,
    by: str | None = _BY,
    note: str = typer.Option("", "--note", help="Why (recorded with the decision)."),
    as_json: bool = _JSON,
) -> None:
    """Approve a write with changed arguments (validated like any call)."""
    _decide(db, approval_id, {"decision": "edit", "arguments": args, "note": note}, by, as_json)


# -- runs --------------------------------------------------------------------------------


@runs_app.command("list")
def runs_list(
    db: str | None = _DB,
    status: str | None = typer.Option(
        None, "--status", help="running, waiting, completed or failed."
    ),
    graph: str | None = typer.Option(None, "--graph", help="Only runs of this graph."),
    limit: int = typer.Option(50, "--limit", min=1, max=1000),
    as_json: bool = _JSON,
) -> None:
    """List runs, most recently active first."""
    with _orchestrator(db) as orch:
        rows = orch.runs.list(status=status, graph=graph, limit=limit)
    if as_json:
        for row in rows:
            _emit(_dump(row))
        return
    if not rows:
        typer.echo("no runs")
    for row in rows:
        who = f"customer {row.customer_id}" if row.customer_id else row.actor
        typer.echo(
            f"{row.thread_id}  {row.graph:14} {row.status:9} {who}  "
            f"{row.updated_at:%Y-%m-%d %H:%M:%S}" + (f"  {row.error}" if row.error else "")
        )


@runs_app.command("show")
def runs_show(thread_id: str, db: str | None = _DB, as_json: bool = _JSON) -> None:
    """Show a run: status, what it waits for, its state and what it did (audit trail)."""
    with _orchestrator(db) as orch:
        state = orch.state(thread_id)
    if as_json:
        _emit(json.loads(state.model_dump_json()))
        return
    run = state.run
    typer.echo(f"{run.thread_id}: {run.graph}, {run.status}, for {run.actor}")
    for item in state.interrupts:
        typer.echo(f"  waits for: {json.dumps(item['value'], default=str)}")
    if state.next:
        typer.echo(f"  next: {', '.join(state.next)}")
    typer.echo(f"  state keys: {', '.join(sorted(state.values)) or '-'}")
    typer.echo(f"  {len(state.audit)} audited call(s):")
    for entry in reversed(state.audit):
        typer.echo(
            f"    {entry.at:%H:%M:%S} {entry.outcome:17} {entry.tool or entry.operation} "
            f"{json.dumps(entry.arguments, default=str)[:100]}"
        )


@runs_app.command("resume")
def runs_resume(thread_id: str, db: str | None = _DB, as_json: bool = _JSON) -> None:
    """Continue a run that stopped (its process died), or whose approvals were decided."""
    with _orchestrator(db) as orch:
        run = orch.resume(thread_id)
    if as_json:
        _emit(_dump(run))
        return
    typer.echo(f"run {run.thread_id} ({run.graph}): {run.status}")
    for item in run.interrupts:
        typer.echo(f"    waits for: {json.dumps(item['value'], default=str)}")


def register(app: typer.Typer) -> None:
    """Add the `approvals` and `runs` command groups to `app`."""
    app.add_typer(approvals_app, name="approvals")
    app.add_typer(runs_app, name="runs")
