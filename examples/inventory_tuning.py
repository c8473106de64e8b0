"""Tune reorder points from the sales history, with a person approving the large changes.

Seeds a small shop (two years of daily sales), then runs the built-in `inventory_tuning`
graph for one category: a dry run first (what would change, nothing written), then the real
run, which pauses for a manager's approval of the large changes and applies every change as
one audited write. The report (HTML with charts, and markdown) goes to a folder you choose.

    python examples/inventory_tuning.py                       # the routed model writes reasons
    python examples/inventory_tuning.py --no-model            # template reasons only
    python examples/inventory_tuning.py --category grocery --report-dir reports/

Every figure (forecast, reorder point, safety stock, order quantity) is computed by code;
the model only words the reasons of the biggest changes, and code refuses a reason that
states a figure it did not compute.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any


def main(argv: list[str] | None = None) -> int:
    """Seed a shop, dry-run the tuning, run it, approve the large changes, print the outcome."""
    from orchestrator import load_settings
    from orchestrator.backends.local.server import ensure_local_server
    from orchestrator.runtime import Orchestrator, RunContext
    from orchestrator.store import make_engine
    from orchestrator.store.seed import seed

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--category", default="stem-kits", help="the category to tune")
    parser.add_argument("--no-model", action="store_true", help="template reasons, no model")
    parser.add_argument("--report-dir", help="where to write the report (default: a temp dir)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'shop.db'}"
        overrides: dict[str, Any] = {"store": {"url": url}, "memory": {"enabled": False}}
        if args.no_model:
            overrides["models"] = {"default": "none:rules"}
        settings = load_settings(**overrides)
        engine = make_engine(settings.store)
        seed(engine, skus=40, days=730, customers=20, anomalies=0, reset=True)
        engine.dispose()
        report = Path(args.report_dir or tmp) / "tuning-report.html"
        planner = RunContext(actor="planner", channel="cli")
        with ensure_local_server(settings), Orchestrator(settings) as orch:
            dry = orch.run(
                "inventory_tuning", {"category": args.category, "dry_run": True}, context=planner
            )
            proposed = [p for p in dry.values["pairs"] if p["status"] == "proposed"]
            print(f"dry run: {len(proposed)} of {len(dry.values['pairs'])} pairs would change")
            run = orch.run(
                "inventory_tuning",
                {"category": args.category, "report_path": str(report)},
                context=planner,
            )
            if run.status == "waiting":
                big = sum(p["needs_approval"] for p in run.values["pairs"])
                print(f"waiting for approval {run.approval_id}: {big} large changes")
                run = orch.resume(run.thread_id, "approve", by="store-manager")
            counts = run.values["counts"]
            print(f"{run.status}: {counts.get('applied', 0)} policies applied, {counts}")
            for p in sorted(run.values["pairs"], key=lambda p: -p["impact_cents"])[:3]:
                print(
                    f"  {p['sku']} @ {p['location']}: reorder point {p['old_reorder_point']} -> "
                    f"{p['reorder_point']}, order {p['order_quantity']} ({p['reason_source']}: "
                    f"{p['reason']})"
                )
            policy = orch.service.get_inventory_policy(proposed[0]["sku"], proposed[0]["location"])
            if policy is not None:
                print(f"stored: {policy.sku} @ {policy.location} v{policy.version} {policy.method}")
            if args.report_dir:
                print(f"report: {run.values['report_files'][0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
