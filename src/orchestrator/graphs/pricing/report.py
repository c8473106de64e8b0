"""The pricing report a manager reads: markdown (in the run's state) and HTML with charts.

`render_markdown(values)` needs only the run's state; `write_report(values, path)` writes
`path` (HTML, charts embedded as PNG) and the markdown beside it (`.md`), drawing one
matplotlib chart per big change (weekly units and price, with the proposed price).
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from orchestrator.graphs.pricing.rules import PriceChange, from_rows

__all__ = ["BIG_CHANGE_PCT", "render_html", "render_markdown", "status_text", "write_report"]

BIG_CHANGE_PCT = 10.0
"""Changes at least this large (percent, either way) get a chart."""

_WHY = {"near_expiry": "near expiry", "overstock": "overstock", "elasticity": "elasticity"}


def _money(cents: float | None) -> str:
    return "-" if cents is None else f"{cents / 100:,.2f}"


def _num(value: float | None, fmt: str = "{:.2f}") -> str:
    return "-" if value is None else fmt.format(value)


def _effect(c: PriceChange) -> str:
    if c.margin_now_cents is None or c.margin_new_cents is None:
        return "-"
    return f"{(c.margin_new_cents - c.margin_now_cents) / 100:+,.2f}/day"


def status_text(c: PriceChange) -> str:
    """A change's status as the report shows it."""
    if c.status == "proposed" and c.needs_approval:
        return "waiting for approval"
    status = c.status.replace("_", " ")
    if c.status == "dry_run" and c.needs_approval:
        status += " (needs approval)"
    if c.applied_price_cents is not None and c.applied_price_cents != c.proposed_price_cents:
        status += f" at {_money(c.applied_price_cents)}"
    return status


def _rows(values: Mapping[str, Any]) -> list[PriceChange]:
    return from_rows(list(values.get("changes", [])))


def render_markdown(values: Mapping[str, Any]) -> str:
    """The report in markdown, from a pricing run's state."""
    changes = _rows(values)
    est = values.get("estimate_summary") or {}
    expl = values.get("explanation") or {}
    active = [c for c in changes if c.status != "skipped"]
    skipped = [c for c in changes if c.status == "skipped"]
    lines = [
        f"# Pricing run, {values.get('as_of', '?')}"
        + (f" (category {values['category']})" if values.get("category") else ""),
        "",
        str(expl.get("summary") or ""),
        "",
        f"Elasticity: {est.get('sku', 0)} SKUs with their own estimate, "
        f"{est.get('category', 0)} pooled with their category, {est.get('none', 0)} without one "
        f"({est.get('days', 0)} days of history from {est.get('since', '?')}).",
        "",
        "| SKU | why | price | proposed | change | floor | elasticity | units/day now -> then | margin effect | status |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for c in active:
        el = "-" if c.elasticity is None else f"{c.elasticity:.2f} ({c.elasticity_source})"
        units = f"{_num(c.baseline_daily_units)} -> {_num(c.expected_daily_units)}"
        status = status_text(c)
        lines.append(
            f"| {c.sku} | {_WHY[c.why]} | {_money(c.current_price_cents)} | "
            f"{_money(c.proposed_price_cents)} | {c.change_pct:+.1f}% | {_money(c.floor_cents)} | "
            f"{el} | {units} | {_effect(c)} | {status} |"
        )
    if not active:
        lines.append("| - | no changes | | | | | | | | |")
    reasons = expl.get("reasons") or {}
    if reasons:
        lines += ["", "## Why", ""]
        lines += [f"- **{sku}**: {why}" for sku, why in reasons.items()]
    notes = [c for c in active if c.notes or c.detail]
    if notes:
        lines += ["", "## Guard rails and decisions", ""]
        for c in notes:
            text = "; ".join([*c.notes, *([c.detail] if c.detail else [])])
            lines.append(f"- {c.sku}: {text}")
    if skipped:
        lines += ["", f"## Not changed ({len(skipped)})", ""]
        lines += [f"- {c.sku} ({_WHY[c.why]}): {c.detail}" for c in skipped[:50]]
    problems = list(values.get("problems") or [])
    if problems:
        lines += ["", f"## Data problems ({len(problems)})", ""]
        lines += [f"- {p}" for p in problems[:50]]
    source = expl.get("source", "template")
    lines += [
        "",
        f"_Explanation by {'the model' if source == 'model' else 'a template'}"
        + (f" ({expl['note']})" if expl.get("note") else "")
        + "; every price, floor and effect computed in code._",
    ]
    return "\n".join(lines) + "\n"


def _chart(c: PriceChange, series: Mapping[str, Any]) -> str:
    """A PNG (base64) of weekly units and price with the proposed price, or '' without data
    (or without matplotlib, the `pricing` extra)."""
    try:
        import matplotlib
    except ImportError:
        return ""
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    weeks = list(series.get("week_end") or [])
    if not weeks:
        return ""
    fig, ax = plt.subplots(figsize=(7.5, 3.6), dpi=100)
    x = list(range(len(weeks)))
    ax.bar(x, series["units"], color="#9ab8d8", label="units sold / week")
    ax.set_ylabel("units / week")
    ax.set_xticks(x[:: max(1, len(x) // 6)])
    ax.set_xticklabels([weeks[i][5:] for i in x[:: max(1, len(x) // 6)]], fontsize=8)
    ax2 = ax.twinx()
    prices = [p / 100 for p in series["price_cents"]]
    ax2.plot(x, prices, color="#1f4e79", marker=".", label="average price charged")
    ax2.axhline(c.current_price_cents / 100, color="#555555", linestyle=":", label="list price now")
    new = (c.applied_price_cents or c.proposed_price_cents) / 100
    ax2.axhline(new, color="#c0392b", linestyle="--", label="proposed price")
    ax2.axhline(
        c.floor_cents / 100, color="#7f8c8d", linestyle="-.", linewidth=0.8, label="margin floor"
    )
    ax2.set_ylabel("price")
    lo = min([*prices, new, c.floor_cents / 100]) * 0.9
    hi = max([*prices, new, c.current_price_cents / 100]) * 1.08
    ax2.set_ylim(max(lo, 0), hi)
    ax.set_title(
        f"{c.sku}: {c.current_price_cents / 100:.2f} -> {new:.2f} ({c.change_pct:+.1f}%)",
        fontsize=10,
    )
    handles = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
    labels = ax.get_legend_handles_labels()[1] + ax2.get_legend_handles_labels()[1]
    ax.legend(
        handles,
        labels,
        fontsize=7,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.12),
        ncol=5,
        frameon=False,
    )
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


_CSS = """
body { font-family: -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 1100px; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
table { border-collapse: collapse; width: 100%; font-size: 0.85em; }
th, td { border-bottom: 1px solid #ddd; padding: 4px 6px; text-align: right; }
th:first-child, td:first-child, td.l, th.l { text-align: left; }
tr.approval td { background: #fff6e0; } tr.skipped td { color: #888; }
.summary { background: #f4f7fb; padding: 0.8em 1em; border-left: 4px solid #1f4e79; }
.chart { display: inline-block; margin: 0.5em; } .muted { color: #777; font-size: 0.85em; }
"""


def render_html(values: Mapping[str, Any]) -> str:
    """The report as a self-contained HTML page (charts embedded)."""
    e = html.escape
    changes = _rows(values)
    est = values.get("estimate_summary") or {}
    expl = values.get("explanation") or {}
    series = values.get("series") or {}
    active = [c for c in changes if c.status != "skipped"]
    skipped = [c for c in changes if c.status == "skipped"]
    title = f"Pricing run, {values.get('as_of', '?')}" + (
        f" (category {values['category']})" if values.get("category") else ""
    )
    out = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{e(title)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{e(title)}</h1>",
        f"<p class='summary'>{e(str(expl.get('summary') or ''))}</p>",
        f"<p>Elasticity: <b>{est.get('sku', 0)}</b> SKUs with their own estimate, "
        f"<b>{est.get('category', 0)}</b> pooled with their category, <b>{est.get('none', 0)}</b> "
        f"without one ({est.get('days', 0)} days of history from {e(str(est.get('since', '?')))}).</p>",
        "<h2>Proposed changes</h2><table><tr><th class='l'>SKU</th><th class='l'>product</th>"
        "<th class='l'>why</th><th>price</th><th>proposed</th><th>change</th><th>floor</th>"
        "<th>elasticity</th><th>units/day now</th><th>then</th><th>margin/day now</th>"
        "<th>then</th><th class='l'>status</th></tr>",
    ]
    for c in active:
        cls = "approval" if c.needs_approval else ""
        el = "-" if c.elasticity is None else f"{c.elasticity:.2f} ({c.elasticity_source})"
        status = status_text(c)
        out.append(
            f"<tr class='{cls}'><td>{e(c.sku)}</td><td class='l'>{e(c.name)}</td>"
            f"<td class='l'>{_WHY[c.why]}</td><td>{_money(c.current_price_cents)}</td>"
            f"<td><b>{_money(c.proposed_price_cents)}</b></td><td>{c.change_pct:+.1f}%</td>"
            f"<td>{_money(c.floor_cents)}</td><td>{e(el)}</td><td>{_num(c.baseline_daily_units)}</td>"
            f"<td>{_num(c.expected_daily_units)}</td><td>{_money(c.margin_now_cents)}</td>"
            f"<td>{_money(c.margin_new_cents)}</td><td class='l'>{e(status)}</td></tr>"
        )
    if not active:
        out.append("<tr><td colspan='13' class='l'>No price changes.</td></tr>")
    out.append("</table>")
    reasons = expl.get("reasons") or {}
    if reasons or any(c.notes or c.detail for c in active):
        out.append("<h2>Why</h2><ul>")
        for c in active:
            bits = [reasons.get(c.sku, ""), *c.notes, *([c.detail] if c.detail else [])]
            text = "; ".join(b for b in bits if b)
            if text:
                out.append(f"<li><b>{e(c.sku)}</b>: {e(text)}</li>")
        out.append("</ul>")
    big = [c for c in active if abs(c.change_pct) >= BIG_CHANGE_PCT and c.sku in series]
    if big:
        out.append("<h2>Big changes</h2>")
        for c in big[:20]:
            png = _chart(c, series[c.sku])
            if png:
                out.append(
                    f"<div class='chart'><img alt='{e(c.sku)}' src='data:image/png;base64,{png}'></div>"
                )
    if skipped:
        out.append(f"<h2>Not changed ({len(skipped)})</h2><ul>")
        out += [f"<li>{e(c.sku)} ({_WHY[c.why]}): {e(c.detail)}</li>" for c in skipped[:50]]
        out.append("</ul>")
    problems = list(values.get("problems") or [])
    if problems:
        out.append(f"<h2>Data problems ({len(problems)})</h2><ul>")
        out += [f"<li>{e(p)}</li>" for p in problems[:50]]
        out.append("</ul>")
    source = expl.get("source", "template")
    note = f" ({e(str(expl['note']))})" if expl.get("note") else ""
    out.append(
        f"<p class='muted'>Explanation by {'the model' if source == 'model' else 'a template'}{note}; "
        "every price, floor and effect computed in code.</p></body></html>"
    )
    return "\n".join(out)


def write_report(values: Mapping[str, Any], path: str | Path) -> list[Path]:
    """Write the report: HTML at `path` (or markdown only, for a `.md` path) and markdown beside it.

    Returns:
        The files written.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.suffix.lower() == ".md":
        target.write_text(render_markdown(values), encoding="utf-8")
        return [target]
    target.write_text(render_html(values), encoding="utf-8")
    md = target.with_suffix(".md")
    md.write_text(render_markdown(values), encoding="utf-8")
    return [target, md]
