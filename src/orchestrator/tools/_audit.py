"""Audit rows for what the tool layer refuses or reads (the services audit their own writes)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orchestrator.tools._core import ToolContext

__all__ = ["record_tool_audit"]


def record_tool_audit(
    ctx: ToolContext,
    tool: str,
    arguments: Mapping[str, Any],
    *,
    outcome: str,
    reason: str = "",
    error: str | None = None,
) -> None:
    """Write one audit row for a tool call, in a transaction of its own.

    Uses the service layer's audit entry point when it has one (`record_audit`), else writes
    the `AuditLog` row through the service's engine.

    Args:
        ctx: the run context (service, actor, agent).
        tool: the tool name (the audit row's operation).
        arguments: the call's arguments.
        outcome: `denied` for refusals, `ok` for audited reads.
        reason: why (the refusal's reason).
        error: the refusal's message.
    """
    svc = ctx.service
    hook = getattr(svc, "record_audit", None)
    args = _jsonable(arguments)
    if callable(hook):
        hook(
            tool,
            actor=ctx.make_actor(),
            arguments=args,
            outcome=outcome,
            reason=reason[:500],
            error=error,
        )
        return
    from sqlmodel import Session

    from orchestrator.store.models import AuditLog

    with Session(svc.engine) as session:
        session.add(
            AuditLog(
                actor=ctx.actor_name[:64],
                agent=ctx.agent[:32],
                operation=tool[:64],
                arguments=args,
                outcome=outcome,
                reason=reason[:500],
                error=error,
            )
        )
        session.commit()


def _jsonable(arguments: Mapping[str, Any]) -> dict[str, Any]:
    import json

    return dict(json.loads(json.dumps(dict(arguments), default=str)))
