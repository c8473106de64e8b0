"""Customer support: understand a message, act for the authenticated customer, reply.

`build_support_graph` is registered as `support`. The intake logic (`parse_request`,
`validate_proposal`) is what keeps a small local model's proposals honest.
"""

from __future__ import annotations

from orchestrator.graphs.support.graph import build_support_graph
from orchestrator.graphs.support.intake import CustomerRequest, parse_request, validate_proposal
from orchestrator.graphs.support.state import Confirmation, SupportInput, SupportState

__all__ = [
    "Confirmation",
    "CustomerRequest",
    "SupportInput",
    "SupportState",
    "build_support_graph",
    "parse_request",
    "validate_proposal",
]
