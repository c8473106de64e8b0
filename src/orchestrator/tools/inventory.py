"""Inventory tools: stock levels, the low-stock report, adjustments and transfers."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from orchestrator.errors import InvalidInput
from orchestrator.store.services.views import InventoryPolicyView, StockView, TransferView
from orchestrator.tools._core import ToolContext, tool
from orchestrator.tools.types import (
    MAX_QTY,
    InventoryReport,
    LocationCode,
    LowStockReport,
    Qty,
    Reason,
    Sku,
)

__all__ = [
    "TOOLS",
    "adjust_quantity",
    "get_inventory",
    "low_stock_report",
    "set_inventory_policy",
    "transfer_stock",
]


@tool(access="read", scope="inventory")
def get_inventory(
    ctx: ToolContext, sku: Sku, location: LocationCode | None = None
) -> InventoryReport:
    """Get on-hand, reserved and available units of a SKU, per location.

    Args:
        sku: the product's SKU.
        location: only this location code (e.g. "WH-MAIN"); default every location.
    """
    raw: Any = ctx.service.get_stock(sku, location)
    levels: list[StockView] = list(raw) if isinstance(raw, list | tuple) else [raw]
    return InventoryReport(
        sku=sku,
        levels=levels,
        total_on_hand=sum(level.on_hand for level in levels),
        total_available=sum(level.available for level in levels),
    )


@tool(access="read", scope="inventory")
def low_stock_report(
    ctx: ToolContext,
    location: LocationCode | None = None,
    limit: Annotated[int, Field(ge=1, le=500)] = 50,
) -> LowStockReport:
    """List stock whose available units are at or below the reorder point, worst first.

    Args:
        location: only this location code; default every location.
        limit: at most this many rows (1-500).
    """
    items = list(ctx.service.low_stock(location, limit=limit))
    return LowStockReport(items=items, count=len(items))


@tool(access="write", scope="inventory")
def adjust_quantity(
    ctx: ToolContext,
    sku: Sku,
    location: LocationCode,
    delta: Annotated[int, Field(ge=-MAX_QTY, le=MAX_QTY)],
    reason: Reason,
) -> StockView:
    """Correct on-hand stock by a counted difference (damage, shrinkage, cycle count).

    Large adjustments need a human's approval first.

    Args:
        sku: the product's SKU.
        location: the location code.
        delta: signed change of on-hand units: negative removes, positive adds; never 0.
        reason: why the count changed, e.g. "cycle count 2024-05-01: 3 damaged".
    """
    if delta == 0:
        raise InvalidInput("delta", delta, "an adjustment must change stock: use a non-zero delta")
    return ctx.service.adjust_quantity(
        sku, location, delta, reason=reason, **ctx.approval_options()
    )


@tool(access="write", scope="inventory")
def transfer_stock(
    ctx: ToolContext,
    sku: Sku,
    from_location: LocationCode,
    to_location: LocationCode,
    qty: Qty,
    reason: Annotated[str, Field(max_length=500)] = "",
) -> TransferView:
    """Move available units of a SKU from one location to another.

    Args:
        sku: the product's SKU.
        from_location: the location code the units leave.
        to_location: the location code they arrive at; must differ from from_location.
        qty: units to move, at least 1.
        reason: why, for the audit log.
    """
    if from_location == to_location:
        raise InvalidInput("to_location", to_location, "is the same as from_location")
    return ctx.service.transfer_stock(
        sku, from_location, to_location, qty, reason=reason, **ctx.write_options()
    )


@tool(access="write", scope="inventory")
def set_inventory_policy(
    ctx: ToolContext,
    sku: Sku,
    location: LocationCode,
    reorder_point: Annotated[int, Field(ge=0, le=100 * MAX_QTY)],
    safety_stock: Annotated[int, Field(ge=0, le=100 * MAX_QTY)],
    order_quantity: Annotated[int, Field(ge=1, le=100 * MAX_QTY)],
    reason: Reason,
    service_level: Annotated[float, Field(gt=0, lt=1)] | None = None,
    method: Annotated[str, Field(min_length=1, max_length=64)] = "manual",
) -> InventoryPolicyView:
    """Set a SKU's reorder point, safety stock and order quantity at one location.

    Args:
        sku: the product's SKU.
        location: the location code.
        reorder_point: reorder when the inventory position falls to this many units.
        safety_stock: the part of the reorder point held against demand above the forecast;
            at most the reorder point.
        order_quantity: units per replenishment order, at least 1.
        reason: why, e.g. "tuned on 104 weeks of sales: demand up 30%".
        service_level: the cycle service level the policy was computed for, between 0 and 1.
        method: how it was computed, e.g. "forecast:AutoETS" or "manual".
    """
    return ctx.service.set_inventory_policy(
        sku,
        location,
        reorder_point=reorder_point,
        safety_stock=safety_stock,
        order_quantity=order_quantity,
        service_level=service_level,
        method=method,
        reason=reason,
        **ctx.write_options(),
    )


TOOLS = [get_inventory, low_stock_report, adjust_quantity, transfer_stock, set_inventory_policy]
