"""Import products, stock and sales history from CSV or JSON files: all or nothing.

Every row is validated first; if any row is bad, `ImportFailed` lists every bad row with its
line number and the offending value, and nothing is written. Otherwise everything is written
in one transaction, with one audit row for the whole import.

Line numbers: in a CSV file the header is line 1, so the first data row is line 2 (a quoted
value spanning lines counts from the line its row starts on); in a JSON file (an array of
objects) the line number is the element's index + 1.

Columns (CSV header names, or JSON object keys; optional ones may be left out or empty):

| kind | required | optional |
| --- | --- | --- |
| products | `sku, name, category, unit, price, cost` | `description, perishable, shelf_life_days, weight_grams, attributes` |
| stock | `sku, location, on_hand` | `reorder_point` |
| sales | `date, sku, location, quantity` | |

- `price` and `cost` are amounts in the store currency with at most two decimals (`12.99`);
  they are stored as integer cents. `attributes` is a JSON object (a JSON string in CSV).
- Products upsert: a SKU already in the catalogue is updated (only the columns present in the
  file), a new one is created.
- Stock sets the on-hand count of a SKU at a location. A new (sku, location) gets a stock row
  and an `opening` ledger row for its quantity; an existing one gets an `adjustment` ledger
  row for the difference, so on-hand always equals the ledger. A count below the units
  already reserved there is a bad row.
- Sales append one `sale` ledger row per row, dated on `date` at 20:00 UTC, and decrease
  on-hand stock. The SKU must already be stocked at the location, the date may not be in the
  future, and a row that would take available stock (on hand minus reserved) below zero is bad.
- Unknown SKUs and locations in stock and sales files are bad rows, as are repeated keys.

Example:
    >>> from orchestrator.store.importer import import_products
    >>> report = import_products(engine, "products.csv")  # doctest: +SKIP
    >>> report.created, report.updated  # doctest: +SKIP
    (120, 3)
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.engine import Connection, Engine

from orchestrator.errors import ImportFailed, InvalidInput
from orchestrator.store.models import (
    AuditLog,
    LedgerKind,
    Location,
    Product,
    Stock,
    StockLedger,
    utcnow,
)

__all__ = [
    "ImportFormat",
    "ImportKind",
    "ImportReport",
    "ProductRow",
    "SaleRow",
    "StockRow",
    "import_file",
    "import_products",
    "import_sales",
    "import_stock",
]

ImportKind = Literal["products", "stock", "sales"]
ImportFormat = Literal["csv", "json"]

ACTOR = "import"
SALE_TIME = time(20, 0, tzinfo=UTC)
"""Imported daily sales are dated at the end of trading, as the demo seed's are."""


def _table(model: Any) -> Table:
    return cast(Table, model.__table__)


PRODUCT = _table(Product)
STOCK = _table(Stock)
LEDGER = _table(StockLedger)
LOCATION = _table(Location)
AUDIT = _table(AuditLog)


class ImportReport(BaseModel):
    """What an import wrote."""

    kind: ImportKind
    source: str
    format: ImportFormat
    rows: int
    """Rows read from the file."""
    created: int = 0
    """Products or stock rows created."""
    updated: int = 0
    """Products or stock rows updated."""
    ledger_rows: int = 0
    """Stock-ledger rows appended."""


# --- row schemas ----------------------------------------------------------------------------


def _cents(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("not an amount")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError("not an amount; write it like 12.99") from None
    if not amount.is_finite():
        raise ValueError("not an amount; write it like 12.99")
    if amount < 0:
        raise ValueError("must not be negative")
    cents = amount * 100
    if cents != cents.to_integral_value():
        raise ValueError("more than two decimals")
    return int(cents)


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ProductRow(_Row):
    """One row of a products file."""

    sku: str = Field(min_length=1, max_length=64, pattern=r"^\S+$")
    name: str = Field(min_length=1, max_length=200)
    category: str = Field(min_length=1, max_length=64)
    unit: str = Field(min_length=1, max_length=16)
    price: int
    """Cents (parsed from an amount like `12.99`)."""
    cost: int
    description: str | None = None
    perishable: bool | None = None
    shelf_life_days: int | None = Field(default=None, gt=0)
    weight_grams: int | None = Field(default=None, ge=0)
    attributes: dict[str, Any] | None = None

    @field_validator("price", "cost", mode="before")
    @classmethod
    def _money(cls, value: Any) -> int:
        return _cents(value)

    @field_validator("attributes", mode="before")
    @classmethod
    def _json_object(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError as exc:
                raise ValueError(f"not valid JSON ({exc.msg})") from None
            if not isinstance(value, dict):
                raise ValueError("must be a JSON object")
        return value


class StockRow(_Row):
    """One row of a stock file."""

    sku: str = Field(min_length=1, max_length=64)
    location: str = Field(min_length=1, max_length=32)
    on_hand: int = Field(ge=0)
    reorder_point: int | None = Field(default=None, ge=0)


class SaleRow(_Row):
    """One row of a sales file."""

    date: date
    sku: str = Field(min_length=1, max_length=64)
    location: str = Field(min_length=1, max_length=32)
    quantity: int = Field(gt=0)


_SCHEMAS: dict[str, type[_Row]] = {"products": ProductRow, "stock": StockRow, "sales": SaleRow}


def _required(schema: type[_Row]) -> list[str]:
    return [name for name, f in schema.model_fields.items() if f.is_required()]


# --- reading --------------------------------------------------------------------------------


def _resolve(path: str | Path, fmt: ImportFormat | None) -> tuple[Path, ImportFormat]:
    p = Path(path)
    if fmt is None:
        suffix = p.suffix.lower().lstrip(".")
        if suffix not in ("csv", "json"):
            raise InvalidInput(
                "format", suffix or str(p), "name the file .csv or .json, or pass format="
            )
        fmt = cast(ImportFormat, suffix)
    if fmt not in ("csv", "json"):
        raise InvalidInput("format", fmt, "use 'csv' or 'json'")
    if not p.is_file():
        raise InvalidInput("path", str(p), "no such file")
    return p, fmt


def _records(
    path: Path, fmt: ImportFormat, schema: type[_Row], source: str
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line, raw record) pairs; raises ImportFailed for a file that cannot be read at all."""
    if fmt == "json":
        try:
            data = json.loads(path.read_text(encoding="utf-8-sig"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            line = getattr(exc, "lineno", 1)
            raise ImportFailed(source, [(line, f"not valid JSON: {exc}")]) from None
        if not isinstance(data, list):
            raise ImportFailed(source, [(1, "expected a JSON array of objects, one per row")])
        for index, item in enumerate(data):
            yield index + 1, item
        return
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise ImportFailed(source, [(1, "empty file: expected a header line")]) from None
        except (csv.Error, UnicodeDecodeError) as exc:
            raise ImportFailed(source, [(1, f"unreadable header: {exc}")]) from None
        known = set(schema.model_fields)
        problems = [f"unknown column {h!r}" for h in header if h not in known]
        problems += [f"missing column {c!r}" for c in _required(schema) if c not in header]
        if len(set(header)) != len(header):
            problems.append("a column name repeats")
        if problems:
            expected = ", ".join(schema.model_fields)
            raise ImportFailed(source, [(1, f"{p} (columns: {expected})") for p in problems])
        last = reader.line_num
        while True:
            start = last + 1
            try:
                cells = next(reader)
            except StopIteration:
                return
            except (csv.Error, UnicodeDecodeError) as exc:
                yield start, {"__error__": f"unreadable row: {exc}"}
                return
            last = reader.line_num
            if not cells or all(not c.strip() for c in cells):
                continue
            if len(cells) != len(header):
                yield start, {"__error__": f"{len(cells)} cells, but the header has {len(header)}"}
                continue
            # An empty optional cell means "not given".
            yield start, {h: c for h, c in zip(header, cells, strict=True) if c.strip() != ""}


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        field = ".".join(str(x) for x in err["loc"]) or "row"
        msg = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "missing":
            parts.append(f"{field}: missing")
        elif err["type"] == "extra_forbidden":
            parts.append(f"unknown field {field!r}")
        else:
            parts.append(f"{field}={err.get('input')!r}: {msg}")
    return "; ".join(parts)


def _parse(
    path: Path, fmt: ImportFormat, schema: type[_Row], source: str
) -> tuple[list[tuple[int, Any]], list[tuple[int, str]]]:
    rows: list[tuple[int, Any]] = []
    errors: list[tuple[int, str]] = []
    for line, record in _records(path, fmt, schema, source):
        if not isinstance(record, dict):
            errors.append((line, f"expected an object, got {record!r}"))
            continue
        if "__error__" in record:
            errors.append((line, str(record["__error__"])))
            continue
        try:
            rows.append((line, schema.model_validate(record)))
        except ValidationError as exc:
            errors.append((line, _describe(exc)))
    return rows, errors


# --- the imports ----------------------------------------------------------------------------


def _audit(
    conn: Connection, kind: str, source: str, fmt: str, report: ImportReport, actor: str
) -> None:
    conn.execute(
        insert(AUDIT).values(
            at=utcnow(),
            actor=actor,
            operation=f"import_{kind}",
            arguments={"path": source, "format": fmt},
            after=report.model_dump(include={"rows", "created", "updated", "ledger_rows"}),
            outcome="ok",
            reason=f"{kind} imported from {Path(source).name}",
        )
    )


def _ref(source: str) -> str:
    return Path(source).name[:64]


def import_products(
    engine: Engine, path: str | Path, *, format: ImportFormat | None = None, actor: str = ACTOR
) -> ImportReport:
    """Create or update products from a CSV or JSON file (all rows or none).

    Args:
        engine: the store's engine.
        path: the file; `.csv` or `.json` unless `format` says which.
        format: `csv` or `json`, overriding the file name's extension.
        actor: who imports, for the audit row.

    Returns:
        Rows read, products created and updated.

    Raises:
        ImportFailed: some rows are bad (each listed with its line); nothing was written.
        InvalidInput: the file does not exist or its format is unknown.
    """
    p, fmt = _resolve(path, format)
    source = str(path)
    rows, errors = _parse(p, fmt, ProductRow, source)
    seen: dict[str, int] = {}
    for line, row in rows:
        if row.sku in seen:
            errors.append((line, f"sku={row.sku!r}: repeats line {seen[row.sku]}"))
        else:
            seen[row.sku] = line
    if errors:
        raise ImportFailed(source, sorted(errors))
    report = ImportReport(kind="products", source=source, format=fmt, rows=len(rows))
    with engine.begin() as conn:
        existing = (
            {
                r.sku
                for r in conn.execute(
                    select(PRODUCT.c.sku).where(PRODUCT.c.sku.in_([r.sku for _, r in rows]))
                )
            }
            if rows
            else set()
        )
        new: list[dict[str, Any]] = []
        changed: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for _, row in rows:
            # A JSON null for an optional column means "not given", as an empty CSV cell does.
            values = {
                k: v
                for k, v in row.model_dump(exclude_unset=True).items()
                if v is not None or k == "shelf_life_days"
            }
            values["price_cents"] = values.pop("price")
            values["cost_cents"] = values.pop("cost")
            if row.sku in existing:
                # Only the columns given in the file change.
                changed.setdefault(tuple(sorted(values)), []).append(values)
            else:
                full = {
                    "description": "",
                    "perishable": False,
                    "shelf_life_days": None,
                    "weight_grams": 500,
                    "attributes": {},
                    **{k: v for k, v in values.items() if v is not None},
                }
                full["active"] = True
                full["created_at"] = utcnow()
                new.append(full)
        if new:
            conn.execute(insert(PRODUCT), new)
        for keys, batch in changed.items():
            cols = [k for k in keys if k != "sku"]
            stmt = (
                update(PRODUCT)
                .where(PRODUCT.c.sku == bindparam("b_sku"))
                .values({c: bindparam(f"b_{c}") for c in cols})
            )
            conn.execute(stmt, [{f"b_{k}": v for k, v in values.items()} for values in batch])
        report.created = len(new)
        report.updated = sum(len(b) for b in changed.values())
        _audit(conn, "products", source, fmt, report, actor)
    return report


def _check_keys(
    conn: Connection, rows: list[tuple[int, Any]], errors: list[tuple[int, str]]
) -> dict[tuple[str, str], Any]:
    """Report unknown SKUs and locations; returns the existing stock rows by key."""
    skus = sorted({r.sku for _, r in rows})
    known_skus: set[str] = set()
    for start in range(0, len(skus), 500):
        chunk = skus[start : start + 500]
        known_skus.update(
            r.sku for r in conn.execute(select(PRODUCT.c.sku).where(PRODUCT.c.sku.in_(chunk)))
        )
    locations = [r.code for r in conn.execute(select(LOCATION.c.code).order_by(LOCATION.c.code))]
    for line, row in rows:
        if row.sku not in known_skus:
            errors.append(
                (line, f"sku={row.sku!r}: unknown SKU; import it with the products first")
            )
        if row.location not in locations:
            errors.append(
                (
                    line,
                    f"location={row.location!r}: unknown location; known: {', '.join(locations)}",
                )
            )
    stock: dict[tuple[str, str], Any] = {}
    # Locked until the import commits (PostgreSQL), so the checks against reserved and
    # available stock still hold when the rows are written.
    for start in range(0, len(skus), 500):
        chunk = skus[start : start + 500]
        for r in conn.execute(select(STOCK).where(STOCK.c.sku.in_(chunk)).with_for_update()):
            stock[(r.sku, r.location)] = r
    return stock


def import_stock(
    engine: Engine, path: str | Path, *, format: ImportFormat | None = None, actor: str = ACTOR
) -> ImportReport:
    """Set on-hand counts per SKU and location from a CSV or JSON file (all rows or none).

    New (sku, location) pairs get a stock row and an `opening` ledger row; existing ones an
    `adjustment` ledger row for the difference, so on-hand always equals the ledger.

    Args:
        engine: the store's engine.
        path: the file; `.csv` or `.json` unless `format` says which.
        format: `csv` or `json`, overriding the file name's extension.
        actor: who imports, for the audit and ledger rows.

    Returns:
        Rows read, stock rows created and updated, ledger rows appended.

    Raises:
        ImportFailed: some rows are bad (each listed with its line); nothing was written.
        InvalidInput: the file does not exist or its format is unknown.
    """
    p, fmt = _resolve(path, format)
    source = str(path)
    rows, errors = _parse(p, fmt, StockRow, source)
    report = ImportReport(kind="stock", source=source, format=fmt, rows=len(rows))
    with engine.begin() as conn:
        stock = _check_keys(conn, rows, errors)
        seen: dict[tuple[str, str], int] = {}
        for line, row in rows:
            key = (row.sku, row.location)
            if key in seen:
                errors.append(
                    (line, f"sku={row.sku!r} location={row.location!r}: repeats line {seen[key]}")
                )
                continue
            seen[key] = line
            current = stock.get(key)
            if current is not None and row.on_hand < current.reserved:
                errors.append(
                    (
                        line,
                        f"on_hand={row.on_hand}: below the {current.reserved} units reserved "
                        f"for {row.sku} at {row.location}",
                    )
                )
        if errors:
            raise ImportFailed(source, sorted(errors))
        now = utcnow()
        ref = _ref(source)
        created: list[dict[str, Any]] = []
        moves: list[dict[str, Any]] = []
        ledger: list[dict[str, Any]] = []
        for line, row in rows:
            key = (row.sku, row.location)
            current = stock.get(key)
            base = {
                "sku": row.sku,
                "location": row.location,
                "ref_type": "import",
                "ref_id": ref,
                "actor": actor,
                "created_at": now,
            }
            if current is None:
                created.append(
                    {
                        "sku": row.sku,
                        "location": row.location,
                        "on_hand": row.on_hand,
                        "reserved": 0,
                        "reorder_point": row.reorder_point,
                        "updated_at": now,
                    }
                )
                if row.on_hand:
                    ledger.append(
                        base
                        | {
                            "delta": row.on_hand,
                            "kind": LedgerKind.OPENING.value,
                            "reason": f"opening balance imported from {ref} line {line}",
                        }
                    )
                continue
            delta = row.on_hand - current.on_hand
            moves.append(
                {
                    "b_sku": row.sku,
                    "b_location": row.location,
                    "b_delta": delta,
                    "b_rop": row.reorder_point
                    if row.reorder_point is not None
                    else current.reorder_point,
                    "b_now": now,
                }
            )
            if delta:
                ledger.append(
                    base
                    | {
                        "delta": delta,
                        "kind": LedgerKind.ADJUSTMENT.value,
                        "reason": f"counted {row.on_hand} (stock import {ref} line {line})",
                    }
                )
        if created:
            conn.execute(insert(STOCK), created)
        if moves:
            # Relative change, so that a concurrent movement still balances the ledger.
            conn.execute(
                update(STOCK)
                .where(
                    STOCK.c.sku == bindparam("b_sku"), STOCK.c.location == bindparam("b_location")
                )
                .values(
                    on_hand=STOCK.c.on_hand + bindparam("b_delta"),
                    reorder_point=bindparam("b_rop"),
                    updated_at=bindparam("b_now"),
                ),
                moves,
            )
        if ledger:
            conn.execute(insert(LEDGER), ledger)
        report.created = len(created)
        report.updated = len(moves)
        report.ledger_rows = len(ledger)
        _audit(conn, "stock", source, fmt, report, actor)
    return report


def import_sales(
    engine: Engine,
    path: str | Path,
    *,
    format: ImportFormat | None = None,
    actor: str = ACTOR,
    today: date | None = None,
) -> ImportReport:
    """Append historic daily sales from a CSV or JSON file (all rows or none).

    Each row becomes a `sale` ledger row dated on its date at 20:00 UTC and lowers on-hand
    stock by its quantity.

    Args:
        engine: the store's engine.
        path: the file; `.csv` or `.json` unless `format` says which.
        format: `csv` or `json`, overriding the file name's extension.
        actor: who imports, for the audit and ledger rows.
        today: dates after this are refused (default: today in UTC).

    Returns:
        Rows read and ledger rows appended.

    Raises:
        ImportFailed: some rows are bad (each listed with its line); nothing was written.
        InvalidInput: the file does not exist or its format is unknown.
    """
    p, fmt = _resolve(path, format)
    source = str(path)
    rows, errors = _parse(p, fmt, SaleRow, source)
    report = ImportReport(kind="sales", source=source, format=fmt, rows=len(rows))
    limit = today or utcnow().date()
    with engine.begin() as conn:
        stock = _check_keys(conn, rows, errors)
        bad_keys = {line for line, _ in errors}
        left: dict[tuple[str, str], int] = {}
        for line, row in rows:
            if row.date > limit:
                errors.append(
                    (line, f"date={row.date.isoformat()!r}: in the future (after {limit})")
                )
                continue
            if line in bad_keys:
                continue
            key = (row.sku, row.location)
            current = stock.get(key)
            if current is None:
                errors.append(
                    (
                        line,
                        f"sku={row.sku!r} location={row.location!r}: not stocked there; "
                        "import its stock first",
                    )
                )
                continue
            available = left.get(key, current.on_hand - current.reserved)
            if row.quantity > available:
                errors.append(
                    (
                        line,
                        f"quantity={row.quantity}: only {available} of {row.sku} available "
                        f"at {row.location}",
                    )
                )
            left[key] = available - row.quantity
        if errors:
            raise ImportFailed(source, sorted(errors))
        now = utcnow()
        ref = _ref(source)
        ledger = [
            {
                "sku": row.sku,
                "location": row.location,
                "delta": -row.quantity,
                "kind": LedgerKind.SALE.value,
                "reason": f"sales import {ref} line {line}",
                "ref_type": "import",
                "ref_id": ref,
                "actor": actor,
                "created_at": min(datetime.combine(row.date, SALE_TIME), now),
            }
            for line, row in rows
        ]
        totals: dict[tuple[str, str], int] = {}
        for _, row in rows:
            totals[(row.sku, row.location)] = totals.get((row.sku, row.location), 0) + row.quantity
        if totals:
            conn.execute(
                update(STOCK)
                .where(
                    STOCK.c.sku == bindparam("b_sku"), STOCK.c.location == bindparam("b_location")
                )
                .values(
                    on_hand=STOCK.c.on_hand - bindparam("b_qty"), updated_at=bindparam("b_now")
                ),
                [
                    {"b_sku": s, "b_location": loc, "b_qty": q, "b_now": now}
                    for (s, loc), q in totals.items()
                ],
            )
        if ledger:
            conn.execute(insert(LEDGER), ledger)
        report.ledger_rows = len(ledger)
        report.updated = len(totals)
        _audit(conn, "sales", source, fmt, report, actor)
    return report


def import_file(
    engine: Engine,
    kind: ImportKind,
    path: str | Path,
    *,
    format: ImportFormat | None = None,
    actor: str = ACTOR,
) -> ImportReport:
    """Import `path` as `kind` (`products`, `stock` or `sales`); see the per-kind functions."""
    if kind == "products":
        return import_products(engine, path, format=format, actor=actor)
    if kind == "stock":
        return import_stock(engine, path, format=format, actor=actor)
    if kind == "sales":
        return import_sales(engine, path, format=format, actor=actor)
    raise InvalidInput("kind", kind, "use 'products', 'stock' or 'sales'")
