"""Order fulfilment: take an order from intake to a shipped parcel, durably.

A built-in graph (`Orchestrator.run("order_fulfilment", ...)`): validate, reserve (choosing
the location; partial fulfilment or backorder per `settings.orders.policy`), a person's
approval above thresholds, payment through a `PaymentGateway`, shipping, the customer's
message. A cancel before shipping compensates (`cancel_order_run`). See docs/orders.md.
"""

from __future__ import annotations

from orchestrator.graphs.order_fulfilment.cancel import (
    OrderStatusView,
    cancel_order_run,
    find_order_thread,
    order_status,
)
from orchestrator.graphs.order_fulfilment.demo import demo_steps
from orchestrator.graphs.order_fulfilment.graph import build_order_fulfilment_graph
from orchestrator.graphs.order_fulfilment.payments import (
    InProcessGateway,
    PaymentGateway,
    PaymentResult,
)
from orchestrator.graphs.order_fulfilment.state import (
    DraftLine,
    Notification,
    OrderDraft,
    OrderInput,
    OrderState,
)

__all__ = [
    "DraftLine",
    "InProcessGateway",
    "Notification",
    "OrderDraft",
    "OrderInput",
    "OrderState",
    "OrderStatusView",
    "PaymentGateway",
    "PaymentResult",
    "build_order_fulfilment_graph",
    "cancel_order_run",
    "demo_steps",
    "find_order_thread",
    "order_status",
]
