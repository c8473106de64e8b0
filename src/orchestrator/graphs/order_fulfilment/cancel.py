"""Cancelling an order from outside its run, and what a person sees of an order.

`cancel_order_run` compensates in the store and at the gateway (void or refund, cancel,
release) with keys of its own, then, when the order's run waits for the release approval,
rejects that approval and resumes the run so it ends `cancelled`. A run stopped elsewhere
(its process died) sees the cancel when it is resumed and stops there. Everything is safe to
repeat.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field
from sqlalchemy import select

from orchestrator.errors import InvalidTransition
from orchestrator.graphs.order_fulfilment.nodes import (
    _cancel_quietly,
    compensate_payment,
    order_payments,
)

if TYPE_CHECKING:
    from orchestrator.runtime import Orchestrator
    from orchestrator.store.services import OrderView, StoreService

__all__ = ["OrderStatusView", "cancel_order_run", "find_order_thread", "order_status"]

GRAPH = "order_fulfilment"


class OrderStatusView(BaseModel):
    """An order, its money and shipments, and the run that fulfils it."""

    order: dict[str, Any]
    """The `OrderView` (lines with reserved units)."""
    payments: list[dict[str, Any]] = Field(default_factory=list)
    """`id`, `kind`, `amount_cents`, `status`, `provider_ref`."""
    shipments: list[dict[str, Any]] = Field(default_factory=list)
    """`id`, `carrier`, `service`, `cost_cents`, `tracking`, `status`."""
    thread_id: str | None = None
    """The fulfilment run's thread, if a run made the order."""
    run_status: str | None = None
    """The run's status in the run index (`running`, `waiting`, `completed`, `failed`)."""
    outcome: str | None = None
    """The run's own outcome (`completed`, `backordered`, `failed`, `cancelled`, ...)."""
    reason: str | None = None
    approval_id: int | None = None
    """The approval the run waits on, if any."""


def find_order_thread(service: StoreService, order_id: int, *, scan: int = 2000) -> str | None:
    """The thread of the run that created `order_id` (from the audit log), or None."""
    for entry in service.audit_log(operation="create_order", outcome="ok", limit=scan):
        if entry.after and entry.after.get("order_id") == order_id and entry.thread_id:
            return entry.thread_id
    return None


def _money_rows(
    service: StoreService, order_id: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    from orchestrator.store.models import Shipment

    with service.engine.connect() as conn:
        ships = conn.execute(
            select(Shipment).where(Shipment.order_id == order_id).order_by(Shipment.id)  # type: ignore[arg-type]
        ).mappings()
        shipments = [
            {k: row[k] for k in ("id", "carrier", "service", "cost_cents", "tracking", "status")}
            for row in ships
        ]
    return order_payments(service, order_id), shipments


def order_status(orch: Orchestrator, order_id: int) -> OrderStatusView:
    """The order, its payments and shipments, and its run's status.

    Raises:
        NotFound: no such order.
    """
    order: OrderView = orch.service.get_order(order_id)
    payments, shipments = _money_rows(orch.service, order_id)
    view = OrderStatusView(
        order=order.model_dump(mode="json"), payments=payments, shipments=shipments
    )
    thread = find_order_thread(orch.service, order_id)
    if thread is None:
        return view
    view.thread_id = thread
    try:
        state = orch.state(thread)
    except Exception:  # the run's graph is unknown here, or its checkpoints are gone
        return view
    view.run_status = state.run.status
    view.outcome = state.values.get("status")
    view.reason = state.values.get("reason") or None
    for item in state.interrupts:
        value = item.get("value") if isinstance(item, dict) else None
        if isinstance(value, dict) and value.get("kind") == "approval_required":
            view.approval_id = int(value["approval_id"])
    return view


def cancel_order_run(
    orch: Orchestrator, order_id: int, *, by: str, reason: str = "cancelled on request"
) -> OrderStatusView:
    """Cancel an order that has not shipped: void or refund, cancel, release; stop its run.

    Args:
        orch: the orchestrator on the order's store.
        order_id: the order.
        by: who cancels (recorded in the audit log).
        reason: why.

    Raises:
        InvalidTransition: the order has shipped (a return undoes it) or was delivered.
        NotFound: no such order.
        ApprovalRequired: a refund above `approvals.refund_amount` waits for a person.
    """
    from orchestrator.store.services import Actor

    service = orch.service
    order = service.get_order(order_id)
    if order.status in ("shipped", "delivered"):
        raise InvalidTransition("order", order_id, order.status, "cancelled")
    actor = Actor(by, agent="order")

    def key(label: str) -> str:
        return f"cancel-order-{order_id}:{label}"

    payments, _ = _money_rows(service, order_id)
    captured = sum(
        p["amount_cents"] for p in payments if p["kind"] == "capture" and p["status"] == "succeeded"
    )
    for pay in payments:
        if pay["kind"] != "authorization" or pay["status"] != "succeeded":
            continue
        paid = {
            "status": "captured" if captured else "authorized",
            "reference": pay["provider_ref"],
            "amount_cents": captured or pay["amount_cents"],
        }
        compensate_payment(
            orch.services,
            order_id,
            paid,
            reason=reason,
            actor=actor,
            key=lambda label, ref=pay["provider_ref"]: key(f"{label}:{ref}"),
        )
    _cancel_quietly(orch.services, order_id, reason, actor, key("cancel"))

    status = order_status(orch, order_id)
    thread = status.thread_id
    if thread is not None:
        try:
            values = orch.state(thread).values
        except Exception:
            values = {}
        backorder = values.get("backorder_id")
        if backorder is not None:
            _cancel_quietly(orch.services, int(backorder), reason, actor, key("cancel-backorder"))
        if status.approval_id is not None:
            orch.resume(thread, {"decision": "reject", "note": f"order cancelled: {reason}"}, by=by)
        status = order_status(orch, order_id)
    return status
