"""The run's report, built by code from the state: markdown (the `report` node) and HTML."""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

from orchestrator.graphs.supply_chain.state import (
    Choice,
    DraftOrder,
    LateAction,
    Problem,
    Receipt,
    SentOrder,
)

__all__ = ["render_html", "render_markdown", "report", "summary"]


def _money(cents: int) -> str:
    return f"{cents / 100:,.2f}"


def summary(state: Mapping[str, Any]) -> dict[str, Any]:
    """Counts a caller (or `--json`) reads at a glance."""
    sent = [SentOrder.model_validate(s) for s in state.get("sent", [])]
    late = [LateAction.model_validate(a) for a in state.get("late", [])]
    return {
        "mode": state.get("mode", "replenish"),
        "as_of": state.get("as_of"),
        "need_by": state.get("need_by"),
        "dry_run": bool(state.get("dry_run")),
        "needs": len(state.get("needs", [])),
        "orders_proposed": len(state.get("orders", [])),
        "orders_sent": sum(1 for s in sent if s.status == "sent"),
        "po_ids": [s.po_id for s in sent if s.po_id is not None],
        "total_sent_cents": sum(s.total_cents for s in sent if s.status == "sent"),
        "late_orders": len(late),
        "problems": len(state.get("problems", [])),
    }


def render_markdown(state: Mapping[str, Any]) -> str:
    """The report a person reads, as markdown."""
    out: list[str] = []
    mode = state.get("mode", "replenish")
    if mode == "receive":
        out.append(f"# Goods received (as of {state.get('as_of')})")
        if state.get("receipt"):
            r = Receipt.model_validate(state["receipt"])
            got = ", ".join(f"{sku} x {qty}" for sku, qty in sorted(r.received.items()))
            out.append(f"Purchase order {r.po_id}: received {got}; now **{r.status}**.")
            if r.outstanding:
                left = ", ".join(f"{sku} x {q}" for sku, q in sorted(r.outstanding.items()))
                out.append(f"Still outstanding: {left}.")
            if r.late_days:
                out.append(f"It arrived {r.late_days} day(s) after its expected date.")
            if r.replayed:
                out.append("(This receipt had been booked already; nothing was booked twice.)")
        _problems(out, state)
        return "\n\n".join(out) + "\n"
    title = "Replenishment proposal (dry run)" if state.get("dry_run") else "Replenishment"
    out.append(f"# {title}: {state.get('as_of')}")
    if state.get("text"):
        request = state.get("request") or {}
        out.append(
            f"Request: _{state['text']}_ (read by {state.get('request_source') or 'rules'}"
            + (f"; needed by {state['need_by']}" if state.get("need_by") else "")
            + (f", from {request.get('need_by_phrase')!r}" if request.get("need_by_phrase") else "")
            + ")"
        )
    if state.get("notes"):
        out.append("\n".join(f"**Note:** {n}" for n in state["notes"]))
    if state.get("stock"):
        out.append("## Stock check")
        rows = [
            "| SKU | location | on hand | available | on order | reorder point |",
            "|---|---|---:|---:|---:|---:|",
        ]
        for entry in state["stock"]:
            for lv in entry["levels"]:
                rows.append(
                    f"| {entry['sku']} | {lv['location']} | {lv['on_hand']} | {lv['available']} "
                    f"| {lv['on_order']} | {lv['reorder_point'] if lv['reorder_point'] is not None else '-'} |"
                )
            if not entry["levels"]:
                rows.append(f"| {entry['sku']} | (not stocked anywhere) | 0 | 0 | 0 | - |")
        out.append("\n".join(rows))
    needs = state.get("needs", [])
    out.append(f"## What to reorder ({len(needs)})")
    if needs:
        rows = [
            "| SKU | location | position | reorder point | order up to | need | by | why |",
            "|---|---|---:|---:|---:|---:|---|---|",
        ]
        for n in needs:
            rows.append(
                f"| {n['sku']} | {n['location']} | {n['position']} | "
                f"{n['reorder_point'] if n['reorder_point'] is not None else '-'} | "
                f"{n['order_up_to']} | {n['need_qty']} | {n['need_by']} | {n['reason']} |"
            )
        out.append("\n".join(rows))
    else:
        out.append("Nothing is at or below its reorder point.")
    choices = [Choice.model_validate(c) for c in state.get("choices", [])]
    if choices:
        out.append("## Supplier options")
        for c in choices:
            out.append(f"### {c.sku} {c.name} -> {c.location}: {c.need_qty} needed by {c.need_by}")
            rows = [
                "| | supplier | unit | landed | MOQ | order | lead | arrives | late | on time | score |",
                "|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|",
            ]
            for i, o in enumerate([c.chosen, *c.alternatives]):
                rows.append(
                    f"| {'**chosen**' if i == 0 else ''} | {o.supplier_name} | "
                    f"{_money(o.unit_cost_cents)} | {_money(o.landed_unit_cents)} | {o.moq} | "
                    f"{o.order_qty} | {o.lead_time_days} d | {o.arrives} | {o.late_days} d | "
                    f"{o.on_time_rate:.0%} | {o.score:.3f} |"
                )
            out.append("\n".join(rows))
            if c.explanation:
                out.append(f"> {c.explanation} _({c.explanation_source})_")
    orders = [DraftOrder.model_validate(o) for o in state.get("orders", [])]
    sent = [SentOrder.model_validate(s) for s in state.get("sent", [])]
    budget = state.get("budget") or {}
    if orders or sent:
        out.append("## Purchase orders")
        if budget:
            out.append(
                f"Total {_money(budget.get('total_cents', 0))} against a budget of "
                f"{_money(budget.get('budget_cents', 0))} per run."
                + (
                    " Needs approval: " + "; ".join(budget["reasons"]) + "."
                    if budget.get("reasons")
                    else ""
                )
            )
        approval = state.get("approval") or {}
        if approval.get("approval_id"):
            verdict = "approved" if approval.get("approved") else "rejected"
            out.append(
                f"Approval {approval['approval_id']}: {verdict} by {approval.get('decided_by')}"
                + (f" ({approval['note']})" if approval.get("note") else "")
                + "."
            )
        rows = ["| supplier | deliver to | lines | total | expected |", "|---|---|---|---:|---|"]
        for order in orders:
            lines = ", ".join(
                f"{ln.sku} x {ln.qty} @ {_money(ln.unit_cost_cents)}" for ln in order.lines
            )
            rows.append(
                f"| {order.supplier_name} | {order.location} | {lines} | "
                f"{_money(order.total_cents)} | {order.expected_at} |"
            )
        out.append("\n".join(rows))
        if sent:
            out.append(
                "\n".join(
                    f"- {s.key}: **{s.status}**"
                    + (f" as purchase order {s.po_id}" if s.po_id else "")
                    + (f" ({s.detail})" if s.detail else "")
                    for s in sent
                )
            )
    late = [LateAction.model_validate(a) for a in state.get("late", [])]
    if late:
        out.append(f"## Late deliveries ({len(late)})")
        out.append(
            "\n".join(
                f"- PO {a.po_id} from {a.supplier_name} to {a.location}: expected {a.expected_at}, "
                f"{a.days_late} days late, outstanding "
                + ", ".join(f"{k} x {v}" for k, v in sorted(a.outstanding.items()))
                + f". {a.action}: {a.reason} -> **{a.status}**"
                + (f" ({a.detail})" if a.detail else "")
                for a in late
            )
        )
    _problems(out, state)
    return "\n\n".join(out) + "\n"


def _problems(out: list[str], state: Mapping[str, Any]) -> None:
    problems = [Problem.model_validate(p) for p in state.get("problems", [])]
    if problems:
        out.append(f"## Not done ({len(problems)})")
        out.append("\n".join(f"- {p.subject}: {p.reason}" for p in problems))


def report(state: Mapping[str, Any]) -> dict[str, Any]:
    """The `report` node: the markdown report into state."""
    return {"report": render_markdown(state)}


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:72rem;
color:#1f2933;padding:0 1rem}h1{font-size:1.6rem;border-bottom:3px solid #2563eb;padding-bottom:.3rem}
h2{font-size:1.2rem;margin-top:2rem;color:#1e3a8a}h3{font-size:1rem;margin-bottom:.3rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0;font-size:.9rem}
th,td{border:1px solid #d9e2ec;padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#f0f4f8}td.n{text-align:right;font-variant-numeric:tabular-nums}
tr.chosen td{background:#ecfdf5;font-weight:600}blockquote{margin:.4rem 0;padding:.4rem .8rem;
border-left:4px solid #93c5fd;background:#f8fafc;color:#334155}.tag{font-size:.75rem;color:#64748b}
.status{display:inline-block;padding:.05rem .45rem;border-radius:.6rem;font-size:.8rem;background:#e2e8f0}
.sent,.done,.received{background:#bbf7d0}.partially_received{background:#fde68a}.rejected,.refused{background:#fecaca}.proposed,.listed{background:#fde68a}
.note{background:#fff7ed;border-left:4px solid #f97316;padding:.4rem .8rem}
.summary{display:flex;gap:1rem;flex-wrap:wrap}.card{border:1px solid #d9e2ec;border-radius:.5rem;
padding:.6rem 1rem;min-width:9rem}.card b{display:block;font-size:1.4rem}
"""


def render_html(state: Mapping[str, Any]) -> str:
    """The report as a self-contained HTML page (tables, status tags; no scripts)."""
    e = html.escape
    s = summary(state)
    parts: list[str] = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>Supply chain report {e(str(state.get('as_of')))}</title><style>{_CSS}</style></head><body>",
    ]
    title = (
        "Goods received"
        if s["mode"] == "receive"
        else ("Replenishment proposal (dry run)" if s["dry_run"] else "Replenishment")
    )
    parts.append(f"<h1>{e(title)}: {e(str(state.get('as_of')))}</h1>")
    if state.get("text"):
        parts.append(
            f"<p>Request: <i>{e(str(state['text']))}</i> (read by "
            f"{e(str(state.get('request_source') or 'rules'))}"
            + (f"; needed by <b>{e(str(state['need_by']))}</b>" if state.get("need_by") else "")
            + ")</p>"
        )
    if s["mode"] == "receive":
        r = state.get("receipt") or {}
        cards = [
            ("units received", sum((r.get("received") or {}).values())),
            ("units outstanding", sum((r.get("outstanding") or {}).values())),
            ("days late", r.get("late_days", 0)),
            ("not done", s["problems"]),
        ]
    else:
        cards = [
            ("needs", s["needs"]),
            ("orders sent", s["orders_sent"]),
            ("value sent", _money(s["total_sent_cents"])),
            ("late POs", s["late_orders"]),
            ("not done", s["problems"]),
        ]
    parts.append(
        "<div class='summary'>"
        + "".join(f"<div class='card'><b>{e(str(v))}</b>{e(k)}</div>" for k, v in cards)
        + "</div>"
    )
    for note in state.get("notes", []):
        parts.append(f"<p class='note'><b>Note:</b> {e(note)}</p>")
    if state.get("receipt"):
        r = Receipt.model_validate(state["receipt"])
        parts.append(
            "<h2>Receipt</h2><table><tr><th>SKU</th><th>received</th><th>outstanding</th></tr>"
        )
        for sku in sorted(set(r.received) | set(r.outstanding)):
            parts.append(
                f"<tr><td>{e(sku)}</td><td class='n'>{r.received.get(sku, 0)}</td>"
                f"<td class='n'>{r.outstanding.get(sku, 0)}</td></tr>"
            )
        parts.append(
            f"</table><p>Purchase order {r.po_id} is now <span class='status {e(r.status)}'>{e(r.status)}</span>"
            + (f"; {r.late_days} day(s) late" if r.late_days else "")
            + ".</p>"
        )
    if state.get("stock"):
        parts.append(
            "<h2>Stock check</h2><table><tr><th>SKU</th><th>location</th><th>on hand</th>"
            "<th>available</th><th>on order</th><th>reorder point</th></tr>"
        )
        for entry in state["stock"]:
            for lv in entry["levels"]:
                parts.append(
                    f"<tr><td>{e(entry['sku'])}</td><td>{e(lv['location'])}</td>"
                    f"<td class='n'>{lv['on_hand']}</td><td class='n'>{lv['available']}</td>"
                    f"<td class='n'>{lv['on_order']}</td><td class='n'>"
                    f"{lv['reorder_point'] if lv['reorder_point'] is not None else '-'}</td></tr>"
                )
        parts.append("</table>")
    needs = state.get("needs", [])
    if s["mode"] != "receive":
        parts.append(f"<h2>What to reorder ({len(needs)})</h2>")
        if needs:
            parts.append(
                "<table><tr><th>SKU</th><th>location</th><th>position</th><th>reorder point</th>"
                "<th>order up to</th><th>need</th><th>by</th><th>why</th></tr>"
            )
            for n in needs:
                parts.append(
                    f"<tr><td>{e(n['sku'])}<br><span class='tag'>{e(n.get('name', ''))}</span></td>"
                    f"<td>{e(n['location'])}</td><td class='n'>{n['position']}</td>"
                    f"<td class='n'>{n['reorder_point'] if n['reorder_point'] is not None else '-'}</td>"
                    f"<td class='n'>{n['order_up_to']}</td><td class='n'>{n['need_qty']}</td>"
                    f"<td>{e(n['need_by'])}</td><td>{e(n['reason'])}</td></tr>"
                )
            parts.append("</table>")
        else:
            parts.append("<p>Nothing is at or below its reorder point.</p>")
    for raw in state.get("choices", []):
        c = Choice.model_validate(raw)
        parts.append(
            f"<h3>{e(c.sku)} {e(c.name)} &rarr; {e(c.location)}: {c.need_qty} needed by {e(c.need_by)}</h3>"
            "<table><tr><th>supplier</th><th>unit</th><th>landed</th><th>MOQ</th><th>order</th>"
            "<th>lead</th><th>arrives</th><th>late</th><th>on time</th><th>score</th></tr>"
        )
        for i, o in enumerate([c.chosen, *c.alternatives]):
            parts.append(
                f"<tr class='{'chosen' if i == 0 else ''}'><td>{e(o.supplier_name)}</td>"
                f"<td class='n'>{_money(o.unit_cost_cents)}</td><td class='n'>{_money(o.landed_unit_cents)}</td>"
                f"<td class='n'>{o.moq}</td><td class='n'>{o.order_qty}</td>"
                f"<td class='n'>{o.lead_time_days} d</td><td>{e(o.arrives)}</td>"
                f"<td class='n'>{o.late_days} d</td><td class='n'>{o.on_time_rate:.0%}</td>"
                f"<td class='n'>{o.score:.3f}</td></tr>"
            )
        parts.append("</table>")
        if c.explanation:
            parts.append(
                f"<blockquote>{e(c.explanation)} <span class='tag'>({e(c.explanation_source)})</span></blockquote>"
            )
    orders = [DraftOrder.model_validate(o) for o in state.get("orders", [])]
    sent = {x["key"]: SentOrder.model_validate(x) for x in state.get("sent", [])}
    if orders or sent:
        budget = state.get("budget") or {}
        parts.append("<h2>Purchase orders</h2>")
        if budget:
            parts.append(
                f"<p>Total {_money(budget.get('total_cents', 0))} against a budget of "
                f"{_money(budget.get('budget_cents', 0))} per run."
                + (
                    " Needs approval: " + e("; ".join(budget["reasons"])) + "."
                    if budget.get("reasons")
                    else ""
                )
                + "</p>"
            )
        parts.append(
            "<table><tr><th>supplier</th><th>deliver to</th><th>lines</th><th>total</th>"
            "<th>expected</th><th>status</th></tr>"
        )
        listed = {order.key for order in orders}
        for order in orders:
            st = sent.get(order.key)
            status = st.status if st else ("proposed" if not state.get("dry_run") else "listed")
            lines = "<br>".join(
                f"{e(ln.sku)} &times; {ln.qty} @ {_money(ln.unit_cost_cents)}" for ln in order.lines
            )
            parts.append(
                f"<tr><td>{e(order.supplier_name)}</td><td>{e(order.location)}</td><td>{lines}</td>"
                f"<td class='n'>{_money(order.total_cents)}</td><td>{e(order.expected_at)}</td>"
                f"<td><span class='status {e(status)}'>{e(status)}</span>"
                + (f" PO {st.po_id}" if st and st.po_id else "")
                + (f"<br><span class='tag'>{e(st.detail)}</span>" if st and st.detail else "")
                + "</td></tr>"
            )
        for key, st in sent.items():
            if key not in listed:
                parts.append(
                    f"<tr><td colspan='5'>{e(key)}</td><td><span class='status {e(st.status)}'>"
                    f"{e(st.status)}</span> <span class='tag'>{e(st.detail)}</span></td></tr>"
                )
        parts.append("</table>")
    late = [LateAction.model_validate(a) for a in state.get("late", [])]
    if late:
        parts.append(
            f"<h2>Late deliveries ({len(late)})</h2><table><tr><th>PO</th><th>supplier</th>"
            "<th>expected</th><th>late</th><th>outstanding</th><th>action</th><th>status</th></tr>"
        )
        for a in late:
            left = ", ".join(f"{e(k)} &times; {v}" for k, v in sorted(a.outstanding.items()))
            parts.append(
                f"<tr><td>{a.po_id}</td><td>{e(a.supplier_name)}</td><td>{e(a.expected_at)}</td>"
                f"<td class='n'>{a.days_late} d</td><td>{left}</td><td>{e(a.action)}: {e(a.reason)}</td>"
                f"<td><span class='status {e(a.status)}'>{e(a.status)}</span>"
                + (f"<br><span class='tag'>{e(a.detail)}</span>" if a.detail else "")
                + "</td></tr>"
            )
        parts.append("</table>")
    problems = [Problem.model_validate(p) for p in state.get("problems", [])]
    if problems:
        parts.append(f"<h2>Not done ({len(problems)})</h2><ul>")
        parts.extend(f"<li><b>{e(p.subject)}</b>: {e(p.reason)}</li>" for p in problems)
        parts.append("</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)
