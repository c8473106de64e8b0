"""Customer returns: initiate (customer or staff), receive (staff, restocks), reject."""

from __future__ import annotations

from sqlalchemy import func, select

from orchestrator.errors import InvalidInput
from orchestrator.store.models import LedgerKind, OrderStatus, ReturnStatus
from orchestrator.store.services._core import (
    ORDER_LINE,
    ORDERS,
    RETURN_LINE,
    RETURNS,
    Actor,
    Tx,
    check_id,
    check_text,
)
from orchestrator.store.services.orders import parse_lines
from orchestrator.store.services.reads import return_view
from orchestrator.store.services.stock import StockMixin
from orchestrator.store.services.views import ReturnLineIn, ReturnView

__all__ = ["ReturnsMixin"]


class ReturnsMixin(StockMixin):
    """Returns of shipped goods."""

    def initiate_return(
        self,
        order_id: int,
        lines: list[ReturnLineIn],
        *,
        reason: str,
        actor: Actor,
        idempotency_key: str | None = None,
    ) -> ReturnView:
        """Open a return for units of a shipped or delivered order.

        Each line's quantity is at most what the order shipped of the SKU minus what earlier
        (not rejected) returns already cover.

        Raises:
            InvalidInput: the order has not shipped, a SKU not on the order, too many units,
                an empty reason.
            PermissionDenied: a customer-scoped actor returning someone else's order.
        """
        args = {"order_id": order_id, "lines": lines, "reason": reason}

        def run(tx: Tx) -> ReturnView:
            check_id("order_id", order_id)
            parsed = parse_lines("lines", lines, ReturnLineIn)
            check_text("reason", reason, required=True)
            order = self._locked(tx.conn, ORDERS, "order", order_id)
            self._own_customer(tx, order["customer_id"], f"order {order_id}")
            if order["status"] not in (OrderStatus.SHIPPED, OrderStatus.DELIVERED):
                raise InvalidInput(
                    "order_id",
                    order_id,
                    f"order is {order['status']}; only shipped or delivered orders take returns",
                )
            order_lines = {
                r.sku: r
                for r in tx.conn.execute(
                    select(ORDER_LINE.c.id, ORDER_LINE.c.sku, ORDER_LINE.c.qty).where(
                        ORDER_LINE.c.order_id == order_id
                    )
                )
            }
            returned = dict(
                tx.conn.execute(
                    select(RETURN_LINE.c.order_line_id, func.sum(RETURN_LINE.c.qty))
                    .join(RETURNS, RETURNS.c.id == RETURN_LINE.c.return_id)
                    .where(
                        RETURNS.c.order_id == order_id,
                        RETURNS.c.status != ReturnStatus.REJECTED.value,
                    )
                    .group_by(RETURN_LINE.c.order_line_id)
                ).all()
            )
            for i, ln in enumerate(parsed):
                ol = order_lines.get(ln.sku)
                if ol is None:
                    raise InvalidInput(
                        f"lines[{i}].sku", ln.sku, f"order {order_id} did not ship this SKU"
                    )
                left = ol.qty - int(returned.get(ol.id, 0))
                if ln.qty > left:
                    raise InvalidInput(
                        f"lines[{i}].qty",
                        ln.qty,
                        f"only {left} of the {ol.qty} shipped units of {ln.sku} can still be "
                        "returned",
                    )
            return_id = self._insert_id(
                tx.conn,
                RETURNS,
                {
                    "order_id": order_id,
                    "customer_id": order["customer_id"],
                    "status": ReturnStatus.REQUESTED.value,
                    "reason": reason,
                    "refund_cents": 0,
                    "created_at": tx.now,
                    "updated_at": tx.now,
                },
            )
            for ln in parsed:
                self._insert_id(
                    tx.conn,
                    RETURN_LINE,
                    {
                        "return_id": return_id,
                        "order_line_id": order_lines[ln.sku].id,
                        "sku": ln.sku,
                        "qty": ln.qty,
                    },
                )
            tx.after = {
                "return_id": return_id,
                "status": ReturnStatus.REQUESTED.value,
                "lines": {ln.sku: ln.qty for ln in parsed},
            }
            return return_view(tx.conn, return_id)

        return self._write(
            "initiate_return",
            args,
            run,
            view=ReturnView,
            actor=actor,
            idempotency_key=idempotency_key,
            reason=reason if isinstance(reason, str) else "",
        )

    def receive_return(
        self,
        return_id: int,
        *,
        restock: bool = True,
        actor: Actor,
        idempotency_key: str | None = None,
    ) -> ReturnView:
        """Receive a requested return; with `restock` its units go back on hand (`return` rows).

        Raises:
            InvalidTransition: the return is not requested.
            NotFound: no such return.
        """
        args = {"return_id": return_id, "restock": restock}

        def run(tx: Tx) -> ReturnView:
            check_id("return_id", return_id)
            if not isinstance(restock, bool):
                raise InvalidInput("restock", restock, "expected True or False")
            self._staff_only(tx)
            ret = self._locked(tx.conn, RETURNS, "return", return_id)
            self._move(
                tx,
                RETURNS,
                "return",
                return_id,
                ret["status"],
                ReturnStatus.RECEIVED,
                updated_at=tx.now,
            )
            restocked: dict[str, int] = {}
            if restock:
                location = tx.conn.execute(
                    select(ORDERS.c.location).where(ORDERS.c.id == ret["order_id"])
                ).scalar_one()
                lines = tx.conn.execute(
                    select(RETURN_LINE.c.sku, RETURN_LINE.c.qty)
                    .where(RETURN_LINE.c.return_id == return_id)
                    .order_by(RETURN_LINE.c.sku)
                ).all()
                self._lock_stock(tx, [(line.sku, location) for line in lines])
                for line in lines:
                    self._change_on_hand(
                        tx,
                        line.sku,
                        location,
                        line.qty,
                        kind=LedgerKind.RETURN,
                        reason=f"return {return_id}",
                        ref_type="return",
                        ref_id=str(return_id),
                    )
                    restocked[line.sku] = restocked.get(line.sku, 0) + line.qty
            tx.before = {"status": ret["status"]}
            tx.after = {"status": ReturnStatus.RECEIVED.value, "restocked": restocked}
            return return_view(tx.conn, return_id)

        return self._write(
            "receive_return",
            args,
            run,
            view=ReturnView,
            actor=actor,
            idempotency_key=idempotency_key,
        )

    def reject_return(
        self,
        return_id: int,
        *,
        reason: str,
        actor: Actor,
        idempotency_key: str | None = None,
    ) -> ReturnView:
        """Reject a requested return (its units count as returnable again).

        Raises:
            InvalidTransition: the return is not requested.
        """
        args = {"return_id": return_id, "reason": reason}

        def run(tx: Tx) -> ReturnView:
            check_id("return_id", return_id)
            check_text("reason", reason, required=True)
            self._staff_only(tx)
            ret = self._locked(tx.conn, RETURNS, "return", return_id)
            self._move(
                tx,
                RETURNS,
                "return",
                return_id,
                ret["status"],
                ReturnStatus.REJECTED,
                updated_at=tx.now,
            )
            tx.before = {"status": ret["status"]}
            tx.after = {"status": ReturnStatus.REJECTED.value}
            return return_view(tx.conn, return_id)

        return self._write(
            "reject_return",
            args,
            run,
            view=ReturnView,
            actor=actor,
            idempotency_key=idempotency_key,
            reason=reason if isinstance(reason, str) else "",
        )
