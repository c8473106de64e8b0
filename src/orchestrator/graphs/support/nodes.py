"""Nodes of the support graph: understand, one specialist per intent, reply.

The model only reads the message (`understand`); code checks its proposal against the message
(`validate_proposal`), and every read and write goes through the support profile's tools for
the authenticated customer of the run context, so another customer's order is answered as
not found and a prompt injection cannot become a write. A cancellation waits for the
customer's explicit yes (an interrupt the caller answers).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from orchestrator.errors import ApprovalRejected, NotFound, OrchestratorError
from orchestrator.graphs.support.intake import (
    CustomerRequest,
    parse_request,
    validate_proposal,
)
from orchestrator.graphs.support.state import Confirmation, SupportState
from orchestrator.runtime.deps import Services
from orchestrator.runtime.nodes import propose

__all__ = [
    "AGENT",
    "SYSTEM_PROMPT",
    "cancel_order",
    "check_stock",
    "handoff",
    "order_status",
    "reply",
    "route",
    "understand",
]

AGENT = "support"
"""The agent profile of every tool call (customer-facing: the run must name a customer)."""

SYSTEM_PROMPT = (
    "You read one customer message and say what it asks for. intent is one of "
    "order_status, cancel_order, stock_question, other. Copy order ids and SKUs exactly "
    "as written in the message; use null when the message has none."
)

CANCELLABLE = frozenset({"draft", "placed", "shipped"})


def understand(state: SupportState, *, model: Any) -> dict[str, Any]:
    """The model proposes what the message asks; code keeps what the message supports."""
    message = state["message"]
    rules = parse_request(message)
    proposal = propose(
        model,
        [("system", SYSTEM_PROMPT), ("user", message)],
        CustomerRequest,
        fallback=lambda: rules,
    )
    if proposal.source == "model":
        decided, verdict = validate_proposal(message, proposal.value)
    else:
        reason = (proposal.error or "").split(":", 1)[0]
        decided, verdict = rules, f"deterministic path ({reason})"
    return {
        "request": decided.model_dump(),
        "source": "model" if proposal.source == "model" else "rules",
        "verdict": verdict,
        "tool_calls": [],
    }


def route(state: SupportState) -> Literal["order_status", "cancel_order", "check_stock", "handoff"]:
    """Pick the specialist for the decided request."""
    request = CustomerRequest.model_validate(state["request"])
    if request.intent == "order_status" and request.order_id is not None:
        return "order_status"
    if request.intent == "cancel_order" and request.order_id is not None:
        return "cancel_order"
    if request.intent == "stock_question" and request.sku is not None:
        return "check_stock"
    return "handoff"


def _call(
    services: Services, ctx: Any, calls: list[dict[str, Any]], name: str, args: dict[str, Any]
) -> Any:
    """One tool call, recorded in the turn's `tool_calls` with its outcome."""
    try:
        result = services.invoke(ctx, name, args, call_id=f"{name}:{len(calls) + 1}")
    except NotFound as exc:
        calls.append({"name": name, "arguments": args, "outcome": "not_found"})
        raise exc
    except OrchestratorError as exc:
        calls.append({"name": name, "arguments": args, "outcome": type(exc).__name__})
        raise
    calls.append({"name": name, "arguments": args, "outcome": "ok"})
    return result


def order_status(
    state: SupportState, config: Any, runtime: Any, *, services: Services
) -> dict[str, Any]:
    """Look up the customer's order."""
    ctx = services.node_context(config, runtime.context, agent=AGENT)
    order_id = int(state["request"]["order_id"])
    calls: list[dict[str, Any]] = []
    try:
        order = _call(services, ctx, calls, "get_order_status", {"order_id": order_id})
        outcome = f"Order {order.id} is {order.status}."
    except NotFound:
        outcome = f"I can't find order {order_id} on your account."
    return {"specialist": "orders", "tool_calls": calls, "outcome": outcome}


def _confirmed(answer: Any) -> bool:
    if isinstance(answer, bool):
        return answer
    if isinstance(answer, str):
        return answer.strip().lower() in {"y", "yes", "confirm", "ok", "true"}
    if isinstance(answer, Mapping):
        return _confirmed(answer.get("confirm", answer.get("answer", False)))
    return False


def cancel_order(
    state: SupportState, config: Any, runtime: Any, *, services: Services
) -> dict[str, Any]:
    """Cancel the customer's order once they confirm (a shipped one also needs approval)."""
    from langgraph.types import interrupt

    ctx = services.node_context(config, runtime.context, agent=AGENT)
    order_id = int(state["request"]["order_id"])
    calls: list[dict[str, Any]] = []
    try:
        order = _call(services, ctx, calls, "get_order_status", {"order_id": order_id})
    except NotFound:
        return {
            "specialist": "orders",
            "tool_calls": calls,
            "outcome": f"I can't find order {order_id} on your account.",
        }
    if order.status not in CANCELLABLE:
        return {
            "specialist": "orders",
            "tool_calls": calls,
            "outcome": f"Order {order_id} is {order.status} and can no longer be cancelled.",
        }
    args = {"order_id": order_id, "reason": "customer asked by message"}
    answer = interrupt(
        Confirmation(
            action="cancel_order",
            arguments=args,
            question=f"Cancel order {order_id} ({order.status}, {len(order.lines)} line(s))?",
        ).model_dump()
    )
    if not _confirmed(answer):
        calls.append({"name": "cancel_order", "arguments": args, "outcome": "not_confirmed"})
        return {
            "specialist": "orders",
            "tool_calls": calls,
            "outcome": f"Order {order_id} stays as it is.",
        }
    try:
        services.invoke(ctx, "cancel_order", args, call_id=f"cancel:{order_id}")
    except ApprovalRejected:
        calls.append({"name": "cancel_order", "arguments": args, "outcome": "rejected"})
        outcome = f"Order {order_id} has shipped and a colleague declined to cancel it."
    except OrchestratorError as exc:
        calls.append({"name": "cancel_order", "arguments": args, "outcome": type(exc).__name__})
        outcome = f"Order {order_id} could not be cancelled: {exc}"
    else:
        calls.append({"name": "cancel_order", "arguments": args, "outcome": "ok"})
        outcome = f"Order {order_id} is cancelled."
    return {"specialist": "orders", "tool_calls": calls, "outcome": outcome}


def check_stock(
    state: SupportState, config: Any, runtime: Any, *, services: Services
) -> dict[str, Any]:
    """How many units of the SKU are available."""
    ctx = services.node_context(config, runtime.context, agent=AGENT)
    sku = str(state["request"]["sku"])
    calls: list[dict[str, Any]] = []
    try:
        report = _call(services, ctx, calls, "get_inventory", {"sku": sku})
        outcome = f"We have {report.total_available} of {sku} available."
    except NotFound:
        outcome = f"I can't find a product {sku}."
    return {"specialist": "products", "tool_calls": calls, "outcome": outcome}


def handoff(
    state: SupportState, config: Any, runtime: Any, *, services: Services
) -> dict[str, Any]:
    """Hand the message to a person through a support ticket."""
    ctx = services.node_context(config, runtime.context, agent=AGENT)
    calls: list[dict[str, Any]] = []
    args = {
        "subject": "Customer message for a person",
        "body": state["message"][:10_000],
        "category": "general",
    }
    try:
        ticket = _call(services, ctx, calls, "create_support_ticket", args)
        outcome = f"I've passed this to a colleague (ticket {ticket.id})."
    except OrchestratorError:
        outcome = "I've passed this to a colleague."
    return {"specialist": "escalation", "tool_calls": calls, "outcome": outcome}


def reply(state: SupportState) -> dict[str, Any]:
    """The answer to the customer (from the outcome; code-written)."""
    return {"reply": state.get("outcome") or "I've passed this to a colleague."}
