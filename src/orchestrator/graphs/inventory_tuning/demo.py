"""The inventory-tuning part of `orchestrator demo`: propose, pause for approval, apply, report."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

__all__ = ["DEMO_CATEGORY", "demo_steps"]

DEMO_CATEGORY = "stem-kits"
"""The demo tunes one category (the STEM kits) to stay quick."""

PLANNER = "demo-planner"
MANAGER = "store-manager"


def demo_steps(
    orch: Any, console: Any, *, report_dir: str | Path | None = None
) -> list[tuple[str, bool, str]]:
    """Run inventory tuning on the seeded demo store through `orch`; (step, ok, detail) each.

    A dry run proposes without writing; the real run pauses for the large changes, a manager
    approves, every change is applied once (stock's reorder point and the policy agree), and
    the report is written (HTML, markdown and charts in `report_dir`, default a temporary
    folder).

    Args:
        orch: an `Orchestrator` on the seeded store (`orchestrator seed`).
        console: a rich console for the report's summary lines.
        report_dir: where to write the report.
    """
    from orchestrator.runtime import RunContext

    steps: list[tuple[str, bool, str]] = []
    ctx = RunContext(actor=PLANNER, channel="cli")
    before = len(orch.service.inventory_policies(category=DEMO_CATEGORY, limit=100_000))
    dry = orch.run("inventory_tuning", {"category": DEMO_CATEGORY, "dry_run": True}, context=ctx)
    proposed = dry.values.get("counts", {}).get("proposed", 0)
    after_dry = len(orch.service.inventory_policies(category=DEMO_CATEGORY, limit=100_000))
    steps.append(
        (
            "tuning proposes without writing (dry run)",
            dry.status == "completed" and proposed > 0 and after_dry == before,
            f"{proposed} of {len(dry.values.get('pairs', []))} {DEMO_CATEGORY} pairs would "
            f"change; policies stored: {after_dry}",
        )
    )
    folder = Path(report_dir) if report_dir else Path(tempfile.mkdtemp(prefix="orch-tuning-"))
    target = folder / "tuning-report.html"
    first = orch.run(
        "inventory_tuning",
        {"category": DEMO_CATEGORY, "report_path": str(target)},
        context=ctx,
    )
    large = sum(bool(p.get("needs_approval")) for p in first.values.get("pairs", []))
    expected_large = sum(bool(p.get("needs_approval")) for p in dry.values.get("pairs", []))
    threshold = round(orch.settings.tuning.approve_above * 100)
    if expected_large:  # the dry run saw changes a person must approve: the run waits for one
        steps.append(
            (
                "tuning pauses for the large changes",
                first.status == "waiting" and len(first.approval_ids) == 1 and large > 0,
                f"run {first.thread_id[:12]}..: {first.status}, approval "
                f"{first.approval_ids[0] if first.approval_ids else '-'} for {large} changes "
                f"above {threshold}%",
            )
        )
    else:  # a small shop's history may move no policy that far: nothing to approve
        steps.append(
            (
                "no change above the approval threshold: applied without asking",
                first.status == "completed" and not first.approval_ids,
                f"run {first.thread_id[:12]}..: {first.status}; no change above {threshold}%",
            )
        )
    done = orch.resume(first.thread_id, "approve", by=MANAGER) if first.approval_ids else first
    pairs: list[dict[str, Any]] = done.values.get("pairs", [])
    applied = [p for p in pairs if p["status"] == "applied"]
    agree = all(
        (policy := orch.service.get_inventory_policy(p["sku"], p["location"])) is not None
        and orch.service.get_stock(p["sku"], p["location"])[0].reorder_point
        == policy.reorder_point
        == p["reorder_point"]
        for p in applied
    )
    writes = [
        a
        for a in orch.audit(done.thread_id)
        if a.operation == "set_inventory_policy" and a.outcome == "ok"
    ]
    steps.append(
        (
            "every change applied once" + (", after approval" if first.approval_ids else ""),
            done.status == "completed" and bool(applied) and agree and len(writes) == len(applied),
            f"{'approved by ' + MANAGER + '; ' if first.approval_ids else ''}{len(applied)} "
            f"policies set, {len(writes)} audited writes; "
            "stock reorder points match the policies",
        )
    )
    files = done.values.get("report_files", [])
    steps.append(
        (
            "tuning report written",
            bool(files) and Path(files[0]).exists(),
            ", ".join(files[:2]) or "no report",
        )
    )
    for line in done.values.get("report", "").splitlines()[2:6]:
        console.print(f"     {line}")
    return steps
