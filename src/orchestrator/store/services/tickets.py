"""Support tickets."""

from __future__ import annotations

from sqlalchemy import select

from orchestrator.errors import InvalidInput, NotFound
from orchestrator.store.models import TicketStatus
from orchestrator.store.services._core import (
    CUSTOMER,
    HINTS,
    ORDERS,
    TICKET,
    Actor,
    Tx,
    _Core,
    check_choice,
    check_code,
    check_id,
    check_text,
)
from orchestrator.store.services.views import TicketView

__all__ = ["PRIORITIES", "TicketsMixin"]

PRIORITIES = ("low", "normal", "high", "urgent")


class TicketsMixin(_Core):
    """Support tickets."""

    def create_ticket(
        self,
        customer_id: int,
        subject: str,
        body: str,
        *,
        order_id: int | None = None,
        category: str = "general",
        priority: str = "normal",
        actor: Actor,
        idempotency_key: str | None = None,
    ) -> TicketView:
        """Open a support ticket for a customer (about one of their orders, optionally).

        Raises:
            NotFound: no such customer or order.
            InvalidInput: an empty subject, a priority outside low/normal/high/urgent, an
                order of another customer.
        """
        args = {
            "customer_id": customer_id,
            "subject": subject,
            "body": body,
            "order_id": order_id,
            "category": category,
            "priority": priority,
        }

        def run(tx: Tx) -> TicketView:
            check_id("customer_id", customer_id)
            check_text("subject", subject, max_len=200, required=True)
            check_text("body", body, max_len=20_000)
            check_code("category", category, max_len=32)
            check_choice("priority", priority, PRIORITIES)
            self._own_customer(tx, customer_id, f"customer {customer_id}")
            if (
                tx.conn.execute(select(CUSTOMER.c.id).where(CUSTOMER.c.id == customer_id)).first()
                is None
            ):
                raise NotFound("customer", customer_id, HINTS["customer"])
            if order_id is not None:
                check_id("order_id", order_id)
                owner = tx.conn.execute(
                    select(ORDERS.c.customer_id).where(ORDERS.c.id == order_id)
                ).scalar_one_or_none()
                if owner is None:
                    raise NotFound("order", order_id, HINTS["order"])
                if owner != customer_id:
                    raise InvalidInput(
                        "order_id", order_id, f"it is not an order of customer {customer_id}"
                    )
            values = {
                "customer_id": customer_id,
                "order_id": order_id,
                "subject": subject,
                "body": body,
                "category": category,
                "priority": priority,
                "status": TicketStatus.OPEN.value,
                "created_at": tx.now,
                "updated_at": tx.now,
            }
            ticket_id = self._insert_id(tx.conn, TICKET, values)
            tx.after = {"ticket_id": ticket_id, "status": TicketStatus.OPEN.value}
            return TicketView(id=ticket_id, **values)

        return self._write(
            "create_ticket",
            args,
            run,
            view=TicketView,
            actor=actor,
            idempotency_key=idempotency_key,
        )
