"""Erasure of a customer's personal data (the right to be forgotten), ledger intact.

Personal data lives only in rows that can be rewritten: the customer row, their orders'
shipping addresses, their tickets' subjects and bodies, their returns' reasons. The
append-only tables (audit log, stock ledger) never receive it (see `_record`): the write path
records personal fields in redacted form and masks emails and phone numbers in every text.
Erasing rewrites those rows and replaces any remaining copy of the customer's personal values
(in approvals, idempotency records, run errors and the like) with `[erased]`. Stock, money,
statuses and ids stay as they were: the books balance before and after.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, String, Table, Text, cast, func, select, update
from sqlmodel import SQLModel

from orchestrator.errors import NotFound
from orchestrator.store.engine import APPEND_ONLY_TABLES
from orchestrator.store.services._core import (
    CUSTOMER,
    HINTS,
    ORDERS,
    RETURNS,
    TICKET,
    Actor,
    Tx,
    _Core,
    check_id,
    check_text,
)
from orchestrator.store.services.views import _View

__all__ = ["ERASED", "ErasureView", "PrivacyMixin"]

ERASED = "[erased]"
"""What an erased personal value becomes."""

_MIN_NEEDLE = 5
"""Personal values shorter than this are not searched for elsewhere (too many false hits)."""


class ErasureView(_View):
    """What erasing a customer changed."""

    customer_id: int
    rewritten: dict[str, int]
    """Rows rewritten, per table."""
    audit_rows_with_personal_data: int
    """Audit rows that still hold one of the customer's values (0 unless written before the
    log was redacted); the log is append-only, so they are reported, not changed."""
    replayed: bool = False


class PrivacyMixin(_Core):
    """Erasure of personal data."""

    def erase_customer(
        self,
        customer_id: int,
        *,
        reason: str,
        actor: Actor,
        idempotency_key: str | None = None,
    ) -> ErasureView:
        """Erase a customer's personal data everywhere in the store; keep the books.

        The customer row keeps its id, country and tier (orders, returns and the ledger still
        point at it) and loses name, email, phone and address; their orders lose the
        shipping address, their tickets the subject and body, their returns the reason. Any
        other copy of those values (approval arguments, idempotency results, run errors) is
        replaced by `[erased]`. Staff only.

        Raises:
            NotFound: no such customer.
            PermissionDenied: a customer-scoped actor.
            InvalidInput: an empty reason.
        """
        args = {"customer_id": customer_id, "reason": reason}

        def run(tx: Tx) -> ErasureView:
            check_id("customer_id", customer_id)
            check_text("reason", reason, required=True)
            self._staff_only(tx)
            conn = tx.conn
            customer = (
                conn.execute(select(CUSTOMER).where(CUSTOMER.c.id == customer_id))
                .mappings()
                .first()
            )
            if customer is None:
                raise NotFound("customer", customer_id, HINTS["customer"])
            needles = {
                str(customer[c])
                for c in ("name", "email", "phone", "address")
                if customer[c] and not str(customer[c]).startswith(("erased", ERASED))
            }
            for column, owner in (
                (ORDERS.c.shipping_address, ORDERS.c.customer_id),
                (TICKET.c.subject, TICKET.c.customer_id),
                (TICKET.c.body, TICKET.c.customer_id),
                (RETURNS.c.reason, RETURNS.c.customer_id),
            ):
                needles.update(
                    v
                    for v in conn.execute(select(column).where(owner == customer_id)).scalars()
                    if isinstance(v, str) and v != ERASED
                )
            needles = {n for n in needles if len(n) >= _MIN_NEEDLE}
            rewritten: dict[str, int] = {}

            def count(table: str, n: int) -> None:
                if n:
                    rewritten[table] = rewritten.get(table, 0) + n

            count(
                "customer",
                conn.execute(
                    update(CUSTOMER)
                    .where(CUSTOMER.c.id == customer_id)
                    .values(
                        name=f"erased customer {customer_id}",
                        email=f"erased-{customer_id}@erased.invalid",
                        phone="",
                        address="",
                        city="",
                        postcode="",
                        marketing_opt_in=False,
                    )
                ).rowcount,
            )
            count(
                "orders",
                conn.execute(
                    update(ORDERS)
                    .where(ORDERS.c.customer_id == customer_id, ORDERS.c.shipping_address != "")
                    .values(shipping_address="")
                ).rowcount,
            )
            count(
                "support_ticket",
                conn.execute(
                    update(TICKET)
                    .where(TICKET.c.customer_id == customer_id)
                    .values(subject=ERASED, body="")
                ).rowcount,
            )
            count(
                "returns",
                conn.execute(
                    update(RETURNS)
                    .where(RETURNS.c.customer_id == customer_id, RETURNS.c.reason != "")
                    .values(reason=ERASED)
                ).rowcount,
            )
            for needle in sorted(needles, key=len, reverse=True):
                for table in _rewritable_tables():
                    for column in _text_columns(table):
                        count(table.name, _replace(conn, table, column, needle, self._postgres))
            remaining = sum(
                _occurrences(conn, _audit_table(), needle, self._postgres) for needle in needles
            )
            tx.after = {"rewritten": rewritten, "audit_rows_with_personal_data": remaining}
            return ErasureView(
                customer_id=customer_id,
                rewritten=rewritten,
                audit_rows_with_personal_data=remaining,
            )

        return self._write(
            "erase_customer",
            args,
            run,
            view=ErasureView,
            actor=actor,
            idempotency_key=idempotency_key,
            reason=reason if isinstance(reason, str) else "",
        )


def _rewritable_tables() -> list[Table]:
    return [
        t
        for t in SQLModel.metadata.sorted_tables
        if t.name not in APPEND_ONLY_TABLES and t.name not in ("customer",)
    ]


def _audit_table() -> Table:
    return SQLModel.metadata.tables["audit_log"]


def _text_columns(table: Table) -> list[Any]:
    return [
        c
        for c in table.columns
        if (isinstance(c.type, JSON) or _is_text(c.type))
        and not c.primary_key
        and not c.foreign_keys
        and c.name not in ("status", "sku", "location", "kind", "operation", "idempotency_key")
    ]


def _is_text(type_: Any) -> bool:
    """String, Text and SQLModel's AutoString (a TypeDecorator over String)."""
    return isinstance(type_, String | Text) or isinstance(getattr(type_, "impl", None), String)


def _as_text(column: Any, postgres: bool) -> Any:
    return cast(column, Text) if isinstance(column.type, JSON) else column


def _replace(conn: Any, table: Table, column: Any, needle: str, postgres: bool) -> int:
    text_value = _as_text(column, postgres)
    replaced: Any = func.replace(text_value, needle, ERASED)
    if postgres and isinstance(column.type, JSON):
        replaced = cast(replaced, JSON)
    stmt = (
        update(table)
        .where(text_value.contains(needle, autoescape=True))
        .values({column.name: replaced})
    )
    return int(conn.execute(stmt).rowcount or 0)


def _occurrences(conn: Any, table: Table, needle: str, postgres: bool) -> int:
    total = 0
    for column in _text_columns(table):
        total += int(
            conn.execute(
                select(func.count())
                .select_from(table)
                .where(_as_text(column, postgres).contains(needle, autoescape=True))
            ).scalar_one()
        )
    return total
