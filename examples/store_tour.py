"""A scripted day of a shop's operations through the service layer, every step checked.

The service layer is the only code that changes stock, money and orders: each call below is
one audited, idempotent transaction. The tour places an order and replays it with the same
idempotency key, takes payment, ships, delivers, takes a return and refunds it, has an
oversell refused, holds a large adjustment for a person's approval, raises a purchase order
received in two deliveries, and posts, fails and reprocesses integration transactions; then
it checks the books.

    python examples/store_tour.py                 # a fresh demo shop in a temporary file
    python examples/store_tour.py --db sqlite:///shop.db --reset

Exit status 0 when every step did what it should, 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from orchestrator.errors import ApprovalRequired, InsufficientStock

DEMO_ACTOR = "demo-operator"
Step = Callable[[str, bool, str], None]


def _money(cents: int) -> str:
    return f"£{cents / 100:,.2f}"


def _level(svc: Any, sku: str, location: str) -> Any:
    (view,) = svc.get_stock(sku, location)
    return view


def run_tour(svc: Any, step: Step) -> None:
    """A scripted day of operations through the service layer, each checked by `step`."""
    from sqlmodel import Session, col, select

    from orchestrator.store.models import Customer, Stock
    from orchestrator.store.services import (
        Actor,
        OrderLineIn,
        POLineIn,
        ReturnLineIn,
    )

    actor = Actor(DEMO_ACTOR)
    with Session(svc.engine) as session:
        stock = session.exec(
            select(Stock)
            .where(Stock.location == "WH-MAIN", Stock.on_hand - Stock.reserved >= 20)
            .order_by(col(Stock.sku))
        ).first()
        customer = session.exec(select(Customer).order_by(col(Customer.id))).first()
    if stock is None or customer is None or customer.id is None:
        raise SystemExit("the store has no stocked SKU or no customer: seed it first")
    sku, loc, cid = stock.sku, stock.location, customer.id

    order = svc.create_order(
        cid, [OrderLineIn(sku=sku, qty=3)], location=loc, actor=actor, idempotency_key="demo:o1"
    )
    placed = svc.place_order(order.id, actor=actor, idempotency_key="demo:o1:place")
    replay = svc.place_order(order.id, actor=actor, idempotency_key="demo:o1:place")
    after = _level(svc, sku, loc)
    step(
        "place order, then replay the same key",
        replay.replayed
        and replay.model_copy(update={"replayed": False}) == placed
        and after.reserved == stock.reserved + 3,
        f"order {order.id} for customer {cid}: 3 x {sku} reserved once "
        f"(reserved {stock.reserved} -> {after.reserved})",
    )

    total = placed.total_cents
    svc.record_payment(order.id, "authorization", total, actor=actor, idempotency_key="demo:o1:a")
    svc.record_payment(order.id, "capture", total, actor=actor, idempotency_key="demo:o1:c")
    shipment = svc.ship_order(
        order.id, carrier="DPD", tracking="DPD-DEMO-1", actor=actor, idempotency_key="demo:o1:s"
    )
    svc.deliver_order(order.id, actor=actor, idempotency_key="demo:o1:d")
    shipped = _level(svc, sku, loc)
    step(
        "pay, ship, deliver",
        shipped.on_hand == stock.on_hand - 3 and shipped.reserved == stock.reserved,
        f"captured {_money(total)}, shipment {shipment.id}; on hand {stock.on_hand} -> "
        f"{shipped.on_hand}",
    )

    ret = svc.initiate_return(
        order.id,
        [ReturnLineIn(sku=sku, qty=1)],
        reason="arrived damaged",
        actor=actor,
        idempotency_key="demo:o1:r",
    )
    svc.receive_return(ret.id, actor=actor, idempotency_key="demo:o1:rr")
    unit = placed.lines[0].unit_price_cents
    refund = svc.refund(
        order.id, unit, reason="return of 1 unit", actor=actor, idempotency_key="demo:o1:rf"
    )
    step(
        "return one unit and refund it",
        _level(svc, sku, loc).on_hand == shipped.on_hand + 1,
        f"return {ret.id} restocked 1; refunded {_money(refund.amount_cents)}",
    )

    before = _level(svc, sku, loc)
    try:
        svc.reserve(sku, loc, before.available + 1, actor=actor)
        step("oversell refused", False, "the reservation went through")
    except InsufficientStock as exc:
        unchanged = _level(svc, sku, loc) == before
        step("oversell refused", unchanged, str(exc))

    threshold = svc.settings.approvals.adjustment_units
    big = threshold + 5
    try:
        svc.adjust_quantity(
            sku, loc, big, reason="cycle count: pallet found in overflow", actor=actor
        )
        step("large adjustment held for approval", False, "it was applied")
    except ApprovalRequired as exc:
        approval_id = exc.approval_id
        held = _level(svc, sku, loc) == before
        svc.decide_approval(approval_id, approve=True, actor=Actor("store-manager"))
        adjusted = svc.adjust_quantity(
            sku,
            loc,
            big,
            reason="cycle count: pallet found in overflow",
            actor=actor,
            approval_id=approval_id,
        )
        step(
            "large adjustment held for approval",
            held and adjusted.on_hand == before.on_hand + big,
            f"{big} units over the {threshold}-unit threshold: approval {approval_id}, "
            f"approved by store-manager, applied (on hand {adjusted.on_hand})",
        )

    offer = min(svc.supplier_offers(sku), key=lambda o: o.unit_cost_cents)
    qty = max(offer.moq, 40)
    po = svc.create_purchase_order(
        offer.supplier_id, loc, [POLineIn(sku=sku, qty=qty)], actor=actor, idempotency_key="demo:po"
    )
    approval = None
    try:
        svc.approve_purchase_order(po.id, actor=actor)
    except ApprovalRequired as exc:
        approval = exc.approval_id
        svc.decide_approval(approval, approve=True, actor=Actor("store-manager"))
        svc.approve_purchase_order(po.id, actor=actor, approval_id=approval)
    svc.send_purchase_order(po.id, actor=actor)
    first = qty // 2
    svc.receive_purchase_order(po.id, {sku: first}, actor=actor, idempotency_key="demo:po:r1")
    done = svc.receive_purchase_order(po.id, None, actor=actor, idempotency_key="demo:po:r2")
    step(
        "purchase order approved, sent, received in two deliveries",
        done.status == "received",
        f"PO {po.id} to {offer.supplier_name}: {qty} x {sku} at "
        f"{_money(offer.unit_cost_cents)} ({first} then {qty - first})",
    )

    posted = svc.record_integration_transaction(
        "pos", "demo-till-1", "sale", sku, loc, -1, actor=actor
    )
    svc.post_integration_transaction(posted.id, actor=actor)
    failing = svc.record_integration_transaction(
        "erp", "demo-erp-1", "receipt", sku, loc, 5, actor=actor
    )
    svc.fail_integration_transaction(failing.id, error="ERP timeout after 30s", actor=actor)
    svc.reprocess_transaction(failing.id, actor=actor)
    statuses = [svc.get_integration_transaction(t.id).status for t in (posted, failing)]
    step(
        "integration transactions posted, failed, reprocessed",
        statuses == ["posted", "posted"],
        f"txn {posted.id} posted; txn {failing.id} failed then reprocessed and posted",
    )


def main(argv: list[str] | None = None) -> int:
    """Seed a small demo shop (unless --db names one that is not reset) and run the tour."""
    from orchestrator import Settings
    from orchestrator.store import make_engine
    from orchestrator.store.invariants import check_invariants
    from orchestrator.store.seed import seed
    from orchestrator.store.services import StoreService

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="store URL; default a fresh SQLite file in a temp dir")
    parser.add_argument("--reset", action="store_true", help="re-seed the store at --db")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        url = args.db or f"sqlite:///{Path(tmp) / 'tour.db'}"
        settings = Settings(store={"url": url})
        engine = make_engine(settings.store)
        try:
            if args.db is None or args.reset:
                seed(engine, skus=40, days=60, anomalies=0, reset=True)
            svc = StoreService(engine, settings=settings)
            failures: list[str] = []

            def step(name: str, ok: bool, detail: str) -> None:
                print(f"  {'ok' if ok else 'FAILED':6} {name}: {detail}")
                if not ok:
                    failures.append(name)

            run_tour(svc, step)
            books = check_invariants(engine)
            step("the books balance", books.ok, f"{len(books.violations)} violation(s)")
        finally:
            engine.dispose()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
