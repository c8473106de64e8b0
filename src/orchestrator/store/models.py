"""The operations store's schema (SQLModel tables).

Conventions:
- Money is integer cents (`*_cents`) in the store currency: exact on every engine.
- Quantities are integer units of the product's `unit`.
- Times are timezone-aware UTC datetimes.
- Status columns hold the values of the `StrEnum`s below; the allowed moves between them are
  in `TRANSITIONS` and are enforced by the services, never by callers.
- There are deliberately no CHECK constraints on stock quantities: anomalies that arrive from
  outside systems (negative stock, reserved above on hand) must be representable so that the
  auditor can find and fix them. The services guard every change they make.

Only `orchestrator.store.services` writes to these tables (the seed and import code writes
through bulk paths of its own that keep the same invariants).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, DateTime, Index, Integer, UniqueConstraint
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

__all__ = [
    "TRANSITIONS",
    "Approval",
    "ApprovalStatus",
    "AuditLog",
    "Customer",
    "GraphRun",
    "IdempotencyRecord",
    "IntegrationTransaction",
    "IntegrationTxnStatus",
    "InventoryPolicy",
    "InventoryPolicyHistory",
    "LedgerKind",
    "Location",
    "Order",
    "OrderLine",
    "OrderStatus",
    "Payment",
    "PaymentKind",
    "PriceHistory",
    "Product",
    "PurchaseOrder",
    "PurchaseOrderLine",
    "PurchaseOrderStatus",
    "Reservation",
    "ReservationStatus",
    "Return",
    "ReturnLine",
    "ReturnStatus",
    "Shipment",
    "ShipmentStatus",
    "Stock",
    "StockLedger",
    "Supplier",
    "SupplierOffer",
    "SupportTicket",
    "TicketStatus",
    "UTCDateTime",
    "utcnow",
]


def utcnow() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as UTC and always read back timezone-aware (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass an aware UTC datetime")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


# The ledger can outgrow 32 bits on PostgreSQL; SQLite only autoincrements INTEGER keys.
_BIG_ID = BigInteger().with_variant(Integer(), "sqlite")


def _json(**kw: Any) -> Any:
    return Field(sa_column=Column(JSON, nullable=False), **kw)


class OrderStatus(StrEnum):
    DRAFT = "draft"
    PLACED = "placed"
    """Placed and stock reserved."""
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


class ReservationStatus(StrEnum):
    OPEN = "open"
    COMMITTED = "committed"
    """Shipped: the reserved units left on-hand stock."""
    RELEASED = "released"


class PaymentKind(StrEnum):
    AUTHORIZATION = "authorization"
    CAPTURE = "capture"
    REFUND = "refund"


class ShipmentStatus(StrEnum):
    SHIPPED = "shipped"
    DELIVERED = "delivered"


class ReturnStatus(StrEnum):
    REQUESTED = "requested"
    RECEIVED = "received"
    REFUNDED = "refunded"
    REJECTED = "rejected"


class TicketStatus(StrEnum):
    OPEN = "open"
    PENDING = "pending"
    RESOLVED = "resolved"
    CLOSED = "closed"


class PurchaseOrderStatus(StrEnum):
    DRAFT = "draft"
    APPROVED = "approved"
    SENT = "sent"
    PARTIALLY_RECEIVED = "partially_received"
    RECEIVED = "received"
    CANCELLED = "cancelled"


class IntegrationTxnStatus(StrEnum):
    PENDING = "pending"
    POSTED = "posted"
    FAILED = "failed"


class ApprovalStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class LedgerKind(StrEnum):
    """Why on-hand stock changed; every ledger row has one."""

    OPENING = "opening"
    """Opening balance when a stock row is created or imported."""
    RECEIPT = "receipt"
    """Goods received (purchase order or integration)."""
    SALE = "sale"
    """Sold over the counter or shipped to a customer (historic sales too)."""
    SHIPMENT = "shipment"
    """An order's reservation committed and shipped."""
    ADJUSTMENT = "adjustment"
    """A counted correction with a reason (damage, shrinkage, cycle count)."""
    TRANSFER_OUT = "transfer_out"
    TRANSFER_IN = "transfer_in"
    RETURN = "return"
    """A customer return put back into stock."""
    CORRECTION = "correction"
    """The auditor's fix of a discrepancy."""


TRANSITIONS: dict[str, dict[str, frozenset[str]]] = {
    "order": {
        OrderStatus.DRAFT: frozenset({OrderStatus.PLACED, OrderStatus.CANCELLED}),
        OrderStatus.PLACED: frozenset({OrderStatus.SHIPPED, OrderStatus.CANCELLED}),
        OrderStatus.SHIPPED: frozenset({OrderStatus.DELIVERED, OrderStatus.CANCELLED}),
        OrderStatus.DELIVERED: frozenset(),
        OrderStatus.CANCELLED: frozenset(),
    },
    "purchase_order": {
        PurchaseOrderStatus.DRAFT: frozenset(
            {PurchaseOrderStatus.APPROVED, PurchaseOrderStatus.CANCELLED}
        ),
        PurchaseOrderStatus.APPROVED: frozenset(
            {PurchaseOrderStatus.SENT, PurchaseOrderStatus.CANCELLED}
        ),
        PurchaseOrderStatus.SENT: frozenset(
            {
                PurchaseOrderStatus.PARTIALLY_RECEIVED,
                PurchaseOrderStatus.RECEIVED,
                PurchaseOrderStatus.CANCELLED,
            }
        ),
        PurchaseOrderStatus.PARTIALLY_RECEIVED: frozenset(
            {PurchaseOrderStatus.PARTIALLY_RECEIVED, PurchaseOrderStatus.RECEIVED}
        ),
        PurchaseOrderStatus.RECEIVED: frozenset(),
        PurchaseOrderStatus.CANCELLED: frozenset(),
    },
    "return": {
        ReturnStatus.REQUESTED: frozenset({ReturnStatus.RECEIVED, ReturnStatus.REJECTED}),
        ReturnStatus.RECEIVED: frozenset({ReturnStatus.REFUNDED}),
        ReturnStatus.REFUNDED: frozenset(),
        ReturnStatus.REJECTED: frozenset(),
    },
    "integration_transaction": {
        IntegrationTxnStatus.PENDING: frozenset(
            {IntegrationTxnStatus.POSTED, IntegrationTxnStatus.FAILED}
        ),
        IntegrationTxnStatus.FAILED: frozenset(
            {IntegrationTxnStatus.PENDING, IntegrationTxnStatus.POSTED}
        ),
        IntegrationTxnStatus.POSTED: frozenset(),
    },
    "ticket": {
        TicketStatus.OPEN: frozenset(
            {TicketStatus.PENDING, TicketStatus.RESOLVED, TicketStatus.CLOSED}
        ),
        TicketStatus.PENDING: frozenset(
            {TicketStatus.OPEN, TicketStatus.RESOLVED, TicketStatus.CLOSED}
        ),
        TicketStatus.RESOLVED: frozenset({TicketStatus.CLOSED, TicketStatus.OPEN}),
        TicketStatus.CLOSED: frozenset(),
    },
}
"""Allowed status moves per entity: `TRANSITIONS[entity][current]` is the set of targets."""


# --- catalogue and locations -------------------------------------------------------------


class Product(SQLModel, table=True):
    """A sellable item, keyed by SKU."""

    __tablename__ = "product"

    sku: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200, index=True)
    category: str = Field(max_length=64, index=True)
    unit: str = Field(default="each", max_length=16)
    price_cents: int = Field(ge=0)
    cost_cents: int = Field(ge=0)
    description: str = Field(default="")
    perishable: bool = False
    shelf_life_days: int | None = None
    weight_grams: int = Field(default=500, ge=0)
    active: bool = True
    attributes: dict[str, Any] = _json(default_factory=dict)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class PriceHistory(SQLModel, table=True):
    """Append-only: one row per change of a product's list price, never updated or deleted.

    Written by `StoreService.set_price` in the same transaction as the change; the product's
    price at any time is the `new_price_cents` of its last row before then (or, before its
    first row, that row's `old_price_cents`).
    """

    __tablename__ = "price_history"
    __table_args__ = (Index("ix_price_history_sku_at", "sku", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    sku: str = Field(foreign_key="product.sku", max_length=64)
    old_price_cents: int
    new_price_cents: int
    cost_cents: int
    """The unit cost when the price was set (what the margin floor was computed from)."""
    floor_cents: int
    """The margin floor the new price was checked against."""
    kind: str = Field(max_length=24)
    """`markdown` (near expiry or overstock), `move` (elasticity) or `manual`."""
    reason: str = Field(default="", max_length=500)
    actor: str = Field(max_length=64)
    agent: str | None = Field(default=None, max_length=32)
    thread_id: str | None = Field(default=None, max_length=200)
    """The LangGraph run that set it, if any."""
    approval_id: int | None = None
    """The approval that allowed it, when it needed one."""
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Location(SQLModel, table=True):
    """A warehouse or shop that holds stock."""

    __tablename__ = "location"

    code: str = Field(primary_key=True, max_length=32)
    name: str = Field(max_length=200)
    kind: str = Field(default="warehouse", max_length=16)
    """`warehouse` or `store`."""


class Stock(SQLModel, table=True):
    """On-hand and reserved units of one SKU at one location.

    Available = on_hand - reserved. on_hand always equals the sum of the ledger rows for the
    same (sku, location); reserved equals the sum of its open reservations.
    """

    __tablename__ = "stock"

    sku: str = Field(foreign_key="product.sku", primary_key=True, max_length=64)
    location: str = Field(foreign_key="location.code", primary_key=True, max_length=32)
    on_hand: int = 0
    reserved: int = 0
    reorder_point: int | None = None
    """Set by inventory tuning; `low_stock_report` compares available stock against it."""
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class InventoryPolicy(SQLModel, table=True):
    """The current replenishment policy of one SKU at one location: when and how much to order.

    Written only by `StoreService.set_inventory_policy`, which keeps `stock.reorder_point` (the
    column `low_stock` and replenishment read) equal to `reorder_point` in the same
    transaction, and appends an `InventoryPolicyHistory` row. Rows carried over from a
    store's reorder points by the `0005_policy` migration have `method` `imported` and no
    safety stock or order quantity yet.
    """

    __tablename__ = "inventory_policy"

    sku: str = Field(foreign_key="product.sku", primary_key=True, max_length=64)
    location: str = Field(foreign_key="location.code", primary_key=True, max_length=32)
    reorder_point: int
    """Order when the inventory position falls to this many units."""
    safety_stock: int | None = None
    """Units held against demand above the forecast during the lead time (part of the
    reorder point)."""
    order_quantity: int | None = None
    """Units per replenishment order."""
    service_level: float | None = None
    """The cycle service level the policy was computed for (0-1), if it was computed."""
    method: str = Field(max_length=64)
    """How it was set: `forecast:<method>` by tuning, `manual`, `imported`."""
    set_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    set_by: str = Field(max_length=64)
    """Who set it (the actor)."""
    reason: str = Field(default="", max_length=500)
    version: int = 1
    """1 for the first policy of the pair, +1 for each change."""


class InventoryPolicyHistory(SQLModel, table=True):
    """Append-only: every inventory policy a (SKU, location) has had, newest last."""

    __tablename__ = "inventory_policy_history"
    __table_args__ = (Index("ix_policy_history_sku_location", "sku", "location", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    sku: str = Field(foreign_key="product.sku", max_length=64)
    location: str = Field(foreign_key="location.code", max_length=32)
    version: int
    reorder_point: int
    safety_stock: int | None = None
    order_quantity: int | None = None
    service_level: float | None = None
    method: str = Field(max_length=64)
    set_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    set_by: str = Field(max_length=64)
    reason: str = Field(default="", max_length=500)
    previous_reorder_point: int | None = None
    """The reorder point it replaced (None for the pair's first policy)."""
    idempotency_key: str | None = Field(default=None, max_length=200)
    """The write key of the call that set it."""


class StockLedger(SQLModel, table=True):
    """Append-only: one row per change of on-hand stock, never updated or deleted."""

    __tablename__ = "stock_ledger"
    __table_args__ = (
        # delta is in the index so that per-(sku, location) sums are index-only scans: the
        # invariant check sums a million rows in a fraction of a second.
        Index("ix_ledger_sku_location", "sku", "location", "delta"),
        Index("ix_ledger_ref", "ref_type", "ref_id"),
    )

    id: int | None = Field(
        default=None,
        sa_column=Column(_BIG_ID, primary_key=True, autoincrement=True),
    )
    sku: str = Field(foreign_key="product.sku", max_length=64)
    location: str = Field(foreign_key="location.code", max_length=32)
    delta: int
    """Signed change of on-hand units."""
    kind: str = Field(max_length=16)
    """A `LedgerKind`."""
    reason: str = Field(default="", max_length=500)
    ref_type: str | None = Field(default=None, max_length=32)
    """What caused it: `order`, `purchase_order`, `return`, `integration`, `transfer`, ..."""
    ref_id: str | None = Field(default=None, max_length=64)
    actor: str = Field(default="system", max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)


class Reservation(SQLModel, table=True):
    """Units held for an order line until it ships (committed) or is cancelled (released)."""

    __tablename__ = "reservation"
    __table_args__ = (Index("ix_reservation_stock_status", "sku", "location", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    order_id: int | None = Field(default=None, foreign_key="orders.id", index=True)
    order_line_id: int | None = Field(default=None, foreign_key="order_line.id")
    sku: str = Field(foreign_key="product.sku", max_length=64)
    location: str = Field(foreign_key="location.code", max_length=32)
    qty: int = Field(gt=0)
    status: str = Field(default=ReservationStatus.OPEN, max_length=16)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


# --- customers and orders -----------------------------------------------------------------


class Customer(SQLModel, table=True):
    """A customer; name, email, phone and address are personal data."""

    __tablename__ = "customer"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    email: str = Field(max_length=254, unique=True, index=True)
    phone: str = Field(default="", max_length=40)
    address: str = Field(default="", max_length=500)
    city: str = Field(default="", max_length=100)
    postcode: str = Field(default="", max_length=20)
    country: str = Field(default="GB", max_length=2)
    tier: str = Field(default="standard", max_length=16)
    """`standard`, `silver` or `gold`: drives discount eligibility."""
    marketing_opt_in: bool = False
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Order(SQLModel, table=True):
    """A customer order; its status moves only along `TRANSITIONS["order"]`."""

    __tablename__ = "orders"

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    status: str = Field(default=OrderStatus.DRAFT, max_length=16, index=True)
    location: str = Field(foreign_key="location.code", max_length=32)
    """The location that fulfils (reserves and ships) the order."""
    channel: str = Field(default="web", max_length=16)
    subtotal_cents: int = 0
    discount_cents: int = 0
    shipping_cents: int = 0
    total_cents: int = 0
    shipping_address: str = Field(default="", max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    placed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    cancelled_reason: str | None = None


class OrderLine(SQLModel, table=True):
    __tablename__ = "order_line"

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="orders.id", index=True)
    sku: str = Field(foreign_key="product.sku", max_length=64)
    qty: int = Field(gt=0)
    unit_price_cents: int = Field(ge=0)


class Payment(SQLModel, table=True):
    """An authorisation, capture or refund against an order."""

    __tablename__ = "payment"

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="orders.id", index=True)
    kind: str = Field(max_length=16)
    amount_cents: int = Field(ge=0)
    status: str = Field(default="succeeded", max_length=16)
    provider_ref: str = Field(default="", max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Shipment(SQLModel, table=True):
    __tablename__ = "shipment"

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="orders.id", index=True)
    location: str = Field(foreign_key="location.code", max_length=32)
    carrier: str = Field(max_length=32)
    service: str = Field(default="standard", max_length=32)
    cost_cents: int = Field(default=0, ge=0)
    tracking: str = Field(default="", max_length=64)
    status: str = Field(default=ShipmentStatus.SHIPPED, max_length=16)
    shipped_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Return(SQLModel, table=True):
    __tablename__ = "returns"

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="orders.id", index=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    status: str = Field(default=ReturnStatus.REQUESTED, max_length=16)
    reason: str = Field(default="", max_length=500)
    refund_cents: int = 0
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ReturnLine(SQLModel, table=True):
    __tablename__ = "return_line"

    id: int | None = Field(default=None, primary_key=True)
    return_id: int = Field(foreign_key="returns.id", index=True)
    order_line_id: int = Field(foreign_key="order_line.id")
    sku: str = Field(foreign_key="product.sku", max_length=64)
    qty: int = Field(gt=0)


class SupportTicket(SQLModel, table=True):
    __tablename__ = "support_ticket"

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    order_id: int | None = Field(default=None, foreign_key="orders.id")
    subject: str = Field(max_length=200)
    body: str = Field(default="")
    category: str = Field(default="general", max_length=32)
    priority: str = Field(default="normal", max_length=16)
    status: str = Field(default=TicketStatus.OPEN, max_length=16)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


# --- procurement --------------------------------------------------------------------------


class Supplier(SQLModel, table=True):
    __tablename__ = "supplier"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, unique=True)
    email: str = Field(default="", max_length=254)
    country: str = Field(default="GB", max_length=2)
    active: bool = True


class SupplierOffer(SQLModel, table=True):
    """What a supplier charges for a SKU, how fast, from what quantity, how reliably."""

    __tablename__ = "supplier_offer"
    __table_args__ = (UniqueConstraint("supplier_id", "sku"),)

    id: int | None = Field(default=None, primary_key=True)
    supplier_id: int = Field(foreign_key="supplier.id", index=True)
    sku: str = Field(foreign_key="product.sku", max_length=64, index=True)
    unit_cost_cents: int = Field(ge=0)
    lead_time_days: int = Field(ge=0)
    moq: int = Field(default=1, ge=1)
    """Minimum order quantity."""
    on_time_rate: float = Field(default=0.95, ge=0.0, le=1.0)
    active: bool = True


class PurchaseOrder(SQLModel, table=True):
    """An order to a supplier; status moves along `TRANSITIONS["purchase_order"]`."""

    __tablename__ = "purchase_order"

    id: int | None = Field(default=None, primary_key=True)
    supplier_id: int = Field(foreign_key="supplier.id", index=True)
    location: str = Field(foreign_key="location.code", max_length=32)
    status: str = Field(default=PurchaseOrderStatus.DRAFT, max_length=24, index=True)
    total_cents: int = 0
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expected_at: date | None = None
    approved_by: str | None = Field(default=None, max_length=64)


class PurchaseOrderLine(SQLModel, table=True):
    __tablename__ = "purchase_order_line"

    id: int | None = Field(default=None, primary_key=True)
    purchase_order_id: int = Field(foreign_key="purchase_order.id", index=True)
    sku: str = Field(foreign_key="product.sku", max_length=64)
    qty_ordered: int = Field(gt=0)
    qty_received: int = Field(default=0, ge=0)
    unit_cost_cents: int = Field(ge=0)


# --- integrations, approvals, audit, idempotency -----------------------------------------


class IntegrationTransaction(SQLModel, table=True):
    """A stock movement reported by an outside system (POS, marketplace, ERP).

    `pending` until posted to the ledger; one that stays pending too long is "stuck".
    """

    __tablename__ = "integration_transaction"
    __table_args__ = (UniqueConstraint("source", "external_id"),)

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=32)
    external_id: str = Field(max_length=64)
    kind: str = Field(max_length=16)
    """The `LedgerKind` it posts as (`sale`, `receipt`, `adjustment`, `return`)."""
    sku: str = Field(foreign_key="product.sku", max_length=64)
    location: str = Field(foreign_key="location.code", max_length=32)
    delta: int
    status: str = Field(default=IntegrationTxnStatus.PENDING, max_length=16, index=True)
    attempts: int = 0
    error: str | None = None
    payload: dict[str, Any] = _json(default_factory=dict)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    posted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Approval(SQLModel, table=True):
    """A write waiting for (or decided by) a human.

    An approval asked for by an agent's tool call is bound to that call: `idempotency_key` is
    the call's write key, and `thread_id`, `checkpoint_ns` and `tool_call_id` say where in
    which run it was asked. Re-running the call after the decision finds it by that key, so
    one decision is one write (`consumed_at`), never a second approval.
    """

    __tablename__ = "approval"

    id: int | None = Field(default=None, primary_key=True)
    tool: str = Field(max_length=64)
    """What a human decides on: the agent's tool, or the service operation called directly."""
    arguments: dict[str, Any] = _json(default_factory=dict)
    """The arguments as asked (the tool's arguments for a tool call)."""
    reason: str = Field(max_length=500)
    status: str = Field(default=ApprovalStatus.PENDING, max_length=16, index=True)
    actor: str = Field(default="system", max_length=64)
    agent: str | None = Field(default=None, max_length=32)
    decided_by: str | None = Field(default=None, max_length=64)
    decision_note: str | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    consumed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    """When the approved write was performed: an approval is good for exactly one write."""
    operation: str | None = Field(default=None, max_length=64)
    """The service operation that asked (differs from `tool` when a tool called it)."""
    idempotency_key: str | None = Field(default=None, max_length=200, index=True)
    """The write key of the call that asked; the call finds its approval by it."""
    thread_id: str | None = Field(default=None, max_length=200, index=True)
    """The LangGraph thread of the run that asked, if any."""
    checkpoint_ns: str | None = Field(default=None, max_length=500)
    """The checkpoint namespace (graph node and task) that asked, if any."""
    tool_call_id: str | None = Field(default=None, max_length=200)
    """The model's tool-call id (or the node's step id) that asked, if any."""
    approved_arguments: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    """Set when the human approved with changed arguments (an edit): the write uses these."""


class GraphRun(SQLModel, table=True):
    """One LangGraph thread run by `orchestrator.runtime.Orchestrator`: what, for whom, where.

    The graph's state lives in the checkpointer; this row is the index a person or another
    process uses to find runs, and the run context needed to resume one.
    """

    __tablename__ = "graph_run"

    thread_id: str = Field(primary_key=True, max_length=200)
    graph: str = Field(max_length=64, index=True)
    status: str = Field(max_length=24, index=True)
    """`running`, `waiting` (an interrupt: approval or question), `completed` or `failed`."""
    actor: str = Field(max_length=64)
    customer_id: int | None = Field(default=None, index=True)
    channel: str = Field(default="api", max_length=32)
    tenant: str | None = Field(default=None, max_length=64)
    error: str | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class AuditLog(SQLModel, table=True):
    """Append-only: who did (or tried) what, with what, and what it changed."""

    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    actor: str = Field(max_length=64)
    """Who asked: a user, `system`, or `customer:<id>`."""
    agent: str | None = Field(default=None, max_length=32)
    """Which agent profile, when an agent asked."""
    operation: str = Field(max_length=64, index=True)
    """The service operation or tool name."""
    arguments: dict[str, Any] = _json(default_factory=dict)
    before: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    after: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    outcome: str = Field(default="ok", max_length=24)
    """`ok`, `denied`, `approval_required`, `error` or `replayed`."""
    reason: str = Field(default="", max_length=500)
    idempotency_key: str | None = Field(default=None, max_length=200)
    error: str | None = None
    tool: str | None = Field(default=None, max_length=64)
    """The agent's tool when the call came through one (`operation` is the service's)."""
    thread_id: str | None = Field(default=None, max_length=200, index=True)
    """The LangGraph thread of the run that made the call: "what did run X do" is one query."""
    tool_call_id: str | None = Field(default=None, max_length=200)
    """The model's tool-call id (or the node's step id) of the call."""


class IdempotencyRecord(SQLModel, table=True):
    """The first result of an idempotent write, returned again on replay."""

    __tablename__ = "idempotency_record"

    key: str = Field(primary_key=True, max_length=200)
    operation: str = Field(max_length=64)
    request_hash: str = Field(max_length=64)
    result: dict[str, Any] = _json(default_factory=dict)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    principal: str | None = Field(default=None, max_length=100)
    """Who made the first call (actor, and customer for customer runs): only they get a replay."""
