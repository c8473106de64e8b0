"""Nodes of the inventory-tuning graph: plan, explain, approve, apply, report.

`plan` does the numbers in one node (load by SQL aggregation, classify, forecast, policy,
compare) so that the sales history never enters the checkpointed state: only one compact
`PairPlan` per pair does. `apply` writes each change as one keyed `set_inventory_policy`
call (`policy:<sku>@<location>`): a re-run after a crash or an approval replays instead of
writing twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from orchestrator.errors import InvalidInput, OrchestratorError
from orchestrator.graphs.inventory_tuning.explain import (
    PolicyRationale,
    check_rationale,
    rationale_prompt,
)
from orchestrator.graphs.inventory_tuning.load import history_end, load_scope, load_weekly_sales
from orchestrator.graphs.inventory_tuning.plan import apply_compare, plan_pairs
from orchestrator.graphs.inventory_tuning.report import (
    Chart,
    ReportData,
    biggest,
    render_chart,
    render_markdown,
    write_report,
)
from orchestrator.graphs.inventory_tuning.state import PairPlan, TuningState
from orchestrator.runtime.deps import Services
from orchestrator.store.services.policy import check_policy

__all__ = [
    "AGENT",
    "PROGRESS_KEY",
    "apply",
    "approval_arguments",
    "approval_needed",
    "explain",
    "plan",
    "report",
]

logger = logging.getLogger(__name__)

AGENT = "inventory"
"""The agent profile the graph's writes are made as (its allow-list applies)."""
PROGRESS_KEY = "tuning_progress"
"""`services.extras[PROGRESS_KEY]`: an optional `progress(phase, done, total)` callback."""


def _plans(state: TuningState) -> list[PairPlan]:
    return [PairPlan.model_validate(p) for p in state.get("pairs", [])]


def _dump(plans: list[PairPlan]) -> list[dict[str, Any]]:
    return [p.model_dump() for p in plans]


def _progress(services: Services) -> Callable[[str, int, int], None] | None:
    cb = services.extras.get(PROGRESS_KEY)
    return cb if callable(cb) else None


def _check_input(state: TuningState) -> None:
    limit = state.get("limit")
    if limit is not None and (type(limit) is not int or limit < 1):
        raise InvalidInput("limit", limit, "expected a whole number of pairs, at least 1")
    for name in ("category", "location"):
        value = state.get(name)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise InvalidInput(name, value, "expected a non-empty name")


def plan(state: TuningState, *, services: Services) -> dict[str, Any]:
    """Load the history (SQL), forecast, compute and compare every pair's policy."""
    _check_input(state)
    settings = services.settings.tuning
    engine = services.store.engine
    progress = _progress(services)
    start = time.perf_counter()
    scope = load_scope(
        engine,
        limit=state.get("limit"),
        category=state.get("category"),
        location=state.get("location"),
    )
    end = history_end(engine)
    notes: list[str] = []
    if not scope.rows:
        notes.append(
            "nothing in scope: no active product is stocked"
            + "".join(
                f" with {k} {state.get(k)!r}" for k in ("category", "location") if state.get(k)
            )
        )
    filtered = state.get("limit") is not None or state.get("category") is not None
    if end is None:
        plans, timings = [], {"forecast": 0.0, "policy": 0.0}
        from orchestrator.graphs.inventory_tuning.plan import _base

        for row in scope.rows:
            p = _base(row, scope)
            if p.status == "change":
                p.status, p.reason = "no_demand", "the store has no sales history"
            plans.append(p)
        as_of = ""
        load_s = time.perf_counter() - start
    else:
        sales = load_weekly_sales(
            engine,
            end=end,
            weeks=settings.history_weeks,
            skus=sorted({r["sku"] for r in scope.rows}) if filtered and scope.rows else None,
            location=state.get("location"),
        )
        load_s = time.perf_counter() - start
        plans, timings = plan_pairs(scope, sales, settings, progress=progress)
        as_of = end.isoformat()
    apply_compare(plans, settings)
    return {
        "pairs": _dump(plans),
        "as_of": as_of,
        "timings": {"load": load_s, **timings},
        "notes": notes,
    }


def explain(state: TuningState, *, model: Any, services: Services) -> dict[str, Any]:
    """The model writes the reason of the biggest changes; code checks every figure in it."""
    from orchestrator.runtime.nodes import propose

    settings = services.settings.tuning
    start = time.perf_counter()
    plans = _plans(state)
    candidates = [p for p in plans if p.status == "change" and p.change > settings.explain_above]
    candidates.sort(key=lambda p: (-p.impact_cents, -p.change, p.sku, p.location))
    notes = list(state.get("notes", []))
    refused = 0
    for p in candidates[: settings.max_explained]:
        proposal = propose(
            model,
            rationale_prompt(p),
            PolicyRationale,
            fallback=partial(PolicyRationale, reason=p.reason),
        )
        if proposal.source == "fallback":
            logger.info("no model rationale, using templates: %s", proposal.error)
            notes.append(
                "reasons are written from a template: the language model gave no usable "
                f"answer ({(proposal.error or '').split(':')[0]})"
            )
            break
        why = check_rationale(p, proposal.value.reason)
        if why is None:
            p.reason, p.reason_source = proposal.value.reason.strip(), "model"
        else:
            refused += 1
            logger.info("rationale for %s@%s refused: %s", p.sku, p.location, why)
    if refused:
        notes.append(
            f"{refused} model-written reasons were refused (figures not computed by the code, "
            "or repetition); the template's reasons are used for those"
        )
    timings = {**state.get("timings", {}), "explain": time.perf_counter() - start}
    return {"pairs": _dump(plans), "notes": notes, "timings": timings}


def approval_needed(state: TuningState) -> str | None:
    """Why a person must approve the large changes, or None (none, or a dry run)."""
    if state.get("dry_run"):
        return None
    big = [PairPlan.model_validate(p) for p in state.get("pairs", [])]
    big = [p for p in big if p.status == "change" and p.needs_approval]
    if not big:
        return None
    top = max(big, key=lambda p: (p.impact_cents, p.change))
    return (
        f"{len(big)} reorder-point or order-quantity changes above the approval threshold; "
        f"largest: {top.sku} at {top.location}, reorder point {top.old_reorder_point} -> "
        f"{top.reorder_point}, order quantity {top.old_order_quantity} -> {top.order_quantity}"
    )[:500]


def approval_arguments(state: TuningState) -> dict[str, Any]:
    """What the person decides on: the large changes (edit: change figures or leave some out)."""
    changes = []
    for raw in state.get("pairs", []):
        p = PairPlan.model_validate(raw)
        if p.status == "change" and p.needs_approval:
            changes.append(
                {
                    "sku": p.sku,
                    "location": p.location,
                    "reorder_point": p.reorder_point,
                    "safety_stock": p.safety_stock,
                    "order_quantity": p.order_quantity,
                    "was": {
                        "reorder_point": p.old_reorder_point,
                        "safety_stock": p.old_safety_stock,
                        "order_quantity": p.old_order_quantity,
                    },
                }
            )
    return {"changes": changes}


def _decide(plans: list[PairPlan], approval: dict[str, Any] | None) -> None:
    """Mark the large changes as the person decided (approve, edit, reject)."""
    big = [p for p in plans if p.status == "change" and p.needs_approval]
    if not big or approval is None:
        return
    if not approval.get("approved"):
        note = approval.get("note") or "no reason given"
        for p in big:
            p.status, p.detail = "rejected", f"rejected by {approval.get('decided_by')}: {note}"
        return
    edited = approval.get("arguments", {}).get("changes")
    if not isinstance(edited, list):
        return
    by_pair: dict[tuple[str, str], dict[str, Any]] = {}
    for item in edited:
        if isinstance(item, dict):
            by_pair[(str(item.get("sku")), str(item.get("location")))] = item
    for p in big:
        item = by_pair.get((p.sku, p.location))
        if item is None:
            p.status = "rejected"
            p.detail = f"left out of the approved list by {approval.get('decided_by')}"
            continue
        try:
            rop, ss, qty, _ = check_policy(
                reorder_point=item.get("reorder_point"),
                safety_stock=item.get("safety_stock"),
                order_quantity=item.get("order_quantity"),
            )
        except InvalidInput as exc:
            p.status, p.detail = "refused", f"the approved edit is invalid: {exc}"
            continue
        if (rop, ss, qty) != (p.reorder_point, p.safety_stock, p.order_quantity):
            p.detail = (
                f"{approval.get('decided_by')} changed it from reorder point {p.reorder_point}, "
                f"safety stock {p.safety_stock}, order quantity {p.order_quantity}"
            )
            p.reorder_point, p.safety_stock, p.order_quantity = rop, ss, qty


def apply(state: TuningState, config: Any, runtime: Any, *, services: Services) -> dict[str, Any]:
    """Write every change as one keyed `set_inventory_policy` call (skipped in a dry run)."""
    start = time.perf_counter()
    plans = _plans(state)
    if state.get("dry_run"):
        for p in plans:
            if p.status == "change":
                p.status = "proposed"
        timings = {**state.get("timings", {}), "apply": time.perf_counter() - start}
        return {"pairs": _dump(plans), "timings": timings}
    _decide(plans, state.get("approval"))
    ctx = services.node_context(config, runtime.context, agent=AGENT)
    progress = _progress(services)
    todo = [p for p in plans if p.status == "change"]
    for n, p in enumerate(todo):
        args = {
            "sku": p.sku,
            "location": p.location,
            "reorder_point": p.reorder_point,
            "safety_stock": p.safety_stock,
            "order_quantity": p.order_quantity,
            "service_level": p.service_level,
            "method": f"forecast:{p.method}"[:64],
            "reason": (p.reason or "inventory tuning")[:500],
        }
        try:
            services.invoke(
                ctx, "set_inventory_policy", args, call_id=f"policy:{p.sku}@{p.location}"
            )
        except OrchestratorError as exc:
            p.status, p.detail = "refused", f"{type(exc).__name__}: {exc}"[:500]
        else:
            p.status = "applied"
        if progress:
            progress("apply", n + 1, len(todo))
    timings = {**state.get("timings", {}), "apply": time.perf_counter() - start}
    return {"pairs": _dump(plans), "timings": timings}


def _charts(services: Services, plans: list[PairPlan], as_of: str, notes: list[str]) -> list[Chart]:
    settings = services.settings.tuning
    top = biggest(plans, settings.charts)
    if not top or not as_of:
        return []
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        notes.append(
            "charts left out: matplotlib is not installed (pip install 'commerce-orchestrator[reports]')"
        )
        return []
    from datetime import date

    sales = load_weekly_sales(
        services.store.engine,
        end=date.fromisoformat(as_of),
        weeks=settings.history_weeks,
        skus=sorted({p.sku for p in top}),
    )
    where = {pair: i for i, pair in enumerate(sales.pairs)}
    charts = []
    for p in top:
        history = np.zeros(settings.history_weeks)
        i = where.get((p.sku, p.location))
        if i is not None:
            mask = sales.pair == i
            history[sales.week[mask]] = sales.units[mask]
        first = int(np.argmax(history > 0)) if history.any() else 0
        chart = Chart(plan=p, history=history[first:])
        chart.png = render_chart(chart, horizon=settings.horizon_weeks)
        charts.append(chart)
    return charts


def report(state: TuningState, config: Any, runtime: Any, *, services: Services) -> dict[str, Any]:
    """Write the report (markdown in state; HTML and markdown files with charts if asked)."""
    start = time.perf_counter()
    plans = _plans(state)
    notes = list(state.get("notes", []))
    timings = dict(state.get("timings", {}))
    data = ReportData(
        plans=plans,
        as_of=state.get("as_of", "") or "(no sales)",
        dry_run=bool(state.get("dry_run")),
        timings=timings,
        notes=notes,
        approval=state.get("approval"),
    )
    files: list[str] = []
    path = state.get("report_path")
    if path:
        data.charts = _charts(services, plans, state.get("as_of", ""), notes)
        files = write_report(data, path)
    counts = data.counts()
    _record_insight(state, config, runtime, plans, counts, notes)
    timings["report"] = time.perf_counter() - start
    return {
        "report": render_markdown(data),
        "report_files": files,
        "counts": counts,
        "notes": notes,
        "timings": timings,
    }


def _record_insight(
    state: TuningState,
    config: Any,
    runtime: Any,
    plans: list[PairPlan],
    counts: dict[str, int],
    notes: list[str],
) -> None:
    """Remember what the run changed (topic `tuning`) when a long-term store is available."""
    store = getattr(runtime, "store", None)
    if store is None or state.get("dry_run"):
        return
    from orchestrator.memory.namespaces import Insight, record_insight

    top = biggest(plans, 5)
    thread = str(config.get("configurable", {}).get("thread_id", "run"))
    text = (
        f"Inventory tuning on sales up to {state.get('as_of')}: {counts.get('applied', 0)} "
        f"policies changed, {counts.get('keep', 0)} kept, {counts.get('rejected', 0)} rejected."
        + (
            " Biggest: "
            + "; ".join(
                f"{p.sku} at {p.location} reorder point {p.old_reorder_point} -> {p.reorder_point}"
                for p in top
            )
            + "."
            if top
            else ""
        )
    )
    try:
        record_insight(
            store,
            Insight(
                topic="tuning",
                text=text[:2000],
                source=f"inventory_tuning:{thread}",
                skus=[p.sku for p in top],
                data={"counts": counts, "as_of": state.get("as_of")},
            ),
            key=f"inventory_tuning:{thread}",
        )
    except Exception as exc:  # memory is a convenience: the run's writes are done
        logger.warning("could not record the tuning insight: %s", exc)
        notes.append(f"the insight was not stored in memory ({type(exc).__name__}: {exc})")
