"""`StoreService`: every domain's writes and the reads, on one object."""

from __future__ import annotations

from orchestrator.store.services.orders import OrdersMixin

__all__ = ["StoreService"]


class StoreService(OrdersMixin):
    """The one way to read and change the operations store.

    Every write takes keyword-only `actor` and `idempotency_key` (and `approval_id` where
    approvals apply), runs as one audited transaction, and returns a pydantic view.

    Example:
        >>> svc = StoreService(engine, settings=settings)  # doctest: +SKIP
        >>> svc.reserve("ARD-UNO-R3", "WH-MAIN", 2, actor=Actor("alice"))  # doctest: +SKIP
    """
