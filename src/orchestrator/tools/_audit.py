"""Audit rows for what the tool layer refuses or reads (the services audit their own writes)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orchestrator.tools._core import ToolContext

__all__ = ["record_tool_audit"]

_log = logging.getLogger("orchestrator.tools")


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
    record) and, when configured, reads, through `StoreService.record_audit`.

    Args:
        ctx: the run context (service, actor, agent).
        tool: the tool name (the audit row's operation).
        arguments: the call's arguments.
        outcome: `denied` for refusals, `ok` for audited reads.
        reason: why (the refusal's reason).
        error: the refusal's message.
    """
    try:
        ctx.service.record_audit(
            tool,
            arguments,
            actor=ctx.make_actor(),
            outcome=outcome,
            reason=reason,
            error=error,
        )
    except Exception as exc:
        # The refusal the caller gets matters more than the audit row of it; the store makes
        # every recorded value writable, so this is the store being unreachable.
        _log.warning("audit row for tool %s not written: %s", tool[:64], type(exc).__name__)
