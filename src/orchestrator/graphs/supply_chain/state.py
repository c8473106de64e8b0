"""State of the supply-chain graph (plain, serializable values: dicts of the models below)."""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypedDict

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Choice",
    "DraftLine",
    "DraftOrder",
    "ItemRequest",
    "LateAction",
    "Need",
    "Problem",
    "Receipt",
    "SentOrder",
    "SupplierOption",
    "SupplyChainInput",
    "SupplyChainState",
]


class ItemRequest(BaseModel):
    """An item asked for explicitly (by API or by the parsed free text)."""

    model_config = ConfigDict(extra="forbid")

    sku: str = Field(min_length=1, max_length=64)
    """The product's SKU."""
    qty: int | None = None
    """Units needed (None: top up to the order-up-to level)."""
    additional: bool = False
    """`qty` is on top of what the location holds ("40 more"), not the total needed."""
    location: str | None = Field(default=None, max_length=32)
    """Where it is needed; default the run's location."""
    group: str | None = Field(default=None, max_length=80)
    """The words several SKUs were matched from: a quantity then goes to one of them."""


class Need(BaseModel):
    """One SKU x location to buy for, with the figures that say why and how many."""

    sku: str
    name: str = ""
    location: str
    on_hand: int
    on_order: int
    reserved: int
    backorders: int
    position: int
    """on_hand + on_order - reserved - backorders (on order: expected by the need date, on the
    urgent path)."""
    reorder_point: int | None
    order_up_to: int
    daily_demand: float
    need_qty: int
    """Units to buy (before minimum order quantities)."""
    need_by: str
    """ISO date the units are needed by."""
    reason: str
    """Why, in a sentence with the figures."""


class SupplierOption(BaseModel):
    """One supplier's offer for a need, scored (see docs/supply_chain.md for the formula)."""

    supplier_id: int
    supplier_name: str
    supplier_email: str = ""
    country: str = ""
    offer_id: int
    unit_cost_cents: int
    landed_unit_cents: int
    """Unit cost plus import overhead for suppliers abroad."""
    moq: int
    order_qty: int
    """max(need, MOQ)."""
    effective_unit_cents: int
    """Landed cost of the order divided by the units needed (MOQ overbuy charged to the need)."""
    lead_time_days: int
    arrives: str
    """ISO date: the run's date plus the lead time."""
    late_days: int
    """Days after the need date it arrives (0: in time)."""
    on_time_rate: float
    """The offer's rate blended with the supplier's received purchase orders."""
    history: str = ""
    """e.g. "7/9 past POs on time"."""
    cost_score: float
    time_score: float
    score: float


class Choice(BaseModel):
    """The supplier chosen for one need, the other options, and the explanation."""

    sku: str
    name: str = ""
    location: str
    need_qty: int
    need_by: str
    chosen: SupplierOption
    alternatives: list[SupplierOption] = Field(default_factory=list)
    explanation: str = ""
    explanation_source: Literal["model", "template", ""] = ""


class DraftLine(BaseModel):
    sku: str
    qty: int
    unit_cost_cents: int
    moq: int = 1


class DraftOrder(BaseModel):
    """A purchase order to send: one supplier, one delivery location."""

    key: str
    """`<supplier_id>@<location>`: the order's identity within the run (its write key)."""
    supplier_id: int
    supplier_name: str
    location: str
    lines: list[DraftLine]
    total_cents: int
    expected_at: str
    """ISO date: the run's date plus the longest lead time of its lines."""


class SentOrder(BaseModel):
    """What happened to one draft order at the send step."""

    key: str
    supplier_id: int
    location: str
    status: Literal["sent", "rejected", "refused", "skipped"]
    po_id: int | None = None
    total_cents: int = 0
    detail: str = ""


class LateAction(BaseModel):
    """A late purchase order and what to do about it."""

    po_id: int
    supplier_id: int
    supplier_name: str
    supplier_email: str = ""
    location: str
    expected_at: str
    days_late: int
    outstanding: dict[str, int]
    action: Literal["expedite", "resource"]
    alternate_supplier_id: int | None = None
    alternate_supplier_name: str | None = None
    reason: str
    status: Literal["proposed", "done", "rejected", "refused", "listed"] = "proposed"
    new_po_id: int | None = None
    detail: str = ""


class Receipt(BaseModel):
    """A receipt booked against a purchase order."""

    po_id: int
    received: dict[str, int]
    status: str
    """The purchase order's status afterwards."""
    outstanding: dict[str, int]
    late_days: int
    """Days after the expected date it arrived (0: in time or no date)."""
    replayed: bool = False


class Problem(BaseModel):
    """Something the run could not do, and why (it never writes anything for it)."""

    subject: str
    reason: str


class SupplyChainInput(TypedDict, total=False):
    """What a run starts with (every key optional)."""

    mode: Literal["replenish", "receive"]
    """`replenish` (default): find, choose, draft, approve, send, escalate late orders;
    `receive`: book goods against `po_id`."""
    text: str
    """A request in words ("we're running low on Arduino kits for tomorrow's robotics class"):
    the urgent path."""
    items: list[dict[str, Any]]
    """Explicit items (`ItemRequest`s) instead of scanning reorder points."""
    need_by: str
    """ISO date everything is needed by (overrides the date in `text`)."""
    as_of: str
    """The run's date (ISO); default today (UTC). Fixed at the first step."""
    location: str
    """Delivery location (default `supply.default_location`) and scope of the scan."""
    skus: list[str]
    """Scope the reorder scan to these SKUs."""
    dry_run: bool
    """Propose only: no approval, no purchase order, no escalation."""
    escalate: bool
    """Look for late purchase orders and escalate them (default: true for a reorder scan,
    false for a request in words or explicit items)."""
    po_id: int
    """`receive`: the purchase order."""
    received: dict[str, int]
    """`receive`: units per SKU; absent or empty receives everything outstanding."""


def _replace(_old: Any, new: Any) -> Any:
    return new


class SupplyChainState(TypedDict, total=False):
    """The graph's state (serializable: plain dicts, lists and strings)."""

    mode: str
    """`replenish` or `receive`."""
    text: str
    """The request in words, if any."""
    items: list[dict[str, Any]]
    """Explicit items, if any."""
    need_by: str
    """The need date given or parsed (ISO), if any."""
    as_of: str
    """The run's date (ISO), fixed by `intake`."""
    location: str
    """The delivery location."""
    skus: list[str]
    """Scan scope."""
    dry_run: bool
    """Propose only."""
    escalate: bool
    """Escalate late purchase orders."""
    urgent: bool
    """The request came in words or items: the caller approves the proposal."""
    po_id: int
    """`receive`: the purchase order."""
    received: dict[str, int]
    """`receive`: units per SKU."""
    request: dict[str, Any]
    """What was understood from `text`: items, need date and where each came from."""
    request_source: str
    """`model` or `fallback` (or empty without text)."""
    needs: Annotated[list[dict[str, Any]], _replace]
    """`Need`s."""
    stock: Annotated[list[dict[str, Any]], _replace]
    """Stock check of the urgent path: each SKU's levels at every location."""
    choices: Annotated[list[dict[str, Any]], _replace]
    """`Choice`s."""
    orders: Annotated[list[dict[str, Any]], _replace]
    """`DraftOrder`s (after the budget gate: the approved ones, edits applied)."""
    budget: dict[str, Any]
    """The budget check: totals, limits, and why a person must decide (if they must)."""
    approval: dict[str, Any]
    """The budget gate's outcome (`approved`, `approval_id`, `decided_by`, `note`)."""
    sent: Annotated[list[dict[str, Any]], _replace]
    """`SentOrder`s."""
    late: Annotated[list[dict[str, Any]], _replace]
    """`LateAction`s."""
    escalation: dict[str, Any]
    """The escalation gate's outcome."""
    receipt: dict[str, Any]
    """`Receipt` of a `receive` run."""
    problems: Annotated[list[dict[str, Any]], _replace]
    """`Problem`s: what the run refused to do, and why."""
    notes: Annotated[list[str], _replace]
    """What the caller should know (no supplier delivers in time, stock elsewhere, ...)."""
    report: str
    """The summary a person reads (markdown)."""
