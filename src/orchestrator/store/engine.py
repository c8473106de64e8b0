"""Engines for the operations store: a SQLite file by default, PostgreSQL by URL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel, create_engine

from orchestrator.errors import ConfigError
from orchestrator.settings import StoreSettings

__all__ = ["create_all", "is_postgres", "is_sqlite", "make_engine"]


def is_sqlite(engine: Engine) -> bool:
    """Whether the engine talks to SQLite."""
    return engine.dialect.name == "sqlite"


def is_postgres(engine: Engine) -> bool:
    """Whether the engine talks to PostgreSQL."""
    return engine.dialect.name == "postgresql"


def make_engine(settings: StoreSettings | str) -> Engine:
    """Create the store's engine from settings (or a bare URL).

    SQLite files get WAL journalling, foreign keys, a busy timeout and `BEGIN IMMEDIATE`
    transactions, so that concurrent writers queue on the database lock instead of failing
    on lock upgrades. PostgreSQL URLs without a driver use psycopg 3.

    Args:
        settings: the `store` settings section, or a SQLAlchemy URL.

    Raises:
        ConfigError: the URL is neither SQLite nor PostgreSQL, or its directory is missing.
    """
    if isinstance(settings, str):
        settings = StoreSettings(url=settings)
    url = settings.url
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
        # can then never fail with SQLITE_BUSY on the lock upgrade.
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def create_all(engine: Engine) -> None:
    """Create every table that does not exist yet (tests and quick starts).

    Production databases are versioned with Alembic: `orchestrator db upgrade`.
    """
    from orchestrator.store import models  # noqa: F401  (registers the tables)

    SQLModel.metadata.create_all(engine)
