"""Money writes: payments (authorisations, captures) and refunds, in integer cents."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, update

from orchestrator.errors import InvalidInput, InvalidTransition
from orchestrator.store.models import OrderStatus, PaymentKind, ReturnStatus
from orchestrator.store.services._core import (
    ORDERS,
    PAYMENT,
    RETURNS,
    Actor,
    Tx,
    _Core,
    check_cents,
    check_choice,
    check_id,
    check_text,
)
from orchestrator.store.services.views import PaymentView

__all__ = ["PaymentsMixin"]


class PaymentsMixin(_Core):
    """Payments and refunds; the order row is locked while the money position is checked."""

    def _money(self, tx: Tx, order_id: int) -> tuple[Any, dict[str, int]]:
        check_id("order_id", order_id)
        order = self._locked(tx.conn, ORDERS, "order", order_id)
        self._own_customer(tx, order["customer_id"], f"order {order_id}")
        sums = dict(
            tx.conn.execute(
                select(PAYMENT.c.kind, func.sum(PAYMENT.c.amount_cents))
                .where(PAYMENT.c.order_id == order_id, PAYMENT.c.status == "succeeded")
                .group_by(PAYMENT.c.kind)
            ).all()
        )
        return order, {k: int(v) for k, v in sums.items()}

    def _pay(
        self, tx: Tx, order_id: int, kind: str, amount: int, sums: dict[str, int], ref: str
    ) -> PaymentView:
        payment_id = self._insert_id(
            tx.conn,
            PAYMENT,
            {
                "order_id": order_id,
                "kind": kind,
                "amount_cents": amount,
                "status": "succeeded",
                "provider_ref": ref,
                "created_at": tx.now,
            },
        )
        after = dict(sums)
        after[kind] = after.get(kind, 0) + amount
        tx.before = {
            "captured_cents": sums.get("capture", 0),
            "refunded_cents": sums.get("refund", 0),
        }
        tx.after = {
            "payment_id": payment_id,
            "captured_cents": after.get("capture", 0),
            "refunded_cents": after.get("refund", 0),
        }
        return PaymentView(
            id=payment_id,
            order_id=order_id,
            kind=kind,
            amount_cents=amount,
            status="succeeded",
            provider_ref=ref,
            created_at=tx.now,
            captured_cents=after.get("capture", 0),
            refunded_cents=after.get("refund", 0),
        )

    def record_payment(
        self,
        order_id: int,
        kind: str,
        amount_cents: int,
        *,
        provider_ref: str = "",
        actor: Actor,
        idempotency_key: str | None = None,
    ) -> PaymentView:
        """Record an authorisation or a capture against a placed, shipped or delivered order.

        Captures never exceed the order total.

        Raises:
            InvalidInput: a bad kind or amount, a draft or cancelled order, an over-capture.
            NotFound: no such order.
        """
        args = {
            "order_id": order_id,
            "kind": kind,
            "amount_cents": amount_cents,
            "provider_ref": provider_ref,
        }

        def run(tx: Tx) -> PaymentView:
            check_choice("kind", kind, (PaymentKind.AUTHORIZATION, PaymentKind.CAPTURE))
            check_cents("amount_cents", amount_cents)
            check_text("provider_ref", provider_ref, max_len=64)
            order, sums = self._money(tx, order_id)
            if order["status"] in (OrderStatus.DRAFT, OrderStatus.CANCELLED):
                raise InvalidInput(
                    "order_id",
                    order_id,
                    f"order is {order['status']}; payments need a placed order",
                )
            if kind == PaymentKind.CAPTURE:
                captured = sums.get("capture", 0)
                if captured + amount_cents > order["total_cents"]:
                    raise InvalidInput(
                        "amount_cents",
                        amount_cents,
                        f"order {order_id} totals {order['total_cents']} cents and "
                        f"{captured} are captured already",
                    )
            return self._pay(tx, order_id, str(kind), amount_cents, sums, provider_ref)

        return self._write(
            "record_payment",
            args,
            run,
            view=PaymentView,
            actor=actor,
            idempotency_key=idempotency_key,
        )

    def void_authorization(
        self,
        order_id: int,
        provider_ref: str,
        *,
        reason: str,
        actor: Actor,
        idempotency_key: str | None = None,
    ) -> PaymentView:
        """Record that an authorisation was voided (money never taken): status `voided`.

        The compensation of a cancelled order whose payment was authorised but not captured.
        Only a `succeeded` authorisation of this order with this provider reference moves.

        Raises:
            InvalidInput: an empty reason or reference.
            InvalidTransition: no succeeded authorisation of the order has that reference.
            NotFound: no such order.
        """
        args = {"order_id": order_id, "provider_ref": provider_ref, "reason": reason}

        def run(tx: Tx) -> PaymentView:
            check_text("provider_ref", provider_ref, max_len=64, required=True)
            check_text("reason", reason, required=True)
            _order, sums = self._money(tx, order_id)
            row = (
                tx.conn.execute(
                    select(PAYMENT).where(
                        PAYMENT.c.order_id == order_id,
                        PAYMENT.c.kind == PaymentKind.AUTHORIZATION.value,
                        PAYMENT.c.provider_ref == provider_ref,
                        PAYMENT.c.status == "succeeded",
                    )
                )
                .mappings()
                .first()
            )
            if row is None:
                raise InvalidTransition(
                    "payment", provider_ref, "not a live authorization", "voided"
                )
            tx.conn.execute(
                update(PAYMENT)
                .where(PAYMENT.c.id == row["id"], PAYMENT.c.status == "succeeded")
                .values(status="voided")
            )
            tx.before = {"payment_id": row["id"], "status": "succeeded"}
            tx.after = {"payment_id": row["id"], "status": "voided"}
            return PaymentView(
                id=row["id"],
                order_id=order_id,
                kind=row["kind"],
                amount_cents=row["amount_cents"],
                status="voided",
                provider_ref=provider_ref,
                created_at=row["created_at"],
                captured_cents=sums.get("capture", 0),
                refunded_cents=sums.get("refund", 0),
            )

        return self._write(
            "void_authorization",
            args,
            run,
            view=PaymentView,
            actor=actor,
            idempotency_key=idempotency_key,
            reason=reason if isinstance(reason, str) else "",
        )

    def refund(
        self,
        order_id: int,
        amount_cents: int,
        *,
        reason: str,
        return_id: int | None = None,
        actor: Actor,
        idempotency_key: str | None = None,
        approval_id: int | None = None,
    ) -> PaymentView:
        """Refund money on an order: never more than captured minus already refunded.

        Above `settings.approvals.refund_amount` (store currency) it needs an approval. With
        `return_id`, the received return moves to `refunded` and records the amount.

        Raises:
            InvalidInput: a bad amount, more than is refundable, an empty reason.
            ApprovalRequired: the amount is above the threshold.
        """
        args = {
            "order_id": order_id,
            "amount_cents": amount_cents,
            "reason": reason,
            "return_id": return_id,
        }

        def run(tx: Tx) -> PaymentView:
            check_cents("amount_cents", amount_cents)
            check_text("reason", reason, required=True)
            _order, sums = self._money(tx, order_id)
            refundable = sums.get("capture", 0) - sums.get("refund", 0)
            if amount_cents > refundable:
                raise InvalidInput(
                    "amount_cents",
                    amount_cents,
                    f"only {refundable} cents of order {order_id} are refundable "
                    f"(captured {sums.get('capture', 0)}, refunded {sums.get('refund', 0)})",
                )
            limit = int(self.settings.approvals.refund_amount * Decimal(100))
            self._require_approval(
                tx,
                amount_cents > limit,
                f"refund of {amount_cents} cents exceeds {limit} cents",
            )
            if return_id is not None:
                check_id("return_id", return_id)
                ret = self._locked(tx.conn, RETURNS, "return", return_id)
                if ret["order_id"] != order_id:
                    raise InvalidInput(
                        "return_id", return_id, f"it belongs to order {ret['order_id']}"
                    )
                self._move(
                    tx,
                    RETURNS,
                    "return",
                    return_id,
                    ret["status"],
                    ReturnStatus.REFUNDED,
                    refund_cents=ret["refund_cents"] + amount_cents,
                    updated_at=tx.now,
                )
            return self._pay(tx, order_id, PaymentKind.REFUND.value, amount_cents, sums, "")

        return self._write(
            "refund",
            args,
            run,
            view=PaymentView,
            actor=actor,
            idempotency_key=idempotency_key,
            approval_id=approval_id,
            reason=reason if isinstance(reason, str) else "",
        )
