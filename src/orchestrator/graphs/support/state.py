"""State of the support graph."""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypedDict

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages
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
    intent: str
    """The intent the router decided on."""
    route: dict[str, Any]
    """The router's decision: specialist, confidence, every specialist's score, why."""
    next: str
    """Where a specialist hands the turn on to (`finish`, `escalation`, `agent`)."""
    handoffs: int
    """Hand-offs between specialists in this turn (bounded; then escalation)."""
    messages: Annotated[list[AnyMessage], add_messages]
    """The conversation (customer turns and replies) and the agent loop's tool calls."""
    pending_intent: str | None
    """An intent of an earlier turn still waiting for something (an order id, a SKU)."""
    clarifications: int
    """Clarifying questions asked in a row; the next unclear message is escalated."""
    last_order_id: int | None
    """The order the conversation is about (carried between turns)."""
    last_sku: str | None
    """The product the conversation is about (carried between turns)."""
    citations: list[str]
    """The knowledge-base documents the reply cites."""
    memory: dict[str, Any]
    """What long-term memory holds about the customer (preferences, recent issues)."""


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
    changes: list[str] = []
    """What would change, one line each (shown to the customer before they answer)."""
