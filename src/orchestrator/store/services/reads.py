"""Reads: plain pydantic views, one short transaction each, nothing written."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.engine import Connection

from orchestrator.errors import InvalidInput, NotFound, UnknownSku
from orchestrator.store.models import ApprovalStatus, IntegrationTxnStatus, ReservationStatus
from orchestrator.store.services._core import (
    APPROVAL,
    AUDIT,
    CUSTOMER,
    HINTS,
    INTEGRATION,
    LEDGER,
    OFFER,
    ORDERS,
    PO,
    PO_LINE,
    PRODUCT,
    RESERVATION,
    RETURN_LINE,
    RETURNS,
    STOCK,
    SUPPLIER,
    TICKET,
    _Core,
    check_cents,
    check_choice,
    check_code,
    check_filter,
    check_id,
    check_text,
)
from orchestrator.store.services.orders import order_view
from orchestrator.store.services.stock import reservation_view, stock_view
from orchestrator.store.services.views import (
    ApprovalView,
    AuditEntryView,
    CustomerView,
    IntegrationTxnView,
    LedgerEntryView,
    OrderView,
    POLineView,
    ProductView,
    PurchaseOrderView,
    ReservationView,
    ReturnLineView,
    ReturnView,
    StockView,
    SupplierOfferView,
    SupplierView,
    TicketView,
)

__all__ = ["ReadsMixin"]

MAX_LIMIT = 10_000


def _limit(value: object, maximum: int = MAX_LIMIT) -> int:
    if type(value) is not int or not 1 <= value <= maximum:
        raise InvalidInput("limit", value, f"expected an integer 1..{maximum}")
    return value


def _fields(view: type[Any], row: Any) -> dict[str, Any]:
    return {k: row[k] for k in view.model_fields if k in row}


class ReadsMixin(_Core):
    """Read-only queries."""

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        # On SQLite a deferred transaction: a snapshot read that never takes the write lock.
        with self.engine.connect() as conn:
            conn = conn.execution_options(sqlite_begin="DEFERRED")
            with conn.begin():
                yield conn

    # -- catalogue --------------------------------------------------------------------------

    def get_product(self, sku: str) -> ProductView:
        """The catalogue entry of `sku`.

        Raises:
            UnknownSku: no such product.
        """
        check_code("sku", sku)
        with self._read() as conn:
            row = conn.execute(select(PRODUCT).where(PRODUCT.c.sku == sku)).mappings().first()
        if row is None:
            raise UnknownSku(sku)
        return ProductView(**_fields(ProductView, row))

    def search_products(
        self,
        query: str = "",
        *,
        category: str | None = None,
        min_price_cents: int | None = None,
        max_price_cents: int | None = None,
        limit: int = 20,
    ) -> list[ProductView]:
        """Active products whose SKU, name or description contains every word of `query`.

        Args:
            query: words to look for (case-insensitive); empty matches everything.
            category: only this category.
            min_price_cents: only products at least this price.
            max_price_cents: only products at most this price.
            limit: at most this many, ordered by name.
        """
        check_text("query", query, max_len=200)
        _limit(limit)
        stmt: Select[Any] = select(PRODUCT).where(PRODUCT.c.active.is_(True))
        for word in query.split():
            pattern = f"%{word.lower()}%"
            stmt = stmt.where(
                or_(
                    func.lower(PRODUCT.c.sku).like(pattern),
                    func.lower(PRODUCT.c.name).like(pattern),
                    func.lower(PRODUCT.c.description).like(pattern),
                )
            )
        if category is not None:
            check_text("category", category, max_len=64)
            stmt = stmt.where(PRODUCT.c.category == category)
        if min_price_cents is not None:
            check_cents("min_price_cents", min_price_cents, allow_zero=True)
            stmt = stmt.where(PRODUCT.c.price_cents >= min_price_cents)
        if max_price_cents is not None:
            check_cents("max_price_cents", max_price_cents, allow_zero=True)
            stmt = stmt.where(PRODUCT.c.price_cents <= max_price_cents)
        with self._read() as conn:
            rows = conn.execute(stmt.order_by(PRODUCT.c.name, PRODUCT.c.sku).limit(limit))
            return [ProductView(**_fields(ProductView, r)) for r in rows.mappings()]

    def similar_products(self, sku: str, limit: int = 5) -> list[ProductView]:
        """Active products in the same category as `sku`, nearest in price first."""
        ref = self.get_product(sku)
        _limit(limit)
        with self._read() as conn:
            rows = conn.execute(
                select(PRODUCT)
                .where(
                    PRODUCT.c.category == ref.category,
                    PRODUCT.c.sku != sku,
                    PRODUCT.c.active.is_(True),
                )
                .order_by(func.abs(PRODUCT.c.price_cents - ref.price_cents), PRODUCT.c.sku)
                .limit(limit)
            )
            return [ProductView(**_fields(ProductView, r)) for r in rows.mappings()]

    # -- stock ------------------------------------------------------------------------------

    def get_stock(self, sku: str, location: str | None = None) -> list[StockView]:
        """Stock levels of `sku`: one view per location (just `location` when given).

        Raises:
            UnknownSku: no such product.
        """
        check_code("sku", sku)
        stmt = select(STOCK).where(STOCK.c.sku == sku)
        if location is not None:
            check_code("location", location, max_len=32)
            stmt = stmt.where(STOCK.c.location == location)
        with self._read() as conn:
            rows = list(conn.execute(stmt.order_by(STOCK.c.location)))
            if not rows:
                self._product(conn, sku)
                if location is not None:
                    self._location(conn, location)
        return [stock_view(r.sku, r.location, r) for r in rows]

    def low_stock(self, location: str | None = None, limit: int = 50) -> list[StockView]:
        """Stock rows at or below their reorder point (or with nothing available), worst first."""
        _limit(limit)
        available = STOCK.c.on_hand - STOCK.c.reserved
        threshold = func.coalesce(STOCK.c.reorder_point, 0)
        stmt = select(STOCK).where(available <= threshold)
        if location is not None:
            check_code("location", location, max_len=32)
            stmt = stmt.where(STOCK.c.location == location)
        stmt = stmt.order_by(available - threshold, STOCK.c.sku, STOCK.c.location).limit(limit)
        with self._read() as conn:
            return [stock_view(r.sku, r.location, r) for r in conn.execute(stmt)]

    def list_reservations(
        self,
        *,
        sku: str | None = None,
        location: str | None = None,
        order_id: int | None = None,
        status: str | None = ReservationStatus.OPEN,
        limit: int = 100,
    ) -> list[ReservationView]:
        """Reservations, newest first; by default the open ones."""
        _limit(limit)
        stmt = select(RESERVATION)
        if sku is not None:
            stmt = stmt.where(RESERVATION.c.sku == check_code("sku", sku))
        if location is not None:
            stmt = stmt.where(RESERVATION.c.location == check_code("location", location))
        if order_id is not None:
            stmt = stmt.where(RESERVATION.c.order_id == check_id("order_id", order_id))
        if status is not None:
            check_choice("status", status, tuple(s.value for s in ReservationStatus))
            stmt = stmt.where(RESERVATION.c.status == status)
        with self._read() as conn:
            rows = conn.execute(stmt.order_by(RESERVATION.c.id.desc()).limit(limit)).mappings()
            return [reservation_view(r) for r in rows]

    def stock_ledger(
        self, sku: str, location: str | None = None, *, limit: int = 100
    ) -> list[LedgerEntryView]:
        """The newest ledger rows of `sku` (at `location`)."""
        check_code("sku", sku)
        _limit(limit)
        stmt = select(LEDGER).where(LEDGER.c.sku == sku)
        if location is not None:
            stmt = stmt.where(LEDGER.c.location == check_code("location", location))
        with self._read() as conn:
            rows = conn.execute(stmt.order_by(LEDGER.c.id.desc()).limit(limit)).mappings()
            return [LedgerEntryView(**_fields(LedgerEntryView, r)) for r in rows]

    # -- customers and orders ---------------------------------------------------------------

    def get_order(self, order_id: int) -> OrderView:
        """An order with its lines and their reserved units.

        Raises:
            NotFound: no such order.
        """
        check_id("order_id", order_id)
        with self._read() as conn:
            return order_view(conn, order_id)

    def customer_orders(self, customer_id: int, limit: int = 20) -> list[OrderView]:
        """A customer's orders, newest first."""
        check_id("customer_id", customer_id)
        _limit(limit)
        with self._read() as conn:
            ids = conn.execute(
                select(ORDERS.c.id)
                .where(ORDERS.c.customer_id == customer_id)
                .order_by(ORDERS.c.created_at.desc(), ORDERS.c.id.desc())
                .limit(limit)
            ).scalars()
            return [order_view(conn, i) for i in list(ids)]

    def get_customer(self, customer_id: int) -> CustomerView:
        """A customer's record (personal data).

        Raises:
            NotFound: no such customer.
        """
        check_id("customer_id", customer_id)
        with self._read() as conn:
            row = conn.execute(select(CUSTOMER).where(CUSTOMER.c.id == customer_id)).mappings()
            found = row.first()
        if found is None:
            raise NotFound("customer", customer_id, HINTS["customer"])
        return CustomerView(**_fields(CustomerView, found))

    def get_return(self, return_id: int) -> ReturnView:
        """A return with its lines.

        Raises:
            NotFound: no such return.
        """
        check_id("return_id", return_id)
        with self._read() as conn:
            return return_view(conn, return_id)

    def get_ticket(self, ticket_id: int) -> TicketView:
        """A support ticket.

        Raises:
            NotFound: no such ticket.
        """
        check_id("ticket_id", ticket_id)
        with self._read() as conn:
            row = conn.execute(select(TICKET).where(TICKET.c.id == ticket_id)).mappings().first()
        if row is None:
            raise NotFound("ticket", ticket_id, HINTS["ticket"])
        return TicketView(**_fields(TicketView, row))

    # -- suppliers and purchase orders ------------------------------------------------------

    def list_suppliers(self, sku: str | None = None) -> list[SupplierView]:
        """Active suppliers, or those with an active offer for `sku`."""
        stmt = select(SUPPLIER).where(SUPPLIER.c.active.is_(True))
        if sku is not None:
            check_code("sku", sku)
            offered = select(OFFER.c.supplier_id).where(
                OFFER.c.sku == sku, OFFER.c.active.is_(True)
            )
            stmt = stmt.where(SUPPLIER.c.id.in_(offered))
        with self._read() as conn:
            rows = conn.execute(stmt.order_by(SUPPLIER.c.name)).mappings()
            return [SupplierView(**_fields(SupplierView, r)) for r in rows]

    def supplier_offers(self, sku: str) -> list[SupplierOfferView]:
        """Active offers for `sku`, cheapest first."""
        check_code("sku", sku)
        with self._read() as conn:
            rows = conn.execute(
                select(OFFER, SUPPLIER.c.name.label("supplier_name"))
                .join(SUPPLIER, SUPPLIER.c.id == OFFER.c.supplier_id)
                .where(OFFER.c.sku == sku, OFFER.c.active.is_(True), SUPPLIER.c.active.is_(True))
                .order_by(OFFER.c.unit_cost_cents, OFFER.c.lead_time_days, OFFER.c.id)
            ).mappings()
            return [SupplierOfferView(**_fields(SupplierOfferView, r)) for r in rows]

    def get_purchase_order(self, po_id: int) -> PurchaseOrderView:
        """A purchase order with its lines.

        Raises:
            NotFound: no such purchase order.
        """
        check_id("po_id", po_id)
        with self._read() as conn:
            return purchase_order_view(conn, po_id)

    # -- integrations, approvals, audit -----------------------------------------------------

    def list_integration_transactions(
        self,
        status: str | None = None,
        older_than: datetime | None = None,
        limit: int = 100,
    ) -> list[IntegrationTxnView]:
        """Integration transactions, oldest first; `older_than` keeps those created before it."""
        _limit(limit)
        stmt = select(INTEGRATION)
        if status is not None:
            check_choice("status", status, tuple(s.value for s in IntegrationTxnStatus))
            stmt = stmt.where(INTEGRATION.c.status == status)
        if older_than is not None:
            if not isinstance(older_than, datetime) or older_than.tzinfo is None:
                raise InvalidInput("older_than", older_than, "expected an aware UTC datetime")
            stmt = stmt.where(INTEGRATION.c.created_at < older_than)
        with self._read() as conn:
            rows = conn.execute(
                stmt.order_by(INTEGRATION.c.created_at, INTEGRATION.c.id).limit(limit)
            ).mappings()
            return [IntegrationTxnView(**_fields(IntegrationTxnView, r)) for r in rows]

    def get_integration_transaction(self, txn_id: int) -> IntegrationTxnView:
        """One integration transaction.

        Raises:
            NotFound: no such transaction.
        """
        check_id("txn_id", txn_id)
        with self._read() as conn:
            row = (
                conn.execute(select(INTEGRATION).where(INTEGRATION.c.id == txn_id))
                .mappings()
                .first()
            )
        if row is None:
            raise NotFound("integration transaction", txn_id, HINTS["integration transaction"])
        return IntegrationTxnView(**_fields(IntegrationTxnView, row))

    def pending_approvals(
        self, limit: int = 100, *, thread_id: str | None = None
    ) -> list[ApprovalView]:
        """Approvals waiting for a human decision, oldest first (of one thread, if given)."""
        _limit(limit)
        check_filter("thread_id", thread_id)
        stmt = select(APPROVAL).where(APPROVAL.c.status == ApprovalStatus.PENDING.value)
        if thread_id is not None:
            stmt = stmt.where(APPROVAL.c.thread_id == thread_id)
        with self._read() as conn:
            rows = conn.execute(stmt.order_by(APPROVAL.c.id).limit(limit)).mappings()
            return [ApprovalView(**_fields(ApprovalView, r)) for r in rows]

    def approvals(
        self,
        *,
        status: str | None = None,
        thread_id: str | None = None,
        idempotency_key: str | None = None,
        limit: int = 100,
    ) -> list[ApprovalView]:
        """Approvals of any status, newest first, filtered by status, thread or call key."""
        _limit(limit)
        for name, value in (
            ("status", status),
            ("thread_id", thread_id),
            ("idempotency_key", idempotency_key),
        ):
            check_filter(name, value)
        stmt = select(APPROVAL)
        if status is not None:
            stmt = stmt.where(APPROVAL.c.status == status)
        if thread_id is not None:
            stmt = stmt.where(APPROVAL.c.thread_id == thread_id)
        if idempotency_key is not None:
            stmt = stmt.where(APPROVAL.c.idempotency_key == idempotency_key)
        with self._read() as conn:
            rows = conn.execute(stmt.order_by(APPROVAL.c.id.desc()).limit(limit)).mappings()
            return [ApprovalView(**_fields(ApprovalView, r)) for r in rows]

    def get_approval(self, approval_id: int) -> ApprovalView:
        """One approval.

        Raises:
            NotFound: no such approval.
        """
        check_id("approval_id", approval_id)
        with self._read() as conn:
            row = (
                conn.execute(select(APPROVAL).where(APPROVAL.c.id == approval_id))
                .mappings()
                .first()
            )
        if row is None:
            raise NotFound("approval", approval_id, HINTS["approval"])
        return ApprovalView(**_fields(ApprovalView, row))

    def audit_log(
        self,
        *,
        operation: str | None = None,
        actor: str | None = None,
        outcome: str | None = None,
        idempotency_key: str | None = None,
        thread_id: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> list[AuditEntryView]:
        """Audit rows, newest first, filtered by operation, actor, outcome, key, thread or time.

        `thread_id` answers "what did run X do" with one indexed query.
        """
        _limit(limit)
        for name, value in (
            ("operation", operation),
            ("actor", actor),
            ("outcome", outcome),
            ("idempotency_key", idempotency_key),
            ("thread_id", thread_id),
        ):
            check_filter(name, value)
        if since is not None and not isinstance(since, datetime):
            raise InvalidInput("since", type(since).__name__, "expected a datetime (UTC)")
        stmt = select(AUDIT)
        if thread_id is not None:
            stmt = stmt.where(AUDIT.c.thread_id == thread_id)
        if operation is not None:
            stmt = stmt.where(AUDIT.c.operation == operation)
        if actor is not None:
            stmt = stmt.where(AUDIT.c.actor == actor)
        if outcome is not None:
            stmt = stmt.where(AUDIT.c.outcome == outcome)
        if idempotency_key is not None:
            stmt = stmt.where(AUDIT.c.idempotency_key == idempotency_key)
        if since is not None:
            stmt = stmt.where(AUDIT.c.at >= since)
        with self._read() as conn:
            rows = conn.execute(stmt.order_by(AUDIT.c.id.desc()).limit(limit)).mappings()
            return [AuditEntryView(**_fields(AuditEntryView, r)) for r in rows]


def return_view(conn: Connection, return_id: int) -> ReturnView:
    """A `ReturnView` read in `conn`."""
    row = conn.execute(select(RETURNS).where(RETURNS.c.id == return_id)).mappings().first()
    if row is None:
        raise NotFound("return", return_id, HINTS["return"])
    lines = conn.execute(
        select(RETURN_LINE).where(RETURN_LINE.c.return_id == return_id).order_by(RETURN_LINE.c.id)
    ).mappings()
    return ReturnView(
        **{k: row[k] for k in ReturnView.model_fields if k not in ("lines", "replayed")},
        lines=[ReturnLineView(**_fields(ReturnLineView, ln)) for ln in lines],
    )


def purchase_order_view(conn: Connection, po_id: int) -> PurchaseOrderView:
    """A `PurchaseOrderView` read in `conn`."""
    row = conn.execute(select(PO).where(PO.c.id == po_id)).mappings().first()
    if row is None:
        raise NotFound("purchase order", po_id, HINTS["purchase order"])
    lines = conn.execute(
        select(PO_LINE).where(PO_LINE.c.purchase_order_id == po_id).order_by(PO_LINE.c.id)
    ).mappings()
    return PurchaseOrderView(
        **{k: row[k] for k in PurchaseOrderView.model_fields if k not in ("lines", "replayed")},
        lines=[POLineView(**_fields(POLineView, ln)) for ln in lines],
    )
