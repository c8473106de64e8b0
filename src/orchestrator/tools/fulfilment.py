"""Fulfilment tools: shipping quotes from the store's rate table.

The rate table and its rules live below the services, in `orchestrator.store.rules.shipping`
(its module docstring is the reference); they are re-exported here.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from orchestrator.errors import InvalidInput
from orchestrator.store.rules.shipping import (
    EUROPE,
    FREE_SHIPPING_THRESHOLD_CENTS,
    MAX_PARCEL_GRAMS,
    PACKAGING_GRAMS,
    RATES,
    REMOTE_POSTCODE_PREFIXES,
    REMOTE_SURCHARGE_CENTS,
    Rate,
    Service,
    ShippingQuote,
    quote_shipping,
    zone_of,
)
from orchestrator.store.services.views import OrderLineIn
from orchestrator.tools._core import ToolContext, tool
from orchestrator.tools.orders import load_owned_order
from orchestrator.tools.types import Id, OrderLineArg

__all__ = [
    "EUROPE",
    "FREE_SHIPPING_THRESHOLD_CENTS",
    "MAX_PARCEL_GRAMS",
    "PACKAGING_GRAMS",
    "RATES",
    "REMOTE_POSTCODE_PREFIXES",
    "REMOTE_SURCHARGE_CENTS",
    "TOOLS",
    "Rate",
    "ShippingItem",
    "ShippingQuote",
    "calculate_shipping",
    "quote_shipping",
    "zone_of",
]


class ShippingItem(OrderLineArg):
    """A product and quantity to ship."""


@tool(access="read", scope="fulfilment")
def calculate_shipping(
    ctx: ToolContext,
    country: Annotated[str, Field(min_length=2, max_length=2)],
    service: Service = "standard",
    postcode: Annotated[str, Field(max_length=12)] = "",
    items: Annotated[list[ShippingItem], Field(min_length=1, max_length=100)] | None = None,
    order_id: Id | None = None,
) -> ShippingQuote:
    """Quote shipping cost and delivery days for some items or an existing order.

    Give either items or order_id, not both.

    Args:
        country: destination two-letter ISO country code, e.g. "GB", "FR", "US".
        service: "standard", "express" or "next_day" (next_day: UK mainland only).
        postcode: destination postcode; remote UK areas cost more.
        items: products and quantities to ship, e.g. [{"sku": "ARD-UNO-R3", "qty": 2}].
        order_id: an existing order to ship instead of items.
    """
    if (items is None) == (order_id is None):
        raise InvalidInput("items", items, "give either items or order_id (exactly one of them)")
    if order_id is not None:
        load_owned_order(ctx, order_id)
    quote: ShippingQuote = ctx.service.quote_shipping(
        order_id=order_id,
        lines=None if items is None else [OrderLineIn(sku=i.sku, qty=i.qty) for i in items],
        country=country,
        postcode=postcode,
        service=service,
    )
    return quote


TOOLS = [calculate_shipping]
