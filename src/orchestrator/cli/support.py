"""`orchestrator support chat`: talk to the support graph as one customer, turn by turn.

```
orchestrator support chat --customer ID [--thread T] (--message TEXT | --script FILE)
                          [--yes | --no] [--model ID] [--db URL] [--json]
```

Each message is one turn of the thread (a new thread unless `--thread` names one, so a
conversation can go on across invocations). When a turn would write (cancel, modify, return),
the graph shows what would change and waits for the customer's yes: `--yes` / `--no` answer
it; without them the run stays waiting, and the next message of the thread answers it (`yes`
or `no`; any other message declines and is handled as a new request). In a `--script` file
(one message a line, `#` comments), a line `yes` or `no` answers the confirmation before it.

With `--json`, one JSON object per turn on stdout:
`{"thread_id", "message", "status", "reply", "specialist", "intent", "tool_calls": [{"name",
"arguments", "outcome"}], "awaiting_confirmation": {"action", "arguments", "question",
"changes"} | null}`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import typer

from orchestrator.cli._common import DB_OPTION

__all__ = ["chat", "chat_turns", "register", "support_app"]

support_app = typer.Typer(
    name="support", help="Customer support: chat with the support graph.", no_args_is_help=True
)

_ANSWERS = {"yes": "yes", "y": "yes", "no": "no", "n": "no"}


def _confirmation(result: Any) -> dict[str, Any] | None:
    for item in result.interrupts:
        value = item.get("value")
        if isinstance(value, Mapping) and value.get("kind") == "confirm":
            return {k: value.get(k) for k in ("action", "arguments", "question", "changes")}
    return None


def _row(message: str, result: Any) -> dict[str, Any]:
    values = result.values
    waiting = _confirmation(result) if result.status == "waiting" else None
    return {
        "thread_id": result.thread_id,
        "message": message,
        "status": result.status,
        "reply": waiting["question"] if waiting else values.get("reply", ""),
        "specialist": values.get("specialist") or (values.get("route") or {}).get("specialist"),
        "intent": values.get("intent"),
        "tool_calls": values.get("tool_calls", []),
        "awaiting_confirmation": waiting,
    }


def _waiting_for_confirmation(orch: Any, thread: str | None) -> bool:
    if thread is None:
        return False
    from orchestrator.errors import NotFound

    try:
        state = orch.state(thread)
    except NotFound:
        return False
    return any(
        isinstance(i.get("value"), Mapping) and i["value"].get("kind") == "confirm"
        for i in state.interrupts
    )


def chat_turns(
    orch: Any,
    customer_id: int,
    messages: list[str],
    *,
    thread_id: str | None = None,
    answer: bool | None = None,
) -> list[dict[str, Any]]:
    """Run `messages` as turns of one support conversation; one row per turn (see module doc).

    Args:
        orch: an `Orchestrator`.
        customer_id: the authenticated customer.
        messages: the customer's messages; `yes` / `no` answer a waiting confirmation.
        thread_id: the conversation; default a new one.
        answer: answer every confirmation with yes (True) or no (False); None leaves the last
            one waiting.
    """
    from orchestrator.runtime import RunContext

    context = RunContext(actor=f"customer:{customer_id}", customer_id=customer_id, channel="cli")
    rows: list[dict[str, Any]] = []
    thread = thread_id
    for message in messages:
        reply = _ANSWERS.get(message.strip().lower().rstrip(".!"))
        if _waiting_for_confirmation(orch, thread):
            assert thread is not None
            result = orch.resume(thread, reply or "no")
            if reply is not None:
                rows.append(_row(message, result))
                continue
        result = orch.run("support", {"message": message}, context=context, thread_id=thread)
        thread = result.thread_id
        if answer is not None and _confirmation(result) is not None:
            rows.append(_row(message, result))
            result = orch.resume(thread, "yes" if answer else "no")
            message = "yes" if answer else "no"
        rows.append(_row(message, result))
    return rows


def _script(path: Path) -> list[str]:
    from orchestrator.errors import ConfigError

    if not path.is_file():
        raise ConfigError(f"--script {str(path)!r}: no such file")
    lines = [line.strip() for line in path.read_text().splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


@support_app.command("chat")
def chat(
    customer: int = typer.Option(..., "--customer", help="The authenticated customer's id."),
    thread: str | None = typer.Option(None, "--thread", help="Continue this conversation."),
    message: str | None = typer.Option(None, "--message", help="One message."),
    script: Path | None = typer.Option(None, "--script", help="A file of messages, one a line."),
    answer: bool | None = typer.Option(
        None, "--yes/--no", help="Answer the customer's confirmation of a write."
    ),
    model: str | None = typer.Option(
        None, "--model", help="A provider:model id for every node (e.g. none:rules)."
    ),
    db: str | None = DB_OPTION,
    as_json: bool = typer.Option(False, "--json", help="One JSON object per turn."),
) -> None:
    """Chat with the support graph as one customer; each message is one turn."""
    from orchestrator.cli._common import open_store, settings_for
    from orchestrator.errors import ConfigError
    from orchestrator.runtime import Orchestrator

    settings = settings_for(db)  # a bad setting or store is reported before anything else
    with open_store(settings, create=False):
        pass  # SchemaMissing (exit 4) with the fix, rather than an empty store made here
    if (message is None) == (script is None):
        raise ConfigError("give exactly one of --message TEXT or --script FILE")
    messages = [message] if message is not None else _script(script)  # type: ignore[arg-type]
    if model is not None:
        settings = settings.model_copy(
            update={"models": settings.models.model_copy(update={"default": model})}
        )
    with ExitStack() as stack:
        from orchestrator.backends.local.server import ensure_local_server

        stack.enter_context(ensure_local_server(settings))  # only if the routed model needs it
        orch = stack.enter_context(Orchestrator(settings))
        rows = chat_turns(orch, customer, messages, thread_id=thread, answer=answer)
    for row in rows:
        if as_json:
            typer.echo(json.dumps(row, default=str))
            continue
        typer.echo(f"you> {row['message']}")
        typer.echo(f"[{row['specialist'] or '-'}] {row['reply']}")
        if row["awaiting_confirmation"]:
            for change in row["awaiting_confirmation"]["changes"] or []:
                typer.echo(f"  would change: {change}")
            typer.echo(
                f"  answer with: orchestrator support chat --customer {customer} "
                f"--thread {row['thread_id']} --message yes|no"
            )


def register(app: typer.Typer) -> None:
    """Add the `support` command group to `app`."""
    app.add_typer(support_app, name="support")
