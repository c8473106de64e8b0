"""Inventory policy: the reorder point, safety stock and order quantity per SKU x location.

`set_inventory_policy` is the one write: in one audited, idempotent transaction it updates
the pair's `inventory_policy` row (version + 1), appends an `inventory_policy_history` row, and
sets `stock.reorder_point` to the same reorder point, the column `low_stock` and replenishment
read. It refuses NaN, negative, fractional and inconsistent values (a safety stock above the
reorder point) with `InvalidInput` naming the field, so no such policy is ever stored.
"""

from __future__ import annotations

import math
from typing import Any, cast

from sqlalchemy import Table, insert, select, update

from orchestrator.errors import InvalidInput
from orchestrator.store.models import InventoryPolicy, InventoryPolicyHistory
from orchestrator.store.services._core import (
    MAX_QTY,
    PRODUCT,
    STOCK,
    Actor,
    Tx,
    check_code,
    check_text,
)
from orchestrator.store.services.stock import StockMixin
from orchestrator.store.services.views import InventoryPolicyView

__all__ = ["MAX_POLICY_UNITS", "PolicyMixin", "check_policy"]

POLICY = cast(Table, InventoryPolicy.__table__)  # type: ignore[attr-defined]
POLICY_HISTORY = cast(Table, InventoryPolicyHistory.__table__)  # type: ignore[attr-defined]

MAX_POLICY_UNITS = 100 * MAX_QTY
"""The largest reorder point, safety stock or order quantity accepted (as for stock counts)."""

_FIELDS = ("reorder_point", "safety_stock", "order_quantity", "service_level", "method")


def _units(field: str, value: object, *, minimum: int) -> int:
    if isinstance(value, float) and math.isnan(value):
        raise InvalidInput(field, value, "not a number (NaN): a policy needs whole units")
    if type(value) is not int:
        raise InvalidInput(
            field, value, f"expected a whole number of units, got {type(value).__name__}"
        )
    if value < minimum:
        what = "negative" if value < 0 else "zero"
        raise InvalidInput(field, value, f"{what} is not allowed: expected at least {minimum}")
    if value > MAX_POLICY_UNITS:
        raise InvalidInput(field, value, f"more than {MAX_POLICY_UNITS} units is refused as absurd")
    return value


def check_policy(
    *,
    reorder_point: object,
    safety_stock: object,
    order_quantity: object,
    service_level: object = None,
) -> tuple[int, int, int, float | None]:
    """Check a policy's figures; returns them typed.

    Raises:
        InvalidInput: a NaN, negative, fractional or absurd value, a service level outside
            (0, 1), or a safety stock above the reorder point; the field is named.
    """
    rop = _units("reorder_point", reorder_point, minimum=0)
    ss = _units("safety_stock", safety_stock, minimum=0)
    qty = _units("order_quantity", order_quantity, minimum=1)
    if ss > rop:
        raise InvalidInput(
            "safety_stock",
            ss,
            f"above the reorder point {rop}: the safety stock is part of the reorder point",
        )
    level: float | None = None
    if service_level is not None:
        if isinstance(service_level, bool) or not isinstance(service_level, int | float):
            raise InvalidInput(
                "service_level",
                service_level,
                f"expected a probability, got {type(service_level).__name__}",
            )
        level = float(service_level)
        if not math.isfinite(level) or not 0.0 < level < 1.0:
            raise InvalidInput(
                "service_level", service_level, "expected a probability strictly between 0 and 1"
            )
    return rop, ss, qty, level


def _view(row: Any, previous: int | None = None) -> InventoryPolicyView:
    data = {k: row[k] for k in InventoryPolicyView.model_fields if k in row}
    if "previous_reorder_point" not in row:
        data["previous_reorder_point"] = previous
    return InventoryPolicyView(**data)


class PolicyMixin(StockMixin):
    """Inventory policies: set one (audited, idempotent), read the current ones and history."""

    def set_inventory_policy(
        self,
        sku: str,
        location: str,
        *,
        reorder_point: int,
        safety_stock: int,
        order_quantity: int,
        service_level: float | None = None,
        method: str = "manual",
        reason: str,
        actor: Actor,
        idempotency_key: str | None = None,
    ) -> InventoryPolicyView:
        """Set the replenishment policy of `sku` at `location`.

        Updates (or creates) the pair's policy, appends a history row and sets
        `stock.reorder_point` to `reorder_point` (creating an empty stock row if the pair has
        none), all in one transaction. Setting the policy the pair already has changes
        nothing (no new version) and returns it.

        Args:
            sku: the product.
            location: the location code.
            reorder_point: order when the inventory position falls to this (>= 0).
            safety_stock: the part of the reorder point held against demand above the
                forecast (0..reorder_point).
            order_quantity: units per replenishment order (>= 1).
            service_level: the cycle service level it was computed for, in (0, 1), if any.
            method: how it was computed (`forecast:AutoETS`, `manual`, ...).
            reason: why, in a sentence (shown in the history and the audit log).
            actor: who sets it.
            idempotency_key: the call's write key: a replay returns the first result.

        Raises:
            InvalidInput: a NaN, negative, fractional or inconsistent figure (named), an empty
                reason.
            UnknownSku / NotFound: no such product or location.
            PermissionDenied: a customer-scoped actor.
        """
        args = {
            "sku": sku,
            "location": location,
            "reorder_point": reorder_point,
            "safety_stock": safety_stock,
            "order_quantity": order_quantity,
            "service_level": service_level,
            "method": method,
            "reason": reason,
        }
        # JSON (and PostgreSQL's json type) has no NaN or infinity: the audit row records
        # such a refused value as text.
        args = {
            k: repr(v) if isinstance(v, float) and not math.isfinite(v) else v
            for k, v in args.items()
        }

        def run(tx: Tx) -> InventoryPolicyView:
            check_code("sku", sku)
            check_code("location", location, max_len=32)
            rop, ss, qty, level = check_policy(
                reorder_point=reorder_point,
                safety_stock=safety_stock,
                order_quantity=order_quantity,
                service_level=service_level,
            )
            check_text("method", method, max_len=64, required=True)
            check_text("reason", reason, required=True)
            self._staff_only(tx)
            conn = tx.conn
            self._product(conn, sku)
            self._location(conn, location)
            stmt = select(POLICY).where(POLICY.c.sku == sku, POLICY.c.location == location)
            if self._postgres:
                stmt = stmt.with_for_update()
            current = conn.execute(stmt).mappings().first()
            stock_rop = conn.execute(
                select(STOCK.c.reorder_point).where(
                    STOCK.c.sku == sku, STOCK.c.location == location
                )
            ).first()
            previous = (
                stock_rop[0]
                if stock_rop is not None
                else (current["reorder_point"] if current else None)
            )
            values = {
                "reorder_point": rop,
                "safety_stock": ss,
                "order_quantity": qty,
                "service_level": level,
                "method": method,
            }
            tx.before = (
                {k: current[k] for k in (*_FIELDS, "version")}
                if current is not None
                else {"reorder_point": previous}
            )
            if (
                current is not None
                and previous == rop
                and all(current[k] == v for k, v in values.items())
            ):
                tx.after = dict(tx.before)
                return _view(current, previous)
            version = int(current["version"]) + 1 if current is not None else 1
            row = {
                "sku": sku,
                "location": location,
                **values,
                "set_at": tx.now,
                "set_by": tx.actor.name,
                "reason": reason[:500],
                "version": version,
            }
            if current is None:
                conn.execute(insert(POLICY), row)
            else:
                conn.execute(
                    update(POLICY)
                    .where(POLICY.c.sku == sku, POLICY.c.location == location)
                    .values(**{k: v for k, v in row.items() if k not in ("sku", "location")})
                )
            conn.execute(
                insert(POLICY_HISTORY),
                {**row, "previous_reorder_point": previous, "idempotency_key": tx.key},
            )
            if stock_rop is None:
                self._ensure_stock(tx, sku, location)
            conn.execute(
                update(STOCK)
                .where(STOCK.c.sku == sku, STOCK.c.location == location)
                .values(reorder_point=rop, updated_at=tx.now)
            )
            tx.after = {**values, "version": version}
            return InventoryPolicyView(**row, previous_reorder_point=previous)

        return self._write(
            "set_inventory_policy",
            args,
            run,
            view=InventoryPolicyView,
            actor=actor,
            idempotency_key=idempotency_key,
            reason=reason if isinstance(reason, str) else "",
        )

    # -- reads --------------------------------------------------------------------------

    def get_inventory_policy(self, sku: str, location: str) -> InventoryPolicyView | None:
        """The current policy of `sku` at `location`, or None when it has none."""
        check_code("sku", sku)
        check_code("location", location, max_len=32)
        with self.engine.connect() as conn:
            row = (
                conn.execute(
                    select(POLICY).where(POLICY.c.sku == sku, POLICY.c.location == location)
                )
                .mappings()
                .first()
            )
        return _view(row) if row is not None else None

    def inventory_policies(
        self,
        *,
        location: str | None = None,
        category: str | None = None,
        limit: int = 1000,
    ) -> list[InventoryPolicyView]:
        """Current policies, by SKU and location (optionally of one location or category)."""
        if type(limit) is not int or not 1 <= limit <= 100_000:
            raise InvalidInput("limit", limit, "expected an integer 1..100000")
        stmt = select(POLICY)
        if location is not None:
            check_code("location", location, max_len=32)
            stmt = stmt.where(POLICY.c.location == location)
        if category is not None:
            check_text("category", category, max_len=64, required=True)
            stmt = stmt.join(PRODUCT, PRODUCT.c.sku == POLICY.c.sku).where(
                PRODUCT.c.category == category
            )
        stmt = stmt.order_by(POLICY.c.sku, POLICY.c.location).limit(limit)
        with self.engine.connect() as conn:
            return [_view(r) for r in conn.execute(stmt).mappings()]

    def inventory_policy_history(
        self, sku: str, location: str, *, limit: int = 50
    ) -> list[InventoryPolicyView]:
        """The policies `sku` at `location` has had, newest first."""
        check_code("sku", sku)
        check_code("location", location, max_len=32)
        if type(limit) is not int or not 1 <= limit <= 10_000:
            raise InvalidInput("limit", limit, "expected an integer 1..10000")
        stmt = (
            select(POLICY_HISTORY)
            .where(POLICY_HISTORY.c.sku == sku, POLICY_HISTORY.c.location == location)
            .order_by(POLICY_HISTORY.c.version.desc(), POLICY_HISTORY.c.id.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [_view(r) for r in conn.execute(stmt).mappings()]
