"""Auditor tools: stuck integration transactions, stale reservations, duplicate postings,
stock rows whose books do not balance."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from pydantic import Field

from orchestrator.errors import InvalidInput
from orchestrator.store.models import utcnow
from orchestrator.store.services.views import (
    IntegrationTxnView,
    ReservationView,
    ReversalView,
    StockView,
)
from orchestrator.tools._core import ToolContext, tool
from orchestrator.tools.types import MAX_QTY, Id, IntegrationTxnList, LocationCode, Reason, Sku

__all__ = [
    "TOOLS",
    "correct_stock",
    "list_integration_transactions",
    "release_reservation",
    "reprocess_transaction",
    "reverse_duplicate_posting",
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


@tool(access="write", scope="audit")
def reverse_duplicate_posting(ctx: ToolContext, txn_id: Id, reason: Reason) -> ReversalView:
    """Reverse the extra ledger posting of an integration transaction posted more than once.

    Large reversals need a human's approval first.

    Args:
        txn_id: the integration transaction's id.
        reason: why, e.g. "the ERP feed replayed receipt R-1".
    """
    return ctx.service.reverse_duplicate_posting(txn_id, reason=reason, **ctx.approval_options())


@tool(access="write", scope="audit")
def correct_stock(
    ctx: ToolContext,
    sku: Sku,
    location: LocationCode,
    reason: Reason,
    on_hand: Annotated[int, Field(ge=0, le=MAX_QTY)] | None = None,
    reserved: Annotated[int, Field(ge=0, le=MAX_QTY)] | Literal["recompute"] | None = None,
) -> StockView:
    """Set a stock row whose books do not balance to its counted or recomputed figures.

    on_hand: set to the counted units (the ledger gets the correcting row); reserved:
    "recompute" sets it to the sum of open reservations. Large corrections need approval.

    Args:
        sku: the product's SKU.
        location: the location code.
        reason: why, with the evidence, e.g. "cycle count found 12; ledger says 15".
        on_hand: the counted on-hand units, if correcting on-hand.
        reserved: "recompute" (or a number) if correcting reserved.
    """
    if on_hand is None and reserved is None:
        raise InvalidInput("on_hand", on_hand, "pass on_hand, reserved, or both")
    return ctx.service.correct_stock(
        sku, location, on_hand=on_hand, reserved=reserved, reason=reason, **ctx.approval_options()
    )


TOOLS = [
    list_integration_transactions,
    reprocess_transaction,
    set_transaction_status,
    release_reservation,
    reverse_duplicate_posting,
    correct_stock,
]
