"""Nodes of the pricing graph. Every number is computed here, in code; the model only explains.

The proposals are computed once and checkpointed: `apply` writes exactly those (one keyed
`set_price` call per SKU, `price:<sku>`), so a re-run after a crash or an approval replays
instead of writing twice.
"""

from __future__ import annotations

import logging
import math
import re
import time
from datetime import date, timedelta
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from orchestrator.errors import ApprovalRejected, InvalidInput, OrchestratorError
from orchestrator.graphs.pricing import rules
from orchestrator.graphs.pricing.data import as_of_date, load_histories, load_products
from orchestrator.graphs.pricing.elasticity import Elasticity, estimate_elasticities, summary
from orchestrator.graphs.pricing.rules import PriceChange
from orchestrator.graphs.pricing.state import PricingState
from orchestrator.runtime.deps import Services

__all__ = [
    "AGENT",
    "PricingExplanation",
    "apply",
    "check_explanation",
    "estimate",
    "explain",
    "guard",
    "load",
    "propose",
    "report",
]

logger = logging.getLogger(__name__)

AGENT = "pricing"
"""The agent profile the graph's writes are made as: it may set prices and nothing else."""
SERIES_WEEKS = 26


def _timed(state: PricingState, step: str, started: float) -> dict[str, float]:
    return {**state.get("timings", {}), step: round(time.perf_counter() - started, 3)}


def _as_of(state: PricingState, services: Services) -> date:
    raw = state.get("as_of")
    if raw:
        try:
            return date.fromisoformat(str(raw))
        except ValueError:
            raise InvalidInput("as_of", raw, "expected an ISO date, e.g. 2026-11-01") from None
    return as_of_date(services.store.engine)


def load(state: PricingState, *, services: Services) -> dict[str, Any]:
    """Read the facts: products in scope, stock and cover, open promotions, markdown candidates."""
    from orchestrator.crews.pricing import markdown_candidates

    started = time.perf_counter()
    day = _as_of(state, services)
    competitors = state.get("competitors") or {}
    if not isinstance(competitors, dict):
        raise InvalidInput("competitors", competitors, "expected {sku: price in cents}")
    for sku, cents in competitors.items():
        if (
            isinstance(cents, bool)
            or not isinstance(cents, int | float)
            or not math.isfinite(cents)
            or cents <= 0
        ):
            raise InvalidInput(
                f"competitors.{sku}", cents, "a competitor price must be positive cents"
            )
    category = state.get("category")
    engine = services.store.engine
    products = load_products(engine, as_of=day, category=category)
    in_scope = {p["sku"] for p in products}
    candidates = [
        c.model_dump(mode="json")
        for c in markdown_candidates(engine, as_of=day, limit=100_000)
        if c.sku in in_scope
    ]
    problems = [
        f"{p['sku']}: unit cost {p['cost_cents']} or price {p['price_cents']} is not usable "
        "(negative cost or non-positive price): no change until the catalogue is corrected"
        for p in products
        if p["cost_cents"] < 0 or p["price_cents"] <= 0
    ]
    bad = {p["sku"] for p in products if p["cost_cents"] < 0 or p["price_cents"] <= 0}
    return {
        "as_of": day.isoformat(),
        "products": [p for p in products if p["sku"] not in bad],
        "problems": problems,
        "candidates": candidates,
        "timings": _timed(state, "load", started),
    }


def estimate(state: PricingState, *, services: Services) -> dict[str, Any]:
    """Estimate each SKU's price elasticity from its history (pooled where it must be)."""
    started = time.perf_counter()
    products = state.get("products", [])
    day = date.fromisoformat(str(state.get("as_of")))
    days = services.settings.pricing.history_days
    histories, start = load_histories(services.store.engine, products, as_of=day, days=days)
    found = estimate_elasticities(histories, min_levels=services.settings.pricing.min_price_levels)
    series: dict[str, dict[str, Any]] = {}
    n = len(histories[0].units) if histories else 0
    for h in histories:
        weeks = min(SERIES_WEEKS, n // 7)
        if weeks == 0:
            continue
        units = h.units[n - 7 * weeks :].reshape(weeks, 7)
        price = h.price[n - 7 * weeks :].reshape(weeks, 7)
        series[h.sku] = {
            "week_end": [
                (day - timedelta(days=7 * (weeks - 1 - w))).isoformat() for w in range(weeks)
            ],
            "units": [int(x) for x in units.sum(axis=1)],
            "price_cents": [round(float(x), 1) for x in np.nan_to_num(price.mean(axis=1))],
        }
    counts = summary(found)
    return {
        "elasticities": {sku: e.model_dump(mode="json") for sku, e in found.items()},
        "estimate_summary": {**counts, "days": n, "since": start.isoformat()},
        "series": series,
        "timings": _timed(state, "estimate", started),
    }


def propose(state: PricingState, *, services: Services) -> dict[str, Any]:
    """Markdowns for near-expiry and overstocked items; price moves where elasticity and margin
    justify them. Numbers only from code."""
    started = time.perf_counter()
    settings = services.settings.pricing
    products = {p["sku"]: p for p in state.get("products", [])}
    found = {s: Elasticity.model_validate(e) for s, e in state.get("elasticities", {}).items()}
    competitors = state.get("competitors") or {}
    changes: list[PriceChange] = []
    marked: set[str] = set()

    def base(p: dict[str, Any], e: Elasticity | None) -> dict[str, Any]:
        comp = competitors.get(p["sku"])
        return {
            "sku": p["sku"],
            "name": p["name"],
            "category": p["category"],
            "current_price_cents": p["price_cents"],
            "cost_cents": p["cost_cents"],
            "floor_cents": 0,
            "elasticity": e.elasticity if e else None,
            "elasticity_source": e.source if e else "none",
            "baseline_daily_units": p["daily_units_28d"],
            "days_of_cover": p["days_of_cover"],
            "competitor_price_cents": int(comp) if comp is not None else None,
        }

    for cand in state.get("candidates", []):
        p = products.get(cand["sku"])
        if p is None:
            continue
        e = found.get(p["sku"])
        if cand["reason"] == "near_expiry":
            pct = rules.near_expiry_pct(cand.get("days_to_expiry"), settings)
        else:
            pct = rules.overstock_markdown_pct(
                days_of_cover=p["days_of_cover"],
                elasticity=e.elasticity if e else None,
                settings=settings,
            )
        if pct <= 0:
            continue
        target = p["price_cents"] * (1 - pct / 100)
        changes.append(
            PriceChange(
                **base(p, e),
                kind="markdown",
                why=cand["reason"],
                clearance=cand["reason"] == "near_expiry",
                days_to_expiry=cand.get("days_to_expiry"),
                proposed_price_cents=max(round(target), 0),
                change_pct=-round(pct, 2),
            )
        )
        marked.add(p["sku"])
    for sku, p in products.items():
        e = found.get(sku)
        if sku in marked or e is None or e.elasticity is None:
            continue
        daily = float(p["daily_units_28d"] or 0)
        cover = p["days_of_cover"]
        target = rules.propose_move(
            price=p["price_cents"],
            cost=p["cost_cents"],
            elasticity=e.elasticity,
            daily_units=daily,
            settings=settings,
            competitor=competitors.get(sku),
            interval=(e.low, e.high),
        )
        if target is None:
            continue
        if target < p["price_cents"] and cover is not None and cover < 14:
            continue  # a cut would sell out what is left before it is replenished
        changes.append(
            PriceChange(
                **base(p, e),
                kind="move",
                why="elasticity",
                proposed_price_cents=max(round(target), 0),
                change_pct=round(100 * (target - p["price_cents"]) / p["price_cents"], 2),
            )
        )
    return {
        "changes": rules.as_rows(changes),
        "timings": _timed(state, "propose", started),
    }


def guard(state: PricingState, *, services: Services) -> dict[str, Any]:
    """Apply the guard rails to every proposal; compute expected demand and margin effects."""
    started = time.perf_counter()
    settings = services.settings.pricing
    products = {p["sku"]: p for p in state.get("products", [])}
    allow = state.get("change_promoted")
    out: list[PriceChange] = []
    for change in rules.from_rows(state.get("changes", [])):
        promo = products.get(change.sku, {}).get("open_promotion")
        guarded = rules.guard_price(
            current_cents=change.current_price_cents,
            cost_cents=change.cost_cents,
            proposed=float(change.proposed_price_cents),
            clearance=change.clearance,
            settings=settings,
            open_promotion=promo,
            allow_promoted=allow,
        )
        update: dict[str, Any] = {"floor_cents": guarded.floor_cents, "notes": list(guarded.notes)}
        if guarded.price_cents is None:
            update.update(status="skipped", detail=guarded.skip or "")
        else:
            new = guarded.price_cents
            pct = round(100 * (new - change.current_price_cents) / change.current_price_cents, 2)
            units, now, then = rules.expected_effect(
                price=change.current_price_cents,
                new_price=new,
                cost=change.cost_cents,
                daily_units=change.baseline_daily_units,
                elasticity=change.elasticity,
            )
            update.update(
                proposed_price_cents=new,
                change_pct=pct,
                expected_daily_units=round(units, 2) if units is not None else None,
                margin_now_cents=round(now, 1) if now is not None else None,
                margin_new_cents=round(then, 1) if then is not None else None,
                needs_approval=abs(pct) > settings.approval_change_pct,
            )
        out.append(change.model_copy(update=update))
    keep = {c.sku for c in out if c.status != "skipped"}
    return {
        "changes": rules.as_rows(out),
        "series": {s: v for s, v in state.get("series", {}).items() if s in keep},
        "timings": _timed(state, "guard", started),
    }


# --- the explanation -------------------------------------------------------------------------


MODEL_FACTS = 8
"""The model explains the largest changes (by size); the template explains the rest."""


class SkuReason(BaseModel):
    """Why one price changes, in a sentence."""

    sku: str = Field(max_length=64)
    why: str = Field(max_length=160)


class PricingExplanation(BaseModel):
    """What the model writes for the report: words only; the figures come from the facts.

    The limits (maxLength, maxItems) are in the JSON schema, so constrained decoding on a small
    local model ends within a few hundred tokens.
    """

    summary: str = Field(max_length=300)
    """Two or three sentences for the manager."""
    reasons: list[SkuReason] = Field(default_factory=list, max_length=5)


_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")


def _numbers(text: str, skus: list[str]) -> set[str]:
    for sku in sorted(skus, key=len, reverse=True):
        text = text.replace(sku, " ")
    found = set()
    for token in _NUMBER.findall(text):
        value = float(token.replace(",", "."))
        found.add(f"{value:.2f}")
    return found


def _facts(changes: list[PriceChange]) -> str:
    lines = []
    for c in changes:
        if c.status == "skipped":
            continue
        line = (
            f"{c.sku} ({c.name}): {c.why.replace('_', ' ')}; price {c.current_price_cents / 100:.2f} "
            f"-> {c.proposed_price_cents / 100:.2f} ({c.change_pct:+.1f}%); cost "
            f"{c.cost_cents / 100:.2f}; floor {c.floor_cents / 100:.2f}"
        )
        if c.elasticity is not None:
            line += f"; elasticity {c.elasticity:.2f} ({c.elasticity_source})"
        if c.days_to_expiry is not None:
            line += f"; {c.days_to_expiry} days to use-by"
        if c.days_of_cover is not None:
            line += f"; {c.days_of_cover:.0f} days of cover"
        lines.append(line)
    return "\n".join(lines)


def check_explanation(
    proposal: PricingExplanation, changes: list[PriceChange], *, total: int | None = None
) -> tuple[PricingExplanation | None, str | None]:
    """The model's explanation if the code accepts it, else (None, why not).

    Accepted when it names only SKUs among `changes` (the facts it was given), and every
    number it states is in those facts (or is `total`, the number of changes): the model may
    not invent a price, a percentage or an elasticity.
    """
    active = [c for c in changes if c.status != "skipped"]
    skus = [c.sku for c in active]
    unknown = [r.sku for r in proposal.reasons if r.sku not in skus]
    if unknown:
        return None, f"it names SKUs that do not change: {', '.join(unknown[:5])}"
    allowed = _numbers(_facts(active), skus)
    if total is not None:
        allowed.add(f"{float(total):.2f}")
    text = " ".join([proposal.summary, *(r.why for r in proposal.reasons)])
    invented = sorted(_numbers(text, skus) - allowed)
    if invented:
        return None, f"it states numbers the facts do not hold: {', '.join(invented[:5])}"
    if not proposal.summary.strip():
        return None, "the summary is empty"
    return proposal, None


def template_explanation(changes: list[PriceChange]) -> tuple[str, dict[str, str]]:
    """The explanation built by code: (summary, reason by SKU). The summary is used when the
    model's is missing or refused; the reasons fill in every SKU the model did not explain."""
    active = [c for c in changes if c.status != "skipped"]
    kinds: dict[str, int] = {}
    for c in active:
        kinds[c.why] = kinds.get(c.why, 0) + 1
    label = {
        "near_expiry": ("near-expiry markdown", "near-expiry markdowns"),
        "overstock": ("overstock markdown", "overstock markdowns"),
        "elasticity": ("price move on estimated elasticity", "price moves on estimated elasticity"),
    }
    parts = [f"{n} {label[k][n != 1]}" for k, n in sorted(kinds.items())]
    approvals = sum(c.needs_approval for c in active)
    summary_text = (
        ("Proposed " + ", ".join(parts) + ".") if parts else "No price changes are proposed."
    )
    if approvals:
        summary_text += (
            f" {approvals} of them exceed the approval threshold: a person decides each."
            if approvals != 1
            else " One exceeds the approval threshold: a person decides it."
        )
    reasons: dict[str, str] = {}
    for c in active:
        if c.why == "near_expiry":
            days = {0: "use-by today", 1: "1 day to use-by"}.get(
                c.days_to_expiry or 0, f"{c.days_to_expiry} days to use-by"
            )
            why = f"{days}: clear the stock before it is written off"
        elif c.why == "overstock":
            cover = (
                f"{c.days_of_cover:.0f} days of cover"
                if c.days_of_cover is not None
                else "no recent sales"
            )
            why = f"overstocked ({cover}): a markdown to move units"
        else:
            direction = "raise" if c.change_pct > 0 else "cut"
            why = (
                f"demand elasticity {c.elasticity:.2f} ({c.elasticity_source}): a {direction} "
                "improves the expected daily margin"
            )
        reasons[c.sku] = why
    return summary_text, reasons


def explain(state: PricingState, *, model: Any) -> dict[str, Any]:
    """Ask the model to explain the guarded proposals; the code checks it, else a template."""
    from orchestrator.runtime.nodes import propose as ask

    started = time.perf_counter()
    changes = rules.from_rows(state.get("changes", []))
    summary_text, reasons = template_explanation(changes)
    active = [c for c in changes if c.status != "skipped"]
    if not active:
        empty = {
            "summary": summary_text,
            "reasons": {},
            "source": "template",
            "note": "nothing to explain",
        }
        return {"explanation": empty, "timings": _timed(state, "explain", started)}
    shown = sorted(active, key=lambda c: (-abs(c.change_pct), c.sku))[:MODEL_FACTS]
    messages = [
        (
            "system",
            "You explain a shop's price changes to its manager. The figures are decided; do not "
            "change them and do not state any number that is not in the facts. Write a short "
            "summary and one sentence for each of the most important SKUs.",
        ),
        (
            "human",
            f"{len(active)} changes; the largest:\n" + _facts(shown),
        ),
    ]
    fallback = PricingExplanation(summary=summary_text[:300])
    note: str | None = None
    source: str = "template"
    chosen: PricingExplanation | None = None
    try:
        proposal = ask(model, messages, PricingExplanation, fallback=lambda: fallback)
        source, note = proposal.source, proposal.error
        if proposal.source == "model":
            chosen, note = check_explanation(proposal.value, shown, total=len(active))
    except Exception as exc:  # a bad model reply never stops a pricing run
        note = f"{type(exc).__name__}: {str(exc)[:200]}"
    result: dict[str, Any] = {
        "summary": summary_text,
        "reasons": reasons,
        "source": "template",
        "note": note,
    }
    if chosen is not None and source == "model":
        result.update(
            summary=chosen.summary,
            reasons={**reasons, **{r.sku: r.why for r in chosen.reasons}},
            source="model",
        )
    return {"explanation": result, "timings": _timed(state, "explain", started)}


# --- apply and report ------------------------------------------------------------------------


def apply(
    state: PricingState,
    config: Any,
    runtime: Any,
    *,
    services: Services,
    large: bool = False,
) -> dict[str, Any]:
    """Write guarded prices with `set_price` as the `pricing` agent, one keyed call per SKU.

    Run twice: first (`large=False`, node `apply`) the changes within the approval threshold,
    all written at once; then (`large=True`, node `approve`) the larger ones, each pausing the
    run until a person approves, edits or rejects it. The first node's results are
    checkpointed before anything waits, so a waiting run's state says what was written.
    """
    step = "approve" if large else "apply"
    started = time.perf_counter()
    changes = rules.from_rows(state.get("changes", []))
    if state.get("dry_run"):
        out = [
            c.model_copy(update={"status": "dry_run"}) if c.status == "proposed" else c
            for c in changes
        ]
        return {"changes": rules.as_rows(out), "timings": _timed(state, step, started)}
    ctx = services.node_context(config, runtime.context, agent=AGENT)
    order = sorted(range(len(changes)), key=lambda i: changes[i].sku)
    for i in order:
        change = changes[i]
        if change.status != "proposed" or change.needs_approval != large:
            continue
        label = {
            "near_expiry": "near-expiry markdown",
            "overstock": "overstock markdown",
            "elasticity": "elasticity price move",
        }[change.why]
        args = {
            "sku": change.sku,
            "price_cents": change.proposed_price_cents,
            "reason": f"pricing run: {label} ({change.change_pct:+.1f}%)",
            "kind": change.kind,
            "clearance": change.clearance,
        }
        try:
            view = services.invoke(ctx, "set_price", args, call_id=f"price:{change.sku}")
        except ApprovalRejected as exc:
            changes[i] = change.model_copy(
                update={
                    "status": "rejected",
                    "detail": exc.note or exc.reason,
                    "approval_id": exc.approval_id,
                }
            )
            continue
        except OrchestratorError as exc:
            changes[i] = change.model_copy(
                update={"status": "refused", "detail": f"{type(exc).__name__}: {exc}"[:400]}
            )
            continue
        detail = ""
        if view.new_price_cents != change.proposed_price_cents:
            detail = f"a person changed the price to {view.new_price_cents / 100:.2f}"
        changes[i] = change.model_copy(
            update={
                "status": "applied",
                "applied_price_cents": view.new_price_cents,
                "approval_id": view.approval_id,
                "detail": detail,
            }
        )
    return {"changes": rules.as_rows(changes), "timings": _timed(state, step, started)}


def report(state: PricingState, config: Any, runtime: Any) -> dict[str, Any]:
    """Write the markdown report, and the run's insight into long-term memory when there is one."""
    from orchestrator.graphs.pricing.report import render_markdown

    started = time.perf_counter()
    text = render_markdown(dict(state))
    key = None
    store = getattr(runtime, "store", None)
    changes = rules.from_rows(state.get("changes", []))
    done = [c for c in changes if c.status in ("applied", "dry_run", "proposed")]
    if store is not None and done:
        from orchestrator.memory.namespaces import Insight, record_insight

        thread = str((config.get("configurable") or {}).get("thread_id", "run"))
        summary_text = (state.get("explanation") or {}).get("summary") or "pricing run"
        try:
            key = record_insight(
                store,
                Insight(
                    topic="pricing",
                    text=str(summary_text)[:2000],
                    source=f"pricing:{thread}",
                    skus=[c.sku for c in done][:50],
                    data={
                        "as_of": state.get("as_of"),
                        "changes": [
                            {
                                "sku": c.sku,
                                "from": c.current_price_cents,
                                "to": c.applied_price_cents or c.proposed_price_cents,
                                "status": c.status,
                            }
                            for c in done[:50]
                        ],
                    },
                ),
                key=thread,
            )
        except Exception as exc:  # memory is a nicety: a run never fails on it
            logger.warning("pricing insight not recorded: %s", exc)
    return {"report": text, "insight_key": key, "timings": _timed(state, "report", started)}
