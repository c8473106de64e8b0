"""Customer support: a router over specialists acting for the authenticated customer.

`build_support_graph` is registered as `support` (docs/support.md). Specialists (`orders`,
`products`, `knowledge`, `escalation`) each say how well they can handle a message
(`can_handle`); the model's intent and the nearest labelled examples are one vote each; a
write waits for the customer's yes. `demo_steps` is the demo's conversation. The older intake
helpers (`parse_request`, `validate_proposal`) stay for callers that use them.
"""

from __future__ import annotations

from orchestrator.graphs.support.demo import demo_steps
from orchestrator.graphs.support.graph import build_support_graph
from orchestrator.graphs.support.intake import CustomerRequest, parse_request, validate_proposal
from orchestrator.graphs.support.router import (
    ExampleClassifier,
    IntentVote,
    RouteDecision,
    RouterContext,
    Specialist,
    decide,
    read_message,
)
from orchestrator.graphs.support.state import Confirmation, SupportInput, SupportState

__all__ = [
    "Confirmation",
    "CustomerRequest",
    "ExampleClassifier",
    "IntentVote",
    "RouteDecision",
    "RouterContext",
    "Specialist",
    "SupportInput",
    "SupportState",
    "build_support_graph",
    "decide",
    "demo_steps",
    "parse_request",
    "read_message",
    "validate_proposal",
]
