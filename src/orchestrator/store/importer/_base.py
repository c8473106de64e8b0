"""What every import shares: the report, the audit row, keyed upserts and reference checks."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

from pydantic import BaseModel
from sqlalchemy import Table, and_, bindparam, insert, select, tuple_, update
from sqlalchemy.engine import Connection

from orchestrator.store.importer._read import ImportFormat, Parsed
from orchestrator.store.models import (
    AuditLog,
    Customer,
    Location,
    Product,
    Stock,
    StockLedger,
    Supplier,
    SupplierOffer,
    utcnow,
)

__all__ = ["ImportKind", "ImportReport"]

ImportKind = Literal[
    "locations", "products", "suppliers", "offers", "customers", "opening_stock", "stock", "sales"
]

ACTOR = "import"
CHUNK = 500


def table(model: Any) -> Table:
    return cast(Table, model.__table__)


PRODUCT = table(Product)
LOCATION = table(Location)
CUSTOMER = table(Customer)
SUPPLIER = table(Supplier)
OFFER = table(SupplierOffer)
STOCK = table(Stock)
LEDGER = table(StockLedger)
AUDIT = table(AuditLog)


class ImportReport(BaseModel):
    """What an import read, wrote and skipped."""

    kind: ImportKind
    source: str
    format: ImportFormat
    sha256: str = ""
    """SHA-256 of the file's bytes (recorded in the import's audit row)."""
    delimiter: str | None = None
    """The CSV delimiter found in the header line (None for JSON)."""
    rows: int
    """Rows read from the file."""
    created: int = 0
    """Rows created (products, locations, customers, suppliers, offers, stock rows)."""
    updated: int = 0
    """Rows changed (for sales: stock rows whose on-hand count went down)."""
    skipped: int = 0
    """Rows that changed nothing: already imported, or equal to what the store holds."""
    skipped_lines: list[int] = []
    """The line of every skipped row, in file order."""
    skip_reason: str = ""
    """Why those rows were skipped."""
    ledger_rows: int = 0
    """Stock-ledger rows appended."""

    def summary(self) -> str:
        """One line for people: what was created, changed and skipped, and why."""
        if self.kind == "sales":
            parts = [f"{self.ledger_rows} sale(s) recorded", f"{self.updated} stock row(s) lowered"]
        elif self.kind == "opening_stock":
            parts = [f"{self.created} stock row(s) opened", f"{self.ledger_rows} ledger row(s)"]
        elif self.kind == "stock":
            parts = [
                f"{self.created} created",
                f"{self.updated} recounted",
                f"{self.ledger_rows} ledger row(s)",
            ]
        else:
            parts = [f"{self.created} created", f"{self.updated} updated"]
        parts.append(f"{self.skipped} skipped")
        kind = self.kind.replace("_", " ")
        text = f"{self.source}: {self.rows} row(s) of {kind}: " + ", ".join(parts)
        if self.skipped:
            text += f" ({self.skip_reason}: {line_ranges(self.skipped_lines)})"
        return text


def line_ranges(lines: Sequence[int], limit: int = 12) -> str:
    """`2-5, 9, 12-14`: line numbers folded into ranges (at most `limit` of them)."""
    ranges: list[str] = []
    start = prev = None
    for n in [*lines, None]:
        if n is not None and prev is not None and n == prev + 1:
            prev = n
            continue
        if start is not None:
            ranges.append(f"line {start}" if start == prev else f"lines {start}-{prev}")
        start = prev = n
    if len(ranges) > limit:
        ranges = [*ranges[:limit], f"... {len(ranges) - limit} more"]
    return ", ".join(ranges)


def source_name(source: str) -> str:
    return Path(source).name[:64]


def audit(conn: Connection, report: ImportReport, actor: str) -> None:
    """One audit row for the whole import, with the file's hash and the counts."""
    conn.execute(
        insert(AUDIT).values(
            at=utcnow(),
            actor=actor,
            operation=f"import_{report.kind}",
            arguments={"path": report.source, "format": report.format, "sha256": report.sha256},
            after=report.model_dump(
                include={"rows", "created", "updated", "skipped", "ledger_rows"}
            ),
            outcome="ok",
            reason=f"{report.kind} imported from {source_name(report.source)}",
        )
    )


def new_report(kind: ImportKind, source: str, fmt: ImportFormat, parsed: Parsed) -> ImportReport:
    return ImportReport(
        kind=kind,
        source=source,
        format=fmt,
        sha256=parsed.sha256,
        delimiter=parsed.delimiter,
        rows=len(parsed.rows),
    )


# --- keyed upserts ----------------------------------------------------------------------------


@dataclass
class Item:
    """One row to upsert: its line, its key (table columns) and the values the file gives."""

    line: int
    key: tuple[Any, ...]
    values: dict[str, Any]
    """Table column -> value, for the columns the row gives (key columns excluded)."""
    label: str
    """How a message names the row, e.g. `sku='ARD-1'`."""


@dataclass
class Upsert:
    """A keyed upsert planned against the store: what to insert, change and skip."""

    inserts: list[dict[str, Any]] = field(default_factory=list)
    updates: list[tuple[tuple[Any, ...], dict[str, Any]]] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)


def plan_upsert(
    conn: Connection,
    tbl: Table,
    key_columns: tuple[str, ...],
    items: Iterable[Item],
    errors: list[tuple[int, str]],
    *,
    entity: str,
    requires: dict[str, str],
    defaults: Callable[[], dict[str, Any]],
) -> Upsert:
    """Plan inserts for new keys, updates of the changed columns, and skips of equal rows.

    Args:
        requires: table column -> file column that a *new* row must give.
        defaults: the values of a new row's other columns.
    """
    items = list(items)
    existing = _existing(conn, tbl, key_columns, [i.key for i in items])
    plan = Upsert()
    seen: dict[tuple[Any, ...], int] = {}
    for item in items:
        if item.key in seen:
            errors.append((item.line, f"{item.label}: repeats line {seen[item.key]}"))
            continue
        seen[item.key] = item.line
        current = existing.get(item.key)
        if current is None:
            missing = [name for col, name in requires.items() if col not in item.values]
            if missing:
                errors.append(
                    (
                        item.line,
                        f"{item.label}: a new {entity} needs {', '.join(missing)} "
                        f"(missing: give them, or fix the key if the {entity} exists)",
                    )
                )
                continue
            plan.inserts.append(
                {**defaults(), **dict(zip(key_columns, item.key, strict=True)), **item.values}
            )
            continue
        changes = {c: v for c, v in item.values.items() if current[c] != v}
        if changes:
            plan.updates.append((item.key, changes))
        else:
            plan.skipped.append(item.line)
    return plan


def apply_upsert(conn: Connection, tbl: Table, key_columns: tuple[str, ...], plan: Upsert) -> None:
    """Write a planned upsert: one INSERT for the new rows, one UPDATE per set of changed columns."""
    if plan.inserts:
        conn.execute(insert(tbl), plan.inserts)
    batches: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for key, changes in plan.updates:
        params = {f"k_{c}": v for c, v in zip(key_columns, key, strict=True)}
        params.update({f"v_{c}": v for c, v in changes.items()})
        batches.setdefault(tuple(sorted(changes)), []).append(params)
    for columns, batch in batches.items():
        stmt = (
            update(tbl)
            .where(and_(*(tbl.c[c] == bindparam(f"k_{c}") for c in key_columns)))
            .values({c: bindparam(f"v_{c}") for c in columns})
        )
        conn.execute(stmt, batch)


def _existing(
    conn: Connection, tbl: Table, key_columns: tuple[str, ...], keys: list[tuple[Any, ...]]
) -> dict[tuple[Any, ...], Any]:
    unique = sorted(set(keys), key=repr)
    found: dict[tuple[Any, ...], Any] = {}
    cols = [tbl.c[c] for c in key_columns]
    for start in range(0, len(unique), CHUNK):
        chunk = unique[start : start + CHUNK]
        where = cols[0].in_([k[0] for k in chunk]) if len(cols) == 1 else tuple_(*cols).in_(chunk)
        for row in conn.execute(select(tbl).where(where)).mappings():
            found[tuple(row[c] for c in key_columns)] = row
    return found


# --- references -------------------------------------------------------------------------------


def known_values(conn: Connection, column: Any, values: Iterable[Any]) -> set[Any]:
    """Which of `values` exist in `column` (chunked IN queries)."""
    wanted = sorted(set(values))
    known: set[Any] = set()
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start : start + CHUNK]
        known.update(r[0] for r in conn.execute(select(column).where(column.in_(chunk))))
    return known


def check_skus_and_locations(
    conn: Connection, rows: list[tuple[int, Any]], errors: list[tuple[int, str]]
) -> set[int]:
    """Report unknown SKUs and locations as bad rows; return the lines that had one."""
    skus = known_values(conn, PRODUCT.c.sku, (r.sku for _, r in rows))
    locations = [r[0] for r in conn.execute(select(LOCATION.c.code).order_by(LOCATION.c.code))]
    known_locations = (
        f"known: {', '.join(locations)}"
        if locations
        else "the store has no locations yet: import them first (orchestrator import locations FILE)"
    )
    bad: set[int] = set()
    for line, row in rows:
        if row.sku not in skus:
            errors.append(
                (
                    line,
                    f"sku={row.sku!r}: unknown SKU; import it with the products first "
                    "(orchestrator import products FILE)",
                )
            )
            bad.add(line)
        if row.location not in locations:
            errors.append((line, f"location={row.location!r}: unknown location; {known_locations}"))
            bad.add(line)
    return bad


def lock_stock(conn: Connection, skus: Iterable[str]) -> dict[tuple[str, str], Any]:
    """The stock rows of these SKUs, locked until the import commits (PostgreSQL).

    So the checks against reserved and available stock still hold when the rows are written.
    """
    wanted = sorted(set(skus))
    stock: dict[tuple[str, str], Any] = {}
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start : start + CHUNK]
        for r in conn.execute(select(STOCK).where(STOCK.c.sku.in_(chunk)).with_for_update()):
            stock[(r.sku, r.location)] = r
    return stock
