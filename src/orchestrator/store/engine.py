"""Engines for the operations store: a SQLite file by default, PostgreSQL by URL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event, inspect, text
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel, create_engine

from orchestrator.errors import ConfigError, SchemaMissing
from orchestrator.settings import StoreSettings

__all__ = [
    "APPEND_ONLY_TABLES",
    "append_only_ddl",
    "create_all",
    "is_postgres",
    "is_sqlite",
    "make_engine",
    "require_schema",
    "safe_url",
]

APPEND_ONLY_TABLES = ("stock_ledger", "audit_log", "price_history")
"""Tables whose rows are never updated or deleted; database triggers refuse both."""


def is_sqlite(engine: Engine) -> bool:
    """Whether the engine talks to SQLite."""
    return engine.dialect.name == "sqlite"


def is_postgres(engine: Engine) -> bool:
    """Whether the engine talks to PostgreSQL."""
    return engine.dialect.name == "postgresql"


def safe_url(url: str | Engine) -> str:
    """The store URL with any password hidden, for messages."""
    from sqlalchemy.engine import make_url

    if isinstance(url, Engine):
        return url.url.render_as_string(hide_password=True)
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url


def make_engine(settings: StoreSettings | str, *, must_exist: bool = False) -> Engine:
    """Create the store's engine from settings (or a bare URL).

    SQLite files get WAL journalling, foreign keys, a busy timeout and `BEGIN IMMEDIATE`
    transactions, so that concurrent writers queue on the database lock instead of failing
    on lock upgrades; a read-only connection opts out with
    `conn.execution_options(sqlite_begin="DEFERRED")` (a snapshot read, no write lock). PostgreSQL URLs without a driver use psycopg 3.

    Args:
        settings: the `store` settings section, or a SQLAlchemy URL.
        must_exist: refuse a SQLite file that does not exist yet instead of creating it on
            first connect (for commands that only read or check a store).

    Raises:
        ConfigError: the URL is neither SQLite nor PostgreSQL, or its directory is missing.
        SchemaMissing: `must_exist` and the SQLite file does not exist.
    """
    if isinstance(settings, str):
        settings = StoreSettings(url=settings)
    url = settings.url
    if must_exist and url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path not in ("", ":memory:") and not Path(path).expanduser().is_file():
            raise SchemaMissing(safe_url(url), [])
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    if url.startswith("sqlite"):
        return _sqlite_engine(url, settings)
    if url.startswith("postgresql"):
        return create_engine(
            url,
            echo=settings.echo,
            pool_size=settings.pool_size,
            max_overflow=settings.pool_size,
            pool_pre_ping=True,
        )
    raise ConfigError(f"ORCH_STORE__URL={url!r}: use sqlite:///file.db or postgresql+psycopg://...")


def _sqlite_engine(url: str, settings: StoreSettings) -> Engine:
    path = url.split("///", 1)[1] if "///" in url else ""
    in_memory = path in ("", ":memory:")
    if not in_memory:
        parent = Path(path).expanduser().resolve().parent
        if not parent.is_dir():
            raise ConfigError(
                f"ORCH_STORE__URL={url!r}: directory {str(parent)!r} does not exist; create it "
                "or point the URL elsewhere"
            )
    kwargs: dict[str, Any] = {
        "echo": settings.echo,
        "connect_args": {"check_same_thread": False, "timeout": settings.busy_timeout_ms / 1000},
    }
    if in_memory:
        from sqlalchemy.pool import StaticPool

        kwargs["poolclass"] = StaticPool
    engine = create_engine(url, **kwargs)
    busy_timeout = settings.busy_timeout_ms

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, issue BEGIN, so that it can be BEGIN IMMEDIATE.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        if not in_memory:
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout)}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Every transaction takes the write lock up front: a read-then-write transaction
        # can then never fail with SQLITE_BUSY on the lock upgrade. Read-only work opts out
        # with execution_options(sqlite_begin="DEFERRED") and reads a WAL snapshot instead.
        if conn.get_execution_options().get("sqlite_begin") == "DEFERRED":
            conn.exec_driver_sql("BEGIN DEFERRED")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def require_schema(engine: Engine) -> None:
    """Check that every table and column of the models exists in the store.

    A light check (the inspector's table and column names), for commands that read a store
    they did not create: a store without tables gets a message saying how to make them rather
    than `no such table`.

    Raises:
        SchemaMissing: tables or columns are missing; the message says to run
            `orchestrator db upgrade`.
    """
    from sqlalchemy import inspect

    from orchestrator.store import models  # noqa: F401  (registers the tables)

    inspector = inspect(engine)
    present = set(inspector.get_table_names())
    missing: list[str] = []
    for name, table in SQLModel.metadata.tables.items():
        if name not in present:
            missing.append(name)
            continue
        columns = {c["name"] for c in inspector.get_columns(name)}
        missing += [f"{name}.{c.name}" for c in table.columns if c.name not in columns]
    if len(missing) == len(SQLModel.metadata.tables):
        missing = ["store tables"]
    if missing:
        raise SchemaMissing(safe_url(engine), missing)


def create_all(engine: Engine) -> None:
    """Create every table that does not exist yet (tests and quick starts).

    A database it creates is stamped with the newest Alembic revision, since its tables are
    the newest schema: a later `orchestrator db upgrade` then has nothing to do. Production
    databases are versioned with Alembic: `orchestrator db upgrade`.
    """
    from orchestrator.store import models  # noqa: F401  (registers the tables)
    from orchestrator.store.migrate import head_revision

    with engine.begin() as conn:
        fresh = not inspect(conn).has_table("stock_ledger")
    SQLModel.metadata.create_all(engine)
    with engine.begin() as conn:
        for statement in append_only_ddl(engine.dialect.name):
            conn.execute(text(statement))
        if fresh and not inspect(conn).has_table("alembic_version"):
            conn.execute(
                text(
                    "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
                    "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"
                )
            )
            conn.execute(
                text("INSERT INTO alembic_version (version_num) VALUES (:v)"),
                {"v": head_revision()},
            )


def append_only_ddl(dialect: str) -> list[str]:
    """The DDL of the triggers that refuse UPDATE and DELETE on `APPEND_ONLY_TABLES`.

    Idempotent (safe to run again). The Alembic migration creates the same triggers.

    Args:
        dialect: `sqlite` or `postgresql`.
    """
    statements: list[str] = []
    if dialect == "sqlite":
        for table in APPEND_ONLY_TABLES:
            for op in ("UPDATE", "DELETE"):
                statements.append(
                    f"CREATE TRIGGER IF NOT EXISTS {table}_no_{op.lower()} BEFORE {op} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {op} refused; "
                    "append a correcting row instead'); END"
                )
        return statements
    if dialect == "postgresql":
        statements.append(
            "CREATE OR REPLACE FUNCTION orch_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION '% is append-only: % refused; append a correcting row "
            "instead', TG_TABLE_NAME, TG_OP USING ERRCODE = 'restrict_violation'; END $$"
        )
        for table in APPEND_ONLY_TABLES:
            statements.append(
                f"CREATE OR REPLACE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION orch_append_only()"
            )
        return statements
    raise ConfigError(f"no append-only triggers for dialect {dialect!r}: use sqlite or postgresql")
