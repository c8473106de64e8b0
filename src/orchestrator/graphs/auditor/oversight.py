"""The auditor's oversight report: metrics over time as charts, in HTML and markdown.

`write_report(engine, "audit.html")` writes `audit.html` (self-contained: the charts are
embedded), `audit.md` and the charts as PNG files in `audit-charts/` (the markdown links
them). The figures come from the finding store (`FindingStore.metrics`) and, for the daily
series, from its `finding` and `finding_event` tables: findings opened by rule, fixed
automatically, escalated, success rate (fixed / (fixed + escalated)) and mean time to
resolution. Rule names, entity keys (SKU@LOCATION or ids) and counts only: no customer data.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.engine import Engine

__all__ = ["DailySeries", "daily_series", "render_charts", "write_report"]


@dataclass
class DailySeries:
    """Per-day counts over the report's window."""

    days: list[date]
    opened_by_rule: dict[str, list[int]] = field(default_factory=dict)
    fixed: list[int] = field(default_factory=list)
    escalated: list[int] = field(default_factory=list)
    resolved_otherwise: list[int] = field(default_factory=list)
    mttr_hours: list[float | None] = field(default_factory=list)
    """Mean time to resolution of the findings closed that day, in hours."""

    @property
    def success_rate(self) -> list[float | None]:
        """fixed / (fixed + escalated) per day (None on days with neither)."""
        return [
            (f / (f + e)) if f + e else None
            for f, e in zip(self.fixed, self.escalated, strict=True)
        ]


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def daily_series(engine: Engine, *, days: int = 30, now: datetime | None = None) -> DailySeries:
    """Findings opened by rule, fixed, escalated and MTTR per day over the last `days` days."""
    from orchestrator.store.models import Finding, FindingEvent

    finding: Any = cast(Any, Finding).__table__
    event: Any = cast(Any, FindingEvent).__table__
    end = (now or datetime.now(UTC)).date()
    start = end - timedelta(days=days - 1)
    since = datetime.combine(start, datetime.min.time(), tzinfo=UTC)
    axis = [start + timedelta(days=i) for i in range(days)]
    index = {d: i for i, d in enumerate(axis)}
    series = DailySeries(
        days=axis,
        fixed=[0] * days,
        escalated=[0] * days,
        resolved_otherwise=[0] * days,
    )
    durations: list[list[float]] = [[] for _ in axis]
    with engine.connect() as conn:
        for r in conn.execute(
            select(finding.c.rule, finding.c.opened_at).where(finding.c.opened_at >= since)
        ):
            i = index.get(_aware(r.opened_at).date())
            if i is not None:
                series.opened_by_rule.setdefault(r.rule, [0] * days)[i] += 1
        seen: dict[str, set[tuple[int, int]]] = {"fixed": set(), "escalated": set()}
        for r in conn.execute(
            select(event.c.finding_id, event.c.to_status, event.c.at).where(
                event.c.at >= since, event.c.to_status.in_(list(seen))
            )
        ):
            i = index.get(_aware(r.at).date())
            if i is not None:
                seen[r.to_status].add((int(r.finding_id), i))
        for _, i in seen["fixed"]:
            series.fixed[i] += 1
        for _, i in seen["escalated"]:
            series.escalated[i] += 1
        # Resolved without the auditor: the findings whose status is still `resolved` (a
        # fix is re-checked to `resolved` first, then marked `fixed`).
        for r in conn.execute(
            select(finding.c.resolved_at).where(
                finding.c.status == "resolved", finding.c.resolved_at >= since
            )
        ):
            i = index.get(_aware(r.resolved_at).date())
            if i is not None:
                series.resolved_otherwise[i] += 1
        for r in conn.execute(
            select(finding.c.opened_at, finding.c.resolved_at).where(
                finding.c.resolved_at.is_not(None), finding.c.resolved_at >= since
            )
        ):
            i = index.get(_aware(r.resolved_at).date())
            if i is not None:
                hours = (_aware(r.resolved_at) - _aware(r.opened_at)).total_seconds() / 3600
                durations[i].append(max(0.0, hours))
    series.mttr_hours = [sum(d) / len(d) if d else None for d in durations]
    return series


def render_charts(series: DailySeries, folder: Path) -> list[tuple[str, Path]]:
    """Draw the four charts as PNG files in `folder`; returns (title, path) pairs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    labels = [d.strftime("%m-%d") for d in series.days]
    step = max(1, len(labels) // 10)
    out: list[tuple[str, Path]] = []

    def finish(fig: Any, ax: Any, title: str, name: str, ylabel: str) -> None:
        ax.set_title(title)
        ax.set_ylabel(ylabel)
        ax.set_xticks(range(0, len(labels), step))
        ax.set_xticklabels(labels[::step], rotation=45, ha="right")
        ax.grid(axis="y", alpha=0.3)
        fig.tight_layout()
        path = folder / f"{name}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        out.append((title, path))

    x = list(range(len(labels)))
    fig, ax = plt.subplots(figsize=(8, 3.6))
    bottom = [0] * len(x)
    for rule, counts in sorted(series.opened_by_rule.items()):
        ax.bar(x, counts, bottom=bottom, label=rule)
        bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
    if series.opened_by_rule:
        ax.legend(fontsize=7, ncol=2)
    finish(fig, ax, "Findings opened per day, by rule", "findings_by_rule", "findings")

    fig, ax = plt.subplots(figsize=(8, 3.6))
    width = 0.3
    ax.bar([i - width for i in x], series.fixed, width=width, label="fixed automatically")
    ax.bar(x, series.escalated, width=width, label="escalated")
    ax.bar(
        [i + width for i in x], series.resolved_otherwise, width=width, label="resolved otherwise"
    )
    ax.legend(fontsize=7)
    finish(fig, ax, "Fixed automatically and escalated per day", "fixed_escalated", "findings")

    fig, ax = plt.subplots(figsize=(8, 3.6))
    rate = [r * 100 if r is not None else float("nan") for r in series.success_rate]
    ax.plot(x, rate, marker="o")
    ax.set_ylim(0, 105)
    finish(fig, ax, "Success rate: fixed / (fixed + escalated)", "success_rate", "%")

    fig, ax = plt.subplots(figsize=(8, 3.6))
    known = [m for m in series.mttr_hours if m is not None]
    top = max(known) if known else 0.0
    unit, scale = (
        ("hours", 1.0) if top >= 2 else ("minutes", 60.0) if top >= 2 / 60 else ("seconds", 3600.0)
    )
    mttr = [m * scale if m is not None else float("nan") for m in series.mttr_hours]
    ax.plot(x, mttr, marker="o", color="tab:purple")
    ax.set_ylim(bottom=0)
    finish(fig, ax, "Mean time to resolution (findings closed that day)", "mttr", unit)
    return out


def _fmt_s(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _rows(metrics: Any) -> list[list[str]]:
    rows = []
    for rule, statuses in sorted(metrics.by_rule_status.items()):
        rows.append(
            [
                rule,
                str(sum(statuses.values())),
                str(statuses.get("open", 0) + statuses.get("fixing", 0)),
                str(statuses.get("fixed", 0)),
                str(statuses.get("escalated", 0)),
                str(statuses.get("resolved", 0)),
                _fmt_s(metrics.mttr_by_rule_s.get(rule)),
            ]
        )
    return rows


_HEAD = ["rule", "findings", "open", "fixed", "escalated", "resolved otherwise", "MTTR"]


def _recent_escalations(engine: Engine, limit: int = 20) -> list[list[str]]:
    from orchestrator.store.models import Finding

    finding: Any = cast(Any, Finding).__table__
    with engine.connect() as conn:
        return [
            [
                str(r.id),
                r.rule,
                f"{r.entity} {r.key}",
                _aware(r.updated_at).strftime("%Y-%m-%d %H:%M"),
            ]
            for r in conn.execute(
                select(
                    finding.c.id,
                    finding.c.rule,
                    finding.c.entity,
                    finding.c.key,
                    finding.c.updated_at,
                )
                .where(finding.c.status == "escalated")
                .order_by(finding.c.updated_at.desc())
                .limit(limit)
            )
        ]


def write_report(
    engine: Engine, out: str | Path, *, days: int = 30, now: datetime | None = None
) -> list[Path]:
    """Write the HTML report to `out`, the markdown beside it, and the charts' PNGs.

    Args:
        engine: the store's engine (with the finding tables).
        out: the HTML file to write (`.md` and `-charts/` go beside it).
        days: the window of the daily charts.
        now: the report's "today" (tests).

    Returns:
        The files written: the HTML, the markdown, then the charts.
    """
    from orchestrator.store.findings import FindingStore

    html_path = Path(out)
    if html_path.suffix.lower() not in (".html", ".htm"):
        html_path = html_path.with_suffix(".html")
    html_path.parent.mkdir(parents=True, exist_ok=True)
    md_path = html_path.with_suffix(".md")
    folder = html_path.with_name(f"{html_path.stem}-charts")
    stamp = now or datetime.now(UTC)
    metrics = FindingStore(engine).metrics()
    window = FindingStore(engine).metrics(since=stamp - timedelta(days=days))
    series = daily_series(engine, days=days, now=stamp)
    charts = render_charts(series, folder)
    rows = _rows(metrics)
    escalations = _recent_escalations(engine)
    rate = f"{metrics.success_rate * 100:.0f} %" if metrics.success_rate is not None else "-"
    headline = [
        ("findings", str(metrics.findings)),
        ("fixed automatically", str(metrics.fixed_automatically)),
        ("escalated", str(metrics.escalated)),
        ("resolved otherwise", str(metrics.resolved_otherwise)),
        ("success rate", rate),
        ("mean time to resolution", _fmt_s(metrics.mean_time_to_resolution_s)),
        ("fix attempts", str(metrics.attempts)),
        ("scans", str(metrics.scans)),
        (f"findings in the last {days} days", str(window.findings)),
    ]
    md = [
        "# Inventory audit report",
        "",
        f"Generated {stamp.strftime('%Y-%m-%d %H:%M UTC')}; daily charts cover {days} days.",
        "",
        "| figure | value |",
        "| --- | ---: |",
        *[f"| {k} | {v} |" for k, v in headline],
        "",
        "## By rule",
        "",
        "| " + " | ".join(_HEAD) + " |",
        "| " + " | ".join("---" for _ in _HEAD) + " |",
        *["| " + " | ".join(r) + " |" for r in rows],
        "",
        "## Charts",
        "",
        *[f"![{title}]({folder.name}/{path.name})" for title, path in charts],
        "",
        "## Escalated findings (newest first)",
        "",
        "| finding | rule | entity | since |",
        "| --- | --- | --- | --- |",
        *["| " + " | ".join(r) + " |" for r in escalations],
        "",
    ]
    md_path.write_text("\n".join(md), encoding="utf-8")
    html_path.write_text(_html(stamp, days, headline, rows, charts, escalations), encoding="utf-8")
    return [html_path, md_path, *(p for _, p in charts)]


def _table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows
    )
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _html(
    stamp: datetime,
    days: int,
    headline: Sequence[tuple[str, str]],
    rows: Sequence[Sequence[str]],
    charts: Sequence[tuple[str, Path]],
    escalations: Sequence[Sequence[str]],
) -> str:
    cards = "".join(
        f'<div class="card"><div class="v">{html.escape(v)}</div><div class="k">{html.escape(k)}</div></div>'
        for k, v in headline
    )
    images = "".join(
        f'<figure><img alt="{html.escape(t)}" src="data:image/png;base64,'
        f'{base64.b64encode(p.read_bytes()).decode()}"><figcaption>{html.escape(t)}</figcaption></figure>'
        for t, p in charts
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Inventory audit report</title>
<style>
body {{ font-family: sans-serif; margin: 24px; color: #222; max-width: 1100px; }}
h1 {{ margin-bottom: 4px; }} .muted {{ color: #666; }}
.cards {{ display: flex; flex-wrap: wrap; gap: 10px; margin: 16px 0; }}
.card {{ border: 1px solid #ddd; border-radius: 6px; padding: 10px 14px; min-width: 120px; }}
.card .v {{ font-size: 22px; font-weight: bold; }} .card .k {{ color: #555; font-size: 12px; }}
table {{ border-collapse: collapse; margin: 8px 0 20px; }}
th, td {{ border: 1px solid #ddd; padding: 4px 10px; text-align: left; font-size: 13px; }}
th {{ background: #f4f4f4; }}
.charts {{ display: grid; grid-template-columns: 1fr 1fr; gap: 12px; }}
figure {{ margin: 0; }} img {{ width: 100%; border: 1px solid #eee; }}
figcaption {{ font-size: 12px; color: #555; }}
</style></head><body>
<h1>Inventory audit report</h1>
<div class="muted">Generated {stamp.strftime("%Y-%m-%d %H:%M UTC")}; daily charts cover {days} days.</div>
<div class="cards">{cards}</div>
<h2>By rule</h2>{_table(_HEAD, rows)}
<h2>Over time</h2><div class="charts">{images}</div>
<h2>Escalated findings (newest first)</h2>{_table(["finding", "rule", "entity", "since"], escalations)}
</body></html>
"""
