"""`StoreService`: every domain's writes and the reads, on one object."""

from __future__ import annotations

from orchestrator.store.services.approvals import ApprovalsMixin
from orchestrator.store.services.integrations import IntegrationsMixin
from orchestrator.store.services.orders import OrdersMixin
from orchestrator.store.services.payments import PaymentsMixin
from orchestrator.store.services.policy import PolicyMixin
from orchestrator.store.services.prices import PricesMixin
from orchestrator.store.services.procurement import ProcurementMixin
from orchestrator.store.services.reads import ReadsMixin
from orchestrator.store.services.returns import ReturnsMixin
from orchestrator.store.services.tickets import TicketsMixin

__all__ = ["StoreService"]


class StoreService(
    OrdersMixin,
    PaymentsMixin,
    ReturnsMixin,
    TicketsMixin,
    ProcurementMixin,
    PolicyMixin,
    IntegrationsMixin,
    ApprovalsMixin,
    PricesMixin,
    ReadsMixin,
):
    """The one way to read and change the operations store.

    Every write takes keyword-only `actor` and `idempotency_key` (and `approval_id` where
    approvals apply), runs as one audited transaction and returns a pydantic view; reads
    return views too. See docs/services.md.

    Example:
        >>> svc = StoreService(engine, settings=settings)  # doctest: +SKIP
        >>> svc.reserve("ARD-UNO-R3", "WH-MAIN", 2, actor=Actor("alice"))  # doctest: +SKIP
    """
