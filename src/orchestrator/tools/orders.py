"""Order tools: draft, place, look up, modify and cancel customer orders.

The customer is always the run's authenticated customer (`ctx.customer_id`); no tool takes a
customer id from the model. With a customer in the run context, an order of another customer
is refused with `PermissionDenied` (audited).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from orchestrator.store.services.views import OrderLineIn, OrderView
from orchestrator.tools._core import ToolContext, current_customer, require_owner, tool
from orchestrator.tools.types import CustomerOrders, Id, LocationCode, OrderLineArg, Reason

__all__ = [
    "TOOLS",
    "cancel_order",
    "draft_order",
    "get_customer_orders",
    "get_order_status",
    "load_owned_order",
    "modify_order",
    "place_order",
]

Lines = Annotated[list[OrderLineArg], Field(min_length=1, max_length=100)]


def load_owned_order(ctx: ToolContext, order_id: int) -> OrderView:
    """The order, refused (audited) when the run's customer does not own it.

    Args:
        ctx: the run context.
        order_id: the order's id.
    """
    order: OrderView = ctx.service.get_order(order_id)
    require_owner(ctx, "order", order_id, order.customer_id)
    return order


def _lines(lines: list[OrderLineArg]) -> list[OrderLineIn]:
    return [OrderLineIn(sku=line.sku, qty=line.qty) for line in lines]


@tool(access="write", scope="orders", customer_scoped=True)
def draft_order(
    ctx: ToolContext,
    lines: Lines,
    location: LocationCode,
    shipping_address: Annotated[str, Field(max_length=500)] = "",
) -> OrderView:
    """Create a draft order for the current customer (nothing is reserved until placed).

    Args:
        lines: the products and quantities, e.g. [{"sku": "ARD-UNO-R3", "qty": 2}].
        location: the location code that will fulfil the order, e.g. "WH-MAIN".
        shipping_address: where to ship; default the customer's address.
    """
    customer_id = current_customer(ctx)
    return ctx.service.create_order(
        customer_id,
        _lines(lines),
        location=location,
        shipping_address=shipping_address,
        **ctx.write_options(),
    )


@tool(access="write", scope="orders")
def place_order(ctx: ToolContext, order_id: Id) -> OrderView:
    """Place a draft order: reserve stock for every line, all or nothing.

    Args:
        order_id: the draft order's id.
    """
    load_owned_order(ctx, order_id)
    return ctx.service.place_order(order_id, **ctx.write_options())


@tool(access="read", scope="orders")
def get_order_status(ctx: ToolContext, order_id: Id) -> OrderView:
    """Get an order's status, lines, totals and reserved units.

    Args:
        order_id: the order's id (a number, e.g. 1042).
    """
    return load_owned_order(ctx, order_id)


@tool(access="read", scope="orders", customer_scoped=True)
def get_customer_orders(
    ctx: ToolContext, limit: Annotated[int, Field(ge=1, le=100)] = 20
) -> CustomerOrders:
    """List the current customer's orders, newest first.

    Args:
        limit: at most this many orders (1-100).
    """
    customer_id = current_customer(ctx)
    orders = list(ctx.service.customer_orders(customer_id, limit=limit))
    return CustomerOrders(customer_id=customer_id, orders=orders)


@tool(access="write", scope="orders")
def modify_order(ctx: ToolContext, order_id: Id, lines: Lines) -> OrderView:
    """Replace the lines of a draft or placed order (a placed order re-reserves, all or nothing).

    Args:
        order_id: the order's id.
        lines: the complete new set of lines, e.g. [{"sku": "ARD-UNO-R3", "qty": 1}].
    """
    load_owned_order(ctx, order_id)
    return ctx.service.modify_order(order_id, _lines(lines), **ctx.write_options())


@tool(access="write", scope="orders")
def cancel_order(ctx: ToolContext, order_id: Id, reason: Reason) -> OrderView:
    """Cancel an order and release its reserved stock; a shipped order needs approval.

    Args:
        order_id: the order's id.
        reason: why it is cancelled, e.g. "customer changed their mind".
    """
    load_owned_order(ctx, order_id)
    return ctx.service.cancel_order(order_id, reason=reason, **ctx.approval_options())


TOOLS = [
    draft_order,
    place_order,
    get_order_status,
    get_customer_orders,
    modify_order,
    cancel_order,
]
