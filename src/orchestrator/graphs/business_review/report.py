"""The business review as a standalone HTML page (figures from code, a chart, the narrative)."""

from __future__ import annotations

import base64
import html
import io
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from orchestrator.crews.review import WeeklyReview

__all__ = ["render_html"]

_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:60rem;margin:2rem auto;
padding:0 1rem;color:#1f2933;line-height:1.45}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:1.6rem;
border-bottom:1px solid #d9e2ec;padding-bottom:.2rem}
.sub{color:#52606d;margin-top:0}
table{border-collapse:collapse;width:100%;margin:.5rem 0}
td,th{border-bottom:1px solid #e4e7eb;padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#f5f7fa;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums}
.note{background:#fffbea;border-left:4px solid #f0b429;padding:.5rem .75rem;color:#513c06}
.origin{color:#52606d;font-size:.9rem}img{max-width:100%}
"""


def _money(cents: int) -> str:
    return f"{cents / 100:,.2f}"


def _chart(review: WeeklyReview) -> str | None:
    """Units sold this week against last, and stock-outs per location, as an inline PNG."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    k = review.kpis
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.2), dpi=110)
    left.bar(
        ["week before", "this week"],
        [k.sales.previous_units, k.sales.units],
        color=["#9fb3c8", "#2680c2"],
    )
    left.set_title("Units sold")
    for i, v in enumerate([k.sales.previous_units, k.sales.units]):
        left.annotate(f"{v:,}", (i, v), ha="center", va="bottom", fontsize=9)
    locations = sorted(k.stockouts.locations.items())
    if locations:
        right.barh([loc for loc, _ in locations], [n for _, n in locations], color="#e12d39")
        right.set_title("Stock-outs by location (SKUs)")
        right.invert_yaxis()
        right.xaxis.get_major_locator().set_params(integer=True)
    else:
        right.text(0.5, 0.5, "no stock-outs", ha="center", va="center")
        right.set_axis_off()
        right.set_title("Stock-outs by location")
    for ax in (left, right):
        ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def render_html(review: WeeklyReview) -> str:
    """The review as one self-contained HTML page (the chart inlined as a PNG)."""
    k = review.kpis
    e = html.escape
    change = f"{k.sales.change_pct:+.1f}%" if k.sales.change_pct is not None else "n/a"
    fill = f"{k.fill_rate:.1%}" if k.fill_rate is not None else "n/a"
    violations = ", ".join(f"{rule}: {n}" for rule, n in sorted(k.audit.violations.items()))
    rows = [
        ("Units sold", f"{k.sales.units:,} ({change} on the week before)"),
        ("Sales at list price", _money(k.sales.value_cents)),
        ("Stock-outs", f"{k.stockouts.count:,}"),
        ("Supplier fill rate (90 days)", fill),
        (
            "Aged stock (no sale in 90 days)",
            f"{k.aged_stock.count:,} lines, {k.aged_stock.units:,} units, "
            f"{_money(k.aged_stock.value_cents)} at cost",
        ),
        ("Late purchase orders", f"{k.late_purchase_orders:,}"),
        ("Broken invariants", violations or ("none" if k.audit.checked else "not checked")),
        ("Refused agent calls", f"{k.audit.denied_calls:,}"),
    ]
    table = "".join(f"<tr><th>{e(a)}</th><td>{e(b)}</td></tr>" for a, b in rows)
    top = "".join(
        f"<tr><td>{e(sku)}</td><td class=num>{units:,}</td></tr>" for sku, units in k.sales.top_skus
    )
    late = "".join(
        f"<tr><td>PO {po.id}</td><td>{e(po.supplier)}</td><td>{e(po.location)}</td>"
        f"<td class=num>{po.days_late}</td><td class=num>{_money(po.value_cents)}</td></tr>"
        for po in k.late_examples
    )
    chart = _chart(review)
    source = (
        "the analyst crew" if review.origin == "crew" else "code (the crew's output was not used)"
    )
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        f"<title>Weekly operations review, week ending {k.as_of.isoformat()}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>Weekly operations review</h1><p class=sub>The 7 days before {k.as_of.isoformat()}"
        "; every figure computed from the store.</p>",
        f"<table>{table}</table>",
    ]
    if chart:
        parts.append(f'<img alt="units sold and stock-outs" src="data:image/png;base64,{chart}">')
    parts += [
        "<h2>Summary</h2>",
        f"<p>{e(review.summary)}</p>",
        "<h2>Findings</h2><ul>",
        *[f"<li>{e(item)}</li>" for item in review.findings],
        "</ul><h2>Recommendations</h2><ul>",
        *[f"<li>{e(item)}</li>" for item in review.recommendations],
        "</ul>",
    ]
    if top:
        parts.append(
            f"<h2>Best sellers</h2><table><tr><th>SKU</th><th>units</th></tr>{top}</table>"
        )
    if late:
        parts.append(
            "<h2>Late purchase orders</h2><table><tr><th>order</th><th>supplier</th>"
            f"<th>location</th><th>days late</th><th>value</th></tr>{late}</table>"
        )
    parts.append(f"<p class=origin>Narrative by {e(source)}.</p>")
    if review.note:
        parts.append(f"<p class=note>{e(review.note)}</p>")
    parts.append("</body></html>")
    return "\n".join(parts)
