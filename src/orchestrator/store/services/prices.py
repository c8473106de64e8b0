"""List prices: `set_price` (audited, idempotent, never below the margin floor) and its history.

Every change is one transaction holding the guarded `UPDATE product SET price_cents`, an
append-only `price_history` row, the audit row and the idempotency record. The margin floor
(`orchestrator.store.rules.margins`, markup from `settings.pricing.margin_floor_pct`) is
checked here, so no caller (a person's script, an agent's tool, a graph node, a person's
edit of an approval) can write a price below it, a negative one, or a NaN.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any, Literal, cast

from pydantic import Field
from sqlalchemy import Table, insert, select, update

from orchestrator.errors import InvalidInput, StoreError
from orchestrator.store.models import PriceHistory, Product
from orchestrator.store.rules.margins import margin_floor_cents
from orchestrator.store.services._core import (
    Actor,
    CallOrigin,
    Tx,
    _Core,
    check_cents,
    check_choice,
    check_code,
    check_text,
)
from orchestrator.store.services.views import _View

__all__ = ["PRICE_CHANGE_KINDS", "PriceChangeView", "PricesMixin"]

PRICE_HISTORY = cast(Table, PriceHistory.__table__)  # type: ignore[attr-defined]
PRODUCT = cast(Table, Product.__table__)  # type: ignore[attr-defined]

PRICE_CHANGE_KINDS: tuple[str, ...] = ("markdown", "move", "manual")
"""Why a price changed: a markdown (near expiry, overstock), an elasticity move, or by hand."""


class PriceChangeView(_View):
    """One change of a list price (a `price_history` row)."""

    id: int
    sku: str
    old_price_cents: int
    new_price_cents: int
    cost_cents: int
    floor_cents: int
    """The margin floor the new price was checked against."""
    change_pct: float
    """(new - old) / old, in percent."""
    kind: Literal["markdown", "move", "manual"]
    reason: str = ""
    actor: str
    agent: str | None = None
    thread_id: str | None = None
    approval_id: int | None = Field(default=None)
    created_at: datetime


def _change_pct(old: int, new: int) -> float:
    return round(100.0 * (new - old) / old, 2) if old else 100.0


def price_change_view(row: Any) -> PriceChangeView:
    return PriceChangeView(
        id=int(row.id),
        sku=str(row.sku),
        old_price_cents=int(row.old_price_cents),
        new_price_cents=int(row.new_price_cents),
        cost_cents=int(row.cost_cents),
        floor_cents=int(row.floor_cents),
        change_pct=_change_pct(int(row.old_price_cents), int(row.new_price_cents)),
        kind=row.kind,
        reason=row.reason or "",
        actor=row.actor,
        agent=row.agent,
        thread_id=row.thread_id,
        approval_id=row.approval_id,
        created_at=row.created_at,
    )


class PricesMixin(_Core):
    """List-price changes and their history."""

    def set_price(
        self,
        sku: str,
        price_cents: int,
        *,
        reason: str,
        kind: str = "manual",
        clearance: bool = False,
        actor: Actor,
        idempotency_key: str | None = None,
        approval_id: int | None = None,
    ) -> PriceChangeView:
        """Set a product's list price, never below the margin floor.

        The floor is unit cost x (1 + `settings.pricing.margin_floor_pct` / 100), rounded up;
        a `clearance` (near-expiry markdown of a perishable line) may go down to unit cost.
        A change larger than `settings.pricing.approval_change_pct` percent (either way)
        needs an approval.

        Args:
            sku: the product.
            price_cents: the new price, integer cents (a float, NaN, zero or negative is
                refused).
            reason: why, for the price history and the audit log.
            kind: `markdown`, `move` (an elasticity price move) or `manual`.
            clearance: a near-expiry markdown of a perishable line: the floor is unit cost.
            actor: who asks.
            idempotency_key: the call's write key (a replay returns the first result).
            approval_id: the approval that allows a large change, if already given.

        Returns:
            The change, as written to the price history.

        Raises:
            InvalidInput: a bad price (`price_cents`: not integer cents, below the margin
                floor, or the current price), a negative unit cost in the catalogue
                (`cost_cents`), `clearance` for a line that is not perishable, a bad kind or
                an empty reason.
            UnknownSku: no such product.
            ApprovalRequired: the change is above the approval threshold.
            PermissionDenied: a customer-scoped actor.
        """
        # NaN and infinity are not JSON: the audit row (PostgreSQL json) records their text.
        shown = (
            repr(price_cents)
            if isinstance(price_cents, float) and not math.isfinite(price_cents)
            else price_cents
        )
        args: dict[str, Any] = {
            "sku": sku,
            "price_cents": shown,
            "reason": reason,
            "kind": kind,
            "clearance": clearance,
        }

        def run(tx: Tx) -> PriceChangeView:
            check_code("sku", sku)
            if isinstance(price_cents, float) and not math.isfinite(price_cents):
                raise InvalidInput("price_cents", price_cents, "not a number: pass integer cents")
            new = check_cents("price_cents", price_cents)
            check_choice("kind", kind, PRICE_CHANGE_KINDS)
            check_text("reason", reason, required=True)
            if type(clearance) is not bool:
                raise InvalidInput("clearance", clearance, "expected true or false")
            self._staff_only(tx)
            product = tx.conn.execute(
                select(PRODUCT.c.price_cents, PRODUCT.c.cost_cents, PRODUCT.c.perishable).where(
                    PRODUCT.c.sku == sku
                )
            ).first()
            if product is None:
                from orchestrator.errors import UnknownSku

                raise UnknownSku(sku)
            old, cost = int(product.price_cents), int(product.cost_cents)
            if cost < 0:
                raise InvalidInput(
                    "cost_cents",
                    cost,
                    f"{sku}'s unit cost in the catalogue is negative, so no margin floor can be "
                    "computed: correct the product's cost first",
                )
            if clearance and not product.perishable:
                raise InvalidInput(
                    "clearance",
                    clearance,
                    f"{sku} is not perishable: only near-expiry perishables may be cleared "
                    "down to unit cost",
                )
            markup_pct = float(tx.settings.pricing.margin_floor_pct)
            floor = margin_floor_cents(cost, near_expiry=clearance, markup=markup_pct / 100)
            if new < floor:
                what = "unit cost" if clearance else f"unit cost {cost} + {markup_pct:g}%"
                raise InvalidInput(
                    "price_cents",
                    new,
                    f"below {sku}'s margin floor of {floor} cents ({what}); price at or above it",
                )
            if new == old:
                raise InvalidInput(
                    "price_cents", new, f"is {sku}'s current price already: nothing to change"
                )
            change = _change_pct(old, new)
            limit = float(tx.settings.pricing.approval_change_pct)
            used = self._require_approval(
                tx,
                abs(change) > limit,
                f"changing {sku}'s price from {old} to {new} cents ({change:+.1f}%) "
                f"exceeds {limit:g}%",
            )
            moved = tx.conn.execute(
                update(PRODUCT)
                .where(PRODUCT.c.sku == sku, PRODUCT.c.price_cents == old)
                .values(price_cents=new)
            ).rowcount
            if moved != 1:
                raise StoreError(
                    f"{sku}'s price changed while this call ran; nothing was changed, retry"
                )
            origin = tx.actor.origin if isinstance(tx.actor.origin, CallOrigin) else None
            values = {
                "sku": sku,
                "old_price_cents": old,
                "new_price_cents": new,
                "cost_cents": cost,
                "floor_cents": floor,
                "kind": kind,
                "reason": reason[:500],
                "actor": tx.actor.name,
                "agent": tx.actor.agent,
                "thread_id": origin.thread_id if origin else None,
                "approval_id": used if used is not None else tx.approval_id,
                "created_at": tx.now,
            }
            new_id = self._insert_id(tx.conn, insert(PRICE_HISTORY), values)
            tx.before = {"sku": sku, "price_cents": old}
            tx.after = {"sku": sku, "price_cents": new, "floor_cents": floor}
            return price_change_view(_Row(id=new_id, **values))

        return self._write(
            "set_price",
            args,
            run,
            view=PriceChangeView,
            actor=actor,
            idempotency_key=idempotency_key,
            approval_id=approval_id,
            reason=reason if isinstance(reason, str) else "",
        )

    def price_history(self, sku: str | None = None, *, limit: int = 100) -> list[PriceChangeView]:
        """Price changes, newest first (of one SKU, if given).

        Raises:
            InvalidInput: a bad SKU or limit.
        """
        if sku is not None:
            check_code("sku", sku)
        if type(limit) is not int or not 1 <= limit <= 10_000:
            raise InvalidInput("limit", limit, "expected 1..10000")
        stmt = select(PRICE_HISTORY).order_by(
            PRICE_HISTORY.c.created_at.desc(), PRICE_HISTORY.c.id.desc()
        )
        if sku is not None:
            stmt = stmt.where(PRICE_HISTORY.c.sku == sku)
        with self.engine.connect() as conn:
            return [price_change_view(row) for row in conn.execute(stmt.limit(limit))]


class _Row:
    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)
