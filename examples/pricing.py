"""Dynamic pricing on a seeded grocery-and-electronics shop: propose, approve, apply, report.

    python examples/pricing.py                  # the routed model writes the explanation
    python examples/pricing.py --no-model       # the template explanation
    python examples/pricing.py --report out.html

Seeds a shop of 80 products with a year of history, runs the `pricing` graph as a dry run
(elasticities per SKU or pooled per category), then for real: changes within the
approval threshold are written at once; the manager edits the first large markdown, rejects
the second and approves the rest. Every written price is checked against its margin floor.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from orchestrator import load_settings
from orchestrator.graphs.pricing.report import write_report
from orchestrator.runtime import Orchestrator, RunContext
from orchestrator.store import make_engine
from orchestrator.store.seed import seed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-model", action="store_true", help="template explanation only")
    parser.add_argument("--report", type=Path, help="write the HTML report (and .md) here")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="pricing-"))
    settings = load_settings(
        store={"url": f"sqlite:///{folder / 'shop.db'}"}, memory={"enabled": False}
    )
    engine = make_engine(settings.store)
    seed(engine, skus=80, days=365, customers=50, anomalies=0, reset=True)
    engine.dispose()

    models = None
    if args.no_model:
        from orchestrator.backends.none import NoModel

        models = NoModel(model_name="rules")
    with Orchestrator(settings, models=models) as orch:
        ann = RunContext(actor="pricing-example")
        dry = orch.run("pricing", {"dry_run": True}, context=ann)
        est = dry.values["estimate_summary"]
        print(
            f"dry run: {len(dry.values['changes'])} proposals; elasticity "
            f"{est['sku']} own, {est['category']} pooled, {est['none']} none"
        )
        result = orch.run("pricing", {}, context=ann)
        decisions = 0
        while result.status == "waiting":
            request = result.interrupts[0]["value"]
            sku = request["arguments"]["sku"]
            if decisions == 0:
                edited = {
                    **request["arguments"],
                    "price_cents": request["arguments"]["price_cents"] + 10,
                }
                decision: object = {
                    "decision": "edit",
                    "arguments": edited,
                    "note": "10 cents more",
                }
                print(f"edit {sku}: {request['reason']}")
            elif decisions == 1:
                decision = {"decision": "reject", "note": "keep it for the weekend"}
                print(f"reject {sku}")
            else:
                decision = "approve"
                print(f"approve {sku}")
            decisions += 1
            result = orch.resume(result.thread_id, decision, by="store-manager")
        changes = result.values["changes"]
        for c in changes:
            if c["status"] == "skipped":
                continue
            price = c["applied_price_cents"] or c["proposed_price_cents"]
            print(
                f"{c['status']:8} {c['sku']:16} {c['why']:12} "
                f"{c['current_price_cents'] / 100:8.2f} -> {price / 100:8.2f} "
                f"(floor {c['floor_cents'] / 100:.2f})"
            )
            if c["status"] == "applied" and price < c["floor_cents"]:
                print(f"BELOW THE FLOOR: {c['sku']}")
                return 1
        history = orch.service.price_history(limit=1000)
        print(
            f"{len(history)} price changes written; explanation by {result.values['explanation']['source']}"
        )
        if args.report:
            for path in write_report(result.values, args.report):
                print(f"report: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
