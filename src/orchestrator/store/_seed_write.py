"""The seed's bulk writer: columnar rows into a table, fast on SQLite and PostgreSQL.

SQLite gets `executemany` on the driver cursor with values already in SQLAlchemy's storage
format (timestamps as `YYYY-MM-DD HH:MM:SS.ffffff` UTC text, JSON as text, booleans as 0/1),
so rows read back through the ORM exactly as if the ORM had written them. PostgreSQL gets
`COPY ... FROM STDIN` in text format through psycopg's `cursor.copy()`.

Timestamps travel as int64 seconds since the UNIX epoch (UTC), `NULL_TIME` for NULL.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import JSON, Boolean, Date, Float, Integer, Table, text
from sqlalchemy.engine import Connection

from orchestrator.store.models import UTCDateTime

__all__ = ["NULL_TIME", "Columns", "indexes_deferred", "write_table"]

NULL_TIME = np.iinfo(np.int64).min
"""The int64 timestamp that stands for NULL."""

Columns = Mapping[str, Sequence[Any] | npt.NDArray[Any]]
"""Column name -> values, all of one length."""

_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _kind(table: Table, name: str) -> str:
    col_type = table.c[name].type
    if isinstance(col_type, UTCDateTime):
        return "datetime"
    if isinstance(col_type, JSON):
        return "json"
    if isinstance(col_type, Boolean):
        return "bool"
    if isinstance(col_type, Date):
        return "date"
    if isinstance(col_type, Integer):
        return "int"
    if isinstance(col_type, Float):
        return "float"
    return "str"


def _times(values: Sequence[Any] | npt.NDArray[Any], postgres: bool) -> list[str | None]:
    arr = np.asarray(values, dtype=np.int64)
    null = arr == NULL_TIME
    text = np.datetime_as_string(np.where(null, 0, arr).astype("datetime64[s]"), unit="s")
    out: list[str | None] = []
    suffix = "+00" if postgres else ".000000"
    for value, is_null in zip(text.tolist(), null.tolist(), strict=True):
        out.append(None if is_null else value.replace("T", " ") + suffix)
    return out


def _convert(kind: str, values: Sequence[Any] | npt.NDArray[Any], postgres: bool) -> list[Any]:
    if kind == "datetime":
        return _times(values, postgres)
    items = values.tolist() if isinstance(values, np.ndarray) else list(values)
    if kind == "json":
        return [None if v is None else json.dumps(v, sort_keys=True) for v in items]
    if kind == "bool" and not postgres:
        return [None if v is None else int(bool(v)) for v in items]
    if kind == "date":
        return [None if v is None else v.isoformat() for v in items]
    return items


def _copy_text(value: Any) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, str):
        return value.translate(_COPY_ESCAPES)
    return str(value)


def write_table(
    conn: Connection,
    table: Table,
    columns: Columns,
    *,
    batch: int = 100_000,
    on_batch: Callable[[int], None] | None = None,
) -> int:
    """Append rows to `table` inside the connection's transaction; returns the row count.

    Args:
        conn: a connection with a transaction begun.
        table: the target table.
        columns: values per column name (missing nullable columns are left out of the insert).
        batch: rows per driver call.
        on_batch: called with the number of rows written so far after every batch.
    """
    names = list(columns)
    lengths = {len(columns[n]) for n in names}
    if len(lengths) > 1:
        raise ValueError(f"{table.name}: columns of different lengths {sorted(lengths)}")
    total = lengths.pop() if lengths else 0
    if total == 0:
        return 0
    postgres = conn.dialect.name == "postgresql"
    quoted = ", ".join(f'"{n}"' for n in names)
    done = 0
    for start in range(0, total, batch):
        stop = min(total, start + batch)
        converted = [_convert(_kind(table, n), columns[n][start:stop], postgres) for n in names]
        if postgres:
            raw: Any = conn.connection.driver_connection
            payload = "".join(
                "\t".join(map(_copy_text, row)) + "\n" for row in zip(*converted, strict=True)
            )
            with (
                raw.cursor() as cur,
                cur.copy(f'COPY "{table.name}" ({quoted}) FROM STDIN') as copy,
            ):
                copy.write(payload.encode())
        else:
            marks = ", ".join("?" for _ in names)
            conn.exec_driver_sql(
                f'INSERT INTO "{table.name}" ({quoted}) VALUES ({marks})',
                list(zip(*converted, strict=True)),
            )
        done = stop
        if on_batch is not None:
            on_batch(done)
    return done


@contextmanager
def indexes_deferred(conn: Connection, table: str) -> Iterator[None]:
    """Drop `table`'s secondary indexes (and, on PostgreSQL, its foreign keys) for a bulk load.

    They are recreated from their own DDL as read from the catalogue when the block ends, in
    the same transaction: building an index once is far cheaper than maintaining it row by
    row, and PostgreSQL checks a re-added foreign key with one join instead of one lookup per
    row.
    """
    if conn.dialect.name == "postgresql":
        index_rows = conn.execute(
            text(
                "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = :t "
                "AND i.schemaname = current_schema() AND NOT EXISTS (SELECT 1 FROM pg_constraint c "
                "WHERE c.conname = i.indexname AND c.contype IN ('p', 'u'))"
            ),
            {"t": table},
        ).all()
        fk_rows = conn.execute(
            text(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid = CAST(:t AS regclass) AND contype = 'f'"
            ),
            {"t": table},
        ).all()
        for name, _ in fk_rows:
            conn.exec_driver_sql(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')
    else:
        index_rows = conn.execute(
            text(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = :t "
                "AND sql IS NOT NULL"
            ),
            {"t": table},
        ).all()
        fk_rows = []
    for name, _ in index_rows:
        conn.exec_driver_sql(f'DROP INDEX "{name}"')
    yield
    for _, ddl in index_rows:
        conn.exec_driver_sql(ddl)
    for name, ddl in fk_rows:
        conn.exec_driver_sql(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {ddl}')
