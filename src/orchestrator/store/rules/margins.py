"""The margin floor: the lowest price a SKU may be sold at, decided in one place.

The store's `set_price` refuses anything below it, the pricing graph clamps its proposals to
it, and the pricing crew's markdown decisions use it, so every caller gets the same floor.

| line | floor |
| --- | --- |
| any price | unit cost x (1 + markup), rounded up to the cent (markup: `ORCH_PRICING__MARGIN_FLOOR_PCT`, default 5%) |
| near-expiry clearance of a perishable line | unit cost |

Example:
    >>> margin_floor_cents(100, near_expiry=False)
    105
    >>> margin_floor_cents(100, near_expiry=True)
    100
"""

from __future__ import annotations

import math

__all__ = ["AMBIENT_FLOOR_MARKUP", "margin_floor_cents"]

AMBIENT_FLOOR_MARKUP = 0.05
"""The default markup of the margin floor over unit cost (5%)."""


def margin_floor_cents(
    cost_cents: int, *, near_expiry: bool, markup: float = AMBIENT_FLOOR_MARKUP
) -> int:
    """The lowest price allowed: cost for perishables near expiry, else cost plus `markup`.

    Args:
        cost_cents: the unit cost (integer cents, not negative).
        near_expiry: a clearance of perishable units close to their use-by date.
        markup: the markup over cost as a fraction (0.05 = 5%).

    Raises:
        ValueError: a negative or non-integer cost, or a negative or non-finite markup.
    """
    if type(cost_cents) is not int or cost_cents < 0:
        raise ValueError(f"cost_cents={cost_cents!r}: expected integer cents, not negative")
    if not math.isfinite(markup) or markup < 0:
        raise ValueError(f"markup={markup!r}: expected a finite fraction, not negative")
    if near_expiry:
        return cost_cents
    # round() first: 100 * 1.05 is 105.00000000000001 in binary floating point.
    return math.ceil(round(cost_cents * (1 + markup), 6))
