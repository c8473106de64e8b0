"""Personal data stays out of the append-only tables, and `customers erase` removes the rest.

A customer's email, phone and address reach the store the ways an agent can put them there
(a shipping address, a ticket body, a refused call's arguments, a reason); afterwards no
table of the store holds any of them, the books balance, and the ledger is unchanged.
"""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import String, cast, inspect, select, text, update
from sqlalchemy.engine import Engine
from store_factories import STAFF, Shop, assert_balanced
from typer.testing import CliRunner

from orchestrator.errors import InvalidInput, UnknownSku
from orchestrator.store.models import Customer
from orchestrator.store.services import Actor, OrderLineIn, StoreService

EMAIL = "ada.lovelace@example.org"
PHONE = "+44 20 7946 0958"
ADDRESS = "12 Analytical Engine Row, London"
NEEDLES = (EMAIL, PHONE, ADDRESS, "Ada Lovelace")


def _put_personal_data_everywhere(svc: StoreService, engine: Engine, cid: int) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(Customer.__table__)  # type: ignore[arg-type]
            .where(Customer.__table__.c.id == cid)  # type: ignore[attr-defined]
            .values(name="Ada Lovelace", email=EMAIL, phone=PHONE, address=ADDRESS)
        )
    me = Actor(f"customer:{cid}", agent="support", customer_id=cid)
    order = svc.create_order(
        cid,
        [OrderLineIn(sku="SKU-1", qty=1)],
        location="WH-MAIN",
        shipping_address=f"{ADDRESS}, call {PHONE}",
        actor=me,
        idempotency_key="o-1",
    )
    svc.place_order(order.id, actor=me, idempotency_key="o-2")
    svc.create_ticket(
        cid,
        "Where is my parcel?",
        f"Please mail {EMAIL} or ring {PHONE}; {ADDRESS}",
        order_id=order.id,
        actor=me,
        idempotency_key="t-1",
    )
    with pytest.raises(UnknownSku) as refused:
        svc.create_order(
            cid,
            [OrderLineIn(sku="NOPE", qty=1)],
            location="WH-MAIN",
            shipping_address=ADDRESS,
            actor=me,
            idempotency_key="o-3",
        )
    assert not any(n in str(refused.value) for n in NEEDLES)
    with pytest.raises(InvalidInput) as bad:
        svc.create_ticket(cid, "x", ADDRESS * 1000, actor=me)
    assert not any(n in str(bad.value) for n in NEEDLES)
    svc.cancel_order(order.id, reason=f"customer asked, {EMAIL}", actor=STAFF)


def _tables_holding(
    engine: Engine, needles: tuple[str, ...], only: set[str] | None = None
) -> list[str]:
    found = []
    insp = inspect(engine)
    columns = {
        table: [c["name"] for c in insp.get_columns(table)]
        for table in insp.get_table_names()
        if only is None or table in only
    }
    with engine.connect() as conn:
        for table, names in columns.items():
            for name in names:
                col = text(f'"{name}"')
                for needle in needles:
                    hit = conn.execute(
                        select(text("1"))
                        .select_from(text(f'"{table}"'))
                        .where(cast(col, String).contains(needle))
                        .limit(1)
                    ).first()
                    if hit is not None:
                        found.append(f"{table}.{name} holds {needle!r}")
    return found


def test_append_only_tables_never_hold_personal_data(
    svc: StoreService, shop: Shop, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    _put_personal_data_everywhere(svc, engine, shop.customers[0])
    assert (
        _tables_holding(engine, NEEDLES, {"audit_log", "idempotency_record", "stock_ledger"}) == []
    )
    assert not any(n in caplog.text for n in NEEDLES)
    assert_balanced(engine)


def test_customers_erase_leaves_no_personal_data_and_the_books_intact(
    svc: StoreService, shop: Shop, engine: Engine, store_url: str
) -> None:
    from orchestrator.cli import app

    cid = shop.customers[0]
    _put_personal_data_everywhere(svc, engine, cid)
    assert _tables_holding(engine, NEEDLES) != []  # the domain rows hold them, as they should
    with engine.connect() as conn:
        ledger = conn.execute(text("SELECT count(*), sum(delta) FROM stock_ledger")).one()
    result = CliRunner().invoke(
        app, ["customers", "erase", str(cid), "--by", "dpo", "--json", "--db", store_url]
    )
    assert result.exit_code == 0, result.output
    assert f'"customer_id": {cid}' in result.output
    assert '"audit_rows_with_personal_data": 0' in result.output
    assert _tables_holding(engine, NEEDLES) == []
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*), sum(delta) FROM stock_ledger")).one() == ledger
    assert_balanced(engine)
    assert svc.get_customer(cid).id == cid
    [entry] = svc.audit_log(operation="erase_customer")
    assert entry.outcome == "ok" and entry.actor == "dpo"


def test_a_customer_cannot_erase_and_a_missing_one_is_not_found(
    svc: StoreService, shop: Shop
) -> None:
    from orchestrator.errors import NotFound, PermissionDenied

    me = Actor(f"customer:{shop.customers[0]}", customer_id=shop.customers[0])
    with pytest.raises(PermissionDenied):
        svc.erase_customer(shop.customers[0], reason="me", actor=me)
    with pytest.raises(NotFound):
        svc.erase_customer(999_999, reason="gone", actor=STAFF)
