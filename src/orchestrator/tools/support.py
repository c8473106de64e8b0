"""Support tools: open a ticket for the current customer."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from orchestrator.store.services.views import TicketView
from orchestrator.tools._core import ToolContext, current_customer, tool
from orchestrator.tools.orders import load_owned_order
from orchestrator.tools.types import Id

__all__ = ["TOOLS", "create_support_ticket"]


@tool(access="write", scope="support", customer_scoped=True)
def create_support_ticket(
    ctx: ToolContext,
    subject: Annotated[str, Field(min_length=3, max_length=200)],
    body: Annotated[str, Field(max_length=10_000)] = "",
    order_id: Id | None = None,
    category: Literal[
        "general", "order", "delivery", "return", "billing", "product", "complaint"
    ] = "general",
    priority: Literal["low", "normal", "high", "urgent"] = "normal",
) -> TicketView:
    """Open a support ticket for the current customer, for a human to follow up.

    Args:
        subject: one line saying what it is about.
        body: the details: what happened, what the customer wants.
        order_id: the order it concerns, if any (it must be the customer's own).
        category: general, order, delivery, return, billing, product or complaint.
        priority: low, normal, high or urgent.
    """
    customer_id = current_customer(ctx)
    if order_id is not None:
        load_owned_order(ctx, order_id)
    return ctx.service.create_ticket(
        customer_id,
        subject,
        body,
        order_id=order_id,
        category=category,
        priority=priority,
        **ctx.write_options(),
    )


TOOLS = [create_support_ticket]
