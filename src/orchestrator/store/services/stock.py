"""Stock writes: reserve, release, receive, adjust, transfer, correct.

Every on-hand change goes through `_change_on_hand`, which makes the guarded UPDATE and appends
the ledger row in the caller's transaction; reservations through `_hold` and `_unhold`.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from sqlalchemy import Integer, String, bindparam, func, insert, literal, select, true, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from orchestrator.errors import InvalidInput, InvariantViolation, NotFound
from orchestrator.store.models import LedgerKind, OrderStatus, ReservationStatus, UTCDateTime
from orchestrator.store.services._core import (
    HINTS,
    LEDGER,
    ORDER_LINE,
    ORDERS,
    RESERVATION,
    STOCK,
    Actor,
    Tx,
    _Core,
    check_code,
    check_count,
    check_delta,
    check_id,
    check_qty,
    check_text,
)
from orchestrator.store.services.views import ReservationView, StockView, TransferView

__all__ = ["StockMixin"]

_STOCK_COLS = (STOCK.c.on_hand, STOCK.c.reserved, STOCK.c.reorder_point, STOCK.c.updated_at)


def _hold_statement(guarded: bool) -> Any:
    stmt = update(STOCK).where(
        STOCK.c.sku == bindparam("sku_"), STOCK.c.location == bindparam("location_")
    )
    if guarded:
        stmt = stmt.where(STOCK.c.on_hand - STOCK.c.reserved >= bindparam("qty_"))
    return stmt.values(
        reserved=STOCK.c.reserved + bindparam("qty_"), updated_at=bindparam("now_")
    ).returning(*_STOCK_COLS)


def _hold_and_insert_statement(guarded: bool) -> Any:
    """PostgreSQL: the guarded UPDATE and the reservation INSERT in one statement.

    `WITH held AS (UPDATE stock ... RETURNING ...), made AS (INSERT INTO reservation SELECT
    ... FROM held RETURNING id) SELECT ... FROM held, made`: no row when the guard fails (and
    then nothing was inserted either). One round trip instead of two.
    """
    held = _hold_statement(guarded).cte("held")
    made = (
        insert(RESERVATION)
        .from_select(
            [
                "order_id",
                "order_line_id",
                "sku",
                "location",
                "qty",
                "status",
                "created_at",
                "updated_at",
            ],
            select(
                bindparam("order_id_", type_=Integer()),
                bindparam("order_line_id_", type_=Integer()),
                bindparam("sku_", type_=String()),
                bindparam("location_", type_=String()),
                bindparam("qty_", type_=Integer()),
                literal(ReservationStatus.OPEN.value, type_=String()),
                bindparam("now_", type_=UTCDateTime()),
                bindparam("now_", type_=UTCDateTime()),
            ).select_from(held),
        )
        .returning(RESERVATION.c.id)
        .cte("made")
    )
    return select(
        made.c.id, held.c.on_hand, held.c.reserved, held.c.reorder_point, held.c.updated_at
    ).select_from(held.join(made, true()))


# The reservation hot path, built once (see _core: building costs more than running).
_HOLD_GUARDED = _hold_statement(True)
_HOLD_BACKORDER = _hold_statement(False)
_RESERVATION_INSERT = insert(RESERVATION)
_PG_HOLD_GUARDED = _hold_and_insert_statement(True)
_PG_HOLD_BACKORDER = _hold_and_insert_statement(False)


def stock_view(sku: str, location: str, row: Any) -> StockView:
    """A `StockView` from a row with on_hand, reserved, reorder_point and updated_at."""
    return StockView(
        sku=sku,
        location=location,
        on_hand=row.on_hand,
        reserved=row.reserved,
        available=row.on_hand - row.reserved,
        reorder_point=row.reorder_point,
        updated_at=row.updated_at,
    )


def reservation_view(row: Any) -> ReservationView:
    """A `ReservationView` from a reservation row mapping."""
    return ReservationView(
        id=row["id"],
        sku=row["sku"],
        location=row["location"],
        qty=row["qty"],
        status=row["status"],
        order_id=row["order_id"],
        order_line_id=row["order_line_id"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


class StockMixin(_Core):
    """Stock writes and the stock primitives the other domains build on."""

    # -- primitives (run inside the caller's transaction) ---------------------------------

    def _ensure_stock(self, tx: Tx, sku: str, location: str) -> None:
        """Create the (sku, location) stock row at zero if it is missing."""
        self._product(tx.conn, sku)
        self._location(tx.conn, location)
        values = {
            "sku": sku,
            "location": location,
            "on_hand": 0,
            "reserved": 0,
            "updated_at": tx.now,
        }
        if self._postgres:
            tx.conn.execute(pg_insert(STOCK).values(values).on_conflict_do_nothing())
        else:
            tx.conn.execute(sqlite_insert(STOCK).values(values).on_conflict_do_nothing())

    def _change_on_hand(
        self,
        tx: Tx,
        sku: str,
        location: str,
        delta: int,
        *,
        kind: LedgerKind,
        reason: str = "",
        ref_type: str | None = None,
        ref_id: str | None = None,
        release: int = 0,
    ) -> tuple[Any, Any]:
        """Add `delta` to on-hand (and take `release` off reserved), append the ledger row.

        A decrease is guarded: on_hand + delta >= reserved (available stock covers it), or
        on_hand + delta >= 0 when backorders are allowed or when committing reserved units.

        Returns:
            (before, after) rows with on_hand, reserved, reorder_point, updated_at.

        Raises:
            InsufficientStock, UnknownSku, NotFound: the guard failed; nothing changed.
        """
        conn = tx.conn
        stmt = update(STOCK).where(STOCK.c.sku == sku, STOCK.c.location == location)
        if release:
            # Committing a reservation: its units are on hand and reserved already.
            stmt = stmt.where(STOCK.c.on_hand + delta >= 0, STOCK.c.reserved >= release)
        elif delta < 0:
            if tx.backorders:
                stmt = stmt.where(STOCK.c.on_hand + delta >= 0)
            else:
                stmt = stmt.where(STOCK.c.on_hand + delta >= STOCK.c.reserved)
        stmt = stmt.values(
            on_hand=STOCK.c.on_hand + delta,
            reserved=STOCK.c.reserved - release,
            updated_at=tx.now,
        ).returning(*_STOCK_COLS)
        after = conn.execute(stmt).first()
        if after is None and delta > 0 and not release:
            self._ensure_stock(tx, sku, location)
            after = conn.execute(stmt).first()
        if after is None:
            if release:
                reserved = conn.execute(
                    select(STOCK.c.reserved).where(STOCK.c.sku == sku, STOCK.c.location == location)
                ).scalar_one_or_none()
                if reserved is not None and reserved < release:
                    self._check_reserved(tx, sku, location, release)
            raise self._insufficient(conn, sku, location, -delta)
        conn.execute(
            insert(LEDGER),
            {
                "sku": sku,
                "location": location,
                "delta": delta,
                "kind": kind.value,
                "reason": reason[:500],
                "ref_type": ref_type,
                "ref_id": ref_id,
                "actor": tx.actor.name,
                "created_at": tx.now,
            },
        )
        before = _Before(after.on_hand - delta, after.reserved + release, after)
        return before, after

    def _hold(
        self,
        tx: Tx,
        sku: str,
        location: str,
        qty: int,
        *,
        order_id: int | None = None,
        order_line_id: int | None = None,
    ) -> tuple[int, Any]:
        """Reserve `qty` units (guarded on available stock) and insert the reservation.

        Returns:
            (reservation id, stock row after).
        """
        conn = tx.conn
        params = {"sku_": sku, "location_": location, "qty_": qty, "now_": tx.now}
        if self._postgres:
            params.update(order_id_=order_id, order_line_id_=order_line_id)
            row = conn.execute(
                _PG_HOLD_BACKORDER if tx.backorders else _PG_HOLD_GUARDED, params
            ).first()
            if row is not None:
                return int(row.id), row
        else:
            row = conn.execute(_HOLD_BACKORDER if tx.backorders else _HOLD_GUARDED, params).first()
        after = row
        if after is None:
            if tx.backorders:
                self._ensure_stock(tx, sku, location)
                return self._hold(
                    tx, sku, location, qty, order_id=order_id, order_line_id=order_line_id
                )
            raise self._insufficient(conn, sku, location, qty)
        reservation_id = self._insert_id(
            conn,
            _RESERVATION_INSERT,
            {
                "order_id": order_id,
                "order_line_id": order_line_id,
                "sku": sku,
                "location": location,
                "qty": qty,
                "status": ReservationStatus.OPEN.value,
                "created_at": tx.now,
                "updated_at": tx.now,
            },
        )
        return reservation_id, after

    def _unhold(self, tx: Tx, reservation: Any, target: ReservationStatus) -> Any:
        """Close an open reservation as `released`, giving its units back to available stock."""
        moved = tx.conn.execute(
            update(RESERVATION)
            .where(
                RESERVATION.c.id == reservation["id"],
                RESERVATION.c.status == ReservationStatus.OPEN.value,
            )
            .values(status=target.value, updated_at=tx.now)
        ).rowcount
        if moved != 1:
            current = tx.conn.execute(
                select(RESERVATION.c.status).where(RESERVATION.c.id == reservation["id"])
            ).scalar_one()
            raise InvalidInput(
                "reservation_id",
                reservation["id"],
                f"it is {current}, not open; nothing to release",
            )
        qty = reservation["qty"]
        after = tx.conn.execute(
            update(STOCK)
            .where(
                STOCK.c.sku == reservation["sku"],
                STOCK.c.location == reservation["location"],
                STOCK.c.reserved >= qty,
            )
            .values(reserved=STOCK.c.reserved - qty, updated_at=tx.now)
            .returning(*_STOCK_COLS)
        ).first()
        if after is None:
            self._check_reserved(tx, reservation["sku"], reservation["location"], qty)
        return after

    @staticmethod
    def _check_reserved(tx: Tx, sku: str, location: str, qty: int) -> None:
        reserved = tx.conn.execute(
            select(STOCK.c.reserved).where(STOCK.c.sku == sku, STOCK.c.location == location)
        ).scalar_one_or_none()
        raise InvariantViolation(
            [
                f"stock {sku!r} at {location!r} has reserved={reserved}, below the {qty} units "
                "being released; run check-invariants and fix it with "
                "correct_stock(..., reserved='recompute')"
            ]
        )

    # -- public writes ----------------------------------------------------------------------

    def reserve(
        self,
        sku: str,
        location: str,
        qty: int,
        *,
        order_id: int | None = None,
        order_line_id: int | None = None,
        actor: Actor,
        idempotency_key: str | None = None,
    ) -> ReservationView:
        """Hold `qty` units of `sku` at `location`, guarded on available stock.

        Args:
            sku: the product.
            location: the stock location.
            qty: units to hold, 1..1,000,000.
            order_id: the draft or placed order the units are for, if any.
            order_line_id: that order's line, if any (its SKU must match).
            actor: who asks.
            idempotency_key: replaying it returns the first reservation.

        Returns:
            The open reservation.

        Raises:
            InsufficientStock: available stock is below `qty` (and backorders are off).
            UnknownSku, NotFound: the SKU, location, order or line does not exist.
            InvalidInput: a bad quantity or id.

        Example:
            >>> svc.reserve("ARD-UNO-R3", "WH-MAIN", 2, actor=Actor("alice"))  # doctest: +SKIP
        """
        args = {
            "sku": sku,
            "location": location,
            "qty": qty,
            "order_id": order_id,
            "order_line_id": order_line_id,
        }

        def run(tx: Tx) -> ReservationView:
            check_code("sku", sku)
            check_code("location", location, max_len=32)
            check_qty("qty", qty)
            if order_id is None and order_line_id is not None:
                raise InvalidInput("order_line_id", order_line_id, "pass its order_id as well")
            if order_id is not None:
                self._check_reservable_order(tx, order_id, order_line_id, sku, location)
            else:
                self._staff_only(tx)
            rid, after = self._hold(
                tx, sku, location, qty, order_id=order_id, order_line_id=order_line_id
            )
            tx.before = {"on_hand": after.on_hand, "reserved": after.reserved - qty}
            tx.after = {"on_hand": after.on_hand, "reserved": after.reserved, "reservation_id": rid}
            return ReservationView(
                id=rid,
                sku=sku,
                location=location,
                qty=qty,
                status=ReservationStatus.OPEN,
                order_id=order_id,
                order_line_id=order_line_id,
                created_at=tx.now,
                updated_at=tx.now,
            )

        return self._write(
            "reserve",
            args,
            run,
            view=ReservationView,
            actor=actor,
            idempotency_key=idempotency_key,
        )

    def _check_reservable_order(
        self, tx: Tx, order_id: int, order_line_id: int | None, sku: str, location: str
    ) -> None:
        check_id("order_id", order_id)
        order = tx.conn.execute(
            select(ORDERS.c.customer_id, ORDERS.c.status, ORDERS.c.location).where(
                ORDERS.c.id == order_id
            )
        ).first()
        if order is None:
            raise NotFound("order", order_id, HINTS["order"])
        self._own_customer(tx, order.customer_id, f"order {order_id}")
        if order.status not in (OrderStatus.DRAFT, OrderStatus.PLACED):
            raise InvalidInput(
                "order_id",
                order_id,
                f"order is {order.status}; only draft or placed orders hold stock",
            )
        if order_line_id is not None:
            check_id("order_line_id", order_line_id)
            line = tx.conn.execute(
                select(ORDER_LINE.c.order_id, ORDER_LINE.c.sku).where(
                    ORDER_LINE.c.id == order_line_id
                )
            ).first()
            if line is None or line.order_id != order_id:
                raise NotFound("order line", order_line_id, f"it is not a line of order {order_id}")
            if line.sku != sku:
                raise InvalidInput("sku", sku, f"order line {order_line_id} is for {line.sku!r}")

    def release_reservation(
        self,
        reservation_id: int,
        *,
        reason: str,
        actor: Actor,
        idempotency_key: str | None = None,
    ) -> ReservationView:
        """Release an open reservation: its units become available again.

        A reservation that holds stock for a placed order is released by cancelling or
        modifying the order instead; orphans (their order cancelled or shipped) and ad-hoc
        reservations are released here.

        Raises:
            NotFound: no such reservation.
            InvalidInput: it is not open, it belongs to a placed order, or `reason` is empty.
        """
        args = {"reservation_id": reservation_id, "reason": reason}

        def run(tx: Tx) -> ReservationView:
            check_id("reservation_id", reservation_id)
            check_text("reason", reason, required=True)
            owner = tx.conn.execute(
                select(RESERVATION.c.order_id).where(RESERVATION.c.id == reservation_id)
            ).first()
            if owner is not None and owner.order_id is not None:
                # Lock order: the order before its reservations (as cancel and modify do).
                self._locked(tx.conn, ORDERS, "order", owner.order_id)
            row = self._locked(tx.conn, RESERVATION, "reservation", reservation_id)
            if row["order_id"] is not None:
                order = tx.conn.execute(
                    select(ORDERS.c.status, ORDERS.c.customer_id).where(
                        ORDERS.c.id == row["order_id"]
                    )
                ).first()
                if order is not None:
                    self._own_customer(tx, order.customer_id, f"reservation {reservation_id}")
                    if order.status == OrderStatus.PLACED:
                        raise InvalidInput(
                            "reservation_id",
                            reservation_id,
                            f"it holds stock for placed order {row['order_id']}; cancel or "
                            "modify the order instead",
                        )
            else:
                self._staff_only(tx)
            after = self._unhold(tx, row, ReservationStatus.RELEASED)
            tx.before = {"status": row["status"], "reserved": after.reserved + row["qty"]}
            tx.after = {"status": ReservationStatus.RELEASED.value, "reserved": after.reserved}
            return reservation_view(
                {**row, "status": ReservationStatus.RELEASED.value, "updated_at": tx.now}
            )

        return self._write(
            "release_reservation",
            args,
            run,
            view=ReservationView,
            actor=actor,
            idempotency_key=idempotency_key,
            reason=reason if isinstance(reason, str) else "",
        )

    def receive_goods(
        self,
        sku: str,
        location: str,
        qty: int,
        *,
        reason: str = "",
        ref_type: str | None = None,
        ref_id: str | None = None,
        actor: Actor,
        idempotency_key: str | None = None,
    ) -> StockView:
        """Add received units to on-hand stock with a `receipt` ledger row.

        Raises:
            UnknownSku, NotFound: the SKU or location does not exist.
            InvalidInput: a bad quantity.
        """
        args = {
            "sku": sku,
            "location": location,
            "qty": qty,
            "reason": reason,
            "ref_type": ref_type,
            "ref_id": ref_id,
        }

        def run(tx: Tx) -> StockView:
            check_code("sku", sku)
            check_code("location", location, max_len=32)
            check_qty("qty", qty)
            check_text("reason", reason)
            if ref_type is not None:
                check_code("ref_type", ref_type, max_len=32)
            if ref_id is not None:
                check_code("ref_id", ref_id)
            self._staff_only(tx)
            before, after = self._change_on_hand(
                tx,
                sku,
                location,
                qty,
                kind=LedgerKind.RECEIPT,
                reason=reason,
                ref_type=ref_type,
                ref_id=ref_id,
            )
            tx.before, tx.after = _levels(before), _levels(after)
            return stock_view(sku, location, after)

        return self._write(
            "receive_goods",
            args,
            run,
            view=StockView,
            actor=actor,
            idempotency_key=idempotency_key,
            reason=reason if isinstance(reason, str) else "",
        )

    def adjust_quantity(
        self,
        sku: str,
        location: str,
        delta: int,
        *,
        reason: str,
        actor: Actor,
        idempotency_key: str | None = None,
        approval_id: int | None = None,
    ) -> StockView:
        """Change on-hand stock by a counted `delta` (damage, shrinkage, cycle count).

        A decrease never takes on-hand below reserved (use `correct_stock` to fix books).
        Above `settings.approvals.adjustment_units` units it needs an approval.

        Raises:
            ApprovalRequired: |delta| is above the threshold and no matching approval given.
            InsufficientStock: a decrease below the reserved units.
            InvalidInput: zero or absurd delta, empty reason.
        """
        args = {"sku": sku, "location": location, "delta": delta, "reason": reason}

        def run(tx: Tx) -> StockView:
            check_code("sku", sku)
            check_code("location", location, max_len=32)
            check_delta("delta", delta)
            check_text("reason", reason, required=True)
            self._staff_only(tx)
            self._product(tx.conn, sku)
            self._location(tx.conn, location)
            limit = self.settings.approvals.adjustment_units
            self._require_approval(
                tx,
                abs(delta) > limit,
                f"adjusting {sku} at {location} by {delta} units exceeds {limit} units",
            )
            before, after = self._change_on_hand(
                tx, sku, location, delta, kind=LedgerKind.ADJUSTMENT, reason=reason
            )
            tx.before, tx.after = _levels(before), _levels(after)
            return stock_view(sku, location, after)

        return self._write(
            "adjust_quantity",
            args,
            run,
            view=StockView,
            actor=actor,
            idempotency_key=idempotency_key,
            approval_id=approval_id,
            reason=reason if isinstance(reason, str) else "",
        )

    def transfer_stock(
        self,
        sku: str,
        from_location: str,
        to_location: str,
        qty: int,
        *,
        reason: str = "",
        actor: Actor,
        idempotency_key: str | None = None,
    ) -> TransferView:
        """Move units between locations: `transfer_out` and `transfer_in` ledger rows.

        Raises:
            InsufficientStock: available stock at the source is below `qty`.
            InvalidInput: the same location twice, a bad quantity.
        """
        args = {
            "sku": sku,
            "from_location": from_location,
            "to_location": to_location,
            "qty": qty,
            "reason": reason,
        }

        def run(tx: Tx) -> TransferView:
            check_code("sku", sku)
            check_code("from_location", from_location, max_len=32)
            check_code("to_location", to_location, max_len=32)
            check_qty("qty", qty)
            check_text("reason", reason)
            if from_location == to_location:
                raise InvalidInput("to_location", to_location, "it is the source location too")
            self._staff_only(tx)
            self._location(tx.conn, to_location)
            self._lock_stock(tx, [(sku, from_location), (sku, to_location)])
            transfer_id = uuid.uuid4().hex[:16]
            s_before, s_after = self._change_on_hand(
                tx,
                sku,
                from_location,
                -qty,
                kind=LedgerKind.TRANSFER_OUT,
                reason=reason,
                ref_type="transfer",
                ref_id=transfer_id,
            )
            d_before, d_after = self._change_on_hand(
                tx,
                sku,
                to_location,
                qty,
                kind=LedgerKind.TRANSFER_IN,
                reason=reason,
                ref_type="transfer",
                ref_id=transfer_id,
            )
            tx.before = {from_location: _levels(s_before), to_location: _levels(d_before)}
            tx.after = {from_location: _levels(s_after), to_location: _levels(d_after)}
            return TransferView(
                transfer_id=transfer_id,
                sku=sku,
                qty=qty,
                source=stock_view(sku, from_location, s_after),
                destination=stock_view(sku, to_location, d_after),
            )

        return self._write(
            "transfer_stock",
            args,
            run,
            view=TransferView,
            actor=actor,
            idempotency_key=idempotency_key,
            reason=reason if isinstance(reason, str) else "",
        )

    def correct_stock(
        self,
        sku: str,
        location: str,
        *,
        on_hand: int | None = None,
        reserved: int | Literal["recompute"] | None = None,
        reason: str,
        actor: Actor,
        idempotency_key: str | None = None,
        approval_id: int | None = None,
    ) -> StockView:
        """The auditor's fix of a stock row whose books do not balance.

        `on_hand=N` sets on-hand to the counted N and appends a `correction` ledger row of
        N minus the ledger's current sum, so that afterwards on-hand equals the ledger again.
        `reserved="recompute"` sets reserved to the sum of the open reservations; an integer
        sets it to that value. A change of more than `adjustment_units` needs an approval.

        Raises:
            InvalidInput: neither value given, a negative value, an empty reason.
            ApprovalRequired: the correction is above the threshold.
        """
        args = {
            "sku": sku,
            "location": location,
            "on_hand": on_hand,
            "reserved": reserved,
            "reason": reason,
        }

        def run(tx: Tx) -> StockView:
            check_code("sku", sku)
            check_code("location", location, max_len=32)
            check_text("reason", reason, required=True)
            if on_hand is None and reserved is None:
                raise InvalidInput("on_hand", on_hand, "pass on_hand, reserved, or both")
            if on_hand is not None:
                check_count("on_hand", on_hand)
            if reserved is not None and reserved != "recompute":
                check_count("reserved", reserved)
            self._staff_only(tx)
            conn = tx.conn
            stmt = select(*_STOCK_COLS).where(STOCK.c.sku == sku, STOCK.c.location == location)
            if self._postgres:
                stmt = stmt.with_for_update()
            current = conn.execute(stmt).first()
            if current is None:
                self._ensure_stock(tx, sku, location)
                current = conn.execute(stmt).first()
            assert current is not None
            values: dict[str, Any] = {"updated_at": tx.now}
            change = 0
            ledger_delta = 0
            if on_hand is not None:
                ledger_sum = int(
                    conn.execute(
                        select(func.coalesce(func.sum(LEDGER.c.delta), 0)).where(
                            LEDGER.c.sku == sku, LEDGER.c.location == location
                        )
                    ).scalar_one()
                )
                ledger_delta = on_hand - ledger_sum
                change = max(abs(on_hand - current.on_hand), abs(ledger_delta))
                values["on_hand"] = on_hand
            if reserved is not None:
                target = reserved
                if reserved == "recompute":
                    target = int(
                        conn.execute(
                            select(func.coalesce(func.sum(RESERVATION.c.qty), 0)).where(
                                RESERVATION.c.sku == sku,
                                RESERVATION.c.location == location,
                                RESERVATION.c.status == ReservationStatus.OPEN.value,
                            )
                        ).scalar_one()
                    )
                values["reserved"] = target
                change = max(change, abs(int(target) - current.reserved))
            limit = self.settings.approvals.adjustment_units
            self._require_approval(
                tx,
                change > limit,
                f"correcting {sku} at {location} changes {change} units, more than {limit}",
            )
            after = conn.execute(
                update(STOCK)
                .where(STOCK.c.sku == sku, STOCK.c.location == location)
                .values(**values)
                .returning(*_STOCK_COLS)
            ).one()
            if ledger_delta:
                conn.execute(
                    insert(LEDGER),
                    {
                        "sku": sku,
                        "location": location,
                        "delta": ledger_delta,
                        "kind": LedgerKind.CORRECTION.value,
                        "reason": reason[:500],
                        "ref_type": None,
                        "ref_id": None,
                        "actor": tx.actor.name,
                        "created_at": tx.now,
                    },
                )
            tx.before = _levels(current)
            tx.after = {**_levels(after), "ledger_delta": ledger_delta}
            return stock_view(sku, location, after)

        return self._write(
            "correct_stock",
            args,
            run,
            view=StockView,
            actor=actor,
            idempotency_key=idempotency_key,
            approval_id=approval_id,
            reason=reason if isinstance(reason, str) else "",
        )


class _Before:
    """The stock levels before a change, computed from the row after it."""

    __slots__ = ("on_hand", "reorder_point", "reserved", "updated_at")

    def __init__(self, on_hand: int, reserved: int, after: Any) -> None:
        self.on_hand = on_hand
        self.reserved = reserved
        self.reorder_point = after.reorder_point
        self.updated_at = after.updated_at


def _levels(row: Any) -> dict[str, int]:
    return {"on_hand": int(row.on_hand), "reserved": int(row.reserved)}
