"""State of the cycle-count graph."""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypedDict

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["CountLine", "CountResult", "CycleCountInput", "CycleCountState"]


class CountLine(BaseModel):
    """One counted shelf: a SKU at a location and the units a person counted."""

    model_config = ConfigDict(extra="forbid", strict=True)

    sku: str = Field(min_length=1, max_length=64)
    """The product counted."""
    location: str = Field(min_length=1, max_length=32)
    """Where it was counted."""
    counted: int = Field(ge=0, le=100_000_000)
    """Units found on the shelf."""


class CountResult(BaseModel):
    """What the graph found and did for one counted line."""

    sku: str
    location: str
    counted: int
    on_hand: int | None = None
    """The books' on-hand when the count was compared (None: unknown SKU or location)."""
    delta: int = 0
    """counted - on_hand: the adjustment to post."""
    status: Literal["matches", "pending", "adjusted", "rejected", "refused", "invalid"] = "pending"
    """`matches` (nothing to do), `pending` (to adjust), `adjusted`, `rejected` (a person
    said no), `refused` (the store refused), `invalid` (bad line)."""
    detail: str = ""
    """Why, for the report."""


class CycleCountInput(TypedDict):
    """What a run starts with."""

    counts: list[dict[str, Any]]
    """The counted lines: `{"sku": ..., "location": ..., "counted": ...}`."""
    reason: str
    """Why the count was made, recorded with every adjustment (e.g. "weekly cycle count")."""


def _replace(_old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return new


class CycleCountState(TypedDict, total=False):
    """The graph's state (serializable: plain dicts and strings)."""

    counts: list[dict[str, Any]]
    """The counted lines as given."""
    reason: str
    """Why the count was made."""
    lines: Annotated[list[dict[str, Any]], _replace]
    """One `CountResult` (as a dict) per counted line, updated as the run goes."""
    report: str
    """The summary a person reads."""
