"""`demo_steps`: the urgent Arduino request, approved, sent and received, on the demo store."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

__all__ = ["DEMO_REQUEST", "demo_steps"]

DEMO_REQUEST = "We're running low on Arduino kits for tomorrow's robotics class, need 40 more"
"""What the head of the STEM centre writes."""
CALLER = "head-of-stem"
BUYER = "stem-buyer"


def _store_today(orch: Any) -> date:
    """The seeded world's "today": the day after its last seeded ledger row (else today)."""
    from sqlalchemy import func, select

    from orchestrator.store.services._core import LEDGER

    with orch.engine.connect() as conn:
        last = conn.execute(
            select(func.max(LEDGER.c.created_at)).where(LEDGER.c.actor == "seed")
        ).scalar_one_or_none()
    if last is None:
        from datetime import UTC, datetime

        return datetime.now(UTC).date()
    day = last.date() if hasattr(last, "date") else date.fromisoformat(str(last)[:10])
    return day + timedelta(days=1)


def demo_steps(orch: Any, console: Any) -> list[tuple[str, bool, str]]:
    """Run the supply-chain graph's urgent path end to end on the demo store through `orch`.

    1. "We're running low on Arduino kits for tomorrow's robotics class, need 40 more": stock
       check, need date (tomorrow, parsed in code), supplier options with prices and lead
       times, a proposed order; the run waits for the caller's approval.
    2. The caller approves: the purchase order is sent once (a second approval is taken too
       if the order is above the store's own purchase-order threshold).
    3. Half arrives (partial receipt, one ledger row), then the rest (received).

    The caller prints the returned steps; `console` gets the supplier options table.

    Returns:
        (step, as expected, detail) per step.
    """
    from rich.table import Table

    from orchestrator.runtime import RunContext

    steps: list[tuple[str, bool, str]] = []
    today = _store_today(orch)
    first = orch.run(
        "supply_chain",
        {"text": DEMO_REQUEST, "as_of": today.isoformat()},
        context=RunContext(actor=BUYER, channel="cli"),
    )
    values = first.values
    choices = values.get("choices") or []
    ok = (
        first.status == "waiting"
        and len(first.approval_ids) == 1
        and values.get("need_by") == (today + timedelta(days=1)).isoformat()
        and len(choices) == 1
        and bool(choices[0].get("alternatives"))
    )
    if choices:
        choice = choices[0]
        table = Table(title=f"{choice['sku']} -> {choice['location']}: supplier options")
        for column in ("supplier", "unit", "MOQ", "lead", "arrives", "on time", "score"):
            table.add_column(column)
        for i, o in enumerate([choice["chosen"], *choice["alternatives"]]):
            table.add_row(
                ("* " if i == 0 else "  ") + o["supplier_name"],
                f"{o['unit_cost_cents'] / 100:.2f}",
                str(o["moq"]),
                f"{o['lead_time_days']} d",
                o["arrives"],
                f"{o['on_time_rate']:.0%}",
                f"{o['score']:.3f}",
            )
        console.print(table)
    sku = choices[0]["sku"] if choices else "?"
    steps.append(
        (
            "urgent Arduino request proposes an order and waits for the caller",
            ok,
            f"needed by {values.get('need_by')}; {sku}: {len(choices[0]['alternatives']) + 1 if choices else 0}"
            f" supplier options; approval {first.approval_id}",
        )
    )
    if not ok:
        return steps
    done = orch.resume(first.thread_id, "approve", by=CALLER)
    extra = 0
    while done.status == "waiting" and done.approval_id is not None and extra < 3:
        extra += 1  # the store's own purchase-order threshold asks once more
        done = orch.resume(done.thread_id, "approve", by=CALLER)
    sent = [s for s in done.values.get("sent", []) if s["status"] == "sent"]
    po = orch.service.get_purchase_order(sent[0]["po_id"]) if len(sent) == 1 else None
    ok = done.status == "completed" and po is not None and po.status == "sent"
    steps.append(
        (
            "approved by the caller, one purchase order sent",
            ok,
            (
                f"PO {po.id} to supplier {po.supplier_id}: {po.lines[0].sku} x "
                f"{po.lines[0].qty_ordered}, {po.total_cents / 100:.2f}, expected {po.expected_at}"
                + (f" ({extra} more approval for the store's PO threshold)" if extra else "")
                if po is not None
                else f"run {done.status}, sent {sent}"
            ),
        )
    )
    if po is None or not ok:
        return steps
    line = po.lines[0]
    before = orch.service.get_stock(line.sku, po.location)
    on_hand = before[0].on_hand if before else 0
    half = max(1, line.qty_ordered // 2)
    arrived = (po.expected_at or today).isoformat()
    part = orch.run(
        "supply_chain",
        {"mode": "receive", "po_id": po.id, "received": {line.sku: half}, "as_of": arrived},
        context=RunContext(actor=BUYER, channel="cli"),
    )
    rest = orch.run(
        "supply_chain",
        {"mode": "receive", "po_id": po.id, "as_of": arrived},
        context=RunContext(actor=BUYER, channel="cli"),
    )
    after = orch.service.get_stock(line.sku, po.location)[0].on_hand
    receipts = [
        row
        for row in orch.service.stock_ledger(line.sku, po.location, limit=50)
        if getattr(row, "ref_id", None) == str(po.id)
    ]
    ok = (
        (part.values.get("receipt") or {}).get("status") == "partially_received"
        and (rest.values.get("receipt") or {}).get("status") == "received"
        and after == on_hand + line.qty_ordered
        and len(receipts) == 2
    )
    steps.append(
        (
            "received in two deliveries",
            ok,
            f"{half} then {line.qty_ordered - half} of {line.sku} at {po.location}: on hand "
            f"{on_hand} -> {after}, {len(receipts)} receipt ledger rows",
        )
    )
    return steps
