"""Reusable pieces for graphs, the built-in ones and yours.

- `propose` / `apropose`: ask a model for a validated structured output, falling back to a
  deterministic function when the model fails (down, slow, or no valid output): the model
  proposes, code decides what to do with the proposal.
- `structured_node`: the same as a graph node (sync and async) writing one state key.
- `tool_node`: LangGraph's `ToolNode` over a profile's tools, with a cap on tool calls per
  turn (calls past it are refused and the model is told), and `route_tools`, the conditional
  edge that goes to the tools, ends the turn, or escalates when the cap is reached.
- `approval_gate`: a node that passes only once a person approved (a graph's own decision,
  such as releasing a large order), pausing the run with an interrupt until then.

Writes inside hand-written nodes go through `Services.node_context(...)` and
`perform_with_approval` (re-exported here).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, ToolMessage
from langchain_core.runnables import RunnableConfig, RunnableLambda
from langgraph.runtime import Runtime
from pydantic import BaseModel

from orchestrator._personal import mask
from orchestrator.errors import ApprovalRejected, BackendError
from orchestrator.tools.approval import perform_with_approval

__all__ = [
    "Proposal",
    "approval_gate",
    "apropose",
    "calls_this_turn",
    "perform_with_approval",
    "propose",
    "route_tools",
    "structured_node",
    "tool_node",
]

logger = logging.getLogger(__name__)

T = TypeVar("T", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Proposal(Generic[T]):
    """What a structured step produced, and where it came from.

    Attributes:
        value: the validated value (from the model, or from the fallback).
        source: `model` or `fallback`.
        error: why the model's proposal was not used (the `BackendError`), if it was not.
    """

    value: T
    source: Literal["model", "fallback"]
    error: str | None = None


def propose(
    model: Any,
    messages: Any,
    schema: type[T],
    *,
    fallback: Callable[[], T],
) -> Proposal[T]:
    """A validated `schema` from the model, or from `fallback()` when the model fails.

    The model's output is validated against the schema (constrained decoding where the backend
    offers it); a `BackendError` (unreachable, timeout, no valid output) takes the fallback.
    Anything else propagates. The caller still checks the proposal against the facts.

    Args:
        model: a chat model (from `NodeModels.for_node`).
        messages: the conversation (string, messages, or `(role, text)` pairs).
        schema: the pydantic model to get.
        fallback: the deterministic path.
    """
    from orchestrator.backends import structured_output

    try:
        return Proposal(structured_output(model, messages, schema), "model")
    except BackendError as exc:
        logger.info(
            "model proposal for %s failed, using the fallback: %s", schema.__name__, mask(str(exc))
        )
        return Proposal(fallback(), "fallback", f"{type(exc).__name__}: {exc}")


async def apropose(
    model: Any,
    messages: Any,
    schema: type[T],
    *,
    fallback: Callable[[], T],
) -> Proposal[T]:
    """`propose` with an awaited model call (for async nodes)."""
    from orchestrator.backends import astructured_output

    try:
        return Proposal(await astructured_output(model, messages, schema), "model")
    except BackendError as exc:
        logger.info(
            "model proposal for %s failed, using the fallback: %s", schema.__name__, mask(str(exc))
        )
        return Proposal(fallback(), "fallback", f"{type(exc).__name__}: {exc}")


def structured_node(
    model: Any,
    schema: type[T],
    *,
    prompt: Callable[[Any], Any],
    fallback: Callable[[Any], T],
    key: str,
    name: str | None = None,
) -> RunnableLambda[Any, dict[str, Any]]:
    """A node (sync and async) that writes `{key: value, key + "_source": "model"|"fallback"}`.

    Args:
        model: the node's chat model.
        schema: what to get.
        prompt: state -> the messages to send.
        fallback: state -> the deterministic value.
        key: the state key to write.
        name: the node's name, for traces.

    Example:
        >>> builder.add_node("classify", structured_node(
        ...     models.for_node("classify"), Intent,
        ...     prompt=lambda s: s["message"], fallback=lambda s: keyword_intent(s["message"]),
        ...     key="intent"))
    """

    def update(proposal: Proposal[T]) -> dict[str, Any]:
        return {key: proposal.value, f"{key}_source": proposal.source}

    def run(state: Any) -> dict[str, Any]:
        return update(propose(model, prompt(state), schema, fallback=lambda: fallback(state)))

    async def arun(state: Any) -> dict[str, Any]:
        proposal = await apropose(model, prompt(state), schema, fallback=lambda: fallback(state))
        return update(proposal)

    return RunnableLambda(run, afunc=arun, name=name or f"structured_{key}")


def calls_this_turn(messages: Sequence[AnyMessage]) -> list[str]:
    """The ids of the tool calls made since the last human message, in order."""
    ids: list[str] = []
    for message in reversed(messages):
        if isinstance(message, HumanMessage):
            break
        if isinstance(message, AIMessage):
            ids[:0] = [str(call.get("id")) for call in message.tool_calls]
    return ids


def tool_node(
    tools: Sequence[Any],
    *,
    max_calls: int = 8,
    name: str = "tools",
    messages_key: str = "messages",
) -> Any:
    """LangGraph's `ToolNode` over `tools` with at most `max_calls` tool calls per turn.

    A turn is everything since the last human message. Calls past the cap are not run: the
    model gets `error: ToolLimit: ...` for each, and `route_tools` escalates. Tool errors the
    model can fix come back as `error: <Kind>: ...` (see `orchestrator.tools.adapters`); a
    write that needs approval pauses the run.

    Args:
        tools: the tools, e.g. `services.tools("support")`.
        max_calls: the cap (`settings.runtime.max_tool_calls_per_turn`).
        name: the node's name.
        messages_key: the state key holding the messages.
    """
    from langgraph.prebuilt import ToolNode

    def guard(request: Any, execute: Callable[[Any], Any]) -> Any:
        state = request.state
        messages = (
            state.get(messages_key, [])
            if isinstance(state, Mapping)
            else getattr(state, messages_key, [])
        )
        ids = calls_this_turn(messages)
        call_id = str(request.tool_call.get("id"))
        position = ids.index(call_id) + 1 if call_id in ids else len(ids)
        if position > max_calls:
            return ToolMessage(
                content=(
                    f"error: ToolLimit: {max_calls} tool calls per turn reached; "
                    "answer with what you have or hand over to a person"
                ),
                tool_call_id=call_id,
                name=request.tool_call.get("name"),
                status="error",
            )
        return execute(request)

    return ToolNode(list(tools), name=name, messages_key=messages_key, wrap_tool_call=guard)


def route_tools(
    *,
    max_calls: int = 8,
    tools: str = "tools",
    done: str = "__end__",
    over: str = "__end__",
    messages_key: str = "messages",
) -> Callable[[Any], str]:
    """The conditional edge after an agent node: to `tools`, to `done`, or to `over`.

    Goes to `tools` while the last message has tool calls within the per-turn cap, to `over`
    (e.g. an escalation node) when they go past it, and to `done` when the model answered.
    """

    def route(state: Any) -> str:
        messages = (
            state.get(messages_key, [])
            if isinstance(state, Mapping)
            else getattr(state, messages_key, [])
        )
        last = messages[-1] if messages else None
        if not isinstance(last, AIMessage) or not last.tool_calls:
            return done
        return tools if len(calls_this_turn(messages)) <= max_calls else over

    return route


def approval_gate(
    subject: str,
    *,
    services: Any,
    agent: str,
    needs: Callable[[Any], str | None],
    arguments: Callable[[Any], Mapping[str, Any]],
    key: str = "approval",
) -> Callable[..., dict[str, Any]]:
    """A node that passes once a person approved `subject`, pausing the run until then.

    `needs(state)` returns why a person must decide (with the figures), or None to pass
    without asking. Otherwise the node asks the store for an approval bound to this step of
    this run (`StoreService.approval_gate`) and interrupts with an `ApprovalRequest`; when the
    run is resumed after the decision it writes `{key: {"approved": ..., "arguments": ...,
    "approval_id": ..., "decided_by": ..., "note": ...}}` (a person may have edited the
    arguments: use `arguments`). A rejection is not an error: `approved` is False.

    Args:
        subject: what is decided, e.g. `"release_order"`.
        services: the graph's `Services`.
        agent: the agent profile asking (recorded with the approval).
        needs: state -> the reason a person must decide, or None.
        arguments: state -> what the person decides on (JSON-serializable).
        key: the state key to write.
    """

    def gate(state: Any, config: RunnableConfig, runtime: Runtime[Any]) -> dict[str, Any]:
        reason = needs(state)
        args = dict(arguments(state))
        if reason is None:
            return {key: {"approved": True, "arguments": args, "approval_id": None}}
        ctx = services.node_context(config, getattr(runtime, "context", None), agent=agent)
        gate_key = ctx.write_key(f"gate:{subject}")
        try:
            view = perform_with_approval(
                lambda: services.store.approval_gate(
                    subject, args, reason=reason, actor=ctx.make_actor(), idempotency_key=gate_key
                )
            )
        except ApprovalRejected as exc:
            return {
                key: {
                    "approved": False,
                    "arguments": args,
                    "approval_id": exc.approval_id,
                    "decided_by": exc.decided_by,
                    "note": exc.note,
                }
            }
        return {
            key: {
                "approved": True,
                "arguments": view.effective_arguments,
                "approval_id": view.id,
                "decided_by": view.decided_by,
                "note": view.decision_note or "",
            }
        }

    gate.__name__ = f"approval_gate_{subject}"
    return gate
