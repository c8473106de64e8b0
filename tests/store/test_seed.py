"""The demo-data seed: determinism, realism, balanced books, and an exact anomaly manifest."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from orchestrator.errors import ConfigError
from orchestrator.store import make_engine
from orchestrator.store import models as m
from orchestrator.store.seed import ANOMALY_KINDS, DEFAULT_END_DATE, SeedReport, seed
from orchestrator.testing import postgres_database

SMALL: dict[str, Any] = {"skus": 30, "days": 60, "customers": 1000}


@pytest.fixture(
    scope="module",
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ],
)
def seeded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Engine, SeedReport]]:
    """One small seeded store per engine (30 SKUs x 60 days, 7 anomalies), shared read-only."""
    with ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path_factory.mktemp('seed') / 'seeded.db'}"
        else:
            admin = request.getfixturevalue("postgres_admin_url")
            url = stack.enter_context(postgres_database(admin, prefix="orch_seed"))
        engine = make_engine(url)
        stack.callback(engine.dispose)
        yield engine, seed(engine, anomalies=7, seed=11, **SMALL)


def _dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    out: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for name, table in SQLModel.metadata.tables.items():
            rows = conn.execute(select(table).order_by(*table.primary_key.columns)).all()
            out[name] = [tuple(r) for r in rows]
    return out


def _scalar(engine: Engine, stmt: Any) -> Any:
    with engine.connect() as conn:
        return conn.execute(stmt).scalar_one()


def _rows(engine: Engine, sql: str, **params: Any) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(text(sql), params).all())


# --- determinism ----------------------------------------------------------------------------


def test_same_arguments_give_identical_rows_and_another_seed_differs(store_url: str) -> None:
    engine = make_engine(store_url)
    try:
        first = seed(engine, seed=5, anomalies=6, **SMALL)
        a = _dump(engine)
        again = seed(engine, seed=5, anomalies=6, reset=True, **SMALL)
        b = _dump(engine)
        assert a == b
        assert first.anomalies == again.anomalies
        assert first.counts == again.counts
        seed(engine, seed=6, anomalies=6, reset=True, **SMALL)
        c = _dump(engine)
        assert c["stock_ledger"] != a["stock_ledger"]
        assert c["customer"] != a["customer"]
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_sqlite_and_postgres_hold_the_same_rows(sqlite_url: str, postgres_url: str) -> None:
    dumps = []
    for url in (sqlite_url, postgres_url):
        engine = make_engine(url)
        try:
            seed(engine, seed=2, anomalies=6, skus=20, days=40, customers=200)
            dumps.append(_dump(engine))
        finally:
            engine.dispose()
    for name in dumps[0]:
        assert dumps[0][name] == dumps[1][name], name


# --- counts and realism ---------------------------------------------------------------------


def test_counts_cover_the_world(seeded: tuple[Engine, SeedReport]) -> None:
    engine, report = seeded
    assert report.counts["product"] == 30
    assert report.counts["customer"] >= 1000
    assert report.counts["supplier"] >= 20
    assert report.counts["location"] == 3
    assert report.ledger_rows == report.counts["stock_ledger"]
    assert report.ledger_rows == _scalar(engine, select(func.count()).select_from(m.StockLedger))
    worlds = {r[0] for r in _rows(engine, "SELECT DISTINCT category FROM product")}
    assert {"stem-kits", "sensors", "dairy"} <= worlds
    assert _rows(engine, "SELECT count(*) FROM product WHERE perishable AND shelf_life_days > 0")[
        0
    ][0]
    # Several offers per SKU, with different costs and lead times.
    per_sku = _rows(
        engine,
        "SELECT sku, count(*), count(DISTINCT unit_cost_cents) FROM supplier_offer GROUP BY sku",
    )
    assert len(per_sku) == 30
    assert all(n >= 2 for _, n, _ in per_sku)
    assert sum(1 for *_, costs in per_sku if costs > 1) >= 20
    emails = _rows(engine, "SELECT count(DISTINCT email), count(*) FROM customer")[0]
    assert emails[0] == emails[1]
    assert all(
        e.endswith(("example.com", "example.org", "example.net"))
        for (e,) in _rows(engine, "SELECT email FROM customer")
    )


def test_every_status_is_present(seeded: tuple[Engine, SeedReport]) -> None:
    engine, _ = seeded
    orders = {r[0] for r in _rows(engine, "SELECT DISTINCT status FROM orders")}
    assert orders == {s.value for s in m.OrderStatus}
    pos = {r[0] for r in _rows(engine, "SELECT DISTINCT status FROM purchase_order")}
    assert pos == {s.value for s in m.PurchaseOrderStatus}
    txns = {r[0] for r in _rows(engine, "SELECT DISTINCT status FROM integration_transaction")}
    assert {"posted", "failed", "pending"} <= txns
    assert _rows(engine, "SELECT count(*) FROM returns")[0][0] > 0
    assert _rows(engine, "SELECT count(*) FROM support_ticket")[0][0] > 0
    kinds = {r[0] for r in _rows(engine, "SELECT DISTINCT kind FROM stock_ledger")}
    assert {"opening", "receipt", "sale", "shipment", "adjustment", "return"} <= kinds
    assert {"transfer_in", "transfer_out"} <= kinds
    # Shipped and delivered orders have a shipment and a captured payment.
    missing = _rows(
        engine,
        "SELECT o.id FROM orders o WHERE o.status IN ('shipped', 'delivered') AND ("
        "NOT EXISTS (SELECT 1 FROM shipment s WHERE s.order_id = o.id) OR "
        "NOT EXISTS (SELECT 1 FROM payment p WHERE p.order_id = o.id AND p.kind = 'capture'))",
    )
    assert missing == []


def test_posted_transactions_have_exactly_one_ledger_row(
    seeded: tuple[Engine, SeedReport],
) -> None:
    engine, report = seeded
    duplicated = {
        t for a in report.anomalies for t in a.transaction_ids if a.kind == "duplicate_posting"
    }
    rows = _rows(
        engine,
        "SELECT t.id, t.status, t.delta, count(l.id), min(l.delta) FROM integration_transaction t "
        "LEFT JOIN stock_ledger l ON l.ref_type = 'integration' AND l.ref_id = CAST(t.id AS VARCHAR(64)) "
        "GROUP BY t.id, t.status, t.delta",
    )
    for tid, status, delta, n, ledger_delta in rows:
        if status == "posted":
            assert n == (2 if tid in duplicated else 1), tid
            assert ledger_delta == delta
        else:
            assert n == 0, tid


def test_nothing_is_dated_after_the_anchor(seeded: tuple[Engine, SeedReport]) -> None:
    engine, report = seeded
    anchor = datetime(2026, 11, 1, tzinfo=UTC)
    assert report.end_date == DEFAULT_END_DATE
    with engine.connect() as conn:
        newest = conn.execute(select(func.max(m.StockLedger.created_at))).scalar_one()
        oldest = conn.execute(select(func.min(m.StockLedger.created_at))).scalar_one()
        latest_order = conn.execute(select(func.max(m.Order.updated_at))).scalar_one()
    for value in (newest, oldest, latest_order):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        assert value <= anchor
    first = oldest if oldest.tzinfo else oldest.replace(tzinfo=UTC)
    assert (anchor - first).days == 60


def test_low_stock_report_finds_some(seeded: tuple[Engine, SeedReport]) -> None:
    engine, _ = seeded
    low = _rows(
        engine,
        "SELECT count(*) FROM stock WHERE reorder_point IS NOT NULL "
        "AND on_hand - reserved < reorder_point",
    )[0][0]
    total = _rows(engine, "SELECT count(*) FROM stock")[0][0]
    assert 0 < low < total


def _sales_by(engine: Engine, where: str) -> dict[str, int]:
    rows = _rows(
        engine,
        "SELECT l.created_at, -l.delta FROM stock_ledger l JOIN product p ON p.sku = l.sku "
        f"WHERE l.kind = 'sale' AND l.actor = 'seed' AND {where}",
    )
    out: dict[str, int] = defaultdict(int)
    for at, qty in rows:
        at = at if isinstance(at, datetime) else datetime.fromisoformat(str(at))
        out[at.strftime("%a")] += qty
    return out


def test_grocery_peaks_at_weekends(seeded: tuple[Engine, SeedReport]) -> None:
    engine, _ = seeded
    by_day = _sales_by(
        engine, "p.category IN ('dairy', 'bakery', 'fresh', 'pantry', 'beverages', 'frozen', 'bbq')"
    )
    assert by_day["Sat"] > 1.25 * by_day["Tue"]


def test_intermittent_skus_have_many_zero_days(seeded: tuple[Engine, SeedReport]) -> None:
    engine, report = seeded
    assert report.intermittent_skus
    days_with_sales = dict(
        _rows(
            engine,
            "SELECT sku, count(DISTINCT date(created_at)) FROM stock_ledger "
            "WHERE kind = 'sale' AND location = 'WH-MAIN' AND actor = 'seed' GROUP BY sku",
        )
    )
    for sku in report.intermittent_skus:
        assert days_with_sales.get(sku, 0) <= 60 * 0.4, sku
    regular = [s for s in days_with_sales if s not in report.intermittent_skus]
    busy = sorted(days_with_sales[s] for s in regular)
    assert busy[len(busy) // 2] >= 60 * 0.5


def test_yearly_seasonality_and_promotions() -> None:
    engine = make_engine("sqlite://")
    try:
        report = seed(engine, skus=80, days=365, anomalies=0, customers=100, seed=4)
        assert report.promotions > 0
        stem = _rows(
            engine,
            "SELECT strftime('%m', l.created_at), -sum(l.delta) FROM stock_ledger l "
            "JOIN product p ON p.sku = l.sku WHERE l.kind = 'sale' AND p.category = 'stem-kits' "
            "GROUP BY 1",
        )
        by_month = {int(mo): q for mo, q in stem}
        assert by_month[12] > 1.5 * by_month[3]
        summer = _rows(
            engine,
            "SELECT strftime('%m', l.created_at), -sum(l.delta) FROM stock_ledger l "
            "JOIN product p ON p.sku = l.sku WHERE l.kind = 'sale' AND p.sku LIKE 'FRZ-ICE%' "
            "GROUP BY 1",
        )
        months = {int(mo): q for mo, q in summer}
        assert months[7] > 1.5 * months[1]
        promo = _rows(engine, "SELECT count(*) FROM stock_ledger WHERE reason LIKE 'promo PR-%'")
        assert promo[0][0] > 0
    finally:
        engine.dispose()


# --- balanced books and the anomaly manifest ------------------------------------------------


def _anomalous(report: SeedReport) -> set[tuple[str, str]]:
    return {(a.sku, a.location) for a in report.anomalies}


def test_books_balance_everywhere_but_the_anomalies(seeded: tuple[Engine, SeedReport]) -> None:
    engine, report = seeded
    ledger = dict(
        ((s, loc), int(total))
        for s, loc, total in _rows(
            engine, "SELECT sku, location, sum(delta) FROM stock_ledger GROUP BY sku, location"
        )
    )
    held = dict(
        ((s, loc), int(total))
        for s, loc, total in _rows(
            engine,
            "SELECT sku, location, sum(qty) FROM reservation WHERE status = 'open' "
            "GROUP BY sku, location",
        )
    )
    skip = _anomalous(report)
    checked = 0
    for sku, loc, on_hand, reserved in _rows(
        engine, "SELECT sku, location, on_hand, reserved FROM stock"
    ):
        if (sku, loc) in skip:
            continue
        checked += 1
        assert on_hand == ledger.get((sku, loc), 0), (sku, loc)
        assert reserved == held.get((sku, loc), 0), (sku, loc)
        assert 0 <= reserved <= on_hand, (sku, loc)
    assert checked == report.counts["stock"] - len(skip)


def test_each_anomaly_is_what_and_where_the_manifest_says(
    seeded: tuple[Engine, SeedReport],
) -> None:
    engine, report = seeded
    kinds = [a.kind for a in report.anomalies]
    assert kinds == [ANOMALY_KINDS[i % 6] for i in range(7)]
    assert len(_anomalous(report)) == 7
    for a in report.anomalies:
        ((on_hand, reserved),) = _rows(
            engine,
            "SELECT on_hand, reserved FROM stock WHERE sku = :s AND location = :l",
            s=a.sku,
            l=a.location,
        )
        ledger_sum = _rows(
            engine,
            "SELECT coalesce(sum(delta), 0) FROM stock_ledger WHERE sku = :s AND location = :l",
            s=a.sku,
            l=a.location,
        )[0][0]
        if a.kind == "negative_on_hand":
            assert on_hand < 0 and on_hand == ledger_sum and reserved == 0
            assert len(a.ledger_ids) == 1
        elif a.kind == "negative_available":
            assert 0 <= on_hand < reserved and on_hand == ledger_sum
            assert a.reservation_ids and a.order_ids
        elif a.kind == "ledger_mismatch":
            assert on_hand != ledger_sum and 0 <= reserved <= on_hand
        elif a.kind == "orphan_reservation":
            ((status, order_status),) = _rows(
                engine,
                "SELECT r.status, o.status FROM reservation r JOIN orders o ON o.id = r.order_id "
                "WHERE r.id = :r",
                r=a.reservation_ids[0],
            )
            assert (status, order_status) == ("open", "cancelled")
            assert on_hand == ledger_sum and reserved <= on_hand
        elif a.kind == "stuck_transaction":
            ((status, sku, loc),) = _rows(
                engine,
                "SELECT status, sku, location FROM integration_transaction WHERE id = :t",
                t=a.transaction_ids[0],
            )
            assert (status, sku, loc) == ("pending", a.sku, a.location)
        else:
            refs = _rows(
                engine,
                "SELECT id, sku, location FROM stock_ledger WHERE ref_type = 'integration' "
                "AND ref_id = :t ORDER BY id",
                t=str(a.transaction_ids[0]),
            )
            assert [r[0] for r in refs] == a.ledger_ids
            assert {(r[1], r[2]) for r in refs} == {(a.sku, a.location)}
            assert on_hand == ledger_sum
        for lid in a.ledger_ids:
            ((sku, loc),) = _rows(
                engine, "SELECT sku, location FROM stock_ledger WHERE id = :i", i=lid
            )
            assert (sku, loc) == (a.sku, a.location)


def test_check_invariants_finds_exactly_the_manifest(seeded: tuple[Engine, SeedReport]) -> None:
    from orchestrator.store.invariants import check_invariants

    engine, report = seeded
    found = check_invariants(engine)
    assert sorted((v.rule, v.sku, v.location) for v in found.violations) == sorted(
        (a.kind, a.sku, a.location) for a in report.anomalies
    )


def test_check_invariants_is_clean_without_anomalies(store_url: str) -> None:
    from orchestrator.store.invariants import check_invariants

    engine = make_engine(store_url)
    try:
        seed(engine, anomalies=0, seed=3, **SMALL)
        report = check_invariants(engine)
        assert report.ok, report.violations[:5]
    finally:
        engine.dispose()


# --- the write path -------------------------------------------------------------------------


def test_refuses_a_non_empty_store_and_reset_reseeds(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'twice.db'}")
    try:
        seed(engine, skus=12, days=30, customers=20, anomalies=1)
        with pytest.raises(ConfigError, match="already holds data") as info:
            seed(engine, skus=12, days=30, customers=20, anomalies=1)
        assert "--force" in str(info.value)
        report = seed(engine, skus=14, days=30, customers=20, anomalies=0, reset=True)
        assert _scalar(engine, select(func.count()).select_from(m.Product)) == 14
        assert report.anomalies == []
    finally:
        engine.dispose()


def test_one_audit_row_records_the_arguments(seeded: tuple[Engine, SeedReport]) -> None:
    engine, report = seeded
    with engine.connect() as conn:
        rows = conn.execute(select(m.AuditLog)).all()
    assert len(rows) == 1
    row = rows[0]
    assert row.operation == "seed"
    assert row.arguments["seed"] == 11 and row.arguments["skus"] == 30
    assert row.after["counts"]["stock_ledger"] == report.ledger_rows


def test_new_rows_after_the_seed_get_fresh_ids(store_url: str) -> None:
    engine = make_engine(store_url)
    try:
        seed(engine, skus=12, days=30, customers=20, anomalies=0)
        top = _scalar(engine, select(func.max(m.StockLedger.id)))
        sku = _rows(engine, "SELECT sku FROM product ORDER BY sku")[0][0]
        with engine.begin() as conn:
            conn.execute(
                m.StockLedger.__table__.insert().values(  # type: ignore[attr-defined]
                    sku=sku,
                    location="WH-MAIN",
                    delta=0,
                    kind="adjustment",
                    created_at=datetime.now(UTC),
                )
            )
        assert _scalar(engine, select(func.max(m.StockLedger.id))) == top + 1
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"skus": 3}, "skus"),
        ({"days": 5}, "days"),
        ({"customers": 0}, "customers"),
        ({"suppliers": 99}, "suppliers"),
        ({"anomalies": -1}, "anomalies"),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict[str, int], name: str) -> None:
    engine = make_engine("sqlite://")
    with pytest.raises(ConfigError, match=name):
        seed(engine, **kwargs)
    engine.dispose()


def test_progress_reports_phases() -> None:
    seen: dict[str, tuple[int, int]] = {}
    engine = make_engine("sqlite://")
    seed(
        engine,
        skus=12,
        days=30,
        customers=20,
        anomalies=0,
        progress=lambda p, d, t: seen.update({p: (d, t)}),
    )
    engine.dispose()
    assert seen["simulate"][0] == seen["simulate"][1]
    assert seen["write stock_ledger"][0] == seen["write stock_ledger"][1] > 0


def test_end_date_moves_the_world() -> None:
    engine = make_engine("sqlite://")
    seed(engine, skus=12, days=30, customers=20, anomalies=0, end_date=date(2025, 3, 1))
    newest = _scalar(engine, select(func.max(m.StockLedger.created_at)))
    engine.dispose()
    assert newest.replace(tzinfo=UTC) < datetime(2025, 3, 1, tzinfo=UTC)


def test_cli_seeds_and_prints_the_manifest(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from orchestrator.cli import app

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    runner = CliRunner()
    args = ["seed", "--db", url, "--skus", "12", "--days", "30", "--customers", "20", "-q"]
    result = runner.invoke(app, [*args, "--anomalies", "6"])
    assert result.exit_code == 0, result.output
    assert "anomalies injected" in result.output
    assert "negative_on_hand" in result.output
    again = runner.invoke(app, args)
    assert again.exit_code == 2
    assert "already holds data" in again.output
    forced = runner.invoke(app, [*args, "--force", "--anomalies", "0"])
    assert forced.exit_code == 0, forced.output


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    skus=st.integers(10, 60),
    days=st.integers(28, 120),
    customers=st.integers(10, 200),
    anomalies=st.integers(0, 9),
    seed_value=st.integers(0, 10_000),
)
def test_any_small_world_balances_except_its_manifest(
    skus: int, days: int, customers: int, anomalies: int, seed_value: int
) -> None:
    from orchestrator.store.invariants import check_invariants

    engine = make_engine("sqlite://")
    try:
        report = seed(
            engine,
            skus=skus,
            days=days,
            customers=customers,
            anomalies=anomalies,
            seed=seed_value,
        )
        found = check_invariants(engine, now=datetime(2026, 11, 1, tzinfo=UTC))
        assert sorted((v.rule, v.sku, v.location) for v in found.violations) == sorted(
            (a.kind, a.sku, a.location) for a in report.anomalies
        )
    finally:
        engine.dispose()
