"""Keyed imports: locations, products, suppliers, supplier offers and customers.

Each is an upsert by its key: a new key is created (it must give what a new row needs), an
existing one gets only the columns the file gives, and a row equal to what the store holds
is skipped. Re-importing a file therefore changes nothing and reports every row as skipped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from orchestrator.errors import ImportFailed
from orchestrator.store.importer._base import (
    ACTOR,
    CUSTOMER,
    LOCATION,
    OFFER,
    PRODUCT,
    SUPPLIER,
    ImportKind,
    ImportReport,
    Item,
    apply_upsert,
    audit,
    known_values,
    new_report,
    plan_upsert,
)
from orchestrator.store.importer._read import ImportFormat, parse_file, resolve
from orchestrator.store.importer._rows import (
    CustomerRow,
    LocationRow,
    OfferRow,
    ProductRow,
    Row,
    SupplierRow,
)
from orchestrator.store.models import utcnow

__all__ = [
    "import_customers",
    "import_locations",
    "import_offers",
    "import_products",
    "import_suppliers",
]

UNCHANGED = "unchanged: the store already holds these values"


def _given(row: Row, rename: dict[str, str] | None = None, *, exclude: set[str]) -> dict[str, Any]:
    """The columns a row gives (left-out and empty ones are not given), as table columns."""
    rename = rename or {}
    return {
        rename.get(k, k): v
        for k, v in row.model_dump(exclude_unset=True, exclude=exclude).items()
        if v is not None
    }


def _run(
    engine: Engine,
    kind: ImportKind,
    path: str | Path,
    fmt: ImportFormat | None,
    actor: str,
    schema: type[Row],
    key: tuple[str, ...],
    build: Any,
) -> ImportReport:
    """Parse, plan (all rows checked against the store), then write everything or nothing."""
    p, resolved = resolve(path, fmt)
    source = str(path)
    parsed = parse_file(p, resolved, schema, key, source)
    report = new_report(kind, source, resolved, parsed)
    errors = list(parsed.errors)
    with engine.begin() as conn:
        writes = build(conn, parsed.rows, errors)
        if errors:
            raise ImportFailed(source, sorted(errors))
        for tbl, key_columns, plan in writes:
            apply_upsert(conn, tbl, key_columns, plan)
            report.created += len(plan.inserts)
            report.updated += len(plan.updates)
            report.skipped_lines += plan.skipped
        report.skipped_lines.sort()
        report.skipped = len(report.skipped_lines)
        report.skip_reason = UNCHANGED if report.skipped else ""
        audit(conn, report, actor)
    return report


def import_locations(
    engine: Engine, path: str | Path, *, format: ImportFormat | None = None, actor: str = ACTOR
) -> ImportReport:
    """Create or update locations (warehouses and shops) from a CSV or JSON file.

    Columns: `code` (the key), `name` (needed for a new code), `kind` (`warehouse`, the
    default, or `store`).

    Raises:
        ImportFailed: some rows are bad (each listed with its line); nothing was written.
        InvalidInput: the file does not exist or its format is unknown.
    """

    def build(conn: Any, rows: list[tuple[int, LocationRow]], errors: Any) -> Any:
        items = [
            Item(line, (r.code,), _given(r, exclude={"code"}), f"code={r.code!r}")
            for line, r in rows
        ]
        plan = plan_upsert(
            conn,
            LOCATION,
            ("code",),
            items,
            errors,
            entity="location",
            requires={"name": "name"},
            defaults=lambda: {"kind": "warehouse"},
        )
        return [(LOCATION, ("code",), plan)]

    return _run(engine, "locations", path, format, actor, LocationRow, ("code",), build)


_PRODUCT_COLUMNS = {"price": "price_cents", "cost": "cost_cents"}


def import_products(
    engine: Engine, path: str | Path, *, format: ImportFormat | None = None, actor: str = ACTOR
) -> ImportReport:
    """Create or update products from a CSV or JSON file (all rows or none).

    Only `sku` is required in every file; a new SKU also needs `name`, `category`, `unit`,
    `price` and `cost`. An existing SKU changes only in the columns the file gives, so a file
    of `sku,price` updates prices.

    Args:
        engine: the store's engine.
        path: the file; `.csv` or `.json` unless `format` says which.
        format: `csv` or `json`, overriding the file name's extension.
        actor: who imports, for the audit row.

    Returns:
        Rows read; products created, updated and skipped (unchanged).

    Raises:
        ImportFailed: some rows are bad (each listed with its line); nothing was written.
        InvalidInput: the file does not exist or its format is unknown.
    """

    def build(conn: Any, rows: list[tuple[int, ProductRow]], errors: Any) -> Any:
        items = [
            Item(line, (r.sku,), _given(r, _PRODUCT_COLUMNS, exclude={"sku"}), f"sku={r.sku!r}")
            for line, r in rows
        ]
        plan = plan_upsert(
            conn,
            PRODUCT,
            ("sku",),
            items,
            errors,
            entity="product",
            requires={
                "name": "name",
                "category": "category",
                "unit": "unit",
                "price_cents": "price",
                "cost_cents": "cost",
            },
            defaults=lambda: {
                "description": "",
                "perishable": False,
                "shelf_life_days": None,
                "weight_grams": 500,
                "attributes": {},
                "active": True,
                "created_at": utcnow(),
            },
        )
        return [(PRODUCT, ("sku",), plan)]

    return _run(engine, "products", path, format, actor, ProductRow, ("sku",), build)


def import_suppliers(
    engine: Engine, path: str | Path, *, format: ImportFormat | None = None, actor: str = ACTOR
) -> ImportReport:
    """Create or update suppliers from a CSV or JSON file, keyed by `name`.

    Optional columns: `email`, `country` (two letters, default GB), `active` (default true).

    Raises:
        ImportFailed: some rows are bad (each listed with its line); nothing was written.
        InvalidInput: the file does not exist or its format is unknown.
    """

    def build(conn: Any, rows: list[tuple[int, SupplierRow]], errors: Any) -> Any:
        items = [
            Item(line, (r.name,), _given(r, exclude={"name"}), f"name={r.name!r}")
            for line, r in rows
        ]
        plan = plan_upsert(
            conn,
            SUPPLIER,
            ("name",),
            items,
            errors,
            entity="supplier",
            requires={},
            defaults=lambda: {"email": "", "country": "GB", "active": True},
        )
        return [(SUPPLIER, ("name",), plan)]

    return _run(engine, "suppliers", path, format, actor, SupplierRow, ("name",), build)


def import_offers(
    engine: Engine, path: str | Path, *, format: ImportFormat | None = None, actor: str = ACTOR
) -> ImportReport:
    """Create or update supplier offers from a CSV or JSON file, keyed by (supplier, sku).

    `supplier` is the supplier's name and `sku` a product's SKU; both must exist. A new offer
    needs `unit_cost` and `lead_time_days`; `moq` (default 1), `on_time_rate` (0..1, default
    0.95) and `active` (default true) are optional.

    Raises:
        ImportFailed: some rows are bad (each listed with its line); nothing was written.
        InvalidInput: the file does not exist or its format is unknown.
    """

    def build(conn: Any, rows: list[tuple[int, OfferRow]], errors: list[tuple[int, str]]) -> Any:
        names = {r.supplier for _, r in rows}
        suppliers = {
            r.name: r.id
            for r in conn.execute(
                select(SUPPLIER.c.name, SUPPLIER.c.id).where(SUPPLIER.c.name.in_(sorted(names)))
            )
        }
        skus = known_values(conn, PRODUCT.c.sku, (r.sku for _, r in rows))
        items = []
        for line, r in rows:
            ok = True
            if r.supplier not in suppliers:
                errors.append(
                    (
                        line,
                        f"supplier={r.supplier!r}: unknown supplier; import it with the "
                        "suppliers first (orchestrator import suppliers FILE)",
                    )
                )
                ok = False
            if r.sku not in skus:
                errors.append(
                    (
                        line,
                        f"sku={r.sku!r}: unknown SKU; import it with the products first "
                        "(orchestrator import products FILE)",
                    )
                )
                ok = False
            if ok:
                values = _given(r, {"unit_cost": "unit_cost_cents"}, exclude={"supplier", "sku"})
                items.append(
                    Item(
                        line,
                        (suppliers[r.supplier], r.sku),
                        values,
                        f"supplier={r.supplier!r} sku={r.sku!r}",
                    )
                )
        plan = plan_upsert(
            conn,
            OFFER,
            ("supplier_id", "sku"),
            items,
            errors,
            entity="offer",
            requires={"unit_cost_cents": "unit_cost", "lead_time_days": "lead_time_days"},
            defaults=lambda: {"moq": 1, "on_time_rate": 0.95, "active": True},
        )
        return [(OFFER, ("supplier_id", "sku"), plan)]

    return _run(engine, "offers", path, format, actor, OfferRow, ("supplier", "sku"), build)


def import_customers(
    engine: Engine, path: str | Path, *, format: ImportFormat | None = None, actor: str = ACTOR
) -> ImportReport:
    """Create or update customers from a CSV or JSON file, keyed by e-mail address.

    A new customer needs `name`; `phone`, `address`, `city`, `postcode`, `country` (default
    GB), `tier` (`standard`, the default, `silver` or `gold`) and `marketing_opt_in` are
    optional. E-mail addresses are compared in lower case. Customers get the store's own ids.

    Raises:
        ImportFailed: some rows are bad (each listed with its line); nothing was written.
        InvalidInput: the file does not exist or its format is unknown.
    """

    def build(conn: Any, rows: list[tuple[int, CustomerRow]], errors: Any) -> Any:
        items = [
            Item(line, (r.email,), _given(r, exclude={"email"}), f"email={r.email!r}")
            for line, r in rows
        ]
        plan = plan_upsert(
            conn,
            CUSTOMER,
            ("email",),
            items,
            errors,
            entity="customer",
            requires={"name": "name"},
            defaults=lambda: {
                "phone": "",
                "address": "",
                "city": "",
                "postcode": "",
                "country": "GB",
                "tier": "standard",
                "marketing_opt_in": False,
                "created_at": utcnow(),
            },
        )
        return [(CUSTOMER, ("email",), plan)]

    return _run(engine, "customers", path, format, actor, CustomerRow, ("email",), build)
