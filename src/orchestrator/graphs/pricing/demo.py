"""The pricing graph's part of `orchestrator demo`: `demo_steps(orch, console)`."""

from __future__ import annotations

import time
from typing import Any

__all__ = ["MANAGER", "demo_steps"]

MANAGER = "store-manager"


def demo_steps(orch: Any, console: Any = None) -> list[tuple[str, bool, str]]:
    """Run the pricing graph end to end on the demo store through `orch`.

    A dry run first (nothing written), then the real run: small changes are written at once;
    the first change above the approval threshold is edited by the manager (5 cents higher),
    the next rejected, the rest approved. Checks that every written price respects its margin
    floor and that each applied change was written exactly once.

    Returns:
        (step, ok, detail) per step.
    """
    from sqlalchemy import func, select

    from orchestrator.runtime import RunContext
    from orchestrator.store.models import PriceHistory

    steps: list[tuple[str, bool, str]] = []

    def say(text: str) -> None:
        if console is not None:
            console.print(text)

    started = time.perf_counter()
    dry = orch.run("pricing", {"dry_run": True}, context=RunContext(actor="pricing-demo"))
    proposals = [c for c in dry.values.get("changes", []) if c["status"] == "dry_run"]
    est = dry.values.get("estimate_summary", {})
    detail = (
        f"{len(proposals)} proposed; elasticity: {est.get('sku', 0)} own, "
        f"{est.get('category', 0)} pooled, {est.get('none', 0)} none"
    )
    steps.append(
        (
            "pricing: dry run proposes, writes nothing",
            dry.status == "completed" and bool(proposals),
            detail,
        )
    )
    say(f"  dry run: {detail}")

    with orch.engine.connect() as conn:
        before = int(conn.execute(select(func.count()).select_from(PriceHistory)).scalar_one())
    result = orch.run("pricing", {}, context=RunContext(actor="pricing-demo"))
    decisions: list[str] = []
    while result.status == "waiting" and len(decisions) < 50:
        request = result.interrupts[0]["value"]
        if not decisions:
            args = dict(request["arguments"])
            args["price_cents"] = int(args["price_cents"]) + 5
            decision: Any = {"decision": "edit", "arguments": args, "note": "round up a little"}
        elif len(decisions) == 1:
            decision = {"decision": "reject", "note": "keep this one for now"}
        else:
            decision = "approve"
        kind = decision if isinstance(decision, str) else decision["decision"]
        decisions.append(f"{request['arguments']['sku']}: {kind}")
        result = orch.resume(result.thread_id, decision, by=MANAGER)
    changes = result.values.get("changes", [])
    applied = [c for c in changes if c["status"] == "applied"]
    ok = result.status == "completed" and bool(applied)
    steps.append(
        (
            "pricing: prices applied, large ones after approval",
            ok,
            f"{len(applied)} applied; decisions: {', '.join(decisions) or 'none needed'}",
        )
    )
    say(f"  applied {len(applied)}; decisions: {', '.join(decisions) or 'none'}")
    with orch.engine.connect() as conn:
        rows = conn.execute(
            select(PriceHistory.sku, PriceHistory.new_price_cents, PriceHistory.floor_cents)  # type: ignore[call-overload]
        ).all()
    written = len(rows) - before
    floors_ok = all(new >= floor > 0 or (new >= floor == 0 and new > 0) for _, new, floor in rows)
    steps.append(
        (
            "pricing: every price at or above its margin floor, written once",
            floors_ok and written == len(applied),
            f"{written} price-history rows for {len(applied)} applied changes",
        )
    )
    report = str(result.values.get("report", ""))
    steps.append(
        (
            "pricing: report",
            report.startswith("# Pricing run"),
            f"{len(report.splitlines())} lines, explanation by "
            f"{result.values.get('explanation', {}).get('source', '?')}, "
            f"{time.perf_counter() - started:.1f}s",
        )
    )
    return steps
