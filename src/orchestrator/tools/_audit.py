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

    The service layer audits its own calls, refusals included; this records what the tool
    layer refuses before any service call (a tool outside the allow-list, another customer's
    record) and, when configured, reads. It writes the same `AuditLog` row the services write,
    through the service's engine.

    Args:
        ctx: the run context (service, actor, agent).
        tool: the tool name (the audit row's operation).
        arguments: the call's arguments.
        outcome: `denied` for refusals, `ok` for audited reads.
        reason: why (the refusal's reason).
        error: the refusal's message.
    """
    svc = ctx.service
    args = _jsonable(arguments)
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
