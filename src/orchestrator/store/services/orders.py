"""Order writes: create, place, modify, cancel, ship, deliver."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import Connection

from orchestrator.errors import InvalidInput, InvalidTransition, NotFound, UnknownSku
from orchestrator.store.models import (
    TRANSITIONS,
    LedgerKind,
    OrderStatus,
    ReservationStatus,
    ShipmentStatus,
)
from orchestrator.store.services._core import (
    CUSTOMER,
    HINTS,
    ORDER_LINE,
    ORDERS,
    PRODUCT,
    RESERVATION,
    SHIPMENT,
    Actor,
    Tx,
    check_cents,
    check_code,
    check_id,
    check_qty,
    check_text,
)
from orchestrator.store.services.pricing import PricingMixin
from orchestrator.store.services.stock import StockMixin
from orchestrator.store.services.views import (
    OrderLineIn,
    OrderLineView,
    OrderView,
    ShipmentView,
)

__all__ = ["OrdersMixin", "order_view", "parse_lines"]

MAX_LINES = 200

M = TypeVar("M", bound=BaseModel)


def parse_lines(field: str, lines: object, model: type[M]) -> list[M]:
    """Validate a list of line inputs (models or plain dicts) into `model`s.

    Raises:
        InvalidInput: not a non-empty list, too many lines, a line that does not validate,
            or a SKU twice.
    """
    if not isinstance(lines, list | tuple) or not lines:
        raise InvalidInput(field, lines, f"expected a non-empty list of {model.__name__}")
    if len(lines) > MAX_LINES:
        raise InvalidInput(field, f"{len(lines)} lines", f"at most {MAX_LINES} lines per call")
    parsed: list[M] = []
    seen: set[str] = set()
    for i, line in enumerate(lines):
        try:
            item = line if isinstance(line, model) else model.model_validate(line)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise InvalidInput(f"{field}[{i}].{where}", first.get("input"), first["msg"]) from None
        sku = getattr(item, "sku", None)
        check_code(f"{field}[{i}].sku", sku)
        check_qty(f"{field}[{i}].qty", getattr(item, "qty", None))
        if sku in seen:
            raise InvalidInput(f"{field}[{i}].sku", sku, "appears twice; merge the lines")
        seen.add(str(sku))
        parsed.append(item)
    return parsed


def order_view(conn: Connection, order_id: int) -> OrderView:
    """An `OrderView` with each line's reserved units, read in `conn`."""
    order = conn.execute(select(ORDERS).where(ORDERS.c.id == order_id)).mappings().first()
    if order is None:
        raise NotFound("order", order_id, HINTS["order"])
    held = (
        select(
            RESERVATION.c.order_line_id.label("line_id"),
            func.sum(RESERVATION.c.qty).label("held"),
        )
        .where(
            RESERVATION.c.order_id == order_id,
            RESERVATION.c.status == ReservationStatus.OPEN.value,
        )
        .group_by(RESERVATION.c.order_line_id)
        .subquery()
    )
    lines = conn.execute(
        select(ORDER_LINE, func.coalesce(held.c.held, 0).label("reserved_qty"))
        .outerjoin(held, held.c.line_id == ORDER_LINE.c.id)
        .where(ORDER_LINE.c.order_id == order_id)
        .order_by(ORDER_LINE.c.id)
    ).mappings()
    return OrderView(
        **{k: order[k] for k in OrderView.model_fields if k not in ("lines", "replayed")},
        lines=[
            OrderLineView(
                id=ln["id"],
                sku=ln["sku"],
                qty=ln["qty"],
                unit_price_cents=ln["unit_price_cents"],
                reserved_qty=int(ln["reserved_qty"]),
            )
            for ln in lines
        ],
    )


class OrdersMixin(StockMixin, PricingMixin):
    """Customer orders."""

    # -- helpers --------------------------------------------------------------------------

    def _priced(self, tx: Tx, lines: Sequence[OrderLineIn]) -> dict[str, int]:
        rows = tx.conn.execute(
            select(PRODUCT.c.sku, PRODUCT.c.price_cents, PRODUCT.c.active).where(
                PRODUCT.c.sku.in_([ln.sku for ln in lines])
            )
        ).all()
        prices = {r.sku: r for r in rows}
        for ln in lines:
            row = prices.get(ln.sku)
            if row is None:
                raise UnknownSku(ln.sku)
            if not row.active:
                raise InvalidInput("sku", ln.sku, "the product is inactive and cannot be ordered")
        return {sku: int(r.price_cents) for sku, r in prices.items()}

    def _lock_order(self, tx: Tx, order_id: int) -> Any:
        check_id("order_id", order_id)
        order = self._locked(tx.conn, ORDERS, "order", order_id)
        self._own_customer(tx, order["customer_id"], f"order {order_id}")
        return order

    def _lock_order_stock(
        self, tx: Tx, order: Any, lines: Sequence[OrderLineIn] | None = None
    ) -> None:
        """Lock every stock row the order's write may touch, in the global order.

        Its open reservations' rows and its lines' rows at the order's location (`lines`, or
        the stored ones).
        """
        keys = {
            (r.sku, r.location)
            for r in tx.conn.execute(
                select(RESERVATION.c.sku, RESERVATION.c.location).where(
                    RESERVATION.c.order_id == order["id"],
                    RESERVATION.c.status == ReservationStatus.OPEN.value,
                )
            )
        }
        skus: Iterable[str] = (
            tx.conn.execute(
                select(ORDER_LINE.c.sku).where(ORDER_LINE.c.order_id == order["id"])
            ).scalars()
            if lines is None
            else [ln.sku for ln in lines]
        )
        keys.update((sku, order["location"]) for sku in skus)
        self._lock_stock(tx, keys)

    def _open_reservations(self, tx: Tx, order_id: int) -> list[Any]:
        return list(
            tx.conn.execute(
                select(RESERVATION)
                .where(
                    RESERVATION.c.order_id == order_id,
                    RESERVATION.c.status == ReservationStatus.OPEN.value,
                )
                .order_by(RESERVATION.c.sku, RESERVATION.c.id)
            ).mappings()
        )

    def _reserve_lines(self, tx: Tx, order: Any) -> None:
        """Reserve what each line still lacks, SKUs in sorted order (no lock cycles)."""
        held = dict(
            tx.conn.execute(
                select(RESERVATION.c.order_line_id, func.sum(RESERVATION.c.qty))
                .where(
                    RESERVATION.c.order_id == order["id"],
                    RESERVATION.c.status == ReservationStatus.OPEN.value,
                )
                .group_by(RESERVATION.c.order_line_id)
            ).all()
        )
        lines = tx.conn.execute(
            select(ORDER_LINE.c.id, ORDER_LINE.c.sku, ORDER_LINE.c.qty)
            .where(ORDER_LINE.c.order_id == order["id"])
            .order_by(ORDER_LINE.c.sku)
        ).all()
        if not lines:
            raise InvalidInput("order_id", order["id"], "the order has no lines")
        for line in lines:
            missing = line.qty - int(held.get(line.id, 0))
            if missing > 0:
                self._hold(
                    tx,
                    line.sku,
                    order["location"],
                    missing,
                    order_id=order["id"],
                    order_line_id=line.id,
                )

    def _release_all(self, tx: Tx, order_id: int) -> int:
        released = 0
        for res in self._open_reservations(tx, order_id):
            self._unhold(tx, res, ReservationStatus.RELEASED)
            released += res["qty"]
        return released

    def _write_lines(self, tx: Tx, order_id: int, lines: Sequence[OrderLineIn]) -> int:
        """Make the order's lines equal `lines`; returns the new subtotal in cents."""
        prices = self._priced(tx, lines)
        existing = {
            r.sku: r.id
            for r in tx.conn.execute(
                select(ORDER_LINE.c.id, ORDER_LINE.c.sku).where(ORDER_LINE.c.order_id == order_id)
            )
        }
        wanted = {ln.sku for ln in lines}
        gone = [line_id for sku, line_id in existing.items() if sku not in wanted]
        if gone:
            tx.conn.execute(
                update(RESERVATION)
                .where(RESERVATION.c.order_line_id.in_(gone))
                .values(order_line_id=None, updated_at=tx.now)
            )
            tx.conn.execute(delete(ORDER_LINE).where(ORDER_LINE.c.id.in_(gone)))
        subtotal = 0
        for ln in lines:
            price = prices[ln.sku]
            subtotal += price * ln.qty
            if ln.sku in existing:
                tx.conn.execute(
                    update(ORDER_LINE)
                    .where(ORDER_LINE.c.id == existing[ln.sku])
                    .values(qty=ln.qty, unit_price_cents=price)
                )
            else:
                self._insert_id(
                    tx.conn,
                    ORDER_LINE,
                    {"order_id": order_id, "sku": ln.sku, "qty": ln.qty, "unit_price_cents": price},
                )
        return subtotal

    @staticmethod
    def _summary(view: OrderView) -> dict[str, Any]:
        return {
            "status": view.status,
            "total_cents": view.total_cents,
            "lines": {ln.sku: [ln.qty, ln.reserved_qty] for ln in view.lines},
        }

    # -- public writes ----------------------------------------------------------------------

    def create_order(
        self,
        customer_id: int,
        lines: list[OrderLineIn],
        *,
        location: str,
        channel: str = "web",
        shipping_address: str = "",
        actor: Actor,
        idempotency_key: str | None = None,
    ) -> OrderView:
        """Create a draft order; unit prices come from the catalogue.

        Raises:
            NotFound, UnknownSku: the customer, location or a SKU does not exist.
            InvalidInput: no lines, a bad quantity, a SKU twice, an inactive product.
            PermissionDenied: a customer-scoped actor ordering for someone else.
        """
        args = {
            "customer_id": customer_id,
            "lines": lines,
            "location": location,
            "channel": channel,
            "shipping_address": shipping_address,
        }

        def run(tx: Tx) -> OrderView:
            check_id("customer_id", customer_id)
            parsed = parse_lines("lines", lines, OrderLineIn)
            check_code("location", location, max_len=32)
            check_code("channel", channel, max_len=16)
            check_text("shipping_address", shipping_address)
            self._own_customer(tx, customer_id, f"customer {customer_id}")
            if (
                tx.conn.execute(select(CUSTOMER.c.id).where(CUSTOMER.c.id == customer_id)).first()
                is None
            ):
                raise NotFound("customer", customer_id, HINTS["customer"])
            self._location(tx.conn, location)
            order_id = self._insert_id(
                tx.conn,
                ORDERS,
                {
                    "customer_id": customer_id,
                    "status": OrderStatus.DRAFT.value,
                    "location": location,
                    "channel": channel,
                    "shipping_address": shipping_address,
                    "created_at": tx.now,
                    "updated_at": tx.now,
                },
            )
            subtotal = self._write_lines(tx, order_id, parsed)
            tx.conn.execute(
                update(ORDERS)
                .where(ORDERS.c.id == order_id)
                .values(subtotal_cents=subtotal, total_cents=subtotal)
            )
            view = order_view(tx.conn, order_id)
            tx.after = self._summary(view) | {"order_id": order_id}
            return view

        return self._write(
            "create_order", args, run, view=OrderView, actor=actor, idempotency_key=idempotency_key
        )

    def place_order(
        self, order_id: int, *, actor: Actor, idempotency_key: str | None = None
    ) -> OrderView:
        """Place a draft order: reserve every line atomically (all lines or none), and price it.

        The price is decided here, from the store's tables: the best discount the customer is
        eligible for (`orchestrator.store.rules.discounts`) and standard shipping to the
        customer (`orchestrator.store.rules.shipping`); `total = subtotal - discount +
        shipping`.

        Raises:
            InsufficientStock: a line cannot be reserved; nothing is reserved.
            InvalidTransition: the order is not a draft.
        """

        def run(tx: Tx) -> OrderView:
            order = self._lock_order(tx, order_id)
            tx.before = {"status": order["status"]}
            if order["status"] == OrderStatus.DRAFT:
                self._lock_order_stock(tx, order)
            self._move(
                tx,
                ORDERS,
                "order",
                order_id,
                order["status"],
                OrderStatus.PLACED,
                placed_at=tx.now,
                updated_at=tx.now,
            )
            self._reserve_lines(tx, order)
            self._price_order(tx, order_id)
            view = order_view(tx.conn, order_id)
            tx.after = self._summary(view)
            return view

        return self._write(
            "place_order",
            {"order_id": order_id},
            run,
            view=OrderView,
            actor=actor,
            idempotency_key=idempotency_key,
        )

    def modify_order(
        self,
        order_id: int,
        lines: list[OrderLineIn],
        *,
        actor: Actor,
        idempotency_key: str | None = None,
    ) -> OrderView:
        """Replace a draft or placed order's lines; a placed order is re-reserved atomically.

        Raises:
            InsufficientStock: the new lines cannot all be reserved; the order is unchanged.
            InvalidTransition: the order is shipped, delivered or cancelled.
        """
        args = {"order_id": order_id, "lines": lines}

        def run(tx: Tx) -> OrderView:
            order = self._lock_order(tx, order_id)
            parsed = parse_lines("lines", lines, OrderLineIn)
            if order["status"] not in (OrderStatus.DRAFT, OrderStatus.PLACED):
                raise InvalidTransition("order", order_id, order["status"], "modified")
            tx.before = self._summary(order_view(tx.conn, order_id))
            placed = order["status"] == OrderStatus.PLACED
            if placed:
                self._lock_order_stock(tx, order, parsed)
                self._release_all(tx, order_id)
            subtotal = self._write_lines(tx, order_id, parsed)
            total = subtotal - order["discount_cents"] + order["shipping_cents"]
            tx.conn.execute(
                update(ORDERS)
                .where(ORDERS.c.id == order_id, ORDERS.c.status == order["status"])
                .values(subtotal_cents=subtotal, total_cents=total, updated_at=tx.now)
            )
            if placed:
                self._reserve_lines(tx, order)
                self._price_order(tx, order_id)  # a placed order's price follows its lines
            view = order_view(tx.conn, order_id)
            tx.after = self._summary(view)
            return view

        return self._write(
            "modify_order", args, run, view=OrderView, actor=actor, idempotency_key=idempotency_key
        )

    def cancel_order(
        self,
        order_id: int,
        *,
        reason: str,
        actor: Actor,
        idempotency_key: str | None = None,
        approval_id: int | None = None,
    ) -> OrderView:
        """Cancel an order and release its open reservations.

        Cancelling a shipped order needs an approval (`approvals.cancel_shipped_orders`) and
        restocks nothing: goods come back through the return flow.

        Raises:
            InvalidTransition: the order is delivered or already cancelled.
            ApprovalRequired: the order has shipped.
            InvalidInput: an empty reason.
        """
        args = {"order_id": order_id, "reason": reason}

        def run(tx: Tx) -> OrderView:
            order = self._lock_order(tx, order_id)
            check_text("reason", reason, required=True)
            current = order["status"]
            if OrderStatus.CANCELLED not in TRANSITIONS["order"].get(current, frozenset()):
                raise InvalidTransition("order", order_id, current, OrderStatus.CANCELLED.value)
            self._require_approval(
                tx,
                current == OrderStatus.SHIPPED and self.settings.approvals.cancel_shipped_orders,
                f"order {order_id} has shipped; cancelling it needs a human decision",
            )
            tx.before = {"status": current}
            self._lock_order_stock(tx, order, [])
            self._move(
                tx,
                ORDERS,
                "order",
                order_id,
                current,
                OrderStatus.CANCELLED,
                cancelled_reason=reason,
                updated_at=tx.now,
            )
            released = self._release_all(tx, order_id)
            tx.after = {"status": OrderStatus.CANCELLED.value, "released_units": released}
            return order_view(tx.conn, order_id)

        return self._write(
            "cancel_order",
            args,
            run,
            view=OrderView,
            actor=actor,
            idempotency_key=idempotency_key,
            approval_id=approval_id,
            reason=reason if isinstance(reason, str) else "",
        )

    def ship_order(
        self,
        order_id: int,
        *,
        carrier: str,
        service: str = "standard",
        cost_cents: int | None = None,
        tracking: str = "",
        actor: Actor,
        idempotency_key: str | None = None,
    ) -> ShipmentView:
        """Ship a placed order: commit its reservations (on-hand and reserved both drop).

        Each reservation appends a `shipment` ledger row referencing the order. The shipment's
        cost comes from the rate table (`orchestrator.store.rules.shipping`) for `service` to
        the customer's country and postcode; a `cost_cents` that disagrees is refused.

        Raises:
            InvalidTransition: the order is not placed.
            InvalidInput: a line is not fully reserved, a bad carrier, a service not offered
                there, or a cost other than the rate table's.
        """
        args = {
            "order_id": order_id,
            "carrier": carrier,
            "service": service,
            "cost_cents": cost_cents,
            "tracking": tracking,
        }

        def run(tx: Tx) -> ShipmentView:
            order = self._lock_order(tx, order_id)
            check_code("carrier", carrier, max_len=32)
            check_code("service", service, max_len=32)
            if cost_cents is not None:
                check_cents("cost_cents", cost_cents, allow_zero=True)
            check_text("tracking", tracking, max_len=64)
            self._staff_only(tx)
            customer, _, _ = self._customer_facts(tx.conn, int(order["customer_id"]))
            quote = self._quote(
                self._order_lines(tx.conn, order_id), customer.country, customer.postcode, service
            )
            if cost_cents is not None and cost_cents != quote.cost_cents:
                raise InvalidInput(
                    "cost_cents",
                    cost_cents,
                    f"the rate table prices this shipment at {quote.cost_cents} cents "
                    f"({'; '.join(quote.breakdown)}); omit cost_cents",
                )
            cost = quote.cost_cents
            self._move(
                tx,
                ORDERS,
                "order",
                order_id,
                order["status"],
                OrderStatus.SHIPPED,
                updated_at=tx.now,
            )
            self._lock_order_stock(tx, order, [])
            reservations = self._open_reservations(tx, order_id)
            held: dict[int | None, int] = {}
            for res in reservations:
                held[res["order_line_id"]] = held.get(res["order_line_id"], 0) + res["qty"]
            for line in tx.conn.execute(
                select(ORDER_LINE.c.id, ORDER_LINE.c.sku, ORDER_LINE.c.qty).where(
                    ORDER_LINE.c.order_id == order_id
                )
            ):
                if held.get(line.id, 0) != line.qty:
                    raise InvalidInput(
                        "order_id",
                        order_id,
                        f"line {line.id} ({line.sku}) has {held.get(line.id, 0)} of {line.qty} "
                        "units reserved; modify the order to re-reserve it before shipping",
                    )
            shipped: dict[str, int] = {}
            for res in reservations:
                moved = tx.conn.execute(
                    update(RESERVATION)
                    .where(
                        RESERVATION.c.id == res["id"],
                        RESERVATION.c.status == ReservationStatus.OPEN.value,
                    )
                    .values(status=ReservationStatus.COMMITTED.value, updated_at=tx.now)
                ).rowcount
                if moved != 1:
                    raise InvalidTransition(
                        "reservation", res["id"], "not open", ReservationStatus.COMMITTED.value
                    )
                self._change_on_hand(
                    tx,
                    res["sku"],
                    res["location"],
                    -res["qty"],
                    kind=LedgerKind.SHIPMENT,
                    reason=f"order {order_id}",
                    ref_type="order",
                    ref_id=str(order_id),
                    release=res["qty"],
                )
                shipped[res["sku"]] = shipped.get(res["sku"], 0) + res["qty"]
            shipment_id = self._insert_id(
                tx.conn,
                SHIPMENT,
                {
                    "order_id": order_id,
                    "location": order["location"],
                    "carrier": carrier,
                    "service": service,
                    "cost_cents": cost,
                    "tracking": tracking,
                    "status": ShipmentStatus.SHIPPED.value,
                    "shipped_at": tx.now,
                },
            )
            tx.before = {"status": order["status"]}
            tx.after = {"status": OrderStatus.SHIPPED.value, "shipped": shipped}
            return ShipmentView(
                id=shipment_id,
                order_id=order_id,
                location=order["location"],
                carrier=carrier,
                service=service,
                cost_cents=cost,
                tracking=tracking,
                status=ShipmentStatus.SHIPPED,
                shipped_at=tx.now,
            )

        return self._write(
            "ship_order", args, run, view=ShipmentView, actor=actor, idempotency_key=idempotency_key
        )

    def deliver_order(
        self, order_id: int, *, actor: Actor, idempotency_key: str | None = None
    ) -> OrderView:
        """Mark a shipped order (and its shipments) delivered.

        Raises:
            InvalidTransition: the order is not shipped.
        """

        def run(tx: Tx) -> OrderView:
            order = self._lock_order(tx, order_id)
            self._staff_only(tx)
            self._move(
                tx,
                ORDERS,
                "order",
                order_id,
                order["status"],
                OrderStatus.DELIVERED,
                updated_at=tx.now,
            )
            tx.conn.execute(
                update(SHIPMENT)
                .where(
                    SHIPMENT.c.order_id == order_id,
                    SHIPMENT.c.status == ShipmentStatus.SHIPPED.value,
                )
                .values(status=ShipmentStatus.DELIVERED.value, delivered_at=tx.now)
            )
            tx.before = {"status": order["status"]}
            tx.after = {"status": OrderStatus.DELIVERED.value}
            return order_view(tx.conn, order_id)

        return self._write(
            "deliver_order",
            {"order_id": order_id},
            run,
            view=OrderView,
            actor=actor,
            idempotency_key=idempotency_key,
        )
