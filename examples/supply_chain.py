"""The supply-chain graph on a small seeded shop: a reorder proposal, an urgent request in
words that the caller approves, and the goods received in two deliveries.

    python examples/supply_chain.py                    # the routed model (local by default)
    python examples/supply_chain.py --no-model         # rules only
    python examples/supply_chain.py --text "need 12 raspberry pi kits by Friday"
    python examples/supply_chain.py --report report.html

The model reads the request and explains the supplier choices; code computes every number
(inventory positions in SQL, the supplier score, totals) and checks what the model says.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

REQUEST = "We're running low on Arduino kits for tomorrow's robotics class, need 40 more"
TODAY = "2026-11-01"  # the seeded world's today


def _money(cents: int) -> str:
    return f"{cents / 100:,.2f}"


def main(argv: list[str] | None = None) -> int:
    """Seed a shop, propose a replenishment, order what the request asks for, receive it."""
    from orchestrator import load_settings
    from orchestrator.backends.local.server import ensure_local_server
    from orchestrator.graphs.supply_chain import render_html
    from orchestrator.runtime import Orchestrator, RunContext
    from orchestrator.store import make_engine
    from orchestrator.store.seed import seed

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--text", default=REQUEST, help="the urgent request, in words")
    parser.add_argument("--no-model", action="store_true", help="rules only, no model")
    parser.add_argument("--report", type=Path, help="write the urgent run's HTML report here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        overrides: dict[str, Any] = {
            "store": {"url": f"sqlite:///{Path(tmp) / 'shop.db'}"},
            "memory": {"enabled": False},
        }
        if args.no_model:
            overrides["models"] = {"default": "none:rules"}
        settings = load_settings(**overrides)
        engine = make_engine(settings.store)
        seed(engine, skus=20, days=35, customers=12, anomalies=0, reset=True)
        engine.dispose()
        buyer = RunContext(actor="stem-buyer", channel="cli")
        with ensure_local_server(settings), Orchestrator(settings) as orch:
            # 1. What is at or below its reorder point, and what we would order (nothing sent).
            proposal = orch.run("supply_chain", {"as_of": TODAY, "dry_run": True}, context=buyer)
            values = proposal.values
            print(f"dry run: {len(values['needs'])} SKU x location pairs at or below reorder point")
            for order in values["orders"][:3]:
                lines = ", ".join(f"{ln['sku']} x {ln['qty']}" for ln in order["lines"])
                print(f"  would order from {order['supplier_name']}: {lines}")
            print(f"  late purchase orders found: {len(values['late'])}")

            # 2. The urgent request: stock check, need date, options, a proposal to approve.
            urgent = orch.run("supply_chain", {"as_of": TODAY, "text": args.text}, context=buyer)
            values = urgent.values
            print(f"request: {args.text!r} -> needed by {values.get('need_by')}")
            for note in values.get("notes", []):
                print(f"  note: {note}")
            for problem in values.get("problems", []):
                print(f"  not done: {problem['subject']}: {problem['reason']}")
            for choice in values.get("choices", []):
                for i, o in enumerate([choice["chosen"], *choice["alternatives"]]):
                    print(
                        f"  {'*' if i == 0 else ' '} {o['supplier_name']}: "
                        f"{_money(o['unit_cost_cents'])} a unit, MOQ {o['moq']}, "
                        f"{o['lead_time_days']} days (arrives {o['arrives']}), score {o['score']:.3f}"
                    )
                print(f"  why: {choice['explanation']}")
            while urgent.status == "waiting" and urgent.approval_id is not None:
                print(f"waiting for approval {urgent.approval_id}: the caller approves")
                urgent = orch.resume(urgent.thread_id, "approve", by="head-of-stem")
            if args.report:
                args.report.write_text(render_html(urgent.values), encoding="utf-8")
                print(f"report: {args.report}")
            sent = [s for s in urgent.values.get("sent", []) if s["status"] == "sent"]
            for s in sent:
                print(f"sent purchase order {s['po_id']} ({_money(s['total_cents'])})")

            # 3. The goods arrive in two deliveries.
            for s in sent:
                po = orch.service.get_purchase_order(s["po_id"])
                line = po.lines[0]
                half = max(1, line.qty_ordered // 2)
                first = orch.run(
                    "supply_chain",
                    {"mode": "receive", "po_id": po.id, "received": {line.sku: half}},
                    context=buyer,
                )
                rest = orch.run("supply_chain", {"mode": "receive", "po_id": po.id}, context=buyer)
                print(
                    f"received {half} of {line.sku}: {first.values['receipt']['status']}; "
                    f"the rest: {rest.values['receipt']['status']}"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
