"""Alembic migrations of the store's schema, run programmatically.

`upgrade(target)` brings a database to the newest revision (what `orchestrator db upgrade`
runs). The migration scripts ship inside the package (`orchestrator/store/migrations`).

Example:
    >>> from orchestrator.store.migrate import upgrade
    >>> upgrade("sqlite:///shop.db")  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.engine import Connection, Engine

from orchestrator.settings import Settings, StoreSettings

__all__ = [
    "MIGRATIONS_DIR",
    "alembic_config",
    "current_revision",
    "head_revision",
    "schema_diff",
    "stamp",
    "upgrade",
]

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
"""Where the Alembic environment and revision scripts live (inside the package)."""

Target = Engine | str | Settings | StoreSettings


def alembic_config(connection: Connection | None = None) -> Any:
    """An Alembic `Config` for the packaged migrations, bound to `connection` if given."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@contextmanager
def _engine(target: Target) -> Iterator[Engine]:
    from orchestrator.store.engine import make_engine

    if isinstance(target, Engine):
        yield target
        return
    if isinstance(target, Settings):
        target = target.store
    engine = make_engine(target)
    try:
        yield engine
    finally:
        engine.dispose()


@cache
def head_revision() -> str:
    """The newest revision id of the packaged migrations."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(target: Target) -> str | None:
    """The revision the database is at, or None when it is not under Alembic."""
    from alembic.migration import MigrationContext

    with _engine(target) as engine, engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(target: Target, revision: str = "head") -> str:
    """Upgrade the database's schema to `revision` (default: the newest).

    A database whose tables were made by `create_all` (no Alembic version yet) is stamped
    with the initial revision first, then upgraded from there.

    Args:
        target: an engine, a URL, or the settings (their `store.url`).
        revision: the revision to reach.

    Returns:
        The revision the database is at afterwards.
    """
    from alembic import command

    with _engine(target) as engine:
        with engine.begin() as conn:
            names = set(inspect(conn).get_table_names())
            config = alembic_config(conn)
            if "alembic_version" not in names and "stock_ledger" in names:
                command.stamp(config, _INITIAL)
            command.upgrade(config, revision)
        return current_revision(engine) or ""


def stamp(target: Target, revision: str = "head") -> None:
    """Record `revision` as the database's version without running any migration."""
    from alembic import command

    with _engine(target) as engine, engine.begin() as conn:
        command.stamp(alembic_config(conn), revision)


def schema_diff(target: Target) -> list[Any]:
    """What Alembic autogenerate finds between the database and `models.py` (empty: in sync)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlmodel import SQLModel

    from orchestrator.store import models  # noqa: F401

    with _engine(target) as engine, engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, SQLModel.metadata)
    return [d for d in diff if not _ignored(d)]


def _ignored(item: Any) -> bool:
    # Alembic's own bookkeeping table is not part of the models.
    return (
        isinstance(item, tuple)
        and len(item) > 1
        and getattr(item[1], "name", None) == "alembic_version"
    )


_INITIAL = "0001_initial"
