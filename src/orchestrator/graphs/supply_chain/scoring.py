"""The supplier score: computed in code from the offers and the supplier's history.

For one need (units `n` of a SKU at a location, needed by `need_by`, the run's date `today`)
and each offer of an active supplier:

```
order_qty      = max(n, moq)
landed_unit    = unit_cost * (1 + import_overhead if supplier abroad else 1)
effective_unit = landed_unit * order_qty / n               (MOQ overbuy charged to the need)
arrives        = today + lead_time_days
late_days      = max(0, arrives - need_by)
on_time        = (on_time_pos + k * offer_on_time_rate) / (received_pos + k)
cost_score     = min(effective_unit over the offers) / effective_unit
time_score     = (1 + min(late_days over the offers)) / (1 + late_days)
score          = w_cost * cost_score + w_time * time_score + w_reliability * on_time
```
Both scores are relative to the best offer, so each is 1 for the best: when some offer
arrives in time, every offer in time scores 1 and a late one 1 / (1 + days late); when none
can (an urgent need), the earliest arrival scores 1 and the others by how much later they come.
The highest score wins; ties go to the lower effective cost, then the shorter lead time, then
the lower supplier id. Offers with a negative cost, a negative lead time, a MOQ below 1 or an
on-time rate outside [0, 1] are refused with the reason, never scored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from orchestrator.graphs.supply_chain.queries import OfferRow
from orchestrator.graphs.supply_chain.state import SupplierOption
from orchestrator.settings import SupplySettings

__all__ = ["offer_problem", "score_offers"]


def offer_problem(offer: OfferRow) -> str | None:
    """Why an offer cannot be used (bad values from outside the services), or None."""
    if offer.unit_cost_cents < 0:
        return (
            f"offer {offer.offer_id} of {offer.supplier_name} has a negative unit cost "
            f"({offer.unit_cost_cents} cents); fix the offer"
        )
    if offer.lead_time_days < 0:
        return (
            f"offer {offer.offer_id} of {offer.supplier_name} has a negative lead time "
            f"({offer.lead_time_days} days); fix the offer"
        )
    if offer.moq < 1:
        return f"offer {offer.offer_id} of {offer.supplier_name} has MOQ {offer.moq} (below 1)"
    if not 0.0 <= offer.on_time_rate <= 1.0 or offer.on_time_rate != offer.on_time_rate:
        return (
            f"offer {offer.offer_id} of {offer.supplier_name} has on-time rate "
            f"{offer.on_time_rate!r} (outside 0-1)"
        )
    return None


def _cents(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def score_offers(
    offers: Sequence[OfferRow],
    *,
    need_qty: int,
    need_by: date,
    today: date,
    history: Mapping[int, tuple[int, int]],
    settings: SupplySettings,
) -> list[SupplierOption]:
    """Score usable offers for one need, best first (the formula is in the module docstring).

    Args:
        offers: the SKU's offers (refused ones must be filtered out with `offer_problem`).
        need_qty: units needed, at least 1.
        need_by: when they are needed.
        today: the run's date.
        history: (on time, received) purchase orders per supplier id.
        settings: weights, import overhead, home country, prior weight.

    Raises:
        ValueError: `need_qty` below 1.
    """
    if need_qty < 1:
        raise ValueError(f"need_qty={need_qty!r}: at least 1 unit must be needed")
    k = settings.history_prior_weight
    rows: list[tuple[OfferRow, int, int, int, int, float, str]] = []
    for offer in offers:
        order_qty = max(need_qty, offer.moq)
        overhead = (
            settings.import_overhead
            if offer.country and offer.country.upper() != settings.home_country.upper()
            else Decimal(0)
        )
        landed = _cents(Decimal(offer.unit_cost_cents) * (1 + overhead))
        effective = _cents(Decimal(landed) * order_qty / need_qty)
        arrives = today + timedelta(days=offer.lead_time_days)
        late = max(0, (arrives - need_by).days)
        good, seen = history.get(offer.supplier_id, (0, 0))
        rate = (good + k * offer.on_time_rate) / (seen + k) if seen + k > 0 else offer.on_time_rate
        told = f"{good}/{seen} past POs on time" if seen else "no received POs yet"
        rows.append((offer, order_qty, landed, effective, late, rate, told))
    if not rows:
        return []
    cheapest = min(r[3] for r in rows)
    least_late = min(r[4] for r in rows)
    options: list[SupplierOption] = []
    for offer, order_qty, landed, effective, late, rate, told in rows:
        cost_score = 1.0 if effective == 0 else cheapest / effective
        time_score = (1.0 + least_late) / (1.0 + late)
        score = (
            settings.weight_cost * cost_score
            + settings.weight_time * time_score
            + settings.weight_reliability * rate
        )
        options.append(
            SupplierOption(
                supplier_id=offer.supplier_id,
                supplier_name=offer.supplier_name,
                supplier_email=offer.supplier_email,
                country=offer.country,
                offer_id=offer.offer_id,
                unit_cost_cents=offer.unit_cost_cents,
                landed_unit_cents=landed,
                moq=offer.moq,
                order_qty=order_qty,
                effective_unit_cents=effective,
                lead_time_days=offer.lead_time_days,
                arrives=(today + timedelta(days=offer.lead_time_days)).isoformat(),
                late_days=late,
                on_time_rate=round(rate, 4),
                history=told,
                cost_score=round(cost_score, 4),
                time_score=round(time_score, 4),
                score=round(score, 4),
            )
        )
    options.sort(key=lambda o: (-o.score, o.effective_unit_cents, o.lead_time_days, o.supplier_id))
    return options
