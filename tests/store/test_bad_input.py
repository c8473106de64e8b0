"""Bad input: a typed error naming the bad value, and no partial write."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from store_factories import STAFF, Shop, count_rows

from orchestrator.errors import (
    InvalidInput,
    InvalidTransition,
    NotFound,
    StoreError,
    UnknownSku,
)
from orchestrator.store.services import OrderLineIn, POLineIn, StoreService

Case = tuple[str, Callable[[StoreService, Shop], Any], type[Exception], str]

CASES: list[Case] = [
    (
        "unknown sku",
        lambda s, sh: s.reserve("NOPE-1", "WH-MAIN", 1, actor=STAFF),
        UnknownSku,
        "NOPE-1",
    ),
    (
        "unknown location",
        lambda s, sh: s.reserve("SKU-1", "MOON", 1, actor=STAFF),
        NotFound,
        "MOON",
    ),
    (
        "zero qty",
        lambda s, sh: s.reserve("SKU-1", "WH-MAIN", 0, actor=STAFF),
        InvalidInput,
        "qty=0",
    ),
    (
        "negative qty",
        lambda s, sh: s.reserve("SKU-1", "WH-MAIN", -3, actor=STAFF),
        InvalidInput,
        "qty=-3",
    ),
    (
        "absurd qty",
        lambda s, sh: s.receive_goods("SKU-1", "WH-MAIN", 10**9, actor=STAFF),
        InvalidInput,
        "1000000000",
    ),
    (
        "float qty",
        lambda s, sh: s.reserve("SKU-1", "WH-MAIN", 1.5, actor=STAFF),
        InvalidInput,
        "1.5",
    ),
    (
        "string qty",
        lambda s, sh: s.reserve("SKU-1", "WH-MAIN", "2", actor=STAFF),
        InvalidInput,
        "'2'",
    ),
    (
        "bool qty",
        lambda s, sh: s.reserve("SKU-1", "WH-MAIN", True, actor=STAFF),
        InvalidInput,
        "True",
    ),
    (
        "malformed sku",
        lambda s, sh: s.reserve("SKU 1; DROP", "WH-MAIN", 1, actor=STAFF),
        InvalidInput,
        "SKU 1; DROP",
    ),
    ("empty sku", lambda s, sh: s.get_stock(""), InvalidInput, "sku=''"),
    (
        "sku wrong type",
        lambda s, sh: s.reserve(17, "WH-MAIN", 1, actor=STAFF),
        InvalidInput,
        "sku=17",
    ),
    (
        "zero delta",
        lambda s, sh: s.adjust_quantity("SKU-1", "WH-MAIN", 0, reason="x", actor=STAFF),
        InvalidInput,
        "delta=0",
    ),
    (
        "unknown reservation",
        lambda s, sh: s.release_reservation(999, reason="x", actor=STAFF),
        NotFound,
        "999",
    ),
    ("negative id", lambda s, sh: s.get_order(-5), InvalidInput, "-5"),
    ("string id", lambda s, sh: s.place_order("12", actor=STAFF), InvalidInput, "'12'"),
    ("unknown order", lambda s, sh: s.place_order(4242, actor=STAFF), NotFound, "4242"),
    (
        "unknown customer",
        lambda s, sh: s.create_order(
            777, [OrderLineIn(sku="SKU-1", qty=1)], location="WH-MAIN", actor=STAFF
        ),
        NotFound,
        "777",
    ),
    (
        "order unknown sku",
        lambda s, sh: s.create_order(
            sh.customers[0],
            [OrderLineIn(sku="SKU-1", qty=1), OrderLineIn(sku="GHOST", qty=1)],
            location="WH-MAIN",
            actor=STAFF,
        ),
        UnknownSku,
        "GHOST",
    ),
    (
        "order no lines",
        lambda s, sh: s.create_order(sh.customers[0], [], location="WH-MAIN", actor=STAFF),
        InvalidInput,
        "lines=[]",
    ),
    (
        "order line bad type",
        lambda s, sh: s.create_order(
            sh.customers[0], [{"sku": "SKU-1", "qty": "two"}], location="WH-MAIN", actor=STAFF
        ),
        InvalidInput,
        "'two'",
    ),
    (
        "order line zero",
        lambda s, sh: s.create_order(
            sh.customers[0], [{"sku": "SKU-1", "qty": 0}], location="WH-MAIN", actor=STAFF
        ),
        InvalidInput,
        "qty=0",
    ),
    (
        "order sku twice",
        lambda s, sh: s.create_order(
            sh.customers[0],
            [{"sku": "SKU-1", "qty": 1}, {"sku": "SKU-1", "qty": 2}],
            location="WH-MAIN",
            actor=STAFF,
        ),
        InvalidInput,
        "twice",
    ),
    (
        "deliver draft",
        lambda s, sh: s.deliver_order(
            s.create_order(
                sh.customers[0], [OrderLineIn(sku="SKU-1", qty=1)], location="WH-MAIN", actor=STAFF
            ).id,
            actor=STAFF,
        ),
        InvalidTransition,
        "'draft' to 'delivered'",
    ),
    (
        "negative payment",
        lambda s, sh: s.record_payment(1, "capture", -100, actor=STAFF),
        InvalidInput,
        "-100",
    ),
    (
        "unknown supplier",
        lambda s, sh: s.create_purchase_order(
            99, "WH-MAIN", [POLineIn(sku="SKU-1", qty=1)], actor=STAFF
        ),
        NotFound,
        "99",
    ),
    (
        "po receive unknown sku",
        lambda s, sh: s.receive_purchase_order(1, {"SKU-9": 1}, actor=STAFF),
        NotFound,
        "1",
    ),
    (
        "bad txn kind",
        lambda s, sh: s.record_integration_transaction(
            "pos", "X", "gift", "SKU-1", "WH-MAIN", -1, actor=STAFF
        ),
        InvalidInput,
        "gift",
    ),
    (
        "bad txn status",
        lambda s, sh: s.set_transaction_status(1, "lost", reason="x", actor=STAFF),
        InvalidInput,
        "lost",
    ),
    ("empty reason", lambda s, sh: s.cancel_order(1, reason="", actor=STAFF), StoreError, ""),
    (
        "bad idempotency key",
        lambda s, sh: s.reserve("SKU-1", "WH-MAIN", 1, actor=STAFF, idempotency_key=""),
        InvalidInput,
        "idempotency_key=''",
    ),
    (
        "bad actor",
        lambda s, sh: s.reserve("SKU-1", "WH-MAIN", 1, actor="alice"),
        InvalidInput,
        "'alice'",
    ),  # type: ignore[arg-type]
    ("bad limit", lambda s, sh: s.low_stock(limit=0), InvalidInput, "limit=0"),
]


def test_every_bad_input_is_typed_named_and_writes_nothing(
    svc: StoreService, shop: Shop, engine: Engine
) -> None:
    problems: list[str] = []
    for name, call, error, fragment in CASES:
        before = count_rows(engine)
        try:
            call(svc, shop)
        except error as exc:
            if fragment not in str(exc):
                problems.append(f"{name}: message {str(exc)!r} does not name {fragment!r}")
        except Exception as exc:
            problems.append(f"{name}: raised {type(exc).__name__}: {exc}, not {error.__name__}")
        else:
            problems.append(f"{name}: did not raise")
        after = count_rows(engine)
        if name != "deliver draft" and after != before:  # that case creates its draft first
            problems.append(f"{name}: wrote rows {before} -> {after}")
    assert not problems, "\n".join(problems)


def test_failed_writes_are_audited_once(svc: StoreService, shop: Shop) -> None:
    with pytest.raises(InvalidInput):
        svc.reserve("SKU-1", "WH-MAIN", 0, actor=STAFF, idempotency_key="k0")
    [entry] = svc.audit_log(operation="reserve")
    assert (entry.outcome, entry.idempotency_key) == ("error", "k0")
    assert entry.error is not None and "qty=0" in entry.error
