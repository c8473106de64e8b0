"""The pricing graph's decisions, in code: what to propose, and the guard rails every price
passes before it may be written.

Proposals:

- **near-expiry markdown** (perishable units within 2 days of their use-by date, found by
  `orchestrator.crews.pricing.markdown_candidates`): the SOP's markdown for the days left
  (25% at 2 days, 50% at 1, 75% on the day), at most `max_markdown_pct`; may go down to unit
  cost (a clearance).
- **overstock markdown** (ambient lines with more than 90 days of cover or no sale in 28
  days): the smallest markdown that brings expected cover under 90 days at the estimated
  elasticity, at most 30% and at most `max_change_pct`.
- **price move** (a usable elasticity, recent demand): toward the margin-maximising price
  `cost x e / (1 + e)` for elastic demand (e < -1), up for inelastic demand, at most
  `max_change_pct`, never above a competitor's price when raising, proposed only when the
  expected daily margin rises by at least `min_gain_pct`.

Guard rails (`guard_price`), from `PricingSettings`, whatever proposed the number: a finite
positive price; at most the run's maximum change; never below the margin floor; no change to
an item under an open promotion unless asked. The store checks the floor again when it writes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel

from orchestrator.settings import PricingSettings
from orchestrator.store.rules.margins import margin_floor_cents

__all__ = [
    "OVERSTOCK_CAP_PCT",
    "TARGET_COVER_DAYS",
    "Guarded",
    "PriceChange",
    "expected_effect",
    "guard_price",
    "propose_move",
]

OVERSTOCK_CAP_PCT = 30.0
TARGET_COVER_DAYS = 90.0
NEAR_EXPIRY_CAPS = {2: 25.0, 1: 50.0, 0: 75.0}

Status = Literal["proposed", "skipped", "applied", "rejected", "refused", "dry_run"]


class PriceChange(BaseModel):
    """One proposed price change and what became of it (a row of the report)."""

    sku: str
    name: str
    category: str
    kind: Literal["markdown", "move"]
    why: Literal["near_expiry", "overstock", "elasticity"]
    current_price_cents: int
    cost_cents: int
    floor_cents: int
    proposed_price_cents: int
    change_pct: float
    clearance: bool = False
    elasticity: float | None = None
    elasticity_source: Literal["sku", "category", "none"] = "none"
    baseline_daily_units: float | None = None
    """Units a day at the current price (28-day average)."""
    expected_daily_units: float | None = None
    """Units a day expected at the proposed price (from the elasticity)."""
    margin_now_cents: float | None = None
    """Gross margin a day at the current price."""
    margin_new_cents: float | None = None
    """Gross margin a day expected at the proposed price."""
    days_of_cover: float | None = None
    days_to_expiry: int | None = None
    competitor_price_cents: int | None = None
    needs_approval: bool = False
    """The change is above `approval_change_pct`: a person decides before it is written."""
    notes: list[str] = []
    """What the guard rails did (clamped to the floor, capped, ...)."""
    status: Status = "proposed"
    detail: str = ""
    applied_price_cents: int | None = None
    """What the store holds now (a person may have edited the price)."""
    approval_id: int | None = None


@dataclass(frozen=True)
class Guarded:
    """A proposal after the guard rails: the price to write, or why nothing is written."""

    price_cents: int | None
    floor_cents: int
    notes: tuple[str, ...]
    skip: str | None = None


def guard_price(
    *,
    current_cents: int,
    cost_cents: int,
    proposed: float,
    clearance: bool,
    settings: PricingSettings,
    open_promotion: str | None = None,
    allow_promoted: bool | None = None,
) -> Guarded:
    """The guard rails: the price to write (never below the floor), or why nothing is.

    Args:
        current_cents: the current list price.
        cost_cents: the unit cost.
        proposed: the proposed price in cents (any float: NaN, inf and negatives are refused).
        clearance: a near-expiry markdown of a perishable (floor: cost; max change:
            `max_markdown_pct`).
        settings: the pricing settings.
        open_promotion: the promotion running on the item, if any.
        allow_promoted: change items under a promotion anyway (default the settings').
    """
    notes: list[str] = []
    markup = settings.margin_floor_pct / 100
    if type(cost_cents) is not int or cost_cents < 0:
        return Guarded(None, 0, (), f"unit cost {cost_cents!r} is negative or not integer cents")
    floor = margin_floor_cents(cost_cents, near_expiry=clearance, markup=markup)
    if type(current_cents) is not int or current_cents <= 0:
        return Guarded(None, floor, (), f"current price {current_cents!r} is not positive")
    allowed = settings.change_promoted if allow_promoted is None else allow_promoted
    if open_promotion and not allowed:
        return Guarded(None, floor, (), f"under open promotion {open_promotion}")
    if not isinstance(proposed, int | float) or not math.isfinite(proposed) or proposed <= 0:
        return Guarded(None, floor, (), f"proposed price {proposed!r} is not a positive number")
    limit = settings.max_markdown_pct if clearance else settings.max_change_pct
    low = math.ceil(round(current_cents * (1 - limit / 100), 6))
    high = math.floor(round(current_cents * (1 + limit / 100), 6))
    price = float(proposed)
    if price < low:
        price = low
        notes.append(f"capped at -{limit:g}%")
    elif price > high:
        price = high
        notes.append(f"capped at +{limit:g}%")
    # Round toward the current price: rounding never takes a change past its cap.
    cents = math.ceil(round(price, 6)) if price < current_cents else math.floor(round(price, 6))
    if cents < floor:
        if floor >= current_cents:
            return Guarded(
                None, floor, tuple(notes), f"already at or below the margin floor ({floor} cents)"
            )
        cents = floor
        notes.append(f"raised to the margin floor ({floor} cents)")
    if cents == current_cents:
        return Guarded(None, floor, tuple(notes), "no change after the guard rails")
    return Guarded(cents, floor, tuple(notes))


MAX_EFFECT_RATIO = 0.30
"""Expected demand is extrapolated at most 30% away from the current price (about the deepest
promotion the estimates have seen); a larger change is evaluated at that bound."""


def expected_effect(
    *,
    price: float,
    new_price: float,
    cost: float,
    daily_units: float | None,
    elasticity: float | None,
) -> tuple[float | None, float | None, float | None]:
    """(expected daily units, daily margin now, daily margin then) at constant elasticity.

    The demand response is evaluated at most `MAX_EFFECT_RATIO` away from the current price:
    constant elasticity is not trusted far outside the prices the history has seen.
    """
    if daily_units is None or elasticity is None or price <= 0 or new_price <= 0:
        margin_now = (price - cost) * daily_units if daily_units is not None else None
        return None, margin_now, None
    ratio = min(max(new_price / price, 1 - MAX_EFFECT_RATIO), 1 + MAX_EFFECT_RATIO)
    units = daily_units * ratio**elasticity
    return units, (price - cost) * daily_units, (new_price - cost) * units


def propose_move(
    *,
    price: int,
    cost: int,
    elasticity: float,
    daily_units: float,
    settings: PricingSettings,
    competitor: int | None = None,
    interval: tuple[float | None, float | None] = (None, None),
) -> float | None:
    """The price an elasticity move aims at (before the guard rails), or None for no move.

    Elastic demand (e < -1) aims at the margin-maximising price cost x e / (1 + e); inelastic
    demand (-1 <= e < 0) at a raise of the maximum change. The target is capped at the
    maximum change and, when raising, at a competitor's price. A move is proposed only when
    the expected daily margin rises by at least `min_gain_pct` at the estimate **and** at both
    ends of its 95% interval (`interval`), so an uncertain estimate moves nothing.
    """
    if not (math.isfinite(elasticity) and elasticity < 0) or daily_units <= 0 or price <= 0:
        return None
    limit = settings.max_change_pct / 100
    # Elastic: the margin-maximising price; inelastic: a raise (capped below).
    target = cost * elasticity / (1 + elasticity) if elasticity < -1 else price * (1 + limit)
    target = min(max(target, price * (1 - limit)), price * (1 + limit))
    if competitor is not None and target > price:
        target = min(target, max(float(competitor), float(price)))
    if abs(target - price) / price < 0.01:
        return None
    for e in (elasticity, *interval):
        if e is None:
            continue
        if not math.isfinite(e):
            return None
        _, now, then = expected_effect(
            price=price, new_price=target, cost=cost, daily_units=daily_units, elasticity=e
        )
        if now is None or then is None or now <= 0:
            return None
        if (then - now) / now * 100 < settings.min_gain_pct:
            return None
    return target


def overstock_markdown_pct(
    *, days_of_cover: float | None, elasticity: float | None, settings: PricingSettings
) -> float:
    """The overstock markdown: enough to bring cover under 90 days, capped; 10% without facts."""
    cap = min(OVERSTOCK_CAP_PCT, settings.max_change_pct)
    if days_of_cover is None or elasticity is None or elasticity >= 0:
        return min(10.0, cap)
    if days_of_cover <= TARGET_COVER_DAYS:
        return 0.0
    # cover x (p1/p0)^-e <= target  =>  p1/p0 <= (target / cover) ** (1 / -e)
    ratio = (TARGET_COVER_DAYS / days_of_cover) ** (1 / -elasticity)
    return min(max(1 - ratio, 0.0) * 100, cap)


def near_expiry_pct(days_to_expiry: int | None, settings: PricingSettings) -> float:
    """The SOP's near-expiry markdown for the days left, at most `max_markdown_pct`."""
    cap = NEAR_EXPIRY_CAPS.get(days_to_expiry if days_to_expiry is not None else 99, 0.0)
    return min(cap, settings.max_markdown_pct)


def as_rows(changes: list[PriceChange]) -> list[dict[str, Any]]:
    """Changes as JSON-ready dicts (graph state)."""
    return [c.model_dump(mode="json") for c in changes]


def from_rows(rows: Sequence[Mapping[str, Any]]) -> list[PriceChange]:
    """Changes from graph state."""
    return [PriceChange.model_validate(dict(r)) for r in rows]
