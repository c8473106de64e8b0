"""The business review's part of `orchestrator demo`: one weekly review, end to end."""

from __future__ import annotations

from typing import Any

__all__ = ["demo_steps"]

REVIEWER = "ops-manager"


def demo_steps(orch: Any, console: Any) -> list[tuple[str, bool, str]]:
    """Run the weekly review on the demo store; check it wrote nothing and remembered itself.

    The demo prints the steps (`console` is unused here).

    Returns:
        `(step, ok, detail)` per step, for the demo's summary.
    """
    from sqlalchemy import func, select

    from orchestrator.runtime import RunContext
    from orchestrator.store.models import StockLedger

    def ledger_rows() -> int:
        with orch.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(StockLedger)).scalar_one())

    before = ledger_rows()
    result = orch.run("business_review", {}, context=RunContext(actor=REVIEWER, channel="cli"))
    values = result.values
    review = values.get("review", {})
    kpis = values.get("kpis", {})
    steps = [
        (
            "weekly review from KPIs computed in code",
            result.status == "completed"
            and bool(review.get("summary"))
            and "# Weekly operations review" in values.get("report_markdown", "")
            and ledger_rows() == before,
            f"week ending {values.get('as_of')}: {kpis.get('sales', {}).get('units', '?')} units "
            f"sold, {kpis.get('stockouts', {}).get('count', '?')} stock-outs; narrative by "
            f"{'the crew' if review.get('origin') == 'crew' else 'code (fallback)'}; "
            "nothing written to the store",
        )
    ]
    key = values.get("insight_key")
    remembered = False
    if key and orch.long_term_store is not None:
        from orchestrator.memory.namespaces import insights_ns

        remembered = orch.long_term_store.get(insights_ns("review"), key) is not None
    steps.append(
        (
            "review remembered for later runs",
            remembered,
            f"insight {key!r} in long-term memory" if remembered else "no long-term store",
        )
    )
    return steps
