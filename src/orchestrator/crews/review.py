"""The weekly operations review crew: KPIs from code, analysis and recommendations from the crew.

```
compute_weekly_kpis(engine)            SQL aggregation, in code (orchestrator.crews.kpis)
  -> operations_coordinator            analyse_operations: problems, causes, owners
                                       (read-only analyst tools: it may look things up)
  -> analytics_insights_specialist     write_weekly_review: ReviewNarrative (JSON schema)
  -> WeeklyReview                      KPIs + narrative + markdown report, rendered in code
```

The crew never produces a figure that ends up in the report's KPI table: the table is
rendered from `WeeklyKpis`. When the crew fails (backend down, no valid structured output
from a small model), `run_weekly_review` falls back to a narrative built in code from the KPIs
and says so (`origin="fallback"`, `note`).

Example:
    >>> from orchestrator.backends import ModelRouter
    >>> from orchestrator.tools import ToolContext, as_crewai_tools
    >>> llm = ModelRouter(settings.models).crewai_llm("crews", "weekly_review")
    >>> tools = as_crewai_tools(ToolContext(service=svc, agent="analyst"), "analyst")
    >>> review = run_weekly_review(engine, llm=llm, tools=tools)
    >>> print(review.to_markdown())
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Sequence
from datetime import date
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, Field, ValidationError, field_validator
from sqlalchemy.engine import Engine

from orchestrator.crews._config import make_agent, make_task
from orchestrator.crews.kpis import WeeklyKpis, compute_weekly_kpis
from orchestrator.errors import ConfigError

__all__ = [
    "REVIEW_TOOL_NAMES",
    "ReviewNarrative",
    "WeeklyReview",
    "build_weekly_review_crew",
    "check_narrative",
    "fallback_narrative",
    "kpis_brief",
    "parse_structured",
    "run_weekly_review",
]

logger = logging.getLogger(__name__)

DEFAULT_SHOP = "the demo shop (two warehouses and a city shop)"

REVIEW_TOOL_NAMES = ("low_stock_report", "get_inventory", "get_supplier_offers")
"""The analyst tools the review crew gets by default: each tool's description and schema go
into every prompt, and a small local model's context (2,048 tokens a slot on the default
llama-server) cannot hold all thirteen."""


_Item = Annotated[str, Field(min_length=1, max_length=200)]


class ReviewNarrative(BaseModel):
    """What the crew writes: the schema of its last task's structured output.

    The limits are in the JSON schema, so a backend with constrained decoding (llama.cpp)
    cannot run past them: the whole object fits in about 500 tokens.
    """

    summary: str = Field(min_length=10, max_length=400)
    """Two or three sentences."""
    findings: list[_Item] = Field(min_length=1, max_length=4)
    """The key findings, each citing a figure."""
    recommendations: list[_Item] = Field(min_length=1, max_length=4)
    """Actions, each with its owner."""

    @field_validator("findings", "recommendations")
    @classmethod
    def _no_blank_items(cls, items: list[str]) -> list[str]:
        cleaned = [" ".join(item.split()) for item in items]
        if any(not item for item in cleaned):
            raise ValueError("items must not be blank")
        return cleaned


class WeeklyReview(BaseModel):
    """The weekly operations review: figures from code, narrative from the crew (or code)."""

    kpis: WeeklyKpis
    summary: str
    findings: list[str]
    recommendations: list[str]
    origin: Literal["crew", "fallback"]
    """`crew` when the narrative is the crew's validated output, `fallback` when code wrote it."""
    note: str | None = None
    """Why the fallback was used."""
    duration_s: float = 0.0
    """Wall time of the crew run (0 when it did not run)."""
    insights_used: int = 0
    """Earlier insights given to the crew as context."""

    def to_markdown(self) -> str:
        """The report as markdown: KPI table (from code), summary, findings, recommendations."""
        k = self.kpis
        change = f"{k.sales.change_pct:+.1f}%" if k.sales.change_pct is not None else "n/a"
        fill = f"{k.fill_rate:.1%}" if k.fill_rate is not None else "n/a"
        violations = ", ".join(f"{rule} {n}" for rule, n in sorted(k.audit.violations.items()))
        lines = [
            f"# Weekly operations review, week ending {k.as_of.isoformat()}",
            "",
            "| KPI | value |",
            "| --- | --- |",
            f"| units sold | {k.sales.units} ({change} on the week before) |",
            f"| sales at list price | {_money(k.sales.value_cents)} |",
            f"| stock-outs | {k.stockouts.count} |",
            f"| supplier fill rate (90 days) | {fill} |",
            f"| aged stock (no sale in 90 days) | {k.aged_stock.count} lines, "
            f"{k.aged_stock.units} units, {_money(k.aged_stock.value_cents)} at cost |",
            f"| late purchase orders | {k.late_purchase_orders} |",
            f"| broken invariants | {violations or ('none' if k.audit.checked else 'not checked')} |",
            f"| refused agent calls | {k.audit.denied_calls} |",
            "",
            "## Summary",
            "",
            self.summary,
            "",
            "## Findings",
            "",
            *[f"- {item}" for item in self.findings],
            "",
            "## Recommendations",
            "",
            *[f"- {item}" for item in self.recommendations],
            "",
        ]
        source = "the analyst crew" if self.origin == "crew" else "code (fallback)"
        lines.append(f"_Narrative by {source}{': ' + self.note if self.note else ''}._")
        return "\n".join(lines) + "\n"


def _money(cents: int) -> str:
    return f"{cents / 100:,.2f}"


def build_weekly_review_crew(*, llm: Any, tools: Sequence[Any]) -> Any:
    """The weekly review `Crew`: the operations coordinator analyses, the insights specialist writes.

    Inputs for `kickoff(inputs=...)`: `shop`, `as_of`, `kpis` (JSON), `insights` (text).

    Args:
        llm: the CrewAI LLM (`ModelRouter.crewai_llm(...)`, or a scripted one in tests).
        tools: read-only CrewAI tools for the analysis (`as_crewai_tools(ctx, "analyst")`).
    """
    from orchestrator.crews._config import crewai

    coordinator = make_agent("operations_coordinator", llm=llm, tools=tools)
    # No tools on the writer: CrewAI then asks the LLM for the schema directly (JSON-schema
    # constrained decoding on llama.cpp), instead of a ReAct loop a small model gets wrong.
    writer = make_agent("analytics_insights_specialist", llm=llm)
    analyse = make_task("analyse_operations", agent=coordinator)
    write = make_task(
        "write_weekly_review", agent=writer, output_pydantic=ReviewNarrative, context=[analyse]
    )
    return crewai().Crew(agents=[coordinator, writer], tasks=[analyse, write], verbose=False)


def kpis_brief(kpis: WeeklyKpis) -> str:
    """The KPIs as a few plain lines for a prompt (shorter than JSON, easier for small models)."""
    s = kpis.sales
    change = f"{s.change_pct:+.1f}%" if s.change_pct is not None else "n/a"
    top = ", ".join(f"{sku} {units}" for sku, units in s.top_skus[:3]) or "none"
    late = "; ".join(
        f"PO {po.id} {po.supplier} {po.days_late} days late" for po in kpis.late_examples[:3]
    )
    fill = f"{kpis.fill_rate:.1%}" if kpis.fill_rate is not None else "n/a"
    violations = ", ".join(f"{rule} {n}" for rule, n in sorted(kpis.audit.violations.items()))
    return "\n".join(
        [
            f"- units sold: {s.units} ({change} on the week before), worth {_money(s.value_cents)}",
            f"- best sellers: {top}",
            f"- stock-outs: {kpis.stockouts.count} "
            f"({', '.join(f'{k} {v}' for k, v in sorted(kpis.stockouts.locations.items())) or 'none'})",
            f"- supplier fill rate over 90 days: {fill}",
            f"- aged stock (no sale in 90 days): {kpis.aged_stock.count} lines, "
            f"{_money(kpis.aged_stock.value_cents)} at cost",
            f"- late purchase orders: {kpis.late_purchase_orders}" + (f" ({late})" if late else ""),
            f"- broken invariants: {violations or 'none'}; refused agent calls: "
            f"{kpis.audit.denied_calls}",
        ]
    )


def fallback_narrative(kpis: WeeklyKpis) -> ReviewNarrative:
    """A narrative built in code from the KPIs, for when the crew gives nothing valid."""
    findings: list[str] = []
    recs: list[str] = []
    s = kpis.sales
    trend = (
        f"{s.change_pct:+.1f}% on the week before"
        if s.change_pct is not None
        else "no sales the week before"
    )
    findings.append(f"{s.units} units sold ({trend}), worth {_money(s.value_cents)} at list price.")
    if kpis.stockouts.count:
        where = ", ".join(f"{loc} {n}" for loc, n in sorted(kpis.stockouts.locations.items()))
        findings.append(f"{kpis.stockouts.count} stock-outs ({where}).")
        recs.append(
            "Inventory Manager: replenish or transfer stock for the out-of-stock lines, A-class first."
        )
    if kpis.late_purchase_orders:
        worst = kpis.late_examples[0] if kpis.late_examples else None
        detail = (
            f"; the oldest is PO {worst.id} from {worst.supplier}, {worst.days_late} days late"
            if worst
            else ""
        )
        findings.append(
            f"{kpis.late_purchase_orders} purchase orders are past their expected date{detail}."
        )
        recs.append("Purchasing: chase late suppliers as the supplier escalation procedure says.")
    if kpis.fill_rate is not None and kpis.fill_rate < 0.95:
        findings.append(
            f"Supplier fill rate is {kpis.fill_rate:.1%} over 90 days, below the 95% watch line."
        )
        recs.append("Head of Purchasing: put suppliers below 95% fill rate on watch.")
    if kpis.aged_stock.count:
        findings.append(
            f"{kpis.aged_stock.count} stock lines ({_money(kpis.aged_stock.value_cents)} at cost) have not sold in 90 days."
        )
        recs.append("Pricing: review aged stock for markdowns within the margin floor.")
    if kpis.audit.violations:
        total = sum(kpis.audit.violations.values())
        findings.append(
            f"The invariant check found {total} broken rules: {', '.join(sorted(kpis.audit.violations))}."
        )
        recs.append("Auditor: investigate and correct the broken invariants before the next count.")
    if not recs:
        recs.append("Operations: no action needed beyond the routine cycle counts.")
    summary = (
        f"Week ending {kpis.as_of.isoformat()}: {s.units} units sold, {kpis.stockouts.count} "
        f"stock-outs and {kpis.late_purchase_orders} late purchase orders."
    )
    return ReviewNarrative(
        summary=summary[:400],
        findings=[f[:200] for f in findings[:4]],
        recommendations=[r[:200] for r in recs[:4]],
    )


_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_WORD = re.compile(r"[a-z0-9']+")


def check_narrative(narrative: ReviewNarrative, kpis: WeeklyKpis) -> None:
    """The code's checks on a schema-valid narrative: not degenerate, and grounded in the KPIs.

    A small model under constrained decoding fills a schema with repetitive filler ("The
    items are: The items are: ..."); such text is valid JSON and useless.

    Raises:
        ValueError: a text repeats itself (under half of its words distinct), or no finding
            cites a figure of the KPIs.
    """
    for text in (narrative.summary, *narrative.findings, *narrative.recommendations):
        words = _WORD.findall(text.lower())
        if len(words) >= 12 and len(set(words)) < len(words) / 2:
            raise ValueError(f"repetitive text: {text[:80]!r}")
    figures = {n.replace(",", "") for n in _NUMBER.findall(kpis_brief(kpis))}
    cited = [
        f for f in narrative.findings if {n.replace(",", "") for n in _NUMBER.findall(f)} & figures
    ]
    if not cited:
        raise ValueError("no finding cites a figure of the KPIs")


_JSON_OBJECT = re.compile(r"\{.*\}", re.DOTALL)
_M = TypeVar("_M", bound=BaseModel)


def parse_structured(output: Any, schema: type[_M]) -> _M:
    """The crew's last task output as `schema`: CrewAI's parsed model, or JSON in its text.

    Raises:
        ValueError: nothing in the output validates against the schema.
    """
    parsed = getattr(output, "pydantic", None)
    if isinstance(parsed, schema):
        return parsed
    if isinstance(parsed, BaseModel):
        return schema.model_validate(parsed.model_dump())
    raw = str(getattr(output, "raw", output) or "")
    for candidate in (raw, *(m.group(0) for m in [_JSON_OBJECT.search(raw)] if m)):
        try:
            return schema.model_validate(json.loads(candidate))
        except (ValueError, ValidationError):
            continue
    raise ValueError(f"no {schema.__name__} in the crew's output: {raw[:200]!r}")


def run_weekly_review(
    engine: Engine,
    *,
    llm: Any,
    tools: Sequence[Any] = (),
    insights: Sequence[str] = (),
    as_of: date | None = None,
    shop: str = DEFAULT_SHOP,
    kpis: WeeklyKpis | None = None,
    tool_names: Sequence[str] | None = REVIEW_TOOL_NAMES,
) -> WeeklyReview:
    """Compute the KPIs, run the review crew, and return the validated review.

    Args:
        engine: the operations store.
        llm: the CrewAI LLM; None writes the review from code (`origin="fallback"`).
        tools: read-only CrewAI tools (`as_crewai_tools(ctx, "analyst")`).
        insights: earlier insights from memory, given to the crew as context.
        as_of: the day after the reviewed week; default from the ledger.
        shop: how the prompts name the shop.
        kpis: precomputed KPIs (skips `compute_weekly_kpis`).
        tool_names: keep only these of `tools` (default `REVIEW_TOOL_NAMES`); None keeps all.

    Returns:
        The review; `origin="fallback"` with a `note` when the crew's output was unusable.
    """
    figures = kpis if kpis is not None else compute_weekly_kpis(engine, as_of=as_of)
    inputs = {
        "shop": shop,
        "as_of": figures.as_of.isoformat(),
        "kpis": kpis_brief(figures),
        "insights": "\n".join(f"- {text}" for text in insights) or "(none)",
    }
    started = time.perf_counter()
    note: str | None = None
    narrative: ReviewNarrative | None = None
    try:
        if llm is None:  # CrewAI would fall back to OpenAI on its own: never that
            raise ConfigError("no CrewAI model was given")
        chosen = [t for t in tools if tool_names is None or t.name in tool_names]
        crew = build_weekly_review_crew(llm=llm, tools=chosen)
        result = crew.kickoff(inputs=inputs)
        proposed = parse_structured(result, ReviewNarrative)
        check_narrative(proposed, figures)
        narrative = proposed
    except Exception as exc:  # the crew is one vote; the review must still be written
        note = f"the crew's output was not usable ({type(exc).__name__}: {str(exc)[:200]})"
        logger.warning("weekly review falls back to code: %s", note)
    duration = time.perf_counter() - started
    origin: Literal["crew", "fallback"] = "crew" if narrative is not None else "fallback"
    if narrative is None:
        narrative = fallback_narrative(figures)
    return WeeklyReview(
        kpis=figures,
        summary=narrative.summary,
        findings=narrative.findings,
        recommendations=narrative.recommendations,
        origin=origin,
        note=note,
        duration_s=round(duration, 2),
        insights_used=len(insights),
    )
