"""CSV/JSON imports: good files land whole, bad files name every bad row and write nothing."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from orchestrator.errors import ImportFailed, InvalidInput
from orchestrator.store import models as m
from orchestrator.store.importer import (
    import_file,
    import_products,
    import_sales,
    import_stock,
)

FIXTURES = Path(__file__).with_name("fixtures")
TODAY = date(2026, 11, 1)


@pytest.fixture
def store(engine: Engine) -> Engine:
    """A fresh store (both engines) with the three locations and no products."""
    with engine.begin() as conn:
        conn.execute(
            insert(m.Location.__table__),  # type: ignore[attr-defined]
            [
                {"code": "WH-MAIN", "name": "Main", "kind": "warehouse"},
                {"code": "WH-NORTH", "name": "North", "kind": "warehouse"},
                {"code": "SHOP-CITY", "name": "Shop", "kind": "store"},
            ],
        )
    return engine


def _count(engine: Engine, model: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(model)).scalar_one())


def _rows(engine: Engine, sql: str, **params: Any) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(text(sql), params).all())


def _lines(exc: ImportFailed) -> list[int]:
    return [line for line, _ in exc.errors]


def _snapshot(engine: Engine) -> tuple[int, ...]:
    return tuple(_count(engine, model) for model in (m.Product, m.Stock, m.StockLedger, m.AuditLog))


# --- products -------------------------------------------------------------------------------


def test_products_csv_and_json_are_imported(store: Engine) -> None:
    report = import_products(store, FIXTURES / "products_good.csv")
    assert (report.rows, report.created, report.updated) == (3, 3, 0)
    report = import_products(store, FIXTURES / "products_good.json")
    assert (report.rows, report.created) == (2, 2)
    with store.connect() as conn:
        uno = conn.execute(select(m.Product).where(m.Product.sku == "ARD-UNO-R3")).one()
        banana = conn.execute(select(m.Product).where(m.Product.sku == "FRS-BAN")).one()
        dht = conn.execute(select(m.Product).where(m.Product.sku == "SNS-DHT22")).one()
    assert (uno.price_cents, uno.cost_cents) == (3499, 1850)
    assert uno.attributes == {"brand": "Arduino", "age": "10+"}
    assert uno.description == "Board, breadboard, sensors"
    assert (dht.price_cents, dht.weight_grams, dht.perishable) == (650, 500, False)
    assert (banana.price_cents, banana.cost_cents, banana.unit) == (119, 70, "kg")
    assert banana.perishable and banana.shelf_life_days == 6
    audit = _rows(store, "SELECT operation, actor FROM audit_log ORDER BY id")
    assert audit == [("import_products", "import"), ("import_products", "import")]


def test_products_upsert_updates_only_given_columns(store: Engine, tmp_path: Path) -> None:
    import_products(store, FIXTURES / "products_good.csv")
    update = tmp_path / "update.csv"
    update.write_text(
        "sku,name,category,unit,price,cost\n"
        "ARD-UNO-R3,Arduino Uno R3 Kit (2026),stem-kits,each,36.00,19.00\n"
        "NEW-1,New thing,tools,each,1.00,0.40\n"
    )
    report = import_products(store, update)
    assert (report.created, report.updated) == (1, 1)
    with store.connect() as conn:
        uno = conn.execute(select(m.Product).where(m.Product.sku == "ARD-UNO-R3")).one()
    assert (uno.name, uno.price_cents) == ("Arduino Uno R3 Kit (2026)", 3600)
    assert uno.attributes == {"brand": "Arduino", "age": "10+"}  # not in the file: kept
    assert uno.weight_grams == 650


def test_bad_products_are_all_reported_with_lines_and_nothing_is_written(store: Engine) -> None:
    before = _snapshot(store)
    with pytest.raises(ImportFailed) as info:
        import_products(store, FIXTURES / "products_bad.csv")
    errors = dict(info.value.errors)
    assert _lines(info.value) == [3, 4, 5, 6, 7, 9, 10, 11, 12]
    assert "price='abc'" in errors[3]
    assert "price='9.999'" in errors[4] and "two decimals" in errors[4]
    assert "cost='-1'" in errors[5] and "negative" in errors[5]
    assert "sku: missing" in errors[6]
    assert "perishable='maybe'" in errors[7]  # the row that starts on line 7 spans two lines
    assert "attributes='{not json}'" in errors[9]
    assert "sku='GOOD-1': repeats line 2" in errors[10]
    assert "3 cells" in errors[11]
    assert "shelf_life_days='0'" in errors[12]
    assert _snapshot(store) == before
    assert "nothing imported" in str(info.value)


def test_a_bad_header_is_line_one(store: Engine) -> None:
    with pytest.raises(ImportFailed) as info:
        import_products(store, FIXTURES / "products_bad_header.csv")
    assert info.value.errors == [
        (
            1,
            "unknown column 'prcie' (did you mean 'price'?) (columns: sku, name, category, "
            "unit, price, cost, description, perishable, shelf_life_days, weight_grams, "
            "attributes)",
        )
    ]
    assert _count(store, m.Product) == 0


def test_missing_file_and_unknown_format_are_invalid_input(store: Engine, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="no such file"):
        import_products(store, tmp_path / "absent.csv")
    odd = tmp_path / "products.xlsx"
    shutil.copy(FIXTURES / "products_good.csv", odd)
    with pytest.raises(InvalidInput, match="xlsx"):
        import_products(store, odd)
    report = import_products(store, odd, format="csv")
    assert report.created == 3


def test_json_that_is_not_an_array_is_refused(store: Engine, tmp_path: Path) -> None:
    bad = tmp_path / "p.json"
    bad.write_text('{"sku": "X"}')
    with pytest.raises(ImportFailed, match="JSON array"):
        import_products(store, bad)
    broken = tmp_path / "q.json"
    broken.write_text('[\n{"sku": "X",\n')
    with pytest.raises(ImportFailed, match="not valid JSON"):
        import_products(store, broken)


# --- stock ----------------------------------------------------------------------------------


def _ledger_balances(engine: Engine) -> None:
    stock = _rows(engine, "SELECT sku, location, on_hand FROM stock")
    for sku, loc, on_hand in stock:
        total = _rows(
            engine,
            "SELECT coalesce(sum(delta), 0) FROM stock_ledger WHERE sku = :s AND location = :l",
            s=sku,
            l=loc,
        )[0][0]
        assert on_hand == total, (sku, loc)


def test_stock_import_writes_opening_rows_and_recount_adjusts(
    store: Engine, tmp_path: Path
) -> None:
    import_products(store, FIXTURES / "products_good.csv")
    report = import_stock(store, FIXTURES / "stock_good.csv")
    assert (report.rows, report.created, report.updated, report.ledger_rows) == (3, 3, 0, 2)
    kinds = _rows(store, "SELECT kind, delta FROM stock_ledger ORDER BY delta")
    assert kinds == [("opening", 5), ("opening", 40)]
    _ledger_balances(store)
    recount = tmp_path / "recount.json"
    recount.write_text('[{"sku": "ARD-UNO-R3", "location": "WH-MAIN", "on_hand": 37}]')
    report = import_stock(store, recount)
    assert (report.created, report.updated, report.ledger_rows) == (0, 1, 1)
    ((on_hand, rop),) = _rows(
        store,
        "SELECT on_hand, reorder_point FROM stock WHERE sku = 'ARD-UNO-R3' AND location = 'WH-MAIN'",
    )
    assert (on_hand, rop) == (37, 10)
    assert _rows(store, "SELECT kind, delta FROM stock_ledger WHERE kind = 'adjustment'") == [
        ("adjustment", -3)
    ]
    _ledger_balances(store)


def test_bad_stock_rows_name_the_value_and_nothing_is_written(store: Engine) -> None:
    import_products(store, FIXTURES / "products_good.csv")
    before = _snapshot(store)
    with pytest.raises(ImportFailed) as info:
        import_stock(store, FIXTURES / "stock_bad.csv")
    errors = dict(info.value.errors)
    assert sorted(errors) == [3, 4, 5, 6, 7]
    assert "sku='NOPE-404': unknown SKU" in errors[3]
    assert "location='WH-MARS': unknown location" in errors[4]
    assert "WH-MAIN" in errors[4]
    assert "repeats line 2" in errors[5]
    assert "on_hand='-4'" in errors[6]
    assert "on_hand='2.5'" in errors[7]
    assert _snapshot(store) == before


def test_stock_count_below_reserved_is_refused(store: Engine, tmp_path: Path) -> None:
    import_products(store, FIXTURES / "products_good.csv")
    import_stock(store, FIXTURES / "stock_good.csv")
    with store.begin() as conn:
        conn.execute(
            text("UPDATE stock SET reserved = 8 WHERE sku = 'ARD-UNO-R3' AND location = 'WH-MAIN'")
        )
    low = tmp_path / "low.csv"
    low.write_text("sku,location,on_hand\nARD-UNO-R3,WH-MAIN,7\n")
    with pytest.raises(ImportFailed) as info:
        import_stock(store, low)
    assert info.value.errors == [
        (2, "on_hand=7: below the 8 units reserved for ARD-UNO-R3 at WH-MAIN")
    ]


# --- sales ----------------------------------------------------------------------------------


def test_sales_become_dated_sale_rows_and_lower_stock(store: Engine) -> None:
    import_products(store, FIXTURES / "products_good.csv")
    import_stock(store, FIXTURES / "stock_good.csv")
    report = import_sales(store, FIXTURES / "sales_good.csv", today=TODAY)
    assert (report.rows, report.ledger_rows, report.updated) == (3, 3, 2)
    stock = dict(
        ((s, loc), q) for s, loc, q in _rows(store, "SELECT sku, location, on_hand FROM stock")
    )
    assert stock[("ARD-UNO-R3", "WH-MAIN")] == 35
    assert stock[("ARD-UNO-R3", "SHOP-CITY")] == 4
    with Session(store) as session:
        sales = list(
            session.scalars(
                select(m.StockLedger)
                .where(m.StockLedger.kind == "sale")  # type: ignore[arg-type]
                .order_by(m.StockLedger.id)  # type: ignore[arg-type]
            )
        )
    assert [s.delta for s in sales] == [-3, -2, -1]
    assert sales[0].created_at == datetime(2026, 10, 1, 20, 0, tzinfo=UTC)
    assert "line 2" in sales[0].reason
    _ledger_balances(store)


def test_bad_sales_rows_are_all_reported_and_nothing_is_written(store: Engine) -> None:
    import_products(store, FIXTURES / "products_good.csv")
    import_stock(store, FIXTURES / "stock_good.csv")
    before = _snapshot(store)
    with pytest.raises(ImportFailed) as info:
        import_sales(store, FIXTURES / "sales_bad.json", today=TODAY)
    errors = dict(info.value.errors)
    assert sorted(errors) == [2, 3, 4, 5, 6, 7, 8, 9]
    assert "date='2026-13-01'" in errors[2]
    assert "sku='GHOST': unknown SKU" in errors[3]
    assert "quantity=0" in errors[4]
    assert "date='2099-01-01': in the future" in errors[5]
    assert "quantity=500: only 37 of ARD-UNO-R3 available at WH-MAIN" in errors[6]
    assert "not stocked there" in errors[7]
    assert "expected an object" in errors[8]
    assert "unknown field 'price'" in errors[9]
    assert _snapshot(store) == before


def test_import_file_dispatches_and_cli_reports_bad_rows(store: Engine, tmp_path: Path) -> None:
    report = import_file(store, "products", FIXTURES / "products_good.json")
    assert report.kind == "products"
    with pytest.raises(InvalidInput, match="kind"):
        import_file(store, "orders", FIXTURES / "products_good.json")  # type: ignore[arg-type]


def test_cli_import_prints_counts_or_bad_rows(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from orchestrator.cli import app

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    runner = CliRunner()
    ok = runner.invoke(
        app, ["import", "products", str(FIXTURES / "products_good.csv"), "--db", url]
    )
    assert ok.exit_code == 0, ok.output
    assert "3 row(s) of products: 3 created, 0 updated, 0 skipped" in ok.output
    bad = runner.invoke(
        app, ["import", "products", str(FIXTURES / "products_bad.csv"), "--db", url]
    )
    assert bad.exit_code == 1
    assert "9 bad row(s); nothing was imported" in bad.output
    assert "  line 3: price='abc'" in bad.output
