"""The rationale of a change: written by the model, checked by code, else a template's.

The model gets the computed figures and writes one or two sentences (`PolicyRationale`,
validated structured output). The code then refuses a rationale that states any number that
is not one of the computed figures (a small model invents figures), or that is mostly
repetition; the template's reason is used instead, and the refusal is recorded.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, Field

from orchestrator.graphs.inventory_tuning.state import PairPlan

__all__ = ["PolicyRationale", "allowed_numbers", "check_rationale", "rationale_prompt"]

_NUMBER = re.compile(r"(?<![A-Za-z])-?\d+(?:[.,]\d+)?")


class PolicyRationale(BaseModel):
    """Why the policy of one SKU at one location changes, for a store manager."""

    reason: str = Field(min_length=10, max_length=400)
    """One or two sentences, using only the figures given."""


def _figures(p: PairPlan) -> dict[str, object]:
    return {
        "sku": p.sku,
        "location": p.location,
        "product": p.name,
        "demand_class": p.demand_class,
        "weekly_demand": round(p.weekly_mean, 1),
        "weekly_sd": round(p.weekly_sd, 1),
        "weeks_of_history": p.weeks,
        "lead_time_days": p.lead_time_days,
        "supplier": p.supplier,
        "service_level_pct": round((p.service_level or 0) * 100),
        "old_reorder_point": p.old_reorder_point,
        "new_reorder_point": p.reorder_point,
        "old_safety_stock": p.old_safety_stock,
        "new_safety_stock": p.safety_stock,
        "old_order_quantity": p.old_order_quantity,
        "new_order_quantity": p.order_quantity,
        "change_pct": round(p.change * 100),
    }


def allowed_numbers(p: PairPlan) -> set[float]:
    """Every number a rationale may state: the computed figures (and their simple forms)."""
    found: set[float] = set()
    for key, value in _figures(p).items():
        if isinstance(value, bool) or value is None or key in ("sku", "location", "product"):
            continue
        if isinstance(value, int | float):
            found.add(float(value))
            found.add(float(round(value)))
    if p.service_level is not None:
        found.add(round(p.service_level, 2))
    return found


def rationale_prompt(p: PairPlan) -> list[tuple[str, str]]:
    """The messages asking for the rationale of one change."""
    facts = "\n".join(f"- {k}: {v}" for k, v in _figures(p).items() if v is not None)
    return [
        (
            "system",
            "You explain inventory policy changes to a store manager. Write one or two plain "
            "sentences saying why the reorder point changes. Use only the figures given; do "
            "not invent numbers.",
        ),
        ("human", f"Figures:\n{facts}\n\nWhy does the reorder point change?"),
    ]


def check_rationale(p: PairPlan, text: str) -> str | None:
    """Why `text` may not be used as the rationale of `p` (None: it may).

    Refused: a number that is not one of the computed figures (SKU, location and product
    names are taken out first, their digits are not figures), or a text that is mostly the
    same words repeated.
    """
    stripped = text
    for name in (p.sku, p.location, p.name, p.supplier or ""):
        if name:
            stripped = stripped.replace(name, " ")
    allowed = allowed_numbers(p)
    for match in _NUMBER.findall(stripped):
        value = float(match.replace(",", "."))
        if not any(abs(value - a) < 0.051 for a in allowed):
            return f"it states {match}, which is not one of the computed figures"
    words = re.findall(r"[a-z]+", text.lower())
    if len(words) >= 8 and len(set(words)) < len(words) / 3:
        return "it is mostly repetition"
    return None
