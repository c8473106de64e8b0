"""Nodes of the supply-chain graph: every number and decision in code, the model explains.

The writes (`send`, `resolve_late`, `receive`) are keyed by what they act on
(`po:<supplier>@<location>`, `resource:<po>`, `receive:<po>`), so a re-run after a crash or
an approval replays the first call instead of writing twice. Everything they write was
computed in an earlier node and checkpointed.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from orchestrator.errors import ApprovalRejected, InvalidInput, OrchestratorError
from orchestrator.graphs.supply_chain import queries
from orchestrator.graphs.supply_chain.request import (
    ITEM_ALIASES,
    RequestProposal,
    check_proposal,
    parse_need_date,
    parse_request,
    phrase_words,
)
from orchestrator.graphs.supply_chain.scoring import offer_problem, score_offers
from orchestrator.graphs.supply_chain.state import (
    Choice,
    DraftLine,
    DraftOrder,
    ItemRequest,
    LateAction,
    Need,
    Problem,
    Receipt,
    SentOrder,
    SupplierOption,
    SupplyChainState,
)
from orchestrator.runtime.deps import Services
from orchestrator.runtime.nodes import propose
from orchestrator.settings import SupplySettings

__all__ = [
    "AGENT",
    "ESCALATION_SUBJECT",
    "GATE_SUBJECT",
    "Explanation",
    "Explanations",
    "budget_arguments",
    "budget_reason",
    "check_late",
    "choose",
    "draft",
    "escalation_arguments",
    "escalation_reason",
    "explain",
    "find_needs",
    "intake",
    "money",
    "receive",
    "resolve_late",
    "send",
]

AGENT = "procurement"
"""The agent profile the graph's writes are made as (its allow-list applies)."""
GATE_SUBJECT = "purchase_orders"
"""The budget gate's approval subject."""
ESCALATION_SUBJECT = "escalate_late_purchase_orders"
"""The late-delivery escalation's approval subject."""
EXPLAIN_AT_MOST = 10
"""The model explains at most this many choices per run (the biggest by value)."""


def money(cents: int) -> str:
    """Cents as a plain amount with two decimals and thousands separators."""
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) / 100:,.2f}"


def _supply(services: Services) -> SupplySettings:
    return services.settings.supply


def _problem(subject: str, reason: str) -> dict[str, Any]:
    return Problem(subject=subject, reason=reason).model_dump()


def _iso(field: str, value: object) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise InvalidInput(field, value, "expected a date as YYYY-MM-DD") from None


# --- intake -----------------------------------------------------------------------------------


def intake(state: SupplyChainState, *, services: Services, model: Any) -> dict[str, Any]:
    """Fix the run's date, mode and location; read a request in words; check explicit items.

    Raises:
        InvalidInput: a bad mode, date, location or purchase order id (nothing is written).
    """
    mode = state.get("mode") or "replenish"
    if mode not in ("replenish", "receive"):
        raise InvalidInput("mode", mode, "expected 'replenish' or 'receive'")
    as_of = _iso("as_of", state["as_of"]) if state.get("as_of") else datetime.now(UTC).date()
    update: dict[str, Any] = {
        "mode": mode,
        "as_of": as_of.isoformat(),
        "dry_run": bool(state.get("dry_run", False)),
        "escalate": bool(state.get("escalate", not (state.get("text") or state.get("items")))),
        "problems": [],
        "notes": [],
        "request": {},
        "request_source": "",
    }
    location = state.get("location") or ""
    if location:
        _check_location(services, location)
    update["location"] = location
    if mode == "receive":
        po_id = state.get("po_id")
        if not isinstance(po_id, int) or isinstance(po_id, bool) or po_id < 1:
            raise InvalidInput("po_id", po_id, "a receive run needs the purchase order's id")
        return update
    if state.get("need_by"):
        need_by = _iso("need_by", state["need_by"])
        if need_by < as_of:
            raise InvalidInput("need_by", state["need_by"], f"it is before the run's date {as_of}")
        update["need_by"] = need_by.isoformat()
    problems: list[dict[str, Any]] = []
    items: list[dict[str, Any]] = []
    for i, raw in enumerate(state.get("items") or []):
        try:
            item = ItemRequest.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"]) or "item"
            problems.append(_problem(f"items[{i}]", f"invalid {field}: {first['msg']}"))
            continue
        checked = _checked_item(services, item, problems, f"items[{i}]")
        if checked is not None:
            items.append(checked.model_dump())
    text = (state.get("text") or "").strip()
    if text:
        if len(text) > 2000:
            raise InvalidInput("text", text[:40] + "...", "at most 2000 characters")
        request, source, notes = _read_request(text, model)
        if "need_by" not in update:
            found = parse_need_date(text, as_of)
            if found is not None:
                update["need_by"] = found[0].isoformat()
                request["need_by_phrase"] = found[1]
        request["notes"] = notes
        update["request"] = request
        update["request_source"] = source
        if not request["items"]:
            problems.append(
                _problem(
                    "text",
                    "the request names no product I can recognise; name it (e.g. 'Arduino "
                    "kits', a SKU such as ARD-UNO-001) and, if you like, how many",
                )
            )
        for asked in request["items"]:
            for item in _resolve(services, asked, problems):
                checked = _checked_item(services, item, problems, asked["phrase"])
                if checked is not None:
                    items.append(checked.model_dump())
    update["items"] = items
    update["urgent"] = bool(text or state.get("items"))
    update["problems"] = problems
    return update


def _check_location(services: Services, location: str) -> None:
    from sqlalchemy import select

    from orchestrator.store.services._core import LOCATION

    with services.store.engine.connect() as conn:
        if conn.execute(select(LOCATION.c.code).where(LOCATION.c.code == location)).first() is None:
            known = ", ".join(
                conn.execute(select(LOCATION.c.code).order_by(LOCATION.c.code)).scalars()
            )
            raise InvalidInput("location", location, f"no such location; known: {known}")


def _read_request(text: str, model: Any) -> tuple[dict[str, Any], str, list[str]]:
    prompt = [
        (
            "system",
            "You read stock requests for a shop. List the products the request names as "
            "'phrase' (copy the words), and a quantity only if the request gives a number. "
            "Answer with JSON only.",
        ),
        ("user", text),
    ]
    proposal = propose(model, prompt, RequestProposal, fallback=lambda: parse_request(text))
    checked, notes = check_proposal(proposal.value, text)
    source = proposal.source
    if proposal.source == "model" and not checked.items:
        fallback = parse_request(text)
        if fallback.items:
            notes.append("the model named nothing the request supports; read it by rules")
            checked, source = fallback, "fallback"
    if proposal.error:
        notes.append(f"model not used: {proposal.error[:200]}")
    return {"items": [i.model_dump() for i in checked.items]}, source, notes


def _resolve(
    services: Services, asked: Mapping[str, Any], problems: list[dict[str, Any]]
) -> list[ItemRequest]:
    """The SKUs an item phrase means: a SKU, a known product family, or every word in a name."""
    from sqlalchemy import select

    from orchestrator.store.services._core import PRODUCT

    phrase = str(asked["phrase"])
    qty, additional = asked.get("qty"), bool(asked.get("additional"))
    low = phrase.lower()
    skus: list[str] = []
    with services.store.engine.connect() as conn:
        exact = conn.execute(
            select(PRODUCT.c.sku).where(PRODUCT.c.sku == phrase.upper(), PRODUCT.c.active.is_(True))
        ).first()
        if exact is not None:
            skus = [exact.sku]
        else:
            for alias in sorted(ITEM_ALIASES, key=len, reverse=True):
                if re.search(rf"\b{re.escape(alias)}", low):
                    prefix = ITEM_ALIASES[alias]
                    skus = list(
                        conn.execute(
                            select(PRODUCT.c.sku)
                            .where(PRODUCT.c.sku.like(f"{prefix}%"), PRODUCT.c.active.is_(True))
                            .order_by(PRODUCT.c.sku)
                            .limit(5)
                        ).scalars()
                    )
                    break
    if not skus:
        words = phrase_words(phrase)
        if words:
            skus = [p.sku for p in services.store.search_products(" ".join(words), limit=5)]
    if not skus:
        problems.append(
            _problem(
                phrase,
                f"no product matches {phrase!r}: name it by SKU or by a word of its name",
            )
        )
    group = phrase if qty is not None and len(skus) > 1 else None
    return [ItemRequest(sku=s, qty=qty, additional=additional, group=group) for s in skus]


def _checked_item(
    services: Services, item: ItemRequest, problems: list[dict[str, Any]], subject: str
) -> ItemRequest | None:
    from orchestrator.errors import NotFound

    if item.qty is not None and item.qty < 1:
        problems.append(
            _problem(
                f"{subject} ({item.sku})",
                f"quantity {item.qty}: at least 1 unit must be needed; nothing was ordered",
            )
        )
        return None
    try:
        services.store.get_product(item.sku)
    except NotFound:
        problems.append(_problem(item.sku, f"unknown SKU {item.sku!r}: nothing was ordered"))
        return None
    if item.location:
        try:
            _check_location(services, item.location)
        except InvalidInput as exc:
            problems.append(_problem(f"{subject} ({item.sku})", f"{exc}; nothing was ordered"))
            return None
    return item


# --- needs ------------------------------------------------------------------------------------


def _daily(position: queries.Position, window: int) -> float:
    return max(0, position.demand_units) / window


def _order_up_to(position: queries.Position, daily: float, supply: SupplySettings) -> int:
    if position.order_up_to is not None:
        return position.order_up_to
    base = position.reorder_point or 0
    return base + math.ceil(daily * supply.cover_days)


def _stockout(
    as_of: date, position: queries.Position, daily: float, supply: SupplySettings
) -> date:
    if daily <= 0:
        return as_of + timedelta(days=max(supply.cover_days, 1))
    days = int(max(position.available, 0) / daily)
    return as_of + timedelta(days=min(days, 90))


def find_needs(state: SupplyChainState, *, services: Services) -> dict[str, Any]:
    """What to buy: below-reorder-point positions, or the explicit / asked-for items."""
    supply = _supply(services)
    as_of = date.fromisoformat(state["as_of"])
    given_need_by = date.fromisoformat(state["need_by"]) if state.get("need_by") else None
    problems = list(state.get("problems", []))
    notes = list(state.get("notes", []))
    needs: list[dict[str, Any]] = []
    stock: list[dict[str, Any]] = []
    window = supply.demand_window_days
    with services.store.engine.connect() as conn:
        if state.get("urgent"):
            default_location = state.get("location") or supply.default_location
            need_by = given_need_by or as_of + timedelta(days=supply.cover_days)
            items = [ItemRequest.model_validate(raw) for raw in state.get("items", [])]
            here_of: dict[tuple[str, str], queries.Position] = {}
            for item in items:
                location = item.location or default_location
                everywhere = queries.positions(
                    conn, as_of=as_of, demand_days=window, skus=[item.sku]
                )
                stock.append(
                    {
                        "sku": item.sku,
                        "levels": [
                            {
                                "location": p.location,
                                "on_hand": p.on_hand,
                                "available": p.available,
                                "on_order": p.on_order,
                                "reorder_point": p.reorder_point,
                            }
                            for p in everywhere
                        ],
                    }
                )
                [here] = queries.positions(
                    conn,
                    as_of=as_of,
                    demand_days=window,
                    skus=[item.sku],
                    locations=[location],
                    arriving_by=need_by,
                ) or [_empty(item.sku, location, conn)]
                here_of[(item.sku, location)] = here
            items = _one_per_group(items, here_of, default_location, supply, window, notes)
            for item in items:
                location = item.location or default_location
                here = here_of[(item.sku, location)]
                daily = _daily(here, window)
                level = _order_up_to(here, daily, supply)
                if item.qty is not None:
                    qty = item.qty if item.additional else item.qty - max(here.position, 0)
                    why = (
                        f"asked for {item.qty} more"
                        if item.additional
                        else f"asked for {item.qty}; position by {need_by} is {here.position}"
                    )
                    if qty < 1:
                        problems.append(
                            _problem(
                                f"{item.sku} @ {location}",
                                f"{here.position} units by {need_by} (on hand {here.on_hand}, on "
                                f"order {here.on_order}, reserved {here.reserved + here.backorders}) "
                                f"cover the {item.qty} asked for; nothing to order",
                            )
                        )
                        continue
                elif here.position < level:
                    qty = level - here.position
                    why = (
                        f"position by {need_by} is {here.position}, below the order-up-to level "
                        f"{level}"
                    )
                else:
                    problems.append(
                        _problem(
                            f"{item.sku} @ {location}",
                            f"not low: position {here.position} by {need_by} (on hand "
                            f"{here.on_hand}, on order {here.on_order}) is at or above the "
                            f"order-up-to level {level}; say how many you need (e.g. 'need 40 "
                            "more') to order anyway",
                        )
                    )
                    continue
                needs.append(_need(here, daily, level, qty, need_by, why))
        else:
            locations = [state["location"]] if state.get("location") else None
            found = queries.positions(
                conn,
                as_of=as_of,
                demand_days=window,
                skus=state.get("skus") or None,
                locations=locations,
                only_below_reorder_point=True,
                limit=supply.max_needs,
            )
            for p in found:
                daily = _daily(p, window)
                level = max(_order_up_to(p, daily, supply), (p.reorder_point or 0) + 1)
                qty = level - p.position
                need_by = given_need_by or _stockout(as_of, p, daily, supply)
                why = (
                    f"position {p.position} (on hand {p.on_hand} + on order {p.on_order} - "
                    f"reserved {p.reserved} - backorders {p.backorders}) is at or below the "
                    f"reorder point {p.reorder_point}; order up to {level}"
                )
                needs.append(_need(p, daily, level, qty, need_by, why))
    return {"needs": needs, "stock": stock, "problems": problems, "notes": notes}


def _one_per_group(
    items: list[ItemRequest],
    here_of: Mapping[tuple[str, str], queries.Position],
    default_location: str,
    supply: SupplySettings,
    window: int,
    notes: list[str],
) -> list[ItemRequest]:
    """Words that matched several SKUs with a quantity: the quantity goes to the SKU with the
    least cover against its order-up-to level (ties: the lower SKU); the others are named."""
    kept: list[ItemRequest] = []
    groups: dict[str, list[ItemRequest]] = {}
    for item in items:
        if item.group is None:
            kept.append(item)
        else:
            groups.setdefault(item.group, []).append(item)
    for phrase, members in groups.items():

        def cover(item: ItemRequest) -> tuple[int, str]:
            here = here_of[(item.sku, item.location or default_location)]
            return here.position - _order_up_to(here, _daily(here, window), supply), item.sku

        members.sort(key=cover)
        kept.append(members[0])
        others = ", ".join(m.sku for m in members[1:])
        notes.append(
            f"{phrase!r} matches {len(members)} products; the {members[0].qty} units go to "
            f"{members[0].sku}, the one with the least stock cover (also matched: {others}; "
            "name the SKU to order another)"
        )
    return kept


def _empty(sku: str, location: str, conn: Any) -> queries.Position:
    from sqlalchemy import select

    from orchestrator.store.services._core import PRODUCT

    name = conn.execute(select(PRODUCT.c.name).where(PRODUCT.c.sku == sku)).scalar_one_or_none()
    return queries.Position(
        sku=sku,
        location=location,
        name=str(name or ""),
        on_hand=0,
        on_order=0,
        reserved=0,
        backorders=0,
        reorder_point=None,
        order_up_to=None,
        demand_units=0,
    )


def _need(
    p: queries.Position, daily: float, level: int, qty: int, need_by: date, why: str
) -> dict[str, Any]:
    return Need(
        sku=p.sku,
        name=p.name,
        location=p.location,
        on_hand=p.on_hand,
        on_order=p.on_order,
        reserved=p.reserved,
        backorders=p.backorders,
        position=p.position,
        reorder_point=p.reorder_point,
        order_up_to=level,
        daily_demand=round(daily, 3),
        need_qty=qty,
        need_by=need_by.isoformat(),
        reason=why,
    ).model_dump()


# --- supplier choice ------------------------------------------------------------------------


def choose(state: SupplyChainState, *, services: Services) -> dict[str, Any]:
    """Score every usable offer per need (formula in `scoring`) and keep the best."""
    supply = _supply(services)
    as_of = date.fromisoformat(state["as_of"])
    needs = [Need.model_validate(n) for n in state.get("needs", [])]
    problems = list(state.get("problems", []))
    with services.store.engine.connect() as conn:
        by_sku = queries.offers(conn, [n.sku for n in needs])
        history = queries.on_time_history(conn, as_of=as_of)
    notes = list(state.get("notes", []))
    stock = {entry["sku"]: entry["levels"] for entry in state.get("stock", [])}
    choices: list[dict[str, Any]] = []
    refused_seen: set[int] = set()
    for need in needs:
        usable = []
        for offer in by_sku.get(need.sku, []):
            why = offer_problem(offer)
            if why is None:
                usable.append(offer)
            elif offer.offer_id not in refused_seen:
                refused_seen.add(offer.offer_id)
                problems.append(_problem(f"{need.sku} offer {offer.offer_id}", why))
        if not usable:
            problems.append(
                _problem(
                    f"{need.sku} @ {need.location}",
                    f"no supplier has a usable offer for {need.sku}; {need.need_qty} units "
                    "needed were not ordered (add an offer, then run again)",
                )
            )
            continue
        options = score_offers(
            usable,
            need_qty=need.need_qty,
            need_by=date.fromisoformat(need.need_by),
            today=as_of,
            history=history,
            settings=supply,
        )
        if state.get("urgent") and all(o.late_days > 0 for o in options):
            fastest = min(options, key=lambda o: (o.lead_time_days, -o.score))
            elsewhere = [
                f"{lv['location']} has {lv['available']} available"
                for lv in stock.get(need.sku, [])
                if lv["location"] != need.location and lv["available"] > 0
            ]
            notes.append(
                f"no supplier delivers {need.sku} by {need.need_by}: the fastest "
                f"({fastest.supplier_name}, {fastest.lead_time_days} days) arrives {fastest.arrives}"
                + (
                    "; " + ", ".join(elsewhere) + ": a transfer would be sooner"
                    if elsewhere
                    else ""
                )
            )
        choices.append(
            Choice(
                sku=need.sku,
                name=need.name,
                location=need.location,
                need_qty=need.need_qty,
                need_by=need.need_by,
                chosen=options[0],
                alternatives=options[1:],
            ).model_dump()
        )
    return {"choices": choices, "problems": problems, "notes": notes}


class Explanation(BaseModel):
    """Why one supplier was chosen, in the model's words."""

    model_config = ConfigDict(extra="ignore")

    sku: str = Field(max_length=64)
    location: str = Field(default="", max_length=32)
    text: str = Field(max_length=400, description="One or two sentences; only the figures given.")


class Explanations(BaseModel):
    """The model's explanations, one per choice."""

    model_config = ConfigDict(extra="ignore")

    items: list[Explanation] = Field(default_factory=list, max_length=20)


def _facts(choice: Choice) -> dict[str, Any]:
    c = choice.chosen
    facts: dict[str, Any] = {
        "sku": choice.sku,
        "location": choice.location,
        "need_qty": choice.need_qty,
        "need_by": choice.need_by,
        "supplier": c.supplier_name,
        "order_qty": c.order_qty,
        "unit_cost": money(c.unit_cost_cents),
        "landed_unit_cost": money(c.landed_unit_cents),
        "lead_time_days": c.lead_time_days,
        "arrives": c.arrives,
        "days_late": c.late_days,
        "on_time_percent": round(c.on_time_rate * 100),
        "moq": c.moq,
        "score": c.score,
    }
    if choice.alternatives:
        alt = choice.alternatives[0]
        facts["next_best"] = {
            "supplier": alt.supplier_name,
            "score": alt.score,
            "landed_unit_cost": money(alt.landed_unit_cents),
            "lead_time_days": alt.lead_time_days,
        }
    return facts


def template_explanation(choice: Choice) -> str:
    """The deterministic explanation of a choice, built from its figures."""
    c = choice.chosen
    timing = (
        f"arrives {c.arrives}, in time for {choice.need_by}"
        if c.late_days == 0
        else f"arrives {c.arrives}, {c.late_days} day(s) after {choice.need_by}"
    )
    text = (
        f"{c.supplier_name} scores {c.score:.3f}: landed {money(c.landed_unit_cents)} a unit "
        f"({c.order_qty} units, MOQ {c.moq}), {c.lead_time_days}-day lead time ({timing}), "
        f"{round(c.on_time_rate * 100)}% on time ({c.history})."
    )
    if choice.alternatives:
        alt = choice.alternatives[0]
        text += (
            f" Next best: {alt.supplier_name} at {alt.score:.3f} (landed "
            f"{money(alt.landed_unit_cents)}, {alt.lead_time_days} days)."
        )
    else:
        text += " It is the only supplier with an offer."
    return text


_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")


def _numbers(value: Any) -> set[str]:
    found: set[str] = set()
    for token in _NUMBER.findall(json.dumps(value)):
        plain = token.replace(",", "")
        found.add(plain)
        if "." in plain:
            found.add(plain.rstrip("0").rstrip("."))
    return found


def explanation_ok(text: str, choice: Choice) -> bool:
    """A model's explanation is used only if it names the chosen supplier and every number in
    it is one of the choice's figures (the model may not change numbers)."""
    if choice.chosen.supplier_name.lower() not in text.lower():
        return False
    allowed = _numbers(_facts(choice))
    for token in _NUMBER.findall(text):
        plain = token.replace(",", "")
        if plain not in allowed and plain.rstrip("0").rstrip(".") not in allowed:
            return False
    return True


def explain(state: SupplyChainState, *, model: Any) -> dict[str, Any]:
    """The model explains each choice from its figures; code keeps only faithful explanations."""
    choices = [Choice.model_validate(c) for c in state.get("choices", [])]
    if not choices:
        return {"choices": []}
    # The model explains the biggest orders (a small local model writes ~50 tokens a second);
    # the rest, and any explanation that fails the check, get the template.
    biggest = sorted(choices, key=lambda c: -c.chosen.order_qty * c.chosen.unit_cost_cents)[
        :EXPLAIN_AT_MOST
    ]
    facts = [_facts(c) for c in biggest]
    prompt = [
        (
            "system",
            "You explain a buyer's supplier choices to a shop manager. For each item, write one "
            "or two sentences saying why the supplier was chosen, using only the figures given "
            "(cost, lead time, arrival against the need date, on-time rate, MOQ). Do not invent "
            "or change numbers. Answer with JSON only.",
        ),
        ("user", json.dumps({"choices": facts})),
    ]
    proposal = propose(model, prompt, Explanations, fallback=lambda: Explanations(items=[]))
    written: dict[tuple[str, str], str] = {}
    if proposal.source == "model":
        for e in proposal.value.items:
            written.setdefault((e.sku, e.location), e.text.strip())
            written.setdefault((e.sku, ""), e.text.strip())
    out: list[dict[str, Any]] = []
    for choice in choices:
        text = written.get((choice.sku, choice.location)) or written.get((choice.sku, ""), "")
        if text and explanation_ok(text, choice):
            choice.explanation, choice.explanation_source = text, "model"
        else:
            choice.explanation, choice.explanation_source = template_explanation(choice), "template"
        out.append(choice.model_dump())
    return {"choices": out}


# --- draft and budget -----------------------------------------------------------------------


def draft(state: SupplyChainState, *, services: Services) -> dict[str, Any]:
    """Group the choices by supplier and location into purchase orders; check the budget."""
    supply = _supply(services)
    as_of = date.fromisoformat(state["as_of"])
    groups: dict[tuple[int, str], list[Choice]] = {}
    for raw in state.get("choices", []):
        choice = Choice.model_validate(raw)
        groups.setdefault((choice.chosen.supplier_id, choice.location), []).append(choice)
    orders: list[dict[str, Any]] = []
    for (supplier_id, location), chosen in sorted(groups.items()):
        # One line per SKU: the same SKU asked for twice is one line with both quantities.
        merged: dict[str, DraftLine] = {}
        for c in sorted(chosen, key=lambda c: c.sku):
            if c.sku in merged:
                merged[c.sku].qty += c.need_qty
            else:
                merged[c.sku] = DraftLine(
                    sku=c.sku,
                    qty=c.chosen.order_qty,
                    unit_cost_cents=c.chosen.unit_cost_cents,
                    moq=c.chosen.moq,
                )
        lines = list(merged.values())
        lead = max(c.chosen.lead_time_days for c in chosen)
        orders.append(
            DraftOrder(
                key=f"{supplier_id}@{location}",
                supplier_id=supplier_id,
                supplier_name=chosen[0].chosen.supplier_name,
                location=location,
                lines=lines,
                total_cents=sum(ln.qty * ln.unit_cost_cents for ln in lines),
                expected_at=(as_of + timedelta(days=lead)).isoformat(),
            ).model_dump()
        )
    total = sum(o["total_cents"] for o in orders)
    budget = int(supply.budget_per_run * Decimal(100))
    threshold = (
        None if supply.approval_threshold is None else int(supply.approval_threshold * Decimal(100))
    )
    reasons: list[str] = []
    if total > budget:
        reasons.append(f"the run's orders total {money(total)}, above the budget {money(budget)}")
    if threshold is not None:
        for o in orders:
            if o["total_cents"] > threshold:
                reasons.append(
                    f"the order to {o['supplier_name']} ({o['key']}) totals "
                    f"{money(o['total_cents'])}, above {money(threshold)}"
                )
    if state.get("urgent") and orders:
        reasons.append(
            f"urgent request{' for ' + state['need_by'] if state.get('need_by') else ''}: "
            "the caller confirms the proposed order"
        )
    return {
        "orders": orders,
        "budget": {
            "total_cents": total,
            "budget_cents": budget,
            "threshold_cents": threshold,
            "reasons": reasons,
        },
    }


def budget_reason(state: SupplyChainState) -> str | None:
    """Why a person must approve the run's orders, or None (also None on a dry run)."""
    if state.get("dry_run") or not state.get("orders"):
        return None
    reasons = state.get("budget", {}).get("reasons") or []
    return "; ".join(reasons)[:500] if reasons else None


def budget_arguments(state: SupplyChainState) -> dict[str, Any]:
    """What the person approves (or edits): the orders, their lines and the totals."""
    orders = [DraftOrder.model_validate(o) for o in state.get("orders", [])]
    return {
        "orders": [
            {
                "supplier_id": o.supplier_id,
                "supplier": o.supplier_name,
                "location": o.location,
                "lines": [
                    {"sku": ln.sku, "qty": ln.qty, "unit_cost_cents": ln.unit_cost_cents}
                    for ln in o.lines
                ],
                "total_cents": o.total_cents,
                "expected_at": o.expected_at,
            }
            for o in orders
        ],
        "total_cents": sum(o.total_cents for o in orders),
        "budget_cents": state.get("budget", {}).get("budget_cents"),
    }


def approved_orders(
    state: SupplyChainState, problems: list[dict[str, Any]]
) -> tuple[list[DraftOrder], list[dict[str, Any]]]:
    """The orders to send after the budget gate: all, none (rejected), or as a person edited.

    An edit may drop orders or lines and change quantities (at least the MOQ); unit costs,
    suppliers and SKUs come from the draft, never from the edit. Returns the orders and the
    `SentOrder`s of those not sent.
    """
    drafts = [DraftOrder.model_validate(o) for o in state.get("orders", [])]
    decision = state.get("approval") or {}
    if not decision.get("approved", False):
        note = decision.get("note") or ""
        who = decision.get("decided_by") or "a person"
        return [], [
            SentOrder(
                key=d.key,
                supplier_id=d.supplier_id,
                location=d.location,
                status="rejected",
                total_cents=d.total_cents,
                detail=f"rejected by {who}" + (f": {note}" if note else ""),
            ).model_dump()
            for d in drafts
        ]
    if decision.get("approval_id") is None:
        return drafts, []
    edited = decision.get("arguments") or {}
    wanted = edited.get("orders") if isinstance(edited, Mapping) else None
    if not isinstance(wanted, list):
        problems.append(_problem("approval", "the approved arguments have no 'orders' list"))
        return [], []
    index = {(d.supplier_id, d.location): d for d in drafts}
    result: list[DraftOrder] = []
    kept: set[tuple[int, str]] = set()
    for i, raw in enumerate(wanted):
        if not isinstance(raw, Mapping):
            problems.append(_problem(f"approval.orders[{i}]", "not an object; ignored"))
            continue
        found = index.get((raw.get("supplier_id"), raw.get("location")))  # type: ignore[arg-type]
        if found is None:
            problems.append(
                _problem(
                    f"approval.orders[{i}]",
                    f"supplier {raw.get('supplier_id')!r} at {raw.get('location')!r} was not "
                    "proposed; an edit can change quantities or drop orders, not add them",
                )
            )
            continue
        by_sku = {ln.sku: ln for ln in found.lines}
        lines: list[DraftLine] = []
        for j, line in enumerate(raw.get("lines") or []):
            sku = line.get("sku") if isinstance(line, Mapping) else None
            qty = line.get("qty") if isinstance(line, Mapping) else None
            where = f"approval.orders[{i}].lines[{j}]"
            if sku not in by_sku:
                problems.append(_problem(where, f"SKU {sku!r} is not on the proposed order"))
                continue
            base = by_sku[sku]
            if not isinstance(qty, int) or isinstance(qty, bool) or qty < 1:
                problems.append(_problem(where, f"quantity {qty!r}: expected a whole number >= 1"))
                continue
            if qty < base.moq:
                problems.append(
                    _problem(where, f"quantity {qty} is below the supplier's MOQ {base.moq}")
                )
                continue
            lines.append(base.model_copy(update={"qty": qty}))
        kept.add((found.supplier_id, found.location))
        if lines:
            result.append(
                found.model_copy(
                    update={
                        "lines": lines,
                        "total_cents": sum(ln.qty * ln.unit_cost_cents for ln in lines),
                    }
                )
            )
    skipped = [
        SentOrder(
            key=d.key,
            supplier_id=d.supplier_id,
            location=d.location,
            status="skipped",
            total_cents=d.total_cents,
            detail="dropped by the approver's edit",
        ).model_dump()
        for d in drafts
        if (d.supplier_id, d.location) not in kept or not any(o.key == d.key for o in result)
    ]
    return result, skipped


def send(
    state: SupplyChainState, config: Any, runtime: Any, *, services: Services
) -> dict[str, Any]:
    """Send the approved orders (`create_purchase_order`, one keyed write each)."""
    problems = list(state.get("problems", []))
    orders, sent = approved_orders(state, problems)
    if orders:
        ctx = services.node_context(config, runtime.context, agent=AGENT)
    for order in orders:
        args = {
            "supplier_id": order.supplier_id,
            "location": order.location,
            "lines": [
                {"sku": ln.sku, "qty": ln.qty, "unit_cost_cents": ln.unit_cost_cents}
                for ln in order.lines
            ],
            "expected_at": order.expected_at,
        }
        outcome = SentOrder(
            key=order.key,
            supplier_id=order.supplier_id,
            location=order.location,
            status="sent",
            total_cents=order.total_cents,
        )
        try:
            view = services.invoke(ctx, "create_purchase_order", args, call_id=f"po:{order.key}")
        except ApprovalRejected as exc:
            outcome.status, outcome.detail = (
                "rejected",
                exc.reason if hasattr(exc, "reason") else str(exc),
            )
        except OrchestratorError as exc:
            outcome.status, outcome.detail = "refused", f"{type(exc).__name__}: {exc}"
        else:
            outcome.po_id = int(view.id)
            outcome.total_cents = int(view.total_cents)
            outcome.detail = f"purchase order {view.id} {view.status}"
        sent.append(outcome.model_dump())
    return {
        "orders": [o.model_dump() for o in orders],
        "sent": sent,
        "problems": problems,
    }


# --- late deliveries ------------------------------------------------------------------------


def _escalated_before(services: Services) -> set[int]:
    """Purchase orders already put to a person by an earlier escalation (any decision)."""
    from sqlalchemy import select

    from orchestrator.store.services._core import APPROVAL

    seen: set[int] = set()
    with services.store.engine.connect() as conn:
        for (arguments,) in conn.execute(
            select(APPROVAL.c.arguments).where(APPROVAL.c.tool == ESCALATION_SUBJECT)
        ):
            for action in (arguments or {}).get("actions", []):
                if isinstance(action, Mapping) and isinstance(action.get("po_id"), int):
                    seen.add(action["po_id"])
    return seen


def check_late(state: SupplyChainState, *, services: Services) -> dict[str, Any]:
    """Find sent purchase orders past their expected date and propose what to do.

    Re-source (cancel, and order the outstanding units from an alternate supplier) when
    nothing has arrived, it is at least `resource_after_days` late and one other supplier
    offers every outstanding line; otherwise expedite (chase the supplier).
    """
    if state.get("mode") == "receive" or not state.get("escalate", True):
        return {"late": []}
    supply = _supply(services)
    as_of = date.fromisoformat(state["as_of"])
    with services.store.engine.connect() as conn:
        late = queries.late_orders(
            conn,
            as_of=as_of,
            grace_days=supply.late_grace_days,
            locations=[state["location"]] if state.get("location") else None,
        )
        skus = sorted({sku for order in late for sku in order.outstanding})
        by_sku = queries.offers(conn, skus)
        history = queries.on_time_history(conn, as_of=as_of)
    done_before = _escalated_before(services)
    actions: list[dict[str, Any]] = []
    for order in late:
        if order.po_id in done_before:
            continue
        alternate: SupplierOption | None = None
        if not order.received_any and order.days_late >= supply.resource_after_days:
            alternate = _alternate(order, by_sku, history, as_of, supply)
        if alternate is not None:
            reason = (
                f"{order.days_late} days late and nothing received: cancel and re-order from "
                f"{alternate.supplier_name} ({alternate.lead_time_days}-day lead time, arrives "
                f"{alternate.arrives})"
            )
        else:
            reason = f"{order.days_late} days late: ask {order.supplier_name} to expedite" + (
                " (partly received)" if order.received_any else ""
            )
        actions.append(
            LateAction(
                po_id=order.po_id,
                supplier_id=order.supplier_id,
                supplier_name=order.supplier_name,
                supplier_email=order.supplier_email,
                location=order.location,
                expected_at=order.expected_at.isoformat(),
                days_late=order.days_late,
                outstanding=order.outstanding,
                action="resource" if alternate else "expedite",
                alternate_supplier_id=alternate.supplier_id if alternate else None,
                alternate_supplier_name=alternate.supplier_name if alternate else None,
                reason=reason,
                status="listed" if state.get("dry_run") else "proposed",
            ).model_dump()
        )
    return {"late": actions}


def _alternate(
    order: queries.LateOrder,
    by_sku: Mapping[str, Sequence[queries.OfferRow]],
    history: Mapping[int, tuple[int, int]],
    as_of: date,
    supply: SupplySettings,
) -> SupplierOption | None:
    """The best other supplier offering every outstanding line (by the summed scores)."""
    totals: dict[int, float] = {}
    options: dict[int, SupplierOption] = {}
    for sku, qty in order.outstanding.items():
        usable = [
            o
            for o in by_sku.get(sku, [])
            if o.supplier_id != order.supplier_id and not offer_problem(o)
        ]
        scored = score_offers(
            usable, need_qty=qty, need_by=as_of, today=as_of, history=history, settings=supply
        )
        seen = {o.supplier_id for o in scored}
        if not totals:
            totals = {o.supplier_id: o.score for o in scored}
            options = {o.supplier_id: o for o in scored}
        else:
            totals = {
                s: v + next(o.score for o in scored if o.supplier_id == s)
                for s, v in totals.items()
                if s in seen
            }
            options = {s: o for s, o in options.items() if s in seen}
        if not totals:
            return None
    if not totals:
        return None
    best = min(totals, key=lambda s: (-totals[s], s))
    return options[best]


def escalation_reason(state: SupplyChainState) -> str | None:
    """Why a person must decide on late purchase orders, or None."""
    if state.get("dry_run"):
        return None
    actions = [a for a in state.get("late", []) if a.get("status") == "proposed"]
    if not actions:
        return None
    resource = sum(1 for a in actions if a["action"] == "resource")
    return (
        f"{len(actions)} purchase order(s) are late: {resource} to re-source, "
        f"{len(actions) - resource} to expedite"
    )


def escalation_arguments(state: SupplyChainState) -> dict[str, Any]:
    """What the person decides on: one action per late purchase order."""
    return {
        "actions": [
            {
                "po_id": a["po_id"],
                "action": a["action"],
                "supplier": a["supplier_name"],
                "days_late": a["days_late"],
                "alternate_supplier_id": a["alternate_supplier_id"],
            }
            for a in state.get("late", [])
            if a.get("status") == "proposed"
        ]
    }


def resolve_late(
    state: SupplyChainState, config: Any, runtime: Any, *, services: Services
) -> dict[str, Any]:
    """Carry out the approved escalation: re-source (cancel + re-order) or expedite.

    An edit may drop actions or turn a re-source into an expedite; nothing else. Expediting
    writes nothing: the approval is the record, and the report lists whom to chase.
    """
    late = [LateAction.model_validate(a) for a in state.get("late", [])]
    decision = state.get("escalation") or {}
    problems = list(state.get("problems", []))
    if not any(a.status == "proposed" for a in late):
        return {"late": [a.model_dump() for a in late]}
    if not decision.get("approved", False):
        for a in late:
            if a.status == "proposed":
                a.status = "rejected"
                a.detail = f"rejected by {decision.get('decided_by') or 'a person'}" + (
                    f": {decision['note']}" if decision.get("note") else ""
                )
        return {"late": [a.model_dump() for a in late]}
    chosen: dict[int, str] = {}
    for raw in (decision.get("arguments") or {}).get("actions", []):
        if isinstance(raw, Mapping) and isinstance(raw.get("po_id"), int):
            chosen[raw["po_id"]] = str(raw.get("action"))
    ctx = services.node_context(config, runtime.context, agent=AGENT)
    for a in late:
        if a.status != "proposed":
            continue
        wanted = chosen.get(a.po_id)
        if wanted is None:
            a.status, a.detail = "rejected", "dropped by the approver's edit"
            continue
        if wanted == "expedite" or a.action == "expedite":
            a.action, a.status = "expedite", "done"
            a.detail = f"chase {a.supplier_name}" + (
                f" <{a.supplier_email}>" if a.supplier_email else ""
            )
            continue
        if wanted != "resource" or a.alternate_supplier_id is None:
            problems.append(
                _problem(f"PO {a.po_id}", f"action {wanted!r} is not expedite or resource")
            )
            a.status = "refused"
            continue
        try:
            services.store.cancel_purchase_order(
                a.po_id,
                reason=f"late by {a.days_late} days; re-sourced to {a.alternate_supplier_name}",
                actor=ctx.make_actor(),
                idempotency_key=ctx.write_key(f"cancel:{a.po_id}"),
            )
            as_of = date.fromisoformat(state["as_of"])
            args = {
                "supplier_id": a.alternate_supplier_id,
                "location": a.location,
                "lines": [{"sku": sku, "qty": qty} for sku, qty in sorted(a.outstanding.items())],
            }
            view = services.invoke(
                ctx, "create_purchase_order", args, call_id=f"resource:{a.po_id}"
            )
        except OrchestratorError as exc:
            a.status, a.detail = "refused", f"{type(exc).__name__}: {exc}"
            continue
        a.status, a.new_po_id = "done", int(view.id)
        a.detail = f"cancelled; re-ordered as purchase order {view.id} ({as_of})"
    return {"late": [a.model_dump() for a in late], "problems": problems}


# --- receive --------------------------------------------------------------------------------


def receive(
    state: SupplyChainState, config: Any, runtime: Any, *, services: Services
) -> dict[str, Any]:
    """Book goods against a purchase order: the lines given, or everything outstanding.

    Checked first (nothing is written otherwise): the order is open, every SKU is on it, every
    quantity is a whole number >= 1 and at most what is outstanding.
    """
    po_id = int(state["po_id"])
    problems = list(state.get("problems", []))
    received = state.get("received") or None
    po = services.store.get_purchase_order(po_id)
    outstanding = {ln.sku: ln.qty_ordered - ln.qty_received for ln in po.lines}
    if received is not None:
        if not isinstance(received, Mapping):
            raise InvalidInput("received", received, "expected {sku: units, ...}")
        for sku, qty in received.items():
            if sku not in outstanding:
                problems.append(
                    _problem(f"PO {po_id}", f"{sku!r} is not a line of purchase order {po_id}")
                )
            elif not isinstance(qty, int) or isinstance(qty, bool) or qty < 1:
                problems.append(_problem(f"PO {po_id} {sku}", f"quantity {qty!r}: expected >= 1"))
            elif qty > outstanding[sku]:
                problems.append(
                    _problem(
                        f"PO {po_id} {sku}",
                        f"receiving {qty} is more than ordered: only {outstanding[sku]} of "
                        f"{next(ln.qty_ordered for ln in po.lines if ln.sku == sku)} are "
                        "outstanding; nothing was received",
                    )
                )
    if problems:
        return {"problems": problems}
    ctx = services.node_context(config, runtime.context, agent=AGENT)
    args: dict[str, Any] = {"po_id": po_id}
    if received is not None:
        args["lines"] = [{"sku": sku, "qty": qty} for sku, qty in sorted(received.items())]
    try:
        view = services.invoke(ctx, "receive_purchase_order", args, call_id=f"receive:{po_id}")
    except OrchestratorError as exc:
        return {"problems": [*problems, _problem(f"PO {po_id}", f"{type(exc).__name__}: {exc}")]}
    as_of = date.fromisoformat(state["as_of"])
    late = (as_of - view.expected_at).days if view.expected_at else 0
    got = (
        dict(received) if received is not None else {k: v for k, v in outstanding.items() if v > 0}
    )
    receipt = Receipt(
        po_id=po_id,
        received=got,
        status=str(view.status),
        outstanding={
            ln.sku: ln.qty_ordered - ln.qty_received
            for ln in view.lines
            if ln.qty_ordered > ln.qty_received
        },
        late_days=max(0, late),
        replayed=bool(getattr(view, "replayed", False)),
    )
    return {"receipt": receipt.model_dump(), "problems": problems}
