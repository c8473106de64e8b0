"""The service layer's inputs and results: plain pydantic models, never ORM rows.

Results are serializable (`model_dump(mode="json")`), so that they fit in graph state and in
idempotency records, and so that a replayed write returns exactly what the first call did.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ApprovalView",
    "AuditEntryView",
    "CustomerView",
    "IntegrationTxnView",
    "InventoryPolicyView",
    "LedgerEntryView",
    "OrderLineIn",
    "OrderLineView",
    "OrderView",
    "POLineIn",
    "POLineView",
    "PaymentView",
    "ProductView",
    "PurchaseOrderView",
    "ReservationView",
    "ReturnLineIn",
    "ReturnLineView",
    "ReturnView",
    "ShipmentView",
    "StockView",
    "SupplierOfferView",
    "SupplierView",
    "TicketView",
    "TransferView",
]


class _In(BaseModel):
    # Strict: an agent's "3" is not silently the integer 3; the services name the bad value.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class _View(BaseModel):
    model_config = ConfigDict(frozen=True)

    replayed: bool = Field(default=False, exclude_if=lambda value: not value)
    """True when a write returned the first result of an earlier call with the same
    idempotency key (the records may have changed since); left out of dumps when False."""


# --- inputs ----------------------------------------------------------------------------------


class OrderLineIn(_In):
    """One line of a new or modified order; the unit price comes from the catalogue."""

    sku: str
    """The product's SKU."""
    qty: int
    """Units ordered, at least 1."""


class ReturnLineIn(_In):
    """One line of a return: which SKU of the order, how many units."""

    sku: str
    """A SKU that the order shipped."""
    qty: int
    """Units coming back: at most those shipped minus those already returned."""


class POLineIn(_In):
    """One line of a purchase order."""

    sku: str
    """The product's SKU."""
    qty: int
    """Units ordered from the supplier, at least 1."""
    unit_cost_cents: int | None = None
    """Agreed unit cost; default: the supplier's offer for the SKU."""


# --- stock -----------------------------------------------------------------------------------


class StockView(_View):
    """On-hand, reserved and available units of one SKU at one location."""

    sku: str
    location: str
    on_hand: int
    reserved: int
    available: int
    """on_hand - reserved."""
    reorder_point: int | None = None
    updated_at: datetime | None = None


class InventoryPolicyView(_View):
    """The replenishment policy of one SKU at one location (current, or one history entry)."""

    sku: str
    location: str
    reorder_point: int
    """Order when the inventory position falls to this many units."""
    safety_stock: int | None = None
    """Units of the reorder point held against demand above the forecast (None: unknown)."""
    order_quantity: int | None = None
    """Units per replenishment order (None: unknown)."""
    service_level: float | None = None
    """The cycle service level it was computed for (0-1), if computed."""
    method: str
    """`forecast:<method>` (tuning), `manual`, or `imported` (carried over)."""
    set_at: datetime
    set_by: str
    reason: str = ""
    version: int
    """1 for the pair's first policy, +1 per change."""
    previous_reorder_point: int | None = None
    """The reorder point this policy replaced, if any."""


class ReservationView(_View):
    """Units held for an order line (or ad hoc) until shipped or released."""

    id: int
    sku: str
    location: str
    qty: int
    status: str
    """`open`, `committed` (shipped) or `released`."""
    order_id: int | None = None
    order_line_id: int | None = None
    created_at: datetime
    updated_at: datetime


class TransferView(_View):
    """A move of units between two locations: two ledger rows sharing `transfer_id`."""

    transfer_id: str
    sku: str
    qty: int
    source: StockView
    destination: StockView


class LedgerEntryView(_View):
    """One row of the append-only stock ledger."""

    id: int
    sku: str
    location: str
    delta: int
    kind: str
    reason: str
    ref_type: str | None
    ref_id: str | None
    actor: str
    created_at: datetime


# --- catalogue, customers, suppliers ---------------------------------------------------------


class ProductView(_View):
    """A catalogue entry."""

    sku: str
    name: str
    category: str
    unit: str
    price_cents: int
    cost_cents: int
    description: str
    perishable: bool
    shelf_life_days: int | None
    weight_grams: int
    active: bool
    attributes: dict[str, Any] = Field(default_factory=dict)


class CustomerView(_View):
    """A customer (personal data: show it only to the customer or to staff)."""

    id: int
    name: str
    email: str
    phone: str
    address: str
    city: str
    postcode: str
    country: str
    tier: str
    marketing_opt_in: bool
    created_at: datetime


class SupplierView(_View):
    """A supplier."""

    id: int
    name: str
    email: str
    country: str
    active: bool


class SupplierOfferView(_View):
    """What a supplier charges for a SKU, how fast and from what quantity."""

    id: int
    supplier_id: int
    supplier_name: str
    sku: str
    unit_cost_cents: int
    lead_time_days: int
    moq: int
    on_time_rate: float
    active: bool


# --- orders, payments, returns, tickets ------------------------------------------------------


class OrderLineView(_View):
    """One order line with the units it holds reserved."""

    id: int
    sku: str
    qty: int
    unit_price_cents: int
    reserved_qty: int = 0
    """Units held by the line's open reservations."""


class OrderView(_View):
    """A customer order with its lines and totals (integer cents)."""

    id: int
    customer_id: int
    status: str
    location: str
    channel: str
    subtotal_cents: int
    discount_cents: int
    shipping_cents: int
    total_cents: int
    shipping_address: str
    created_at: datetime
    updated_at: datetime
    placed_at: datetime | None = None
    cancelled_reason: str | None = None
    lines: list[OrderLineView] = Field(default_factory=list)


class ShipmentView(_View):
    """A shipment of a whole order."""

    id: int
    order_id: int
    location: str
    carrier: str
    service: str
    cost_cents: int
    tracking: str
    status: str
    shipped_at: datetime
    delivered_at: datetime | None = None


class PaymentView(_View):
    """An authorisation, capture or refund, with the order's money position after it."""

    id: int
    order_id: int
    kind: str
    amount_cents: int
    status: str
    provider_ref: str
    created_at: datetime
    captured_cents: int = 0
    """Sum of captures on the order after this payment."""
    refunded_cents: int = 0
    """Sum of refunds on the order after this payment."""


class ReturnLineView(_View):
    """One returned line."""

    id: int
    order_line_id: int
    sku: str
    qty: int


class ReturnView(_View):
    """A customer return."""

    id: int
    order_id: int
    customer_id: int
    status: str
    reason: str
    refund_cents: int
    created_at: datetime
    updated_at: datetime
    lines: list[ReturnLineView] = Field(default_factory=list)


class TicketView(_View):
    """A support ticket."""

    id: int
    customer_id: int
    order_id: int | None
    subject: str
    body: str
    category: str
    priority: str
    status: str
    created_at: datetime
    updated_at: datetime


# --- procurement, integrations, approvals, audit ---------------------------------------------


class POLineView(_View):
    """One purchase order line."""

    id: int
    sku: str
    qty_ordered: int
    qty_received: int
    unit_cost_cents: int


class PurchaseOrderView(_View):
    """A purchase order with its lines."""

    id: int
    supplier_id: int
    location: str
    status: str
    total_cents: int
    created_at: datetime
    updated_at: datetime
    expected_at: date | None = None
    approved_by: str | None = None
    lines: list[POLineView] = Field(default_factory=list)


class IntegrationTxnView(_View):
    """A stock movement reported by an outside system."""

    id: int
    source: str
    external_id: str
    kind: str
    sku: str
    location: str
    delta: int
    status: str
    attempts: int
    error: str | None
    payload: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime
    updated_at: datetime
    posted_at: datetime | None = None


class ApprovalView(_View):
    """A write waiting for, or decided by, a human."""

    id: int
    tool: str
    arguments: dict[str, Any]
    reason: str
    status: str
    actor: str
    agent: str | None
    decided_by: str | None
    decision_note: str | None
    created_at: datetime
    decided_at: datetime | None
    consumed_at: datetime | None = None
    """When the approved write was performed; an approval is good for one write."""
    operation: str | None = None
    """The service operation that asked (differs from `tool` when a tool called it)."""
    idempotency_key: str | None = None
    """The write key of the call that asked; the call finds its approval by it."""
    thread_id: str | None = None
    """The LangGraph thread that asked, if any: resuming it performs the write."""
    checkpoint_ns: str | None = None
    tool_call_id: str | None = None
    approved_arguments: dict[str, Any] | None = None
    """Set when a human approved with changed arguments (an edit)."""

    @property
    def effective_arguments(self) -> dict[str, Any]:
        """The arguments the write is performed with: the approved ones after an edit."""
        return self.approved_arguments if self.approved_arguments is not None else self.arguments


class AuditEntryView(_View):
    """One audit row."""

    id: int
    at: datetime
    actor: str
    agent: str | None
    operation: str
    arguments: dict[str, Any]
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    outcome: str
    reason: str
    idempotency_key: str | None
    error: str | None
    tool: str | None = None
    """The agent's tool, when the call came through one."""
    thread_id: str | None = None
    """The LangGraph thread of the run that made the call."""
    tool_call_id: str | None = None
    """The model's tool-call id (or the node's step id)."""
