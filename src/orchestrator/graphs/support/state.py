"""State of the support graph."""

from __future__ import annotations

from typing import Any, Literal, TypedDict

from pydantic import BaseModel, ConfigDict

__all__ = ["Confirmation", "SupportInput", "SupportState"]


class SupportInput(TypedDict):
    """One customer turn."""

    message: str
    """What the customer wrote (untrusted text: it can carry injected instructions)."""


class SupportState(TypedDict, total=False):
    """The graph's state for the current turn (serializable; the customer is in the context)."""

    message: str
    """The customer's message."""
    request: dict[str, Any]
    """The decided `CustomerRequest` (after code checked the model's proposal)."""
    source: Literal["model", "rules"]
    """Whether the model's proposal was used, or the deterministic reading."""
    verdict: str
    """What code made of the model's proposal (accepted, overruled, ...)."""
    specialist: str
    """Which node handled the request."""
    tool_calls: list[dict[str, Any]]
    """The tool calls of this turn: name, arguments, outcome."""
    outcome: str
    """What happened, in a sentence (for the reply and the log)."""
    reply: str
    """The answer to the customer."""


class Confirmation(BaseModel):
    """The interrupt a run pauses on before a write the customer must confirm."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["confirm"] = "confirm"
    action: str
    """The write, e.g. `cancel_order`."""
    arguments: dict[str, Any]
    """What it would be called with."""
    question: str
    """What to ask the customer."""
