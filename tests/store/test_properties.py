"""Random operation sequences (hypothesis): the books balance after any of them, and a call
that fails changes no stock."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine
from store_factories import STAFF, make_shop, stock_snapshot

from orchestrator.errors import ApprovalRequired, OrchestratorError
from orchestrator.settings import Settings
from orchestrator.store import create_all, make_engine
from orchestrator.store.invariants import check_invariants
from orchestrator.store.services import OrderLineIn, StoreService

SKUS = ["SKU-1", "SKU-2", "SKU-3"]
LOCS = ["WH-MAIN", "SHOP-1"]
sku = st.sampled_from(SKUS)
loc = st.sampled_from(LOCS)
qty = st.integers(min_value=1, max_value=12)
pick = st.integers(min_value=0, max_value=50)

ops = st.one_of(
    st.tuples(st.just("reserve"), sku, loc, qty),
    st.tuples(st.just("release"), pick),
    st.tuples(st.just("receive"), sku, loc, qty),
    st.tuples(st.just("adjust"), sku, loc, st.integers(min_value=-15, max_value=15)),
    st.tuples(st.just("transfer"), sku, loc, loc, qty),
    st.tuples(
        st.just("order"),
        st.lists(st.tuples(sku, qty), min_size=1, max_size=3, unique_by=lambda t: t[0]),
        st.booleans(),
    ),
    st.tuples(st.just("cancel"), pick),
    st.tuples(st.just("ship"), pick),
    st.tuples(st.just("modify"), pick, sku, qty),
    st.tuples(st.just("correct"), sku, loc),
)


def _nth(items: list[int], n: int) -> int | None:
    return items[n % len(items)] if items else None


def apply(svc: StoreService, op: tuple[Any, ...], orders: list[int]) -> None:
    kind = op[0]
    if kind == "reserve":
        svc.reserve(op[1], op[2], op[3], actor=STAFF)
    elif kind == "release":
        open_ = [r.id for r in svc.list_reservations(limit=100) if r.order_id is None]
        rid = _nth(open_, op[1])
        if rid is not None:
            svc.release_reservation(rid, reason="property test", actor=STAFF)
    elif kind == "receive":
        svc.receive_goods(op[1], op[2], op[3], actor=STAFF)
    elif kind == "adjust":
        if op[3]:
            svc.adjust_quantity(op[1], op[2], op[3], reason="count", actor=STAFF)
    elif kind == "transfer":
        svc.transfer_stock(op[1], op[2], op[3], op[4], actor=STAFF)
    elif kind == "order":
        order = svc.create_order(
            1, [OrderLineIn(sku=s, qty=q) for s, q in op[1]], location="WH-MAIN", actor=STAFF
        )
        orders.append(order.id)
        if op[2]:
            svc.place_order(order.id, actor=STAFF)
    elif kind == "cancel":
        oid = _nth(orders, op[1])
        if oid is not None:
            svc.cancel_order(oid, reason="property test", actor=STAFF)
    elif kind == "ship":
        oid = _nth(orders, op[1])
        if oid is not None:
            svc.ship_order(oid, carrier="dhl", actor=STAFF)
    elif kind == "modify":
        oid = _nth(orders, op[1])
        if oid is not None:
            svc.modify_order(oid, [OrderLineIn(sku=op[2], qty=op[3])], actor=STAFF)
    elif kind == "correct":
        svc.correct_stock(op[1], op[2], reserved="recompute", reason="audit", actor=STAFF)


def run_sequence(engine: Engine, sequence: list[tuple[Any, ...]]) -> None:
    svc = StoreService(engine, settings=Settings(_env_file=None))  # type: ignore[call-arg]
    orders: list[int] = []
    for op in sequence:
        before = stock_snapshot(engine)
        try:
            apply(svc, op, orders)
        except (OrchestratorError, ApprovalRequired):
            assert stock_snapshot(engine) == before, f"{op} failed but changed stock"
    report = check_invariants(engine)
    assert report.ok, [f"{v.rule} {v.key}: {v.detail}" for v in report.violations]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ops, min_size=1, max_size=25))
def test_random_sequences_keep_the_books_sqlite(sequence: list[tuple[Any, ...]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'p.db'}")
        try:
            create_all(engine)
            make_shop(engine, stock=10)
            run_sequence(engine, sequence)
        finally:
            engine.dispose()


@pytest.mark.postgres
def test_random_sequences_keep_the_books_postgres(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    create_all(engine)
    make_shop(engine, stock=10)

    @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(ops, min_size=1, max_size=20))
    def run(sequence: list[tuple[Any, ...]]) -> None:
        # One database for every example: the books must balance from any reachable state.
        run_sequence(engine, sequence)

    try:
        run()
    finally:
        engine.dispose()
