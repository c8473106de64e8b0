"""Approvals inside a LangGraph run: `ApprovalRequired` becomes `interrupt()`, the decision
becomes the write.

Tool calls do it through `ToolRunner.invoke(..., on_approval="interrupt")` (the LangChain
adapters and `Services.invoke` pass it); `perform_with_approval` does the same around any
other callable that makes one keyed write (an approval gate):

1. it runs the write;
2. on `ApprovalRequired` (the service recorded an approval bound to this call) it calls
   LangGraph's `interrupt()` with an `ApprovalRequest` and the run pauses;
3. a person decides (`Orchestrator.resume(thread_id, decision, by=...)` records the decision
   in the store, then resumes); the node re-runs, reaches the write again, and the service
   finds the approval by the call's key: approved -> the write happens, once, consuming it;
   edited -> the runner uses the approved arguments; rejected -> `ApprovalRejected`; still
   pending -> the next `interrupt()` pauses the run again.

The resume value is never trusted as a decision: only what a person recorded in the store
counts, so whoever can resume a thread cannot approve its writes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from orchestrator.errors import ApprovalRequired

__all__ = ["ApprovalDecision", "ApprovalRequest", "in_graph_run", "perform_with_approval"]

T = TypeVar("T")


class ApprovalRequest(BaseModel):
    """The value of the interrupt a run pauses on when a write needs a human decision."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["approval_required"] = "approval_required"
    """Tells an approval apart from other interrupts (a question to the customer, ...)."""
    approval_id: int
    """The approval row to decide (`orchestrator approvals show ID`)."""
    tool: str
    """The tool (or gate) that asks."""
    arguments: dict[str, Any]
    """What it would do, as a human reads it; an edit replaces these."""
    reason: str
    """Which threshold was crossed, with the figures."""

    @classmethod
    def from_error(cls, exc: ApprovalRequired) -> ApprovalRequest:
        """The request for an `ApprovalRequired` the store recorded (it has an id)."""
        if exc.approval_id is None:
            raise ValueError("an ApprovalRequired without approval_id was not recorded")
        return cls(
            approval_id=exc.approval_id,
            tool=exc.tool,
            arguments=dict(exc.arguments),
            reason=exc.reason,
        )


class ApprovalDecision(BaseModel):
    """A person's decision on an approval, as passed to `Orchestrator.resume`.

    Example:
        >>> ApprovalDecision(decision="edit", arguments={"delta": -40}, note="only 40 damaged")
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    decision: Literal["approve", "edit", "reject"]
    """Approve as asked, approve with changed `arguments`, or reject."""
    approval_id: int | None = Field(default=None, gt=0)
    """Which approval; needed only when the thread waits on several."""
    arguments: dict[str, Any] | None = None
    """For `edit`: the complete arguments to perform the call with (validated like any call)."""
    note: str = Field(default="", max_length=2000)
    """Why; recorded with the decision and shown to the agent on a rejection."""


def in_graph_run() -> bool:
    """Whether the caller runs inside a LangGraph node (so `interrupt()` can pause it)."""
    try:
        from langgraph.config import get_config
    except ImportError:  # pragma: no cover - langgraph is a core dependency
        return False
    try:
        config = get_config()
    except RuntimeError:
        return False
    return bool((config.get("configurable") or {}).get("checkpoint_ns") is not None)


def perform_with_approval(perform: Callable[[], T]) -> T:
    """Run `perform()`; while it needs approval, pause the run with `interrupt()` and retry.

    Call it inside a graph node (or a tool a `ToolNode` runs) around one write. Outside a
    graph run, `ApprovalRequired` propagates as is.

    Args:
        perform: makes the write; it must be the same call (same idempotency key) every time
            it is called: give it a fixed key (for a tool call, use
            `ToolRunner.invoke(..., on_approval="interrupt")` instead, which fixes the key).

    Returns:
        What `perform()` returned once the write was approved (or needed no approval).

    Raises:
        ApprovalRejected: a person rejected it.

    Example:
        >>> def release(state, config, runtime):
        ...     ctx = ToolContext.for_node(config, runtime.context, service=svc, agent="order")
        ...     view = perform_with_approval(lambda: svc.approval_gate(
        ...         "release_order", {"order_id": state["order_id"]}, reason="new customer",
        ...         actor=ctx.make_actor(), idempotency_key=ctx.write_key("release")))
        ...     return {"released": True}
    """
    while True:
        try:
            return perform()
        except ApprovalRequired as exc:
            if exc.approval_id is None or not in_graph_run():
                raise
            from langgraph.types import interrupt

            # Returns once the run is resumed; the store holds the decision, and the next
            # perform() acts on it (or we pause again if it is still pending).
            interrupt(ApprovalRequest.from_error(exc).model_dump(mode="json"))
