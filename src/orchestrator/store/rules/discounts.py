"""The discount table: which discounts a customer gets, for every caller.

`StoreService.discount_eligibility` and `place_order` (which prices the order with the best
discount) evaluate it, and so does the agents' `get_discount_eligibility` tool.

The rules (`DISCOUNT_RULES`), evaluated by the pure `evaluate_discounts`:

| code | condition | discount |
| --- | --- | --- |
| `TIER_GOLD` | customer tier is `gold` | 10% |
| `TIER_SILVER` | customer tier is `silver` | 5% |
| `FIRST_ORDER` | no earlier order that was placed (or shipped, delivered) | 10% |
| `LOYALTY` | 5 or more such orders, or lifetime spend of 100000 cents or more | 5% |
| `BULK` | a basket line of 10 or more units of one SKU | 5% off those lines |

Discounts do not stack: `best` is the eligible one worth the most (on the basket given, or by
percentage when no basket is given). Draft and cancelled orders count for nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel

__all__ = [
    "BULK_MIN_QTY",
    "COUNTED_STATUSES",
    "DISCOUNT_RULES",
    "LOYALTY_MIN_ORDERS",
    "LOYALTY_MIN_SPEND_CENTS",
    "Discount",
    "DiscountEligibility",
    "DiscountRule",
    "evaluate_discounts",
]

BULK_MIN_QTY = 10
LOYALTY_MIN_ORDERS = 5
LOYALTY_MIN_SPEND_CENTS = 100_000
COUNTED_STATUSES = frozenset({"placed", "shipped", "delivered"})
"""Order statuses that count as orders (draft and cancelled ones count for nothing)."""


@dataclass(frozen=True, slots=True)
class DiscountRule:
    """One row of the discount table."""

    code: str
    percent: int
    applies_to: Literal["order", "bulk_lines"]
    description: str


DISCOUNT_RULES: dict[str, DiscountRule] = {
    rule.code: rule
    for rule in (
        DiscountRule("TIER_GOLD", 10, "order", "gold tier customers get 10% off"),
        DiscountRule("TIER_SILVER", 5, "order", "silver tier customers get 5% off"),
        DiscountRule("FIRST_ORDER", 10, "order", "10% off a customer's first order"),
        DiscountRule(
            "LOYALTY",
            5,
            "order",
            f"5% off for {LOYALTY_MIN_ORDERS}+ orders or {LOYALTY_MIN_SPEND_CENTS}+ cents spent",
        ),
        DiscountRule(
            "BULK", 5, "bulk_lines", f"5% off lines of {BULK_MIN_QTY} or more units of one SKU"
        ),
    )
}


class Discount(BaseModel):
    """An eligible discount with the reason it applies."""

    code: str
    percent: int
    applies_to: Literal["order", "bulk_lines"]
    reason: str
    amount_cents: int | None = None
    """What it takes off the basket, when a basket was given."""


class DiscountEligibility(BaseModel):
    """The discounts the current customer may have, and the best one (they do not stack)."""

    customer_id: int
    tier: str
    order_count: int
    lifetime_spend_cents: int
    eligible: list[Discount]
    best: Discount | None
    note: str = "Discounts do not stack: only the best one applies."


def evaluate_discounts(
    *,
    tier: str,
    order_count: int,
    lifetime_spend_cents: int,
    basket: Sequence[tuple[int, int]] = (),
) -> tuple[list[Discount], Discount | None]:
    """Evaluate the discount table (pure).

    Args:
        tier: the customer's tier (`standard`, `silver`, `gold`).
        order_count: earlier orders that were placed, shipped or delivered.
        lifetime_spend_cents: total of those orders.
        basket: (qty, unit price in cents) per line of the basket being priced, if any.

    Returns:
        The eligible discounts in table order, and the best one (None when none apply).
    """
    reasons: list[tuple[str, str]] = []
    if tier == "gold":
        reasons.append(("TIER_GOLD", "the customer is gold tier"))
    elif tier == "silver":
        reasons.append(("TIER_SILVER", "the customer is silver tier"))
    if order_count == 0:
        reasons.append(("FIRST_ORDER", "the customer has no earlier orders"))
    if order_count >= LOYALTY_MIN_ORDERS or lifetime_spend_cents >= LOYALTY_MIN_SPEND_CENTS:
        reasons.append(
            (
                "LOYALTY",
                f"{order_count} earlier orders, {lifetime_spend_cents} cents spent "
                f"(needs {LOYALTY_MIN_ORDERS} orders or {LOYALTY_MIN_SPEND_CENTS} cents)",
            )
        )
    bulk_lines = [(qty, price) for qty, price in basket if qty >= BULK_MIN_QTY]
    if bulk_lines:
        reasons.append(
            ("BULK", f"{len(bulk_lines)} basket line(s) of {BULK_MIN_QTY} or more units")
        )
    basket_total = sum(qty * price for qty, price in basket)
    bulk_total = sum(qty * price for qty, price in bulk_lines)
    eligible: list[Discount] = []
    for code, reason in reasons:
        rule = DISCOUNT_RULES[code]
        amount: int | None = None
        if basket:
            base = bulk_total if rule.applies_to == "bulk_lines" else basket_total
            amount = base * rule.percent // 100
        eligible.append(
            Discount(
                code=code,
                percent=rule.percent,
                applies_to=rule.applies_to,
                reason=reason,
                amount_cents=amount,
            )
        )
    best = _best(eligible)
    return eligible, best


def _best(eligible: Iterable[Discount]) -> Discount | None:
    order = list(DISCOUNT_RULES)

    def worth(discount: Discount) -> tuple[int, int, int]:
        # Amount first (with a basket), then percentage, then table order for ties.
        return (discount.amount_cents or 0, discount.percent, -order.index(discount.code))

    candidates = list(eligible)
    return max(candidates, key=worth) if candidates else None
