"""Reading a customer message: the deterministic rules and the check of a model's proposal.

The model proposes a `CustomerRequest` (intent, order id, SKU) through validated structured
output; `validate_proposal` keeps only what the message itself supports (a small model invents
order ids and picks the wrong intent: FACTS.md), and `parse_request` is the deterministic
reading used when the model fails or is overruled.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, Field

__all__ = ["CustomerRequest", "parse_request", "validate_proposal"]

_ORDER_RE = re.compile(r"\border\s*(?:no\.?|number|#)?\s*#?(\d{1,9})\b", re.IGNORECASE)
_SKU_RE = re.compile(r"\b[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)+\b")


class CustomerRequest(BaseModel):
    """What a customer's message asks for, as the model proposes it."""

    intent: Literal["order_status", "cancel_order", "stock_question", "other"]
    """What the customer wants."""
    order_id: int | None = None
    """The order the message names, if any."""
    sku: str | None = Field(default=None, max_length=64)
    """The product SKU the message names, if any."""


def parse_request(message: str) -> CustomerRequest:
    """The deterministic reading of a message: keywords and the ids written in it."""
    order = _ORDER_RE.search(message)
    sku = _SKU_RE.search(message)
    lowered = message.lower()
    intent: Literal["order_status", "cancel_order", "stock_question", "other"] = "other"
    if order and re.search(r"\bcancel", lowered):
        intent = "cancel_order"
    elif order:
        intent = "order_status"
    elif sku or re.search(r"\b(in stock|available|stock)\b", lowered):
        intent = "stock_question"
    return CustomerRequest(
        intent=intent,
        order_id=int(order.group(1)) if order else None,
        sku=sku.group(0) if sku else None,
    )


def validate_proposal(message: str, proposal: CustomerRequest) -> tuple[CustomerRequest, str]:
    """Keep what the message supports of the model's proposal; say what was overruled.

    An id the model gives must appear in the message (a model must not invent an order id):
    one that does not is dropped, and the id the message does carry (if any) is used. The
    intent must agree with the message's reading and have the id it needs; otherwise the
    deterministic reading (`parse_request`) decides.
    """
    parsed = parse_request(message)
    dropped = []
    if proposal.order_id is not None and proposal.order_id != parsed.order_id:
        dropped.append(f"order_id {proposal.order_id} is not in the message")
    if proposal.sku is not None and proposal.sku != parsed.sku:
        dropped.append(f"sku {proposal.sku!r} is not in the message")
    problems = []
    if proposal.intent != parsed.intent:
        problems.append(
            f"intent {proposal.intent!r} disagrees with the message ({parsed.intent!r})"
        )
    needs = {"order_status": "order_id", "cancel_order": "order_id", "stock_question": "sku"}
    needed = needs.get(proposal.intent)
    if needed and getattr(parsed, needed) is None:
        problems.append(f"{proposal.intent} needs a {needed} and the message has none")
    if problems:
        return parsed, "overruled: " + "; ".join(dropped + problems)
    # Same intent: the ids are the message's own, whatever the model copied or invented.
    decided = parsed.model_copy(update={"intent": proposal.intent})
    if dropped:
        return decided, "accepted, dropping what the message does not say: " + "; ".join(dropped)
    return decided, "accepted"
