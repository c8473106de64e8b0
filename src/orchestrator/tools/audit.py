"""Auditor tools: stuck integration transactions and stale reservations."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from pydantic import Field

from orchestrator.store.models import utcnow
from orchestrator.store.services.views import IntegrationTxnView, ReservationView
from orchestrator.tools._core import ToolContext, tool
from orchestrator.tools.types import Id, IntegrationTxnList, Reason

__all__ = [
    "TOOLS",
    "list_integration_transactions",
    "release_reservation",
    "reprocess_transaction",
    "set_transaction_status",
]


@tool(access="read", scope="audit")
def list_integration_transactions(
    ctx: ToolContext,
    status: Literal["pending", "posted", "failed"] | None = None,
    older_than_minutes: Annotated[int, Field(ge=0, le=525_600)] | None = None,
    limit: Annotated[int, Field(ge=1, le=500)] = 100,
) -> IntegrationTxnList:
    """List stock movements reported by outside systems (POS, marketplace, ERP), oldest first.

    Args:
        status: only "pending", "posted" or "failed" ones.
        older_than_minutes: only those created more than this many minutes ago (stuck ones).
        limit: at most this many (1-500).
    """
    older_than = (
        utcnow() - timedelta(minutes=older_than_minutes) if older_than_minutes is not None else None
    )
    txns = list(
        ctx.service.list_integration_transactions(status=status, older_than=older_than, limit=limit)
    )
    return IntegrationTxnList(transactions=txns, count=len(txns))


@tool(access="write", scope="audit")
def reprocess_transaction(ctx: ToolContext, txn_id: Id) -> IntegrationTxnView:
    """Try again to post a failed or stuck pending integration transaction to the ledger.

    Args:
        txn_id: the integration transaction's id.
    """
    return ctx.service.reprocess_transaction(txn_id, **ctx.write_options())


@tool(access="write", scope="audit")
def set_transaction_status(
    ctx: ToolContext,
    txn_id: Id,
    status: Literal["pending", "posted", "failed"],
    reason: Reason,
) -> IntegrationTxnView:
    """Move an integration transaction to another status, as the status machine allows.

    Args:
        txn_id: the integration transaction's id.
        status: the new status: "pending", "posted" or "failed".
        reason: why, for the audit log.
    """
    return ctx.service.set_transaction_status(txn_id, status, reason=reason, **ctx.write_options())


@tool(access="write", scope="audit")
def release_reservation(ctx: ToolContext, reservation_id: Id, reason: Reason) -> ReservationView:
    """Release an open stock reservation that is stale or wrong, freeing its units.

    Args:
        reservation_id: the reservation's id.
        reason: why it is released, e.g. "order 17 was cancelled in the shop system".
    """
    return ctx.service.release_reservation(reservation_id, reason=reason, **ctx.write_options())


TOOLS = [
    list_integration_transactions,
    reprocess_transaction,
    set_transaction_status,
    release_reservation,
]
