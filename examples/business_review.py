"""The weekly operations review: KPIs from the store, the analyst crew's narrative, a report.

Seeds a small shop, runs the built-in `business_review` graph twice (the second run sees the
first run's insight in long-term memory), and writes the report as markdown and HTML.

    python examples/business_review.py                  # the routed model (local by default)
    python examples/business_review.py --no-model       # the review written by code only
    python examples/business_review.py --out review.html

Every figure in the report comes from SQL; the crew (CrewAI, read-only analyst tools) writes
the summary, findings and recommendations, which code checks before using them.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any


def main(argv: list[str] | None = None) -> int:
    """Seed a shop, run the review, print where the report is and what the crew said."""
    from orchestrator import load_settings
    from orchestrator.backends.local.server import ensure_local_server
    from orchestrator.runtime import Orchestrator, RunContext
    from orchestrator.store import make_engine
    from orchestrator.store.seed import seed

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="write the report here (.md and .html)")
    parser.add_argument("--no-model", action="store_true", help="no model: code writes it")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        overrides: dict[str, Any] = {
            "store": {"url": f"sqlite:///{Path(tmp) / 'shop.db'}"},
            "memory": {"path": Path(tmp) / "memory"},
        }
        if args.no_model:
            overrides["models"] = {"default": "none:rules"}
        settings = load_settings(**overrides)
        engine = make_engine(settings.store)
        seed(engine, skus=20, days=60, customers=12, anomalies=2, reset=True)
        engine.dispose()
        out = args.out or Path(tmp) / "review.html"
        manager = RunContext(actor="ops-manager", channel="cli")
        with ensure_local_server(settings), Orchestrator(settings) as orch:
            first = orch.run("business_review", {"out": str(out)}, context=manager)
            review = first.values["review"]
            print(f"week ending {first.values['as_of']}: narrative by {review['origin']}")
            print(f"  summary: {review['summary']}")
            for finding in review["findings"]:
                print(f"  finding: {finding}")
            print(f"  stored as insight {first.values['insight_key']!r}")
            again = orch.run("business_review", {}, context=manager)
            print(f"second run saw {len(again.values['insights'])} earlier insight(s)")
            for path in first.values["report_paths"]:
                print(f"wrote {path}" if args.out else f"wrote {Path(path).name} (temporary)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
