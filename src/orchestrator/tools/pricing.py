"""Pricing tools: which discounts the current customer is eligible for, and setting a price.

`set_price` is the one price write: the store refuses a price below the margin floor
(`orchestrator.store.rules.margins`), and a large change waits for a person's approval. Only
the `pricing` profile may call it.

The discount table lives below the services, in `orchestrator.store.rules.discounts` (its
module docstring is the reference); the services evaluate it (`discount_eligibility`, and
`place_order` prices an order with the best discount). It is re-exported here.
"""

from __future__ import annotations

from typing import Annotated, Literal

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
from orchestrator.store.services.prices import PriceChangeView
from orchestrator.store.services.views import OrderLineIn
from orchestrator.tools._core import ToolContext, current_customer, tool
from orchestrator.tools.types import OrderLineArg, Reason, Sku

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
    "set_price",
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


@tool(access="write", scope="pricing")
def set_price(
    ctx: ToolContext,
    sku: Sku,
    price_cents: Annotated[int, Field(gt=0, le=10_000_000_000)],
    reason: Reason,
    kind: Literal["markdown", "move", "manual"] = "manual",
    clearance: bool = False,
) -> PriceChangeView:
    """Set a product's list price; never below its margin floor, large changes need approval.

    Args:
        sku: the product's SKU.
        price_cents: the new list price in integer cents, e.g. 249 for 2.49.
        reason: why, e.g. "2 days to use-by: SOP markdown 25%".
        kind: "markdown" (near expiry or overstock), "move" (elasticity) or "manual".
        clearance: a near-expiry markdown of a perishable line, which may go down to unit cost.
    """
    return ctx.service.set_price(
        sku,
        price_cents,
        reason=reason,
        kind=kind,
        clearance=clearance,
        **ctx.approval_options(),
    )


TOOLS = [get_discount_eligibility, set_price]
