"""The inventory auditor on a seeded shop: break the books, audit, fix, escalate, report.

    python examples/auditor.py                 # the routed model (local by default)
    python examples/auditor.py --no-model      # the deterministic playbooks only

A small shop is seeded with the seeder's six anomalies, then an outside integration breaks
it some more (a replayed receipt, a stock update whose transaction never posted, an order
cancelled without releasing its holds). One audit pass (`run_pass`) finds every problem,
fixes what the auditor profile may fix (posting, reversing and releasing through its tools,
each write once), escalates the oversells to a person, and the oversight report is written.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from orchestrator import load_settings
from orchestrator.evaluation.audit import inject_raw
from orchestrator.graphs.auditor import build_auditor_graph, run_pass
from orchestrator.graphs.auditor.oversight import write_report
from orchestrator.store.invariants import check_invariants
from orchestrator.testing import seeded_shop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-model", action="store_true", help="playbooks only")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="orch-auditor-"))
    # seeded_shop routes every node to a scripted echo model: use the environment's routing
    # (ORCH_MODELS__DEFAULT, the local model by default) unless --no-model.
    models = load_settings().models.model_dump()
    with seeded_shop(folder / "shop.db", anomalies=6, models=models) as shop:
        used: set[tuple[str, str]] = set()
        for i, kind in enumerate(
            ("raw_duplicate_posting", "raw_unposted_integration", "raw_cancelled_with_holds")
        ):
            for anomaly in inject_raw(shop.engine, kind, 1, seed=i, avoid=used):  # type: ignore[arg-type]
                print(f"injected {anomaly.kind}: {anomaly.detail}")
        before = {r: n for r, n in check_invariants(shop.engine).counts().items() if n}
        print(f"check-invariants before: {before}")
        orch = shop.orchestrator()
        if args.no_model:
            orch.register_graph("auditor", build_auditor_graph, replace=True, use_model=False)
        for result in run_pass(orch, full=True):
            print(result.values["report"])
            while result.status == "waiting":  # a large fix: a person approves it
                print(f"approving {result.approval_ids} as the store manager")
                result = orch.resume(result.thread_id, "approve", by="store-manager")
        after = {r: n for r, n in check_invariants(shop.engine).counts().items() if n}
        print(f"check-invariants after: {after} (the oversells wait for a person)")
        written = write_report(shop.engine, folder / "audit.html")
        print(f"report: {written[0]}")


if __name__ == "__main__":
    main()
