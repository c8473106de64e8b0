"""The pricing and markdown review crew: candidates and the margin floor in code, proposals from the crew.

```
markdown_candidates(engine)          code: near-expiry perishables and overstocked ambient lines
  -> sales_customer_service          assess_customer_impact (read-only analyst tools)
  -> financial_pricing_analyst       propose_markdowns: MarkdownProposals (JSON schema)
  -> decide_markdowns(...)           code: only candidates, policy caps, the margin floor
  -> PricingReview                   decisions + markdown report
```

The policy (docs: *Perishables and markdowns*):

| candidate | when | largest markdown | floor |
| --- | --- | --- | --- |
| near expiry | perishable with units whose use-by date is at most 2 days away | 25% at 2 days, 50% at 1 day, 75% on the day | unit cost |
| overstock | ambient line with more than 90 days of cover (or no sale in 28 days) | 30%, in steps of 10% | unit cost + 5% |

Whatever the crew proposes, `decide_markdowns` keeps only candidates, caps the discount at the
policy's and raises any price below the margin floor to the floor (`clamped=True`). The crew
can only make a markdown smaller, never break a rule. Nothing here changes a price in the
store: the decisions are proposals for a human or a later graph step.

Example:
    >>> review = run_pricing_review(engine, llm=llm, tools=tools)
    >>> [(d.sku, d.proposed_price_cents >= d.floor_cents) for d in review.decisions][:1]
    [('DRY-MILK-001', True)]
"""

from __future__ import annotations

import logging
import math
import time
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal, cast

from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.sql.schema import Table

from orchestrator.crews._config import make_agent, make_task
from orchestrator.crews.review import DEFAULT_SHOP, parse_structured
from orchestrator.store import models as m
from orchestrator.store.rules.margins import AMBIENT_FLOOR_MARKUP, margin_floor_cents

__all__ = [
    "AMBIENT_FLOOR_MARKUP",
    "MarkdownCandidate",
    "MarkdownDecision",
    "MarkdownProposal",
    "MarkdownProposals",
    "PricingReview",
    "build_pricing_crew",
    "decide_markdowns",
    "margin_floor_cents",
    "markdown_candidates",
    "run_pricing_review",
]

logger = logging.getLogger(__name__)

NEAR_EXPIRY_DAYS = 2
NEAR_EXPIRY_CAPS = {2: 25.0, 1: 50.0, 0: 75.0}
"""Largest markdown (percent) by days left before the use-by date."""
OVERSTOCK_COVER_DAYS = 90
OVERSTOCK_CAP = 30.0
OVERSTOCK_STEP = 10.0
_DEMAND_DAYS = 28
_RECEIPT_KINDS = ("receipt", "transfer_in", "opening")


class MarkdownCandidate(BaseModel):
    """A SKU the policy allows to mark down, with the figures that make it one (from code)."""

    sku: str
    name: str
    reason: Literal["near_expiry", "overstock"]
    on_hand: int
    price_cents: int
    cost_cents: int
    days_to_expiry: int | None = None
    """Days left before the oldest units' use-by date (near-expiry candidates)."""
    days_of_cover: float | None = None
    """Available units / average daily sales over 28 days; None when nothing sold."""
    max_discount_pct: float
    floor_cents: int
    """The lowest price the margin floor allows."""


class MarkdownProposal(BaseModel):
    """One markdown the crew proposes."""

    sku: str
    discount_pct: float = Field(ge=0, le=100)
    reason: str = Field(default="", max_length=200)


class MarkdownProposals(BaseModel):
    """The schema of the pricing crew's last task."""

    proposals: list[MarkdownProposal] = Field(max_length=20)


class MarkdownDecision(BaseModel):
    """A markdown after the code's checks: what would be charged, and why."""

    sku: str
    name: str
    reason: Literal["near_expiry", "overstock"]
    current_price_cents: int
    proposed_price_cents: int
    discount_pct: float
    """The discount actually applied, after caps and the floor."""
    floor_cents: int
    clamped: bool = False
    """The proposal went below the floor (or past the policy cap) and was raised to it."""
    rationale: str = ""


class PricingReview(BaseModel):
    """The pricing and markdown review."""

    as_of: date
    candidates: list[MarkdownCandidate]
    decisions: list[MarkdownDecision]
    ignored: list[str] = Field(default_factory=list)
    """Proposals for SKUs that are not candidates (dropped)."""
    origin: Literal["crew", "fallback"]
    note: str | None = None
    duration_s: float = 0.0

    def to_markdown(self) -> str:
        """The decisions as a markdown report."""
        lines = [
            f"# Pricing and markdown review, {self.as_of.isoformat()}",
            "",
            "| SKU | why | price | proposed | discount | floor | clamped |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for d in self.decisions:
            lines.append(
                f"| {d.sku} | {d.reason.replace('_', ' ')} | {d.current_price_cents / 100:.2f} | "
                f"{d.proposed_price_cents / 100:.2f} | {d.discount_pct:.0f}% | "
                f"{d.floor_cents / 100:.2f} | {'yes' if d.clamped else 'no'} |"
            )
        if not self.decisions:
            lines.append("| - | no candidates | | | | | |")
        if self.ignored:
            lines += ["", f"Ignored proposals for non-candidates: {', '.join(self.ignored)}."]
        source = "the pricing crew" if self.origin == "crew" else "code (fallback)"
        lines += [
            "",
            f"_Proposals by {source}{': ' + self.note if self.note else ''}; floors and caps enforced in code._",
        ]
        return "\n".join(lines) + "\n"


def _t(model: type[Any]) -> Table:
    return cast(Table, model.__table__)


def markdown_candidates(
    engine: Engine, *, as_of: date | None = None, limit: int = 12
) -> list[MarkdownCandidate]:
    """The SKUs the markdown policy allows to mark down, most urgent and valuable first.

    Args:
        engine: the operations store.
        as_of: today; default the day after the newest ledger row.
        limit: at most this many (near-expiry ones first).
    """
    ledger, product, stock = _t(m.StockLedger), _t(m.Product), _t(m.Stock)
    with engine.connect() as conn:
        if as_of is None:
            newest = conn.execute(select(func.max(ledger.c.created_at))).scalar()
            as_of = (newest.date() if newest else datetime.now(UTC).date()) + timedelta(days=1)
        end = datetime(as_of.year, as_of.month, as_of.day, tzinfo=UTC)
        rows = conn.execute(
            select(
                product.c.sku,
                product.c.name,
                product.c.perishable,
                product.c.shelf_life_days,
                product.c.price_cents,
                product.c.cost_cents,
                func.sum(stock.c.on_hand),
                func.sum(stock.c.on_hand - stock.c.reserved),
            )
            .join(stock, stock.c.sku == product.c.sku)
            .where(product.c.active.is_(True))
            .group_by(product.c.sku)
            .having(func.sum(stock.c.on_hand) > 0)
        ).all()
        sold: dict[str, int] = dict(
            conn.execute(
                select(ledger.c.sku, func.sum(-ledger.c.delta))
                .where(
                    ledger.c.kind.in_(["sale", "shipment"]),
                    ledger.c.created_at >= end - timedelta(days=_DEMAND_DAYS),
                    ledger.c.created_at < end,
                )
                .group_by(ledger.c.sku)
            ).all()
        )
        perishable = {r[0]: int(r[3] or 0) for r in rows if r[2] and r[3]}
        receipts: dict[tuple[str, str], list[tuple[datetime, int]]] = defaultdict(list)
        if perishable:
            since = end - timedelta(days=max(perishable.values()) + 1)
            for sku, loc, at, delta in conn.execute(
                select(ledger.c.sku, ledger.c.location, ledger.c.created_at, ledger.c.delta)
                .where(
                    ledger.c.sku.in_(list(perishable)),
                    ledger.c.kind.in_(_RECEIPT_KINDS),
                    ledger.c.delta > 0,
                    ledger.c.created_at >= since,
                    ledger.c.created_at < end,
                )
                .order_by(ledger.c.created_at.desc())
            ).all():
                receipts[(str(sku), str(loc))].append((at, int(delta)))
            on_hand_at = conn.execute(
                select(stock.c.sku, stock.c.location, stock.c.on_hand).where(
                    stock.c.sku.in_(list(perishable)),
                    stock.c.on_hand > 0,
                )
            ).all()
        else:
            on_hand_at = []
    expiry: dict[str, int] = {}
    for sku, loc, on_hand in on_hand_at:
        # First expiry, first out: the units on hand are the newest receipts; the oldest of
        # them fixes the nearest use-by date.
        left, oldest = int(on_hand), None
        for at, qty in receipts.get((str(sku), str(loc)), []):
            oldest = at
            left -= qty
            if left <= 0:
                break
        if oldest is None:
            continue
        days_left = perishable[str(sku)] - (end - oldest).days
        expiry[str(sku)] = min(days_left, expiry.get(str(sku), days_left))
    out: list[MarkdownCandidate] = []
    for sku, name, is_perishable, _shelf, price, cost, on_hand, available in rows:
        if int(cost) < 0 or int(price) <= 0:
            continue  # bad catalogue data has no margin floor: not a candidate
        daily = float(sold.get(sku, 0) or 0) / _DEMAND_DAYS
        cover = round(max(int(available), 0) / daily, 1) if daily > 0 else None
        to_expiry = expiry.get(str(sku))
        if is_perishable and to_expiry is not None and 0 <= to_expiry <= NEAR_EXPIRY_DAYS:
            out.append(
                MarkdownCandidate(
                    sku=str(sku),
                    name=str(name),
                    reason="near_expiry",
                    on_hand=int(on_hand),
                    price_cents=int(price),
                    cost_cents=int(cost),
                    days_to_expiry=to_expiry,
                    days_of_cover=cover,
                    max_discount_pct=NEAR_EXPIRY_CAPS[to_expiry],
                    floor_cents=margin_floor_cents(int(cost), near_expiry=True),
                )
            )
        elif not is_perishable and (cover is None or cover > OVERSTOCK_COVER_DAYS):
            out.append(
                MarkdownCandidate(
                    sku=str(sku),
                    name=str(name),
                    reason="overstock",
                    on_hand=int(on_hand),
                    price_cents=int(price),
                    cost_cents=int(cost),
                    days_of_cover=cover,
                    max_discount_pct=OVERSTOCK_CAP,
                    floor_cents=margin_floor_cents(int(cost), near_expiry=False),
                )
            )
    out.sort(
        key=lambda c: (
            c.reason != "near_expiry",
            c.days_to_expiry if c.days_to_expiry is not None else 99,
            -(c.on_hand * c.cost_cents),
            c.sku,
        )
    )
    return out[:limit]


def decide_markdowns(
    candidates: Sequence[MarkdownCandidate], proposals: Sequence[MarkdownProposal]
) -> tuple[list[MarkdownDecision], list[str]]:
    """Apply the policy to proposals: candidates only, caps, steps and the margin floor.

    Returns:
        The decisions (one per candidate that got a proposal) and the SKUs of proposals that
        were dropped because they are not candidates.
    """
    by_sku = {c.sku: c for c in candidates}
    decisions: list[MarkdownDecision] = []
    ignored: list[str] = []
    seen: set[str] = set()
    for proposal in proposals:
        cand = by_sku.get(proposal.sku)
        if cand is None:
            ignored.append(proposal.sku)
            continue
        if cand.sku in seen:
            continue
        seen.add(cand.sku)
        wanted = max(0.0, float(proposal.discount_pct))
        pct = min(wanted, cand.max_discount_pct)
        if cand.reason == "overstock":
            pct = math.floor(pct / OVERSTOCK_STEP) * OVERSTOCK_STEP
        # Rounded up: a cent of rounding never takes the discount past the cap.
        price = math.ceil(round(cand.price_cents * (1 - pct / 100), 6))
        clamped = pct < wanted
        if price < cand.floor_cents:
            price, clamped = cand.floor_cents, True
        applied = round(100 * (1 - price / cand.price_cents), 1) if cand.price_cents else 0.0
        decisions.append(
            MarkdownDecision(
                sku=cand.sku,
                name=cand.name,
                reason=cand.reason,
                current_price_cents=cand.price_cents,
                proposed_price_cents=price,
                discount_pct=applied,
                floor_cents=cand.floor_cents,
                clamped=clamped,
                rationale=proposal.reason,
            )
        )
    return decisions, ignored


def _policy_proposals(candidates: Sequence[MarkdownCandidate]) -> list[MarkdownProposal]:
    return [
        MarkdownProposal(
            sku=c.sku,
            discount_pct=c.max_discount_pct if c.reason == "near_expiry" else OVERSTOCK_STEP,
            reason=(
                f"{c.days_to_expiry} days to use-by: the policy's markdown"
                if c.reason == "near_expiry"
                else "over 90 days of cover: first 10% step"
            ),
        )
        for c in candidates
    ]


def build_pricing_crew(*, llm: Any, tools: Sequence[Any]) -> Any:
    """The pricing `Crew`: customer service assesses demand, the pricing analyst proposes.

    Inputs for `kickoff(inputs=...)`: `shop`, `candidates` (JSON).

    Args:
        llm: the CrewAI LLM.
        tools: read-only CrewAI tools (`as_crewai_tools(ctx, "analyst")`).
    """
    from orchestrator.crews._config import crewai

    service = make_agent("sales_customer_service", llm=llm, tools=tools)
    analyst = make_agent("financial_pricing_analyst", llm=llm)
    assess = make_task("assess_customer_impact", agent=service)
    propose = make_task(
        "propose_markdowns", agent=analyst, output_pydantic=MarkdownProposals, context=[assess]
    )
    return crewai().Crew(agents=[service, analyst], tasks=[assess, propose], verbose=False)


def run_pricing_review(
    engine: Engine,
    *,
    llm: Any,
    tools: Sequence[Any] = (),
    as_of: date | None = None,
    shop: str = DEFAULT_SHOP,
    candidates: Sequence[MarkdownCandidate] | None = None,
) -> PricingReview:
    """Find candidates, run the pricing crew, and enforce the policy on its proposals.

    Args:
        engine: the operations store.
        llm: the CrewAI LLM.
        tools: read-only CrewAI tools.
        as_of: today; default from the ledger.
        shop: how the prompts name the shop.
        candidates: precomputed candidates (skips `markdown_candidates`).
    """
    found = markdown_candidates(engine, as_of=as_of) if candidates is None else list(candidates)
    day = as_of or _as_of(engine)
    if not found:
        return PricingReview(
            as_of=day,
            candidates=[],
            decisions=[],
            origin="fallback",
            note="no candidates: the crew was not run",
        )
    started = time.perf_counter()
    note: str | None = None
    proposals: list[MarkdownProposal] | None = None
    try:
        crew = build_pricing_crew(llm=llm, tools=tools)
        payload = "[\n" + ",\n".join(c.model_dump_json() for c in found) + "\n]"
        result = crew.kickoff(inputs={"shop": shop, "candidates": payload})
        parsed = parse_structured(result, MarkdownProposals)
        proposals = list(parsed.proposals)
        if not any(p.sku in {c.sku for c in found} for p in proposals):
            raise ValueError("no proposal names a candidate SKU")
    except Exception as exc:
        note = f"the crew's output was not usable ({type(exc).__name__}: {str(exc)[:200]})"
        logger.warning("pricing review falls back to the policy table: %s", note)
        proposals = None
    duration = time.perf_counter() - started
    origin: Literal["crew", "fallback"] = "crew" if proposals is not None else "fallback"
    decisions, ignored = decide_markdowns(
        found, proposals if proposals is not None else _policy_proposals(found)
    )
    return PricingReview(
        as_of=day,
        candidates=found,
        decisions=decisions,
        ignored=ignored,
        origin=origin,
        note=note,
        duration_s=round(duration, 2),
    )


def _as_of(engine: Engine) -> date:
    with engine.connect() as conn:
        newest = conn.execute(select(func.max(_t(m.StockLedger).c.created_at))).scalar()
    return (newest.date() if newest else datetime.now(UTC).date()) + timedelta(days=1)
