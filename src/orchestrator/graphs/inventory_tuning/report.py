"""The tuning report a store manager reads: markdown and a self-contained HTML page.

Both list what changed and why; the HTML page (and the markdown, as PNG files beside it)
carries a chart per big change: the weekly sales history, the forecast with its 80% and 95%
intervals, and the new policy against the current one (reorder point = expected demand over
the lead time + safety stock). Charts need matplotlib (the `reports` extra); without it the
report says so and lists the changes.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from orchestrator.graphs.inventory_tuning.state import PairPlan

__all__ = [
    "HTML_ROWS",
    "Chart",
    "ReportData",
    "render_chart",
    "render_html",
    "render_markdown",
    "write_report",
]

_STATUS_WORDS = {
    "applied": "Applied",
    "proposed": "Proposed (dry run)",
    "change": "To apply",
    "rejected": "Rejected by a person",
    "refused": "Refused by the store",
    "keep": "Kept (change too small)",
    "no_demand": "No demand: no policy",
    "no_supplier": "No supplier offer",
    "invalid": "Bad data: not tuned",
}
_CHANGED = ("applied", "proposed", "change", "rejected", "refused")
HTML_ROWS = 1000
"""The HTML page's table shows at most this many changes (the biggest); the markdown all."""


@dataclass
class Chart:
    """One chart: the pair, its weekly history and the PNG."""

    plan: PairPlan
    history: npt.NDArray[np.float64]
    png: bytes = b""


@dataclass
class ReportData:
    """What the report shows."""

    plans: list[PairPlan]
    as_of: str
    dry_run: bool
    timings: dict[str, float] = field(default_factory=dict)
    charts: list[Chart] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    approval: dict[str, Any] | None = None

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for p in self.plans:
            out[p.status] = out.get(p.status, 0) + 1
        return out

    def changes(self) -> list[PairPlan]:
        """The changed pairs, biggest first (stock value moved, then relative change)."""
        rows = [p for p in self.plans if p.status in _CHANGED]
        return sorted(rows, key=lambda p: (-p.impact_cents, -p.change, p.sku, p.location))


def biggest(plans: Sequence[PairPlan], n: int) -> list[PairPlan]:
    """The `n` biggest changes (by stock value moved, then relative change)."""
    rows = [p for p in plans if p.status in _CHANGED and p.reorder_point is not None]
    return sorted(rows, key=lambda p: (-p.impact_cents, -p.change, p.sku, p.location))[:n]


def _fmt(value: int | None) -> str:
    return "–" if value is None else f"{value:,}"


def _arrow(old: int | None, new: int | None) -> str:
    if new is None:
        return _fmt(old)
    if old is None:
        return f"– → {new:,}"
    if old == new:
        return f"{new:,}"
    return f"{old:,} → {new:,}"


def render_chart(chart: Chart, *, horizon: int) -> bytes:
    """The PNG of one pair: history and forecast (left), current vs new policy (right)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    p = chart.plan
    hist = chart.history
    weeks = np.arange(-len(hist) + 1, 1)
    ahead = np.arange(1, horizon + 1)
    mu, sd = p.weekly_mean, p.weekly_sd
    fig, (left, right) = plt.subplots(
        1, 2, figsize=(10, 3.4), gridspec_kw={"width_ratios": [3, 1.25]}, dpi=110
    )
    left.bar(weeks, hist, width=0.85, color="#9db4cf", label="units sold per week")
    lo95, hi95 = np.maximum(mu - 1.96 * sd, 0), mu + 1.96 * sd
    lo80, hi80 = np.maximum(mu - 1.2816 * sd, 0), mu + 1.2816 * sd
    left.fill_between(ahead, lo95, hi95, color="#f4a259", alpha=0.25, lw=0, label="95% interval")
    left.fill_between(ahead, lo80, hi80, color="#f4a259", alpha=0.45, lw=0, label="80% interval")
    left.plot(ahead, np.full(horizon, mu), color="#c8553d", lw=2, label=f"forecast {mu:.1f}/week")
    left.axvline(0.5, color="#777777", lw=0.8, ls=":")
    left.set_xlabel("weeks (0 = last week of history; the forecast is to the right)")
    left.set_ylabel("units per week")
    left.set_title(f"Weekly sales and forecast: {p.demand_class} demand, {p.method}", fontsize=10)
    top_left = max(float(hist.max()) if hist.size else 0.0, float(hi95), 1.0)
    left.set_ylim(0, top_left * 1.35)
    left.legend(fontsize=7, loc="upper left", ncol=4, frameon=False)
    left.spines[["top", "right"]].set_visible(False)

    from matplotlib.patches import Patch

    lead_demand = max((p.reorder_point or 0) - (p.safety_stock or 0), 0)
    known = p.old_safety_stock is not None or p.old_reorder_point is None
    old_ss = p.old_safety_stock or 0
    old_base = max((p.old_reorder_point or 0) - old_ss, 0)
    labels = ["current" if known else "current\n(split unknown)", "new"]
    right.bar(labels, [old_base, lead_demand], color=["#9e9e9e", "#5b8e7d"], width=0.6)
    right.bar(
        labels,
        [old_ss, p.safety_stock or 0],
        bottom=[old_base, lead_demand],
        color=["#cfcfcf", "#a7c957"],
        width=0.6,
    )
    for x, value in enumerate([p.old_reorder_point, p.reorder_point]):
        if value is not None:
            right.text(x, value, f"{value:,}", ha="center", va="bottom", fontsize=9)
    top = max(p.old_reorder_point or 0, p.reorder_point or 0, 1)
    right.set_ylim(0, top * 1.45)
    right.set_title("Reorder point: current and new", fontsize=10)
    right.set_ylabel("units")
    right.legend(
        handles=[
            Patch(color="#5b8e7d", label="expected demand over lead time"),
            Patch(color="#a7c957", label="safety stock"),
        ],
        fontsize=7,
        loc="upper left",
        frameon=False,
    )
    right.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png")
    plt.close(fig)
    return out.getvalue()


def _summary_lines(data: ReportData) -> list[str]:
    counts = data.counts()
    changed = sum(counts.get(s, 0) for s in _CHANGED)
    lines = [
        f"{len(data.plans):,} SKU x location pairs tuned on sales up to {data.as_of}"
        + (" (dry run: nothing was changed)." if data.dry_run else "."),
        f"{changed:,} policies changed"
        + (f" ({counts.get('applied', 0):,} applied" if not data.dry_run else " (proposed")
        + (f", {counts['rejected']:,} rejected" if counts.get("rejected") else "")
        + (f", {counts['refused']:,} refused" if counts.get("refused") else "")
        + f"), {counts.get('keep', 0):,} kept.",
    ]
    phrases = {
        "no_demand": "without demand",
        "no_supplier": "without a supplier offer",
        "invalid": "with bad data",
    }
    skipped = [f"{counts[s]:,} {phrase}" for s, phrase in phrases.items() if counts.get(s)]
    if skipped:
        lines.append("Not tuned: " + ", ".join(skipped) + ".")
    if data.approval and data.approval.get("approval_id"):
        verdict = "approved" if data.approval.get("approved") else "rejected"
        who = data.approval.get("decided_by") or "a person"
        lines.append(
            f"Large changes were {verdict} by {who} (approval {data.approval['approval_id']})"
            + (f": {data.approval['note']}" if data.approval.get("note") else ".")
        )
    return lines


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(data: ReportData, *, chart_files: dict[str, str] | None = None) -> str:
    """The report as markdown (chart images linked from `chart_files` by `sku@location`)."""
    out = ["# Inventory tuning report", ""]
    out += [f"- {line}" for line in _summary_lines(data)]
    if data.timings:
        out.append(
            "- Time: "
            + ", ".join(f"{k} {v:.1f} s" for k, v in data.timings.items() if v >= 0.05)
            + "."
        )
    for note in data.notes:
        out.append(f"- Note: {note}")
    changes = data.changes()
    if chart_files:
        out += ["", "## Biggest changes", ""]
        for chart in data.charts:
            key = f"{chart.plan.sku}@{chart.plan.location}"
            if key in chart_files:
                out += [f"![{key}]({chart_files[key]})", "", f"*{chart.plan.reason}*", ""]
    out += ["", "## Changes", ""]
    if not changes:
        out.append("No policy changed.")
    else:
        out.append(
            "| SKU | location | reorder point | safety stock | order qty | service | status | why |"
        )
        out.append("|---|---|---:|---:|---:|---:|---|---|")
        for p in changes:
            out.append(
                f"| {p.sku} | {p.location} | {_arrow(p.old_reorder_point, p.reorder_point)} "
                f"| {_arrow(p.old_safety_stock, p.safety_stock)} "
                f"| {_arrow(p.old_order_quantity, p.order_quantity)} "
                f"| {round((p.service_level or 0) * 100)}% | {_STATUS_WORDS[p.status]} "
                f"| {_md_cell(p.reason + (' — ' + p.detail if p.detail else ''))} |"
            )
    others = [p for p in data.plans if p.status in ("no_demand", "no_supplier", "invalid")]
    if others:
        out += ["", "## Not tuned", ""]
        for p in others[:200]:
            out.append(f"- {p.sku} @ {p.location}: {p.reason}")
        if len(others) > 200:
            out.append(f"- ... and {len(others) - 200:,} more")
    return "\n".join(out) + "\n"


_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2rem auto;max-width:1100px;color:#222;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd;padding-bottom:.3rem}
.summary{background:#f6f8fa;border-radius:8px;padding:.8rem 1.2rem;margin:1rem 0}
.summary p{margin:.3rem 0}
.cards{display:grid;grid-template-columns:repeat(4,1fr);gap:.8rem;margin:1rem 0}
.card{border:1px solid #e3e3e3;border-radius:8px;padding:.6rem .9rem}
.card b{display:block;font-size:1.5rem}.card span{color:#666;font-size:.85rem}
table{border-collapse:collapse;width:100%;font-size:.85rem}
th,td{padding:.35rem .5rem;border-bottom:1px solid #eee;vertical-align:top;text-align:left}
th{background:#fafafa;position:sticky;top:0}td.n{text-align:right;white-space:nowrap}
td.k{white-space:nowrap;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.8rem}
.tag{display:inline-block;border-radius:4px;padding:0 .35rem;font-size:.75rem;white-space:nowrap}
.applied,.proposed,.change{background:#e3f1e6;color:#1f6b35}.rejected,.refused{background:#fbe3e3;color:#8a1c1c}
.chart{margin:1.2rem 0 2rem}.chart img{width:100%;border:1px solid #eee;border-radius:6px}
.chart p{margin:.3rem 0;color:#444;font-size:.9rem}
.small{color:#777;font-size:.8rem}
"""


def render_html(data: ReportData) -> str:
    """The report as one self-contained HTML page (charts embedded as PNG)."""
    esc = html.escape
    counts = data.counts()
    changed = sum(counts.get(s, 0) for s in _CHANGED)
    cards = [
        (f"{len(data.plans):,}", "pairs tuned"),
        (f"{changed:,}", "policies changed" if not data.dry_run else "changes proposed"),
        (f"{counts.get('keep', 0):,}", "kept as they are"),
        (
            f"{sum(counts.get(s, 0) for s in ('no_demand', 'no_supplier', 'invalid')):,}",
            "not tuned (no demand, no supplier, bad data)",
        ),
    ]
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<title>Inventory tuning report</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>Inventory tuning report</h1>",
        f"<p class='small'>Sales history up to {esc(data.as_of)}"
        + (" &middot; dry run: nothing was changed" if data.dry_run else "")
        + "</p>",
        "<div class='cards'>"
        + "".join(f"<div class='card'><b>{v}</b><span>{esc(t)}</span></div>" for v, t in cards)
        + "</div>",
        "<div class='summary'>"
        + "".join(f"<p>{esc(line)}</p>" for line in _summary_lines(data)[1:])
        + "".join(f"<p>Note: {esc(n)}</p>" for n in data.notes)
        + "<p class='small'>Reorder point = expected demand over the supplier's lead time + "
        "safety stock. Order quantity = economic order quantity, at least the supplier's "
        "minimum.</p></div>",
    ]
    if data.charts:
        parts.append("<h2>Biggest changes</h2>")
        for chart in data.charts:
            p = chart.plan
            img = base64.b64encode(chart.png).decode() if chart.png else ""
            parts.append(
                "<div class='chart'>"
                f"<p><b>{esc(p.sku)} @ {esc(p.location)}</b> &middot; {esc(p.name)} &middot; "
                f"reorder point {esc(_arrow(p.old_reorder_point, p.reorder_point))}, safety stock "
                f"{esc(_arrow(p.old_safety_stock, p.safety_stock))}, order quantity "
                f"{esc(_arrow(p.old_order_quantity, p.order_quantity))}</p>"
                + (f"<img alt='{esc(p.sku)}' src='data:image/png;base64,{img}'>" if img else "")
                + f"<p>{esc(p.reason)}</p></div>"
            )
    parts.append("<h2>Changes</h2>")
    changes = data.changes()
    if not changes:
        parts.append("<p>No policy changed.</p>")
    else:
        parts.append(
            "<table><thead><tr><th>SKU</th><th>Product</th><th>Location</th>"
            "<th>Reorder point</th><th>Safety stock</th><th>Order qty</th><th>Service</th>"
            "<th>Status</th><th>Why</th></tr></thead><tbody>"
        )
        for p in changes[:HTML_ROWS]:
            parts.append(
                f"<tr><td class='k'>{esc(p.sku)}</td><td>{esc(p.name)}</td>"
                f"<td class='k'>{esc(p.location)}</td>"
                f"<td class='n'>{esc(_arrow(p.old_reorder_point, p.reorder_point))}</td>"
                f"<td class='n'>{esc(_arrow(p.old_safety_stock, p.safety_stock))}</td>"
                f"<td class='n'>{esc(_arrow(p.old_order_quantity, p.order_quantity))}</td>"
                f"<td class='n'>{round((p.service_level or 0) * 100)}%</td>"
                f"<td><span class='tag {p.status}'>{esc(_STATUS_WORDS[p.status])}</span></td>"
                f"<td>{esc(p.reason)}"
                + (f"<br><span class='small'>{esc(p.detail)}</span>" if p.detail else "")
                + "</td></tr>"
            )
        parts.append("</tbody></table>")
        if len(changes) > HTML_ROWS:
            parts.append(
                f"<p class='small'>The {HTML_ROWS:,} biggest of {len(changes):,} changes are "
                "shown; the markdown report lists them all.</p>"
            )
    others = [p for p in data.plans if p.status in ("no_demand", "no_supplier", "invalid")]
    if others:
        parts.append("<h2>Not tuned</h2><ul>")
        parts += [
            f"<li>{esc(p.sku)} @ {esc(p.location)}: {esc(p.reason)}</li>" for p in others[:200]
        ]
        if len(others) > 200:
            parts.append(f"<li>... and {len(others) - 200:,} more</li>")
        parts.append("</ul>")
    if data.timings:
        parts.append(
            "<p class='small'>Run time: "
            + ", ".join(f"{esc(k)} {v:.1f} s" for k, v in data.timings.items())
            + "</p>"
        )
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(data: ReportData, path: str | Path) -> list[str]:
    """Write the report: `x.html` (and `x.md` beside it, charts in `x_charts/`), or `x.md`.

    Returns:
        The files written.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    written: list[str] = []
    md_path = target if target.suffix.lower() == ".md" else target.with_suffix(".md")
    chart_files: dict[str, str] = {}
    if data.charts:
        folder = md_path.with_name(md_path.stem + "_charts")
        folder.mkdir(exist_ok=True)
        for chart in data.charts:
            if not chart.png:
                continue
            name = f"{chart.plan.sku}@{chart.plan.location}".replace("/", "_") + ".png"
            (folder / name).write_bytes(chart.png)
            chart_files[f"{chart.plan.sku}@{chart.plan.location}"] = f"{folder.name}/{name}"
            written.append(str(folder / name))
    md_path.write_text(render_markdown(data, chart_files=chart_files), encoding="utf-8")
    written.insert(0, str(md_path))
    if target.suffix.lower() != ".md":
        html_path = target if target.suffix else target.with_suffix(".html")
        html_path.write_text(render_html(data), encoding="utf-8")
        written.insert(0, str(html_path))
    return written


def finite(value: float) -> bool:
    """Whether a figure is a real number (not NaN or infinite)."""
    return math.isfinite(value)
