"""What the pricing graph reads from the store: products, stock and cover, promotions, expiry,
daily sales (aggregated in SQL) and the list-price history; competitor prices from a CSV."""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import numpy as np
from sqlalchemy import Date, Table, func, select
from sqlalchemy import cast as sql_cast
from sqlalchemy.engine import Engine

from orchestrator.errors import InvalidInput
from orchestrator.graphs.pricing.elasticity import SkuHistory
from orchestrator.store import models as m

__all__ = ["as_of_date", "load_competitors", "load_histories", "load_products", "open_promotion"]

_SOLD = ("sale", "shipment")


def _t(model: Any) -> Table:
    return cast(Table, model.__table__)


def as_of_date(engine: Engine) -> date:
    """Today for the store: the day after its newest ledger row (the seeded world's today)."""
    with engine.connect() as conn:
        newest = conn.execute(select(func.max(_t(m.StockLedger).c.created_at))).scalar()
    return (newest.date() if newest else datetime.now(UTC).date()) + timedelta(days=1)


def _promotions(attributes: Any) -> list[dict[str, Any]]:
    """The well-formed promotion windows listed in a product's attributes."""
    found = []
    raw = attributes.get("promotions") if isinstance(attributes, dict) else None
    for item in raw if isinstance(raw, list) else []:
        try:
            start = date.fromisoformat(str(item["start"]))
            end = date.fromisoformat(str(item["end"]))
            pct = float(item["discount_pct"])
        except (KeyError, TypeError, ValueError):
            continue
        if math.isfinite(pct) and 0 < pct < 100 and start <= end:
            found.append({"id": str(item.get("id", "")), "start": start, "end": end, "pct": pct})
    return found


def open_promotion(attributes: Any, day: date) -> str | None:
    """The id of the promotion running on `day`, if any."""
    for promo in _promotions(attributes):
        if promo["start"] <= day <= promo["end"]:
            return str(promo["id"] or "a promotion")
    return None


def load_products(
    engine: Engine, *, as_of: date, category: str | None = None
) -> list[dict[str, Any]]:
    """Active products (of one category) with price, cost, stock and 28-day demand."""
    product, stock, ledger = _t(m.Product), _t(m.Stock), _t(m.StockLedger)
    end = datetime(as_of.year, as_of.month, as_of.day, tzinfo=UTC)
    stmt = select(
        product.c.sku,
        product.c.name,
        product.c.category,
        product.c.price_cents,
        product.c.cost_cents,
        product.c.perishable,
        product.c.attributes,
    ).where(product.c.active.is_(True))
    if category is not None:
        stmt = stmt.where(product.c.category == category)
    with engine.connect() as conn:
        rows = conn.execute(stmt.order_by(product.c.sku)).all()
        levels = {
            str(sku): (int(on_hand or 0), int(available or 0))
            for sku, on_hand, available in conn.execute(
                select(
                    stock.c.sku,
                    func.sum(stock.c.on_hand),
                    func.sum(stock.c.on_hand - stock.c.reserved),
                ).group_by(stock.c.sku)
            )
        }
        sold = {
            str(sku): int(units or 0)
            for sku, units in conn.execute(
                select(ledger.c.sku, func.sum(-ledger.c.delta))
                .where(
                    ledger.c.kind.in_(_SOLD),
                    ledger.c.created_at >= end - timedelta(days=28),
                    ledger.c.created_at < end,
                )
                .group_by(ledger.c.sku)
            )
        }
    out = []
    for sku, name, cat, price, cost, perishable, attributes in rows:
        on_hand, available = levels.get(str(sku), (0, 0))
        daily = sold.get(str(sku), 0) / 28
        out.append(
            {
                "sku": str(sku),
                "name": str(name),
                "category": str(cat),
                "price_cents": int(price),
                "cost_cents": int(cost),
                "perishable": bool(perishable),
                "on_hand": on_hand,
                "available": available,
                "daily_units_28d": round(daily, 3),
                "days_of_cover": round(max(available, 0) / daily, 1) if daily > 0 else None,
                "open_promotion": open_promotion(attributes, as_of),
            }
        )
    return out


def load_histories(
    engine: Engine,
    products: Sequence[dict[str, Any]],
    *,
    as_of: date,
    days: int,
) -> tuple[list[SkuHistory], date]:
    """Each product's daily units, charged price and promotion flag over the `days` before
    `as_of` (trimmed to the first day with any sale). Units are summed per SKU and day in SQL.

    Returns:
        The histories and the first day of the window.
    """
    product, ledger, history = _t(m.Product), _t(m.StockLedger), _t(m.PriceHistory)
    skus = [p["sku"] for p in products]
    end = datetime(as_of.year, as_of.month, as_of.day, tzinfo=UTC)
    since = end - timedelta(days=days)
    with engine.connect() as conn:
        day = (
            func.date(ledger.c.created_at)
            if conn.dialect.name == "sqlite"
            else sql_cast(func.timezone("UTC", ledger.c.created_at), Date)
        )
        rows = conn.execute(
            select(ledger.c.sku, day, func.sum(-ledger.c.delta))
            .where(
                ledger.c.kind.in_(_SOLD),
                ledger.c.created_at >= since,
                ledger.c.created_at < end,
                ledger.c.sku.in_(skus),
            )
            .group_by(ledger.c.sku, day)
        ).all()
        attributes = dict(
            conn.execute(
                select(product.c.sku, product.c.attributes).where(product.c.sku.in_(skus))
            ).all()
        )
        changes: dict[str, list[tuple[date, int, int]]] = defaultdict(list)
        for sku, at, old, new in conn.execute(
            select(
                history.c.sku,
                history.c.created_at,
                history.c.old_price_cents,
                history.c.new_price_cents,
            )
            .where(history.c.sku.in_(skus))
            .order_by(history.c.created_at, history.c.id)
        ):
            changes[str(sku)].append((at.astimezone(UTC).date(), int(old), int(new)))
    parsed = [
        (str(s), d if isinstance(d, date) else date.fromisoformat(str(d)), int(q or 0))
        for s, d, q in rows
    ]
    first = min((d for _, d, q in parsed if q > 0), default=as_of - timedelta(days=1))
    start = max(since.date(), first)
    n = max((as_of - start).days, 0)
    index = {sku: i for i, sku in enumerate(skus)}
    units = np.zeros((len(skus), n))
    for sku, d, q in parsed:
        k = (d - start).days
        if 0 <= k < n:
            units[index[sku], k] += q
    dates = [start + timedelta(days=k) for k in range(n)]
    dow = np.array([d.weekday() for d in dates], dtype=np.int64)
    doy = np.array([d.timetuple().tm_yday - 1 for d in dates], dtype=np.float64)
    out = []
    for p in products:
        sku = p["sku"]
        list_price = np.full(n, float(p["price_cents"]))
        steps = changes.get(sku, [])
        if steps:
            list_price[:] = steps[0][1]
            for when, _old, new in steps:
                list_price[[k for k, d in enumerate(dates) if d >= when]] = new
        promo = np.zeros(n)
        charged = list_price.copy()
        for window in _promotions(attributes.get(sku)):
            for k, d in enumerate(dates):
                if window["start"] <= d <= window["end"]:
                    promo[k] = 1.0
                    charged[k] = list_price[k] * (1 - window["pct"] / 100)
        out.append(
            SkuHistory(
                sku=sku,
                category=p["category"],
                units=units[index[sku]],
                price=charged,
                promo=promo,
                day_of_week=dow,
                day_of_year=doy,
            )
        )
    return out, start


def load_competitors(path: str | Path) -> dict[str, int]:
    """Competitor prices from a CSV with columns `sku` and `price_cents` (or `price`, in units).

    Raises:
        InvalidInput: the file is missing, lacks the columns, or has a bad price (the message
            names the line).
    """
    file = Path(path)
    if not file.is_file():
        raise InvalidInput("competitors", str(path), "no such file: give a CSV with sku,price")
    prices: dict[str, int] = {}
    with file.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        fields = set(reader.fieldnames or [])
        if "sku" not in fields or not fields & {"price_cents", "price"}:
            raise InvalidInput(
                "competitors", str(path), "expected columns sku and price_cents (or price)"
            )
        for line, row in enumerate(reader, start=2):
            raw = row.get("price_cents") or ""
            try:
                cents = float(raw) if raw.strip() else float(row.get("price") or "") * 100
            except ValueError:
                raise InvalidInput(
                    "competitors",
                    f"line {line}",
                    f"price {raw or row.get('price')!r} is not a number",
                ) from None
            if not math.isfinite(cents) or cents <= 0:
                raise InvalidInput(
                    "competitors", f"line {line}", f"price {cents!r} must be positive"
                )
            sku = (row.get("sku") or "").strip()
            if sku:
                prices[sku] = round(cents)
    return prices
