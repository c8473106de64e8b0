"""Bring your own shop: import locations, products, suppliers, offers, customers, stock and sales.

Every import reads a CSV or JSON file and is all or nothing: every row is validated first
(values, bounds, references to the store); if any row is bad, `ImportFailed` lists every bad
row with its line number and the offending value, and nothing is written. Otherwise the
file is written in one transaction with one audit row (`import_<kind>`, holding the file's
SHA-256 and the counts).

Line numbers: in a CSV file the header is line 1, so the first data row is line 2 (a quoted
value spanning lines counts from the line its row starts on); in a JSON file (an array of
objects) the line number is the element's index + 1. CSV files may be separated by commas,
semicolons, tabs or `|`: the delimiter is the one that splits the header into known columns.

| kind | key | a new row also needs | optional |
| --- | --- | --- | --- |
| locations | `code` | `name` | `kind` |
| products | `sku` | `name, category, unit, price, cost` | `description, perishable, shelf_life_days, weight_grams, attributes` |
| suppliers | `name` | | `email, country, active` |
| offers | `supplier, sku` | `unit_cost, lead_time_days` | `moq, on_time_rate, active` |
| customers | `email` | `name` | `phone, address, city, postcode, country, tier, marketing_opt_in` |
| opening_stock | `sku, location` | `on_hand` | `reorder_point, date` |
| stock | `sku, location` | `on_hand` | `reorder_point` |
| sales | (see below) | `date, sku, location, quantity` | `id` |

Re-importing changes nothing, and the report says what was skipped (`skipped`,
`skipped_lines`, `skip_reason`):
- keyed kinds (locations, products, suppliers, offers, customers) upsert by their key: only
  the columns a file gives change (a file of `sku,price` updates prices), and a row equal to
  the store is skipped;
- opening stock is set once per (sku, location): a pair that has stock is skipped;
- stock counts are idempotent per file: a file imported as counts before is skipped whole
  (`recount=True` applies it again), and a count equal to on-hand is skipped;
- sales are idempotent per row: the key is the `id` column when given, else the row's
  fingerprint (date, sku, location, quantity, and its occurrence among equal rows of the
  file); a key already on the ledger is skipped, whichever file brought it.

Example:
    >>> from orchestrator.store.importer import import_products
    >>> report = import_products(engine, "products.csv")  # doctest: +SKIP
    >>> report.created, report.updated, report.skipped  # doctest: +SKIP
    (120, 3, 0)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args

from sqlalchemy.engine import Engine

from orchestrator.errors import InvalidInput as _InvalidInput
from orchestrator.store.importer._base import ImportKind, ImportReport
from orchestrator.store.importer._catalog import (
    import_customers,
    import_locations,
    import_offers,
    import_products,
    import_suppliers,
)
from orchestrator.store.importer._read import DELIMITERS, ImportFormat
from orchestrator.store.importer._rows import (
    MAX_COUNT,
    MAX_UNIT_PRICE_CENTS,
    CustomerRow,
    LocationRow,
    OfferRow,
    OpeningStockRow,
    ProductRow,
    SaleRow,
    StockRow,
    SupplierRow,
)
from orchestrator.store.importer._stock import (
    SALES_REF_TYPE,
    import_opening_stock,
    import_sales,
    import_stock,
)

__all__ = [
    "DELIMITERS",
    "KINDS",
    "MAX_COUNT",
    "MAX_UNIT_PRICE_CENTS",
    "SALES_REF_TYPE",
    "CustomerRow",
    "ImportFormat",
    "ImportKind",
    "ImportReport",
    "LocationRow",
    "OfferRow",
    "OpeningStockRow",
    "ProductRow",
    "SaleRow",
    "StockRow",
    "SupplierRow",
    "import_customers",
    "import_file",
    "import_locations",
    "import_offers",
    "import_opening_stock",
    "import_products",
    "import_sales",
    "import_stock",
    "import_suppliers",
]

KINDS: tuple[str, ...] = get_args(ImportKind)
"""Every import kind, in the order a new shop imports them."""

_IMPORTERS: dict[str, Any] = {
    "locations": import_locations,
    "products": import_products,
    "suppliers": import_suppliers,
    "offers": import_offers,
    "customers": import_customers,
    "opening_stock": import_opening_stock,
    "stock": import_stock,
    "sales": import_sales,
}


def import_file(
    engine: Engine,
    kind: ImportKind,
    path: str | Path,
    *,
    format: ImportFormat | None = None,
    actor: str = "import",
    **options: Any,
) -> ImportReport:
    """Import `path` as `kind` (one of `KINDS`); see the per-kind functions.

    Args:
        options: passed on to the kind's function (`today=` for opening stock and sales,
            `recount=` for stock counts).

    Raises:
        InvalidInput: an unknown kind, or a missing file, or an unknown format.
        ImportFailed: some rows are bad; nothing was written.
    """
    importer = _IMPORTERS.get(kind)
    if importer is None:
        raise _InvalidInput("kind", kind, f"use one of {', '.join(KINDS)}")
    report: ImportReport = importer(engine, path, format=format, actor=actor, **options)
    return report
