"""Procurement tools: suppliers, their offers, and purchase orders.

`create_purchase_order` drafts the order, approves it and sends it to the supplier in one
service write (`StoreService.submit_purchase_order`). Above
`settings.approvals.purchase_order_value` it raises `ApprovalRequired` before anything is
written; once a human approved (or edited) the call, the re-run call performs it once.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import Field

from orchestrator.store.services.views import POLineIn, PurchaseOrderView
from orchestrator.tools._core import ToolContext, tool
from orchestrator.tools.types import (
    Id,
    LocationCode,
    POLineArg,
    ReceiptLineArg,
    Sku,
    SupplierList,
    SupplierOffers,
)

__all__ = [
    "TOOLS",
    "create_purchase_order",
    "get_supplier_offers",
    "list_suppliers",
    "receive_purchase_order",
]


@tool(access="read", scope="procurement")
def list_suppliers(ctx: ToolContext, sku: Sku | None = None) -> SupplierList:
    """List suppliers, or only those that offer a given SKU.

    Args:
        sku: only suppliers with an offer for this SKU; default all suppliers.
    """
    return SupplierList(suppliers=list(ctx.service.list_suppliers(sku)))


@tool(access="read", scope="procurement")
def get_supplier_offers(ctx: ToolContext, sku: Sku) -> SupplierOffers:
    """Compare every supplier's offer for a SKU: unit cost, lead time, minimum order, reliability.

    Args:
        sku: the product's SKU.
    """
    return SupplierOffers(sku=sku, offers=list(ctx.service.supplier_offers(sku)))


@tool(access="write", scope="procurement")
def create_purchase_order(
    ctx: ToolContext,
    supplier_id: Id,
    location: LocationCode,
    lines: Annotated[list[POLineArg], Field(min_length=1, max_length=200)],
    expected_at: date | None = None,
) -> PurchaseOrderView:
    """Raise a purchase order with a supplier and send it; large orders need approval first.

    Args:
        supplier_id: the supplier's id (see list_suppliers).
        location: the location code the goods are delivered to, e.g. "WH-MAIN".
        lines: SKUs and quantities, e.g. [{"sku": "ARD-UNO-R3", "qty": 50}]; the unit cost
            defaults to the supplier's offer.
        expected_at: expected delivery date (YYYY-MM-DD), if agreed.
    """
    return ctx.service.submit_purchase_order(
        supplier_id,
        location,
        [
            POLineIn(sku=line.sku, qty=line.qty, unit_cost_cents=line.unit_cost_cents)
            for line in lines
        ],
        expected_at=expected_at,
        **ctx.approval_options(),
    )


@tool(access="write", scope="procurement")
def receive_purchase_order(
    ctx: ToolContext,
    po_id: Id,
    lines: Annotated[list[ReceiptLineArg], Field(min_length=1, max_length=200)] | None = None,
) -> PurchaseOrderView:
    """Book goods received against a sent purchase order: everything outstanding, or some lines.

    Args:
        po_id: the purchase order's id.
        lines: what arrived, e.g. [{"sku": "ARD-UNO-R3", "qty": 20}]; default everything
            still outstanding.
    """
    received: dict[str, int] | None = None
    if lines is not None:
        received = {}
        for line in lines:
            received[line.sku] = received.get(line.sku, 0) + line.qty
    return ctx.service.receive_purchase_order(po_id, received, **ctx.write_options())


TOOLS = [list_suppliers, get_supplier_offers, create_purchase_order, receive_purchase_order]
