"""Purchase orders: create, approve, send, receive (partially or fully), cancel."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import select, update

from orchestrator.errors import InvalidInput, InvalidTransition, NotFound
from orchestrator.store.models import LedgerKind, PurchaseOrderStatus
from orchestrator.store.services._core import (
    OFFER,
    PO,
    PO_LINE,
    SUPPLIER,
    Actor,
    Tx,
    check_cents,
    check_code,
    check_id,
    check_qty,
    check_text,
)
from orchestrator.store.services.orders import parse_lines
from orchestrator.store.services.reads import purchase_order_view
from orchestrator.store.services.stock import StockMixin
from orchestrator.store.services.views import POLineIn, PurchaseOrderView

__all__ = ["ProcurementMixin"]


class ProcurementMixin(StockMixin):
    """Purchase orders to suppliers."""

    def create_purchase_order(
        self,
        supplier_id: int,
        location: str,
        lines: list[POLineIn],
        *,
        expected_at: date | None = None,
        actor: Actor,
        idempotency_key: str | None = None,
    ) -> PurchaseOrderView:
        """Create a draft purchase order; unit costs default to the supplier's offers.

        Raises:
            NotFound, UnknownSku: the supplier, location or a SKU does not exist.
            InvalidInput: no lines, a bad quantity, no offer and no unit cost for a SKU,
                an inactive supplier.
        """
        args = {
            "supplier_id": supplier_id,
            "location": location,
            "lines": lines,
            "expected_at": expected_at,
        }

        def run(tx: Tx) -> PurchaseOrderView:
            po_id, total = self._draft_purchase_order(tx, supplier_id, location, lines, expected_at)
            tx.after = {"po_id": po_id, "status": "draft", "total_cents": total}
            return purchase_order_view(tx.conn, po_id)

        return self._write(
            "create_purchase_order",
            args,
            run,
            view=PurchaseOrderView,
            actor=actor,
            idempotency_key=idempotency_key,
        )

    def _draft_purchase_order(
        self,
        tx: Tx,
        supplier_id: int,
        location: str,
        lines: list[POLineIn],
        expected_at: date | None,
    ) -> tuple[int, int]:
        """Validate and insert a draft purchase order; returns (id, total cents)."""
        check_id("supplier_id", supplier_id)
        check_code("location", location, max_len=32)
        parsed = parse_lines("lines", lines, POLineIn)
        if expected_at is not None and not isinstance(expected_at, date):
            raise InvalidInput("expected_at", expected_at, "expected a date or None")
        self._staff_only(tx)
        supplier = tx.conn.execute(
            select(SUPPLIER.c.active).where(SUPPLIER.c.id == supplier_id)
        ).first()
        if supplier is None:
            raise NotFound("supplier", supplier_id, "list suppliers with list_suppliers")
        if not supplier.active:
            raise InvalidInput("supplier_id", supplier_id, "the supplier is inactive")
        self._location(tx.conn, location)
        offers = {
            r.sku: int(r.unit_cost_cents)
            for r in tx.conn.execute(
                select(OFFER.c.sku, OFFER.c.unit_cost_cents).where(
                    OFFER.c.supplier_id == supplier_id,
                    OFFER.c.sku.in_([ln.sku for ln in parsed]),
                )
            )
        }
        costs: list[int] = []
        for i, ln in enumerate(parsed):
            self._product(tx.conn, ln.sku)
            if ln.unit_cost_cents is not None:
                costs.append(
                    check_cents(f"lines[{i}].unit_cost_cents", ln.unit_cost_cents, allow_zero=True)
                )
            elif ln.sku in offers:
                costs.append(offers[ln.sku])
            else:
                raise InvalidInput(
                    f"lines[{i}].unit_cost_cents",
                    None,
                    f"supplier {supplier_id} has no offer for {ln.sku!r}; pass the unit cost",
                )
        total = sum(c * ln.qty for c, ln in zip(costs, parsed, strict=True))
        po_id = self._insert_id(
            tx.conn,
            PO,
            {
                "supplier_id": supplier_id,
                "location": location,
                "status": PurchaseOrderStatus.DRAFT.value,
                "total_cents": total,
                "created_at": tx.now,
                "updated_at": tx.now,
                "expected_at": expected_at,
            },
        )
        for cost, ln in zip(costs, parsed, strict=True):
            self._insert_id(
                tx.conn,
                PO_LINE,
                {
                    "purchase_order_id": po_id,
                    "sku": ln.sku,
                    "qty_ordered": ln.qty,
                    "qty_received": 0,
                    "unit_cost_cents": cost,
                },
            )
        return po_id, total

    def submit_purchase_order(
        self,
        supplier_id: int,
        location: str,
        lines: list[POLineIn],
        *,
        expected_at: date | None = None,
        actor: Actor,
        idempotency_key: str | None = None,
        approval_id: int | None = None,
    ) -> PurchaseOrderView:
        """Create, approve and send a purchase order in one write (what an agent's tool does).

        Above `approvals.purchase_order_value` it raises `ApprovalRequired` before anything is
        written; once a human approved (or edited) the call, the same call performs it.

        Raises:
            ApprovalRequired: the total is above the threshold and no approval covers it.
            NotFound, UnknownSku, InvalidInput: as for `create_purchase_order`.
        """
        args = {
            "supplier_id": supplier_id,
            "location": location,
            "lines": lines,
            "expected_at": expected_at,
        }

        def run(tx: Tx) -> PurchaseOrderView:
            po_id, total = self._draft_purchase_order(tx, supplier_id, location, lines, expected_at)
            limit = int(self.settings.approvals.purchase_order_value * Decimal(100))
            self._require_approval(
                tx,
                total > limit,
                f"the purchase order totals {total} cents, above {limit} cents",
            )
            draft = PurchaseOrderStatus.DRAFT
            approved = PurchaseOrderStatus.APPROVED
            self._move(tx, PO, "purchase_order", po_id, draft, approved, approved_by=tx.actor.name)
            self._move(tx, PO, "purchase_order", po_id, approved, PurchaseOrderStatus.SENT)
            tx.after = {"po_id": po_id, "status": "sent", "total_cents": total}
            return purchase_order_view(tx.conn, po_id)

        return self._write(
            "submit_purchase_order",
            args,
            run,
            view=PurchaseOrderView,
            actor=actor,
            idempotency_key=idempotency_key,
            approval_id=approval_id,
        )

    def _po_move(
        self,
        operation: str,
        po_id: int,
        target: PurchaseOrderStatus,
        *,
        actor: Actor,
        idempotency_key: str | None,
        approval_id: int | None = None,
        reason: str = "",
    ) -> PurchaseOrderView:
        args: dict[str, object] = {"po_id": po_id}
        if operation == "cancel_purchase_order":
            args["reason"] = reason

        def run(tx: Tx) -> PurchaseOrderView:
            check_id("po_id", po_id)
            if operation == "cancel_purchase_order":
                check_text("reason", reason, required=True)
            self._staff_only(tx)
            po = self._locked(tx.conn, PO, "purchase order", po_id)
            extra: dict[str, object] = {"updated_at": tx.now}
            if target == PurchaseOrderStatus.APPROVED:
                limit = int(self.settings.approvals.purchase_order_value * Decimal(100))
                if po["status"] == PurchaseOrderStatus.DRAFT:
                    self._require_approval(
                        tx,
                        po["total_cents"] > limit,
                        f"purchase order {po_id} totals {po['total_cents']} cents, above "
                        f"{limit} cents",
                    )
                extra["approved_by"] = tx.actor.name
            if target == PurchaseOrderStatus.CANCELLED and po["status"] in (
                PurchaseOrderStatus.PARTIALLY_RECEIVED,
            ):
                raise InvalidInput(
                    "po_id", po_id, "goods have been received against it; receive the rest"
                )
            self._move(tx, PO, "purchase_order", po_id, po["status"], target, **extra)
            tx.before = {"status": po["status"]}
            tx.after = {"status": target.value}
            return purchase_order_view(tx.conn, po_id)

        return self._write(
            operation,
            args,
            run,
            view=PurchaseOrderView,
            actor=actor,
            idempotency_key=idempotency_key,
            approval_id=approval_id,
            reason=reason,
        )

    def approve_purchase_order(
        self,
        po_id: int,
        *,
        actor: Actor,
        idempotency_key: str | None = None,
        approval_id: int | None = None,
    ) -> PurchaseOrderView:
        """Approve a draft purchase order; above `purchase_order_value` a human must approve.

        Raises:
            ApprovalRequired: the total is above the threshold.
            InvalidTransition: the purchase order is not a draft.
        """
        return self._po_move(
            "approve_purchase_order",
            po_id,
            PurchaseOrderStatus.APPROVED,
            actor=actor,
            idempotency_key=idempotency_key,
            approval_id=approval_id,
        )

    def send_purchase_order(
        self, po_id: int, *, actor: Actor, idempotency_key: str | None = None
    ) -> PurchaseOrderView:
        """Mark an approved purchase order sent to the supplier.

        Raises:
            InvalidTransition: it is not approved.
        """
        return self._po_move(
            "send_purchase_order",
            po_id,
            PurchaseOrderStatus.SENT,
            actor=actor,
            idempotency_key=idempotency_key,
        )

    def cancel_purchase_order(
        self, po_id: int, *, reason: str, actor: Actor, idempotency_key: str | None = None
    ) -> PurchaseOrderView:
        """Cancel a draft, approved or sent purchase order (not once goods arrived).

        Raises:
            InvalidTransition: it is received or cancelled already.
        """
        return self._po_move(
            "cancel_purchase_order",
            po_id,
            PurchaseOrderStatus.CANCELLED,
            actor=actor,
            idempotency_key=idempotency_key,
            reason=reason,
        )

    def receive_purchase_order(
        self,
        po_id: int,
        received: dict[str, int] | None = None,
        *,
        actor: Actor,
        idempotency_key: str | None = None,
    ) -> PurchaseOrderView:
        """Receive goods against a sent purchase order: a `receipt` ledger row per line.

        Args:
            po_id: the purchase order.
            received: units received per SKU; None receives everything outstanding.
            actor: who asks.
            idempotency_key: replaying it returns the first result.

        Raises:
            InvalidTransition: the purchase order is not sent or partially received.
            InvalidInput: a SKU not on it, more than outstanding, a bad quantity.
        """
        args = {"po_id": po_id, "received": received}

        def run(tx: Tx) -> PurchaseOrderView:
            check_id("po_id", po_id)
            if received is not None and (not isinstance(received, dict) or not received):
                raise InvalidInput("received", received, "expected None or {sku: units, ...}")
            self._staff_only(tx)
            po = self._locked(tx.conn, PO, "purchase order", po_id)
            if po["status"] not in (
                PurchaseOrderStatus.SENT,
                PurchaseOrderStatus.PARTIALLY_RECEIVED,
            ):
                raise InvalidTransition(
                    "purchase_order", po_id, po["status"], PurchaseOrderStatus.RECEIVED.value
                )
            lines = {
                r.sku: r
                for r in tx.conn.execute(
                    select(PO_LINE).where(PO_LINE.c.purchase_order_id == po_id)
                )
            }
            if received is None:
                todo = {
                    sku: r.qty_ordered - r.qty_received
                    for sku, r in lines.items()
                    if r.qty_ordered > r.qty_received
                }
            else:
                todo = {}
                for sku, qty in received.items():
                    check_code("received", sku)
                    check_qty(f"received[{sku!r}]", qty)
                    if sku not in lines:
                        raise InvalidInput("received", sku, f"not a line of purchase order {po_id}")
                    todo[sku] = qty
            if not todo:
                raise InvalidInput("received", received, "nothing is outstanding")
            self._lock_stock(tx, [(sku, po["location"]) for sku in todo])
            for sku in sorted(todo):
                qty = todo[sku]
                line = lines[sku]
                moved = tx.conn.execute(
                    update(PO_LINE)
                    .where(
                        PO_LINE.c.id == line.id,
                        PO_LINE.c.qty_received + qty <= PO_LINE.c.qty_ordered,
                    )
                    .values(qty_received=PO_LINE.c.qty_received + qty)
                ).rowcount
                if moved != 1:
                    raise InvalidInput(
                        f"received[{sku!r}]",
                        qty,
                        f"only {line.qty_ordered - line.qty_received} units are outstanding",
                    )
                self._change_on_hand(
                    tx,
                    sku,
                    po["location"],
                    qty,
                    kind=LedgerKind.RECEIPT,
                    reason=f"purchase order {po_id}",
                    ref_type="purchase_order",
                    ref_id=str(po_id),
                )
            outstanding = sum(
                r.qty_ordered - r.qty_received - todo.get(sku, 0) for sku, r in lines.items()
            )
            target = (
                PurchaseOrderStatus.RECEIVED
                if outstanding == 0
                else PurchaseOrderStatus.PARTIALLY_RECEIVED
            )
            self._move(tx, PO, "purchase_order", po_id, po["status"], target, updated_at=tx.now)
            tx.before = {"status": po["status"]}
            tx.after = {"status": target.value, "received": todo}
            return purchase_order_view(tx.conn, po_id)

        return self._write(
            "receive_purchase_order",
            args,
            run,
            view=PurchaseOrderView,
            actor=actor,
            idempotency_key=idempotency_key,
        )
