"""Bring your own shop: every import kind, partial updates, idempotent re-imports, bounds.

Runs on SQLite and PostgreSQL (the `engine` fixture): the same files give the same rows and
the same messages on both.
"""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine

from orchestrator.errors import ImportFailed, InvalidInput
from orchestrator.store import check_invariants
from orchestrator.store import models as m
from orchestrator.store.importer import (
    KINDS,
    import_customers,
    import_file,
    import_locations,
    import_offers,
    import_opening_stock,
    import_products,
    import_sales,
    import_stock,
    import_suppliers,
)

DATA = Path(__file__).resolve().parents[2] / "examples" / "data"
TODAY = date(2026, 11, 1)
DOMAIN = (
    m.Location,
    m.Product,
    m.Supplier,
    m.SupplierOffer,
    m.Customer,
    m.Stock,
    m.StockLedger,
)


def _count(engine: Engine, model: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(model)).scalar_one())


def _snapshot(engine: Engine) -> dict[str, Any]:
    """Every domain row, so that 'changes nothing' can be checked exactly."""
    shot: dict[str, Any] = {}
    with engine.connect() as conn:
        for model in DOMAIN:
            tbl = model.__table__  # type: ignore[attr-defined]
            cols = [c for c in tbl.columns if c.name not in ("updated_at",)]
            shot[tbl.name] = sorted(map(repr, conn.execute(select(*cols)).all()))
    return shot


def _rows(engine: Engine, sql: str, **params: Any) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(text(sql), params).all())


def _write(path: Path, content: str) -> Path:
    path.write_text(content)
    return path


@pytest.fixture
def shop(engine: Engine) -> Engine:
    """The example shop of docs/data.md, up to its opening stock."""
    import_locations(engine, DATA / "locations.csv")
    import_products(engine, DATA / "products.csv")
    import_suppliers(engine, DATA / "suppliers.json")
    import_offers(engine, DATA / "offers.csv")
    import_customers(engine, DATA / "customers.csv")
    import_opening_stock(engine, DATA / "opening_stock.csv", today=TODAY)
    return engine


# --- the example shop -----------------------------------------------------------------------


def test_the_example_shop_imports_whole(shop: Engine) -> None:
    assert [_count(shop, model) for model in DOMAIN] == [2, 8, 3, 10, 5, 14, 14]
    assert _rows(shop, "SELECT kind FROM location WHERE code = 'PW-SHOP'") == [("store",)]
    offer = _rows(
        shop,
        "SELECT s.name, o.unit_cost_cents, o.lead_time_days, o.moq, o.on_time_rate FROM "
        "supplier_offer o JOIN supplier s ON s.id = o.supplier_id WHERE o.sku = 'PW-DHT22' "
        "ORDER BY o.unit_cost_cents",
    )
    assert offer == [
        ("Shenzhen Maker Supply", 140, 21, 100, 0.85),
        ("Northern Components Ltd", 210, 3, 20, 0.97),
    ]
    (ada,) = _rows(shop, "SELECT name, tier, marketing_opt_in, phone FROM customer WHERE id = 1")
    assert tuple(ada) == ("Ada Lovelace", "gold", True, "01632 960001")
    (supplier,) = _rows(shop, "SELECT country, active FROM supplier WHERE name LIKE 'Kit%'")
    assert tuple(supplier) == ("GB", True)  # defaults for what the file leaves out
    ledger = m.StockLedger.__table__  # type: ignore[attr-defined]
    with shop.connect() as conn:
        opening = conn.execute(
            select(ledger.c.kind, ledger.c.delta, ledger.c.created_at).where(
                ledger.c.sku == "PW-UNO-KIT", ledger.c.location == "PW-WH"
            )
        ).all()
    assert [tuple(row) for row in opening] == [("opening", 40, datetime(2026, 9, 30, tzinfo=UTC))]
    assert check_invariants(shop).ok


def test_reimporting_every_file_changes_nothing_and_says_so(shop: Engine) -> None:
    import_sales(shop, DATA / "sales.csv", today=TODAY)
    before = _snapshot(shop)
    for kind, name in [
        ("locations", "locations.csv"),
        ("products", "products.csv"),
        ("suppliers", "suppliers.json"),
        ("offers", "offers.csv"),
        ("customers", "customers.csv"),
        ("opening_stock", "opening_stock.csv"),
        ("sales", "sales.csv"),
    ]:
        options = {"today": TODAY} if kind in ("opening_stock", "sales") else {}
        report = import_file(shop, kind, DATA / name, **options)  # type: ignore[arg-type]
        assert report.skipped == report.rows > 0, (kind, report)
        first = 1 if name.endswith(".json") else 2
        assert report.skipped_lines == list(range(first, first + report.rows))
        assert report.created == report.updated == report.ledger_rows == 0
        assert report.skip_reason
        assert "skipped" in report.summary()
    assert _snapshot(shop) == before


def test_the_kinds_are_listed_in_import_order() -> None:
    assert KINDS == (
        "locations",
        "products",
        "suppliers",
        "offers",
        "customers",
        "opening_stock",
        "stock",
        "sales",
    )


# --- partial updates --------------------------------------------------------------------------


def test_a_file_of_sku_and_price_updates_prices_only(shop: Engine) -> None:
    report = import_products(shop, DATA / "prices.csv")
    assert (report.created, report.updated, report.skipped) == (0, 2, 0)
    rows = _rows(shop, "SELECT sku, name, price_cents, cost_cents FROM product ORDER BY sku")
    prices = {sku: (name, price, cost) for sku, name, price, cost in rows}
    assert prices["PW-UNO-KIT"] == ("Uno R3 starter kit", 3699, 1850)
    assert prices["PW-PICO-W"] == ("Pico W microcontroller board", 660, 390)
    assert prices["PW-DHT22"][1] == 650


def test_a_new_sku_in_a_partial_file_names_what_it_lacks(shop: Engine, tmp_path: Path) -> None:
    before = _snapshot(shop)
    bad = _write(tmp_path / "p.csv", "sku,price\nPW-DHT22,7.00\nNEW-1,2.00\n")
    with pytest.raises(ImportFailed) as info:
        import_products(shop, bad)
    assert info.value.errors == [
        (
            3,
            "sku='NEW-1': a new product needs name, category, unit, cost (missing: give them, "
            "or fix the key if the product exists)",
        )
    ]
    assert _snapshot(shop) == before


# --- sales: idempotent per row --------------------------------------------------------------


def test_sales_imported_twice_count_once(shop: Engine) -> None:
    first = import_sales(shop, DATA / "sales.csv", today=TODAY)
    assert (first.rows, first.ledger_rows, first.skipped) == (180, 180, 0)
    stock = _rows(shop, "SELECT sku, location, on_hand FROM stock ORDER BY sku, location")
    again = import_sales(shop, DATA / "sales.csv", today=TODAY)
    assert (again.ledger_rows, again.skipped, again.skip_reason) == (0, 180, "already imported")
    assert _rows(shop, "SELECT sku, location, on_hand FROM stock ORDER BY sku, location") == stock
    assert check_invariants(shop).ok


def test_overlapping_exports_add_only_the_new_rows(shop: Engine, tmp_path: Path) -> None:
    lines = (DATA / "sales.csv").read_text().splitlines()
    header, body = lines[0], lines[1:]
    first = _write(tmp_path / "a.csv", "\n".join([header, *body[:100]]) + "\n")
    second = _write(tmp_path / "b.csv", "\n".join([header, *body[80:]]) + "\n")
    assert import_sales(shop, first, today=TODAY).ledger_rows == 100
    report = import_sales(shop, second, today=TODAY)
    assert (report.ledger_rows, report.skipped) == (80, 20)
    assert report.skipped_lines == list(range(2, 22))
    assert _count(shop, m.StockLedger) == 14 + 180


def test_equal_rows_in_one_file_are_two_sales(shop: Engine, tmp_path: Path) -> None:
    sales = _write(
        tmp_path / "s.csv",
        "date,sku,location,quantity\n"
        "2026-10-01,PW-LED-100,PW-SHOP,1\n"
        "2026-10-01,PW-LED-100,PW-SHOP,1\n",
    )
    assert import_sales(shop, sales, today=TODAY).ledger_rows == 2
    assert import_sales(shop, sales, today=TODAY).skipped == 2
    again = _write(tmp_path / "t.csv", sales.read_text() + "2026-10-01,PW-LED-100,PW-SHOP,1\n")
    report = import_sales(shop, again, today=TODAY)
    assert (report.ledger_rows, report.skipped) == (1, 2)  # the third equal row is new


def test_sales_ids_are_keys(shop: Engine, tmp_path: Path) -> None:
    sales = _write(
        tmp_path / "s.json",
        '[{"id": "R-1", "date": "2026-10-01", "sku": "PW-LED-100", "location": "PW-SHOP",'
        ' "quantity": 2},\n'
        ' {"id": "R-2", "date": "2026-10-01", "sku": "PW-LED-100", "location": "PW-SHOP",'
        ' "quantity": 2}]',
    )
    assert import_sales(shop, sales, today=TODAY).ledger_rows == 2
    assert import_sales(shop, sales, today=TODAY).skipped == 2
    clash = _write(
        tmp_path / "c.csv",
        "id,date,sku,location,quantity\n"
        "R-1,2026-10-02,PW-LED-100,PW-SHOP,2\n"
        "R-3,2026-10-02,PW-LED-100,PW-SHOP,1\n"
        "R-3,2026-10-02,PW-LED-100,PW-SHOP,1\n",
    )
    with pytest.raises(ImportFailed) as info:
        import_sales(shop, clash, today=TODAY)
    assert info.value.errors == [
        (
            2,
            "id='R-1': imported before as 2 x PW-LED-100 at PW-SHOP on 2026-10-01; an id names "
            "one sale: give this one another id",
        ),
        (4, "id='R-3': repeats line 3"),
    ]


# --- stock counts: idempotent per file ------------------------------------------------------


def test_a_count_file_imported_again_is_skipped_unless_recount(
    shop: Engine, tmp_path: Path
) -> None:
    import_sales(shop, DATA / "sales.csv", today=TODAY)
    first = import_stock(shop, DATA / "counts.csv")
    assert (first.updated, first.ledger_rows, first.skipped, first.skipped_lines) == (3, 3, 1, [4])
    before = _snapshot(shop)
    late = _write(
        tmp_path / "late.csv", "date,sku,location,quantity\n2026-10-31,PW-LED-100,PW-SHOP,1\n"
    )
    import_sales(shop, late, today=TODAY)  # stock moves after the count
    moved = _snapshot(shop)
    assert moved != before
    again = import_stock(shop, DATA / "counts.csv")
    assert again.skipped == 4 and "--recount" in again.skip_reason
    assert _snapshot(shop) == moved
    recount = import_stock(shop, DATA / "counts.csv", recount=True)
    assert recount.updated == 1  # the one row that moved is set back to the count
    assert check_invariants(shop).ok


# --- opening stock ----------------------------------------------------------------------------


def test_opening_stock_is_set_once(shop: Engine, tmp_path: Path) -> None:
    more = _write(
        tmp_path / "o.csv",
        "sku,location,on_hand\nPW-UNO-KIT,PW-WH,999\nPW-SOLDER-60W,PW-SHOP,2\n",
    )
    report = import_opening_stock(shop, more)
    assert (report.created, report.ledger_rows, report.skipped_lines) == (1, 1, [2])
    assert _rows(
        shop, "SELECT on_hand FROM stock WHERE sku = 'PW-UNO-KIT' AND location = 'PW-WH'"
    ) == [(40,)]
    future = _write(
        tmp_path / "f.csv", "sku,location,on_hand,date\nPW-DHT22,PW-SHOP,1,2099-01-01\n"
    )
    with pytest.raises(ImportFailed, match="in the future"):
        import_opening_stock(shop, future)


def test_stock_on_an_empty_store_says_to_import_locations_first(
    engine: Engine, tmp_path: Path
) -> None:
    import_products(engine, DATA / "products.csv")
    with pytest.raises(ImportFailed) as info:
        import_stock(engine, DATA / "counts.csv")
    message = dict(info.value.errors)[2]
    assert "location='PW-WH': unknown location; the store has no locations yet: import them " in (
        message
    )
    assert "orchestrator import locations FILE" in message


def test_offers_name_unknown_suppliers_and_skus(shop: Engine, tmp_path: Path) -> None:
    bad = _write(
        tmp_path / "o.csv",
        "supplier,sku,unit_cost,lead_time_days\nNobody Ltd,PW-DHT22,1.00,3\n"
        "Shenzhen Maker Supply,NOPE,1.00,3\nShenzhen Maker Supply,PW-PICO-W,1.00\n",
    )
    with pytest.raises(ImportFailed) as info:
        import_offers(shop, bad)
    errors = dict(info.value.errors)
    assert "supplier='Nobody Ltd': unknown supplier" in errors[2]
    assert "sku='NOPE': unknown SKU" in errors[3]
    assert "3 cells, but the header has 4" in errors[4]


def test_customers_are_keyed_by_lower_case_email(shop: Engine, tmp_path: Path) -> None:
    update = _write(
        tmp_path / "c.csv",
        "email,tier\nADA.LOVELACE@example.org,silver\nnot-an-email,gold\nx@example.com,platinum\n",
    )
    with pytest.raises(ImportFailed) as info:
        import_customers(shop, update)
    errors = dict(info.value.errors)
    assert sorted(errors) == [3, 4]
    assert "not an e-mail address" in errors[3]
    assert "tier='platinum'" in errors[4]
    fixed = _write(tmp_path / "d.csv", "email,tier\nADA.LOVELACE@example.org,silver\n")
    assert import_customers(shop, fixed).updated == 1
    assert _rows(shop, "SELECT tier FROM customer WHERE id = 1") == [("silver",)]


# --- bounds: the same refusal on both engines -------------------------------------------------


def test_huge_values_are_refused_with_the_same_message_on_both_engines(
    shop: Engine, tmp_path: Path
) -> None:
    before = _snapshot(shop)
    products = _write(
        tmp_path / "p.csv",
        "sku,name,category,unit,price,cost,weight_grams\n"
        "BIG-1,Big,tools,each,99999999999,1.00,\n"
        "BIG-2,Big,tools,each,1.00,1.00,99999999999\n",
    )
    with pytest.raises(ImportFailed) as info:
        import_products(shop, products)
    assert info.value.errors == [
        (2, "price='99999999999': more than 1,000,000 per unit is refused as absurd"),
        (3, "weight_grams='99999999999': Input should be less than or equal to 100000000"),
    ]
    sales = _write(
        tmp_path / "s.csv", "date,sku,location,quantity\n2026-10-01,PW-DHT22,PW-WH,99999999999\n"
    )
    with pytest.raises(ImportFailed) as info:
        import_sales(shop, sales, today=TODAY)
    assert info.value.errors == [
        (2, "quantity='99999999999': Input should be less than or equal to 1000000")
    ]
    counts = _write(tmp_path / "c.csv", "sku,location,on_hand\nPW-DHT22,PW-WH,99999999999\n")
    with pytest.raises(ImportFailed) as info:
        import_stock(shop, counts)
    assert info.value.errors == [
        (2, "on_hand='99999999999': Input should be less than or equal to 100000000")
    ]
    assert _snapshot(shop) == before


# --- reading files ----------------------------------------------------------------------------


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_the_delimiter_is_found_in_the_header(
    engine: Engine, tmp_path: Path, delimiter: str
) -> None:
    lines = (DATA / "locations.csv").read_text().replace(",", delimiter)
    report = import_locations(engine, _write(tmp_path / "l.csv", lines))
    assert (report.created, report.delimiter) == (2, delimiter)


def test_a_header_with_no_known_column_says_what_is_expected(
    engine: Engine, tmp_path: Path
) -> None:
    odd = _write(tmp_path / "l.csv", "Code:Name\nA:B\n")
    with pytest.raises(ImportFailed) as info:
        import_locations(engine, odd)
    ((line, message),) = info.value.errors
    assert line == 1
    assert "expected a header line naming columns such as code, name, kind" in message
    assert "separated by commas (semicolons, tabs and | are recognised too)" in message


def test_the_format_message_names_the_cli_option(engine: Engine, tmp_path: Path) -> None:
    odd = tmp_path / "locations.txt"
    shutil.copy(DATA / "locations.csv", odd)
    with pytest.raises(InvalidInput) as info:
        import_locations(engine, odd)
    assert "--format csv" in str(info.value) and "format='csv'" in str(info.value)
    assert import_locations(engine, odd, format="csv").created == 2
