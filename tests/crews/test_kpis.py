"""Weekly KPIs are computed in code, and agree with a plain recount of the books."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from orchestrator.crews import compute_weekly_kpis, markdown_candidates
from orchestrator.store import create_all, make_engine
from orchestrator.store.seed import seed


def test_kpis_agree_with_a_recount(shop_engine: Engine) -> None:
    kpis = compute_weekly_kpis(shop_engine)
    with shop_engine.connect() as conn:
        newest = conn.execute(text("SELECT max(created_at) FROM stock_ledger")).scalar()
        rows = conn.execute(
            text(
                "SELECT sku, delta, kind, created_at FROM stock_ledger WHERE kind IN ('sale', 'shipment')"
            )
        ).all()
        stock = conn.execute(text("SELECT sku, location, on_hand, reserved FROM stock")).all()
    newest_day = datetime.fromisoformat(str(newest)).date()
    assert kpis.as_of == newest_day + timedelta(days=1)
    end = datetime(kpis.as_of.year, kpis.as_of.month, kpis.as_of.day, tzinfo=UTC)

    def at(value: object) -> datetime:
        parsed = datetime.fromisoformat(str(value))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)

    week = sum(-d for _, d, _, t in rows if end - timedelta(days=7) <= at(t) < end)
    before = sum(
        -d for _, d, _, t in rows if end - timedelta(days=14) <= at(t) < end - timedelta(days=7)
    )
    assert kpis.sales.units == week > 0
    assert kpis.sales.previous_units == before
    assert kpis.sales.change_pct == round(100 * (week - before) / before, 1)
    assert kpis.stockouts.count == sum(1 for _, _, oh, r in stock if oh - r <= 0)
    assert kpis.fill_rate is None or 0 <= kpis.fill_rate <= 1
    assert all(po.days_late >= 1 for po in kpis.late_examples)
    assert kpis.late_purchase_orders >= len(kpis.late_examples)
    assert sum(kpis.audit.violations.values()) == 2  # the two injected anomalies
    assert kpis.sales.top_skus and kpis.sales.top_skus[0][1] >= kpis.sales.top_skus[-1][1]


@pytest.mark.postgres
def test_kpis_on_postgres(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    create_all(engine)
    seed(engine, skus=20, days=45, anomalies=0, reset=True)
    kpis = compute_weekly_kpis(engine, check_books=False)
    assert kpis.sales.units > 0
    assert kpis.audit.checked is False and kpis.audit.violations == {}
    cands = markdown_candidates(engine)  # GROUP BY the product's key: valid on PostgreSQL too
    assert all(c.reason in ("near_expiry", "overstock") for c in cands)
    engine.dispose()
