"""Pricing tools: which discounts the current customer is eligible for, and why.

The discount table lives below the services, in `orchestrator.store.rules.discounts` (its
module docstring is the reference); the services evaluate it (`discount_eligibility`, and
`place_order` prices an order with the best discount). It is re-exported here.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from orchestrator.store.rules.discounts import (
    BULK_MIN_QTY,
    DISCOUNT_RULES,
    LOYALTY_MIN_ORDERS,
    LOYALTY_MIN_SPEND_CENTS,
    Discount,
    DiscountEligibility,
    DiscountRule,
    evaluate_discounts,
)
from orchestrator.store.services.views import OrderLineIn
from orchestrator.tools._core import ToolContext, current_customer, tool
from orchestrator.tools.types import OrderLineArg

__all__ = [
    "BULK_MIN_QTY",
    "DISCOUNT_RULES",
    "LOYALTY_MIN_ORDERS",
    "LOYALTY_MIN_SPEND_CENTS",
    "TOOLS",
    "Discount",
    "DiscountEligibility",
    "DiscountRule",
    "evaluate_discounts",
    "get_discount_eligibility",
]


@tool(access="read", scope="pricing", customer_scoped=True)
def get_discount_eligibility(
    ctx: ToolContext,
    items: Annotated[list[OrderLineArg], Field(max_length=100)] | None = None,
) -> DiscountEligibility:
    """Check which discounts the current customer is eligible for, with the reasons.

    Args:
        items: the basket being priced, e.g. [{"sku": "ARD-UNO-R3", "qty": 12}]; optional,
            needed for the bulk discount and for amounts.
    """
    customer_id = current_customer(ctx)
    lines = [OrderLineIn(sku=item.sku, qty=item.qty) for item in items or []]
    eligibility: DiscountEligibility = ctx.service.discount_eligibility(customer_id, lines)
    return eligibility


TOOLS = [get_discount_eligibility]
