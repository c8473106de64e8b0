"""Alembic environment of the operations store.

Run through `orchestrator.store.migrate` (or `orchestrator db upgrade`), which passes an open
connection in `config.attributes["connection"]`; the plain `alembic` command works too with
`-x url=...` or `sqlalchemy.url` set.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from orchestrator.store import models  # noqa: F401  (registers the tables)

config = context.config
target_metadata = SQLModel.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Migrate through the connection handed over by `migrate`, or a URL of our own."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    from orchestrator.store.engine import make_engine

    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url"
    )
    if not url:
        raise RuntimeError("pass -x url=sqlite:///file.db (or set sqlalchemy.url)")
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("offline (--sql) migrations are not supported; run against a database")
run_migrations_online()
