"""Business rules that decide money, below the services so every caller gets the same money.

- `shipping`: the shipping rate table (`quote_shipping`).
- `discounts`: the discount table (`evaluate_discounts`).

Pure functions; the services read the store's facts (weights, tiers, order history) and
apply them.
"""

from __future__ import annotations

from orchestrator.store.rules.discounts import (
    Discount,
    DiscountEligibility,
    evaluate_discounts,
)
from orchestrator.store.rules.shipping import ShippingQuote, quote_shipping, zone_of

__all__ = [
    "Discount",
    "DiscountEligibility",
    "ShippingQuote",
    "evaluate_discounts",
    "quote_shipping",
    "zone_of",
]
