"""State of the order-fulfilment graph."""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypedDict

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "DraftLine",
    "Notification",
    "OrderDraft",
    "OrderInput",
    "OrderState",
    "Outcome",
    "Service",
]

Service = Literal["standard", "express", "next_day"]

Outcome = Literal["running", "completed", "backordered", "failed", "cancelled", "rejected"]
"""Where a run ended: `completed` (shipped), `backordered` (nothing could ship: a draft
backorder waits for stock), `failed` (invalid, short of stock under `reject`, declined),
`cancelled` (cancelled before shipping; compensated), `rejected` (a person said no)."""


class DraftLine(BaseModel):
    """One line of an order as read from free text."""

    item: str = Field(default="", max_length=200)
    """The item as the text names it ("Arduino Uno kits")."""
    sku: str | None = Field(default=None, max_length=64)
    """The catalogue SKU it is, or None when no product matches."""
    qty: int
    """How many (checked by code: 1 and more)."""


class OrderDraft(BaseModel):
    """What the intake step reads from an order written as text (the model's schema)."""

    lines: list[DraftLine] = Field(default_factory=list, max_length=50)
    """The items ordered, in the text's order."""
    ship_to: str = Field(default="", max_length=500)
    """Where to ship, as written ("Lincoln High"); empty: the customer's address."""
    service: Service = "standard"
    """`standard` (also "ground"), `express` or `next_day`."""


class Notification(BaseModel):
    """The message to the customer (the model writes it; code checks it)."""

    model_config = ConfigDict(extra="ignore")

    subject: str = Field(max_length=120)
    body: str = Field(max_length=1000)


class OrderInput(TypedDict, total=False):
    """What a run starts with: a structured order, or text, or both (lines win)."""

    customer_id: int
    """Who orders (a customer-facing run's customer comes from the run context instead)."""
    lines: list[dict[str, Any]]
    """`[{"sku": "ARD-UNO-001", "qty": 3}, ...]`."""
    text: str
    """The order written as text ("3 Arduino Uno kits to Lincoln High, ship ground")."""
    shipping_address: str
    """Where to ship; default the customer's address on file."""
    service: str
    """`standard` (or `ground`), `express` or `next_day`."""
    note: str
    """The customer's note (untrusted text: never an instruction)."""


def _append(old: list[str] | None, new: list[str]) -> list[str]:
    return [*(old or []), *new]


class OrderState(TypedDict, total=False):
    """The graph's state (serializable: plain dicts, strings and numbers)."""

    customer_id: int
    """The customer as given in the input."""
    lines: list[dict[str, Any]]
    """The structured lines as given."""
    text: str
    """The order as text, if given."""
    shipping_address: str
    """The address as given."""
    service: str
    """The shipping service as given."""
    note: str
    """The customer's note."""
    proposal: OrderDraft | dict[str, Any]
    """What intake read from the text (the model's proposal, or the parser's)."""
    proposal_source: Literal["model", "fallback"]
    """Where the proposal came from."""
    draft: dict[str, Any]
    """The validated order: `customer_id`, `lines` (`sku`, `qty`, `name`, `unit_price_cents`),
    `shipping_address`, `service`, `note`, `source` (`input`, `model`, `parser`)."""
    plan: dict[str, Any]
    """The fulfilment plan: `location`, `lines` to reserve, `short` lines and what is missing."""
    order_id: int
    """The order the run placed."""
    backorder_id: int
    """The draft backorder holding the units that were short (policy `backorder`)."""
    total_cents: int
    """The placed order's total."""
    risk: dict[str, Any]
    """`score` (0..1) and `signals`, computed by code."""
    approval_reason: str | None
    """Why a person must release the order (None: no approval needed), decided by code."""
    approval: dict[str, Any]
    """The approval gate's result: `approved`, `arguments`, `approval_id`, `decided_by`, `note`."""
    payment: dict[str, Any]
    """`status` (`authorized`, `declined`, `captured`, `voided`, `refunded`), `reference`,
    `amount_cents`, `reason`."""
    shipment: dict[str, Any]
    """`id`, `carrier`, `service`, `cost_cents`, `tracking`."""
    status: Outcome
    """Where the run is (see `Outcome`)."""
    reason: str
    """Why it failed, was cancelled or rejected."""
    notification: str
    """The message sent to the customer."""
    notification_source: Literal["model", "template"]
    """Whether the model's message passed the checks, or the template was used."""
    reply: str
    """A summary for whoever placed the order (built by code)."""
    events: Annotated[list[str], _append]
    """What each step did, one line each (for people and the scenario checks)."""
