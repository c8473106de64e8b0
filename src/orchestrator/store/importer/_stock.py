"""Stock imports: opening stock, stock counts and sales history, each kept on the ledger.

Idempotency, per kind:
- opening stock: per row key (sku, location): a pair that already has a stock row is
  skipped, whatever the file says (recount it with a stock count instead);
- stock counts: per file: a file whose bytes were imported as counts before is skipped as a
  whole (`recount=True` applies it again), and a row whose count equals on-hand is skipped;
- sales: per row key: the `id` column when the file has one, else the row's fingerprint
  (date, sku, location, quantity and its occurrence among equal rows of the file). The key is
  the sale's ledger row's `ref_id` (`ref_type='sales_import'`), so a row imported before, from
  this file or any other, is skipped.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.engine import Connection, Engine

from orchestrator.errors import ImportFailed
from orchestrator.store.importer._base import (
    ACTOR,
    AUDIT,
    CHUNK,
    LEDGER,
    STOCK,
    ImportReport,
    audit,
    check_skus_and_locations,
    lock_stock,
    new_report,
    source_name,
)
from orchestrator.store.importer._read import ImportFormat, parse_file, resolve
from orchestrator.store.importer._rows import OpeningStockRow, SaleRow, StockRow
from orchestrator.store.models import LedgerKind, utcnow

__all__ = ["SALES_REF_TYPE", "import_opening_stock", "import_sales", "import_stock"]

SALE_TIME = time(20, 0, tzinfo=UTC)
"""Imported daily sales are dated at the end of trading, as the demo seed's are."""
SALES_REF_TYPE = "sales_import"
"""`stock_ledger.ref_type` of imported sales; their `ref_id` is the row's key."""


def import_opening_stock(
    engine: Engine,
    path: str | Path,
    *,
    format: ImportFormat | None = None,
    actor: str = ACTOR,
    today: date | None = None,
) -> ImportReport:
    """Open stock rows from a CSV or JSON file: `sku, location, on_hand[, reorder_point][, date]`.

    Each new (sku, location) gets a stock row and an `opening` ledger row for its count,
    dated at 00:00 UTC on `date` (default: now). A pair that already has a stock row is
    skipped, so the file can be imported again safely; a recount is a stock count import.

    Raises:
        ImportFailed: some rows are bad (each listed with its line); nothing was written.
        InvalidInput: the file does not exist or its format is unknown.
    """
    p, fmt = resolve(path, format)
    source = str(path)
    parsed = parse_file(p, fmt, OpeningStockRow, ("sku", "location", "on_hand"), source)
    report = new_report("opening_stock", source, fmt, parsed)
    errors = list(parsed.errors)
    rows = parsed.rows
    limit = today or utcnow().date()
    with engine.begin() as conn:
        check_skus_and_locations(conn, rows, errors)
        stock = lock_stock(conn, (r.sku for _, r in rows))
        seen: dict[tuple[str, str], int] = {}
        for line, row in rows:
            key = (row.sku, row.location)
            if key in seen:
                errors.append(
                    (line, f"sku={row.sku!r} location={row.location!r}: repeats line {seen[key]}")
                )
            seen.setdefault(key, line)
            if row.date is not None and row.date > limit:
                errors.append(
                    (line, f"date={row.date.isoformat()!r}: in the future (after {limit})")
                )
        if errors:
            raise ImportFailed(source, sorted(errors))
        now = utcnow()
        ref = source_name(source)
        created: list[dict[str, Any]] = []
        ledger: list[dict[str, Any]] = []
        for line, row in rows:
            if (row.sku, row.location) in stock:
                report.skipped_lines.append(line)
                continue
            at = now if row.date is None else datetime.combine(row.date, time(0, 0, tzinfo=UTC))
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
                    {
                        "sku": row.sku,
                        "location": row.location,
                        "delta": row.on_hand,
                        "kind": LedgerKind.OPENING.value,
                        "reason": f"opening stock imported from {ref} line {line}",
                        "ref_type": "import",
                        "ref_id": ref,
                        "actor": actor,
                        "created_at": min(at, now),
                    }
                )
        if created:
            conn.execute(insert(STOCK), created)
        if ledger:
            conn.execute(insert(LEDGER), ledger)
        report.created = len(created)
        report.ledger_rows = len(ledger)
        report.skipped = len(report.skipped_lines)
        if report.skipped:
            report.skip_reason = (
                "already stocked, and an opening balance is set once; a recount is "
                "`orchestrator import stock`"
            )
        audit(conn, report, actor)
    return report


def _imported_before(conn: Connection, kind: str, sha256: str) -> datetime | None:
    """When a file with these bytes was last imported as `kind` (from the audit log)."""
    rows = conn.execute(
        select(AUDIT.c.at, AUDIT.c.arguments)
        .where(AUDIT.c.operation == f"import_{kind}", AUDIT.c.outcome == "ok")
        .order_by(AUDIT.c.id.desc())
    )
    for at, arguments in rows:
        if isinstance(arguments, dict) and arguments.get("sha256") == sha256:
            return at
    return None


def import_stock(
    engine: Engine,
    path: str | Path,
    *,
    format: ImportFormat | None = None,
    actor: str = ACTOR,
    recount: bool = False,
) -> ImportReport:
    """Set on-hand counts per SKU and location from a CSV or JSON file (all rows or none).

    New (sku, location) pairs get a stock row and an `opening` ledger row; existing ones an
    `adjustment` ledger row for the difference, so on-hand always equals the ledger. A row
    whose count (and reorder point) the store already holds is skipped. A file imported as
    counts before is skipped whole, since applying old counts again would undo every
    movement since: pass `recount=True` (`--recount`) to apply it all the same.

    Args:
        engine: the store's engine.
        path: the file; `.csv` or `.json` unless `format` says which.
        format: `csv` or `json`, overriding the file name's extension.
        actor: who imports, for the audit and ledger rows.
        recount: apply a file whose bytes were imported as counts before.

    Returns:
        Rows read; stock rows created, updated and skipped; ledger rows appended.

    Raises:
        ImportFailed: some rows are bad (each listed with its line); nothing was written.
        InvalidInput: the file does not exist or its format is unknown.
    """
    p, fmt = resolve(path, format)
    source = str(path)
    parsed = parse_file(p, fmt, StockRow, ("sku", "location", "on_hand"), source)
    report = new_report("stock", source, fmt, parsed)
    errors = list(parsed.errors)
    rows = parsed.rows
    with engine.begin() as conn:
        check_skus_and_locations(conn, rows, errors)
        stock = lock_stock(conn, (r.sku for _, r in rows))
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
        earlier = None if recount else _imported_before(conn, "stock", parsed.sha256)
        if earlier is not None:
            report.skipped_lines = [line for line, _ in rows]
            report.skipped = len(rows)
            report.skip_reason = (
                f"imported as counts on {earlier:%Y-%m-%d %H:%M} UTC already, and applying old "
                "counts again would undo the movements since; --recount (recount=True) applies "
                "them anyway"
            )
            audit(conn, report, actor)
            return report
        now = utcnow()
        ref = source_name(source)
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
            rop = row.reorder_point if row.reorder_point is not None else current.reorder_point
            if delta == 0 and rop == current.reorder_point:
                report.skipped_lines.append(line)
                continue
            moves.append(
                {
                    "b_sku": row.sku,
                    "b_location": row.location,
                    "b_delta": delta,
                    "b_rop": rop,
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
        report.skipped = len(report.skipped_lines)
        if report.skipped:
            report.skip_reason = "the store already holds these counts"
        audit(conn, report, actor)
    return report


def _sale_keys(rows: list[tuple[int, SaleRow]]) -> dict[int, str]:
    """Line -> the row's key: `id:<your id>`, or `fp:<fingerprint>` without an id."""
    keys: dict[int, str] = {}
    occurrences: dict[tuple[str, str, str, int], int] = {}
    for line, row in rows:
        if row.id is not None:
            keys[line] = f"id:{row.id}"
            continue
        what = (row.date.isoformat(), row.sku, row.location, row.quantity)
        n = occurrences[what] = occurrences.get(what, 0) + 1
        digest = hashlib.sha256("\x1f".join(map(str, (*what, n))).encode()).hexdigest()
        keys[line] = f"fp:{digest[:40]}"
    return keys


def _imported_sales(conn: Connection, keys: list[str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    unique = sorted(set(keys))
    for start in range(0, len(unique), CHUNK):
        chunk = unique[start : start + CHUNK]
        for r in conn.execute(
            select(
                LEDGER.c.ref_id,
                LEDGER.c.sku,
                LEDGER.c.location,
                LEDGER.c.delta,
                LEDGER.c.created_at,
            ).where(LEDGER.c.ref_type == SALES_REF_TYPE, LEDGER.c.ref_id.in_(chunk))
        ):
            found[r.ref_id] = r
    return found


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
    stock by its quantity. A row imported before (same `id`, or without ids the same
    date, SKU, location and quantity) is skipped, so importing a file twice, or two exports
    that overlap, counts every sale once.

    Args:
        engine: the store's engine.
        path: the file; `.csv` or `.json` unless `format` says which.
        format: `csv` or `json`, overriding the file name's extension.
        actor: who imports, for the audit and ledger rows.
        today: dates after this are refused (default: today in UTC).

    Returns:
        Rows read, ledger rows appended, stock rows lowered, rows skipped.

    Raises:
        ImportFailed: some rows are bad (each listed with its line); nothing was written.
        InvalidInput: the file does not exist or its format is unknown.
    """
    p, fmt = resolve(path, format)
    source = str(path)
    parsed = parse_file(p, fmt, SaleRow, ("date", "sku", "location", "quantity"), source)
    report = new_report("sales", source, fmt, parsed)
    errors = list(parsed.errors)
    rows = parsed.rows
    limit = today or utcnow().date()
    keys = _sale_keys(rows)
    with engine.begin() as conn:
        bad = check_skus_and_locations(conn, rows, errors)
        stock = lock_stock(conn, (r.sku for _, r in rows))
        # Read after the stock rows are locked: a concurrent import of the same rows has
        # committed by then, and its keys are seen.
        imported = _imported_sales(conn, list(keys.values()))
        seen_ids: dict[str, int] = {}
        left: dict[tuple[str, str], int] = {}
        new: list[tuple[int, SaleRow]] = []
        for line, row in rows:
            if row.date > limit:
                errors.append(
                    (line, f"date={row.date.isoformat()!r}: in the future (after {limit})")
                )
                continue
            key = keys[line]
            if row.id is not None:
                if key in seen_ids:
                    errors.append((line, f"id={row.id!r}: repeats line {seen_ids[key]}"))
                    continue
                seen_ids[key] = line
            if line in bad:
                continue
            before = imported.get(key)
            if before is not None:
                same = (
                    before.sku == row.sku
                    and before.location == row.location
                    and -before.delta == row.quantity
                    and before.created_at.date() == row.date
                )
                if not same:
                    errors.append(
                        (
                            line,
                            f"id={row.id!r}: imported before as {-before.delta} x {before.sku} at "
                            f"{before.location} on {before.created_at.date()}; an id names one "
                            "sale: give this one another id",
                        )
                    )
                    continue
                report.skipped_lines.append(line)
                continue
            current = stock.get((row.sku, row.location))
            if current is None:
                errors.append(
                    (
                        line,
                        f"sku={row.sku!r} location={row.location!r}: not stocked there; "
                        "import its opening stock first (orchestrator import opening-stock FILE)",
                    )
                )
                continue
            available = left.get((row.sku, row.location), current.on_hand - current.reserved)
            if row.quantity > available:
                errors.append(
                    (
                        line,
                        f"quantity={row.quantity}: only {available} of {row.sku} available "
                        f"at {row.location}",
                    )
                )
            left[(row.sku, row.location)] = available - row.quantity
            new.append((line, row))
        if errors:
            raise ImportFailed(source, sorted(errors))
        now = utcnow()
        ref = source_name(source)
        sale = LedgerKind.SALE.value
        ledger = [
            {
                "sku": row.sku,
                "location": row.location,
                "delta": -row.quantity,
                "kind": sale,
                "reason": f"sales import {ref} line {line}",
                "ref_type": SALES_REF_TYPE,
                "ref_id": keys[line],
                "actor": actor,
                "created_at": min(datetime.combine(row.date, SALE_TIME), now),
            }
            for line, row in new
        ]
        totals: dict[tuple[str, str], int] = {}
        for _, row in new:
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
        report.skipped = len(report.skipped_lines)
        if report.skipped:
            report.skip_reason = "already imported"
        audit(conn, report, actor)
    return report
