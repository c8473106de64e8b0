"""What the command modules share: the `--db` option, settings, the store's engine, tables.

Commands added later use these too, so that every command reads settings, opens the store
and prints tables the same way.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table
    from sqlalchemy.engine import Engine

    from orchestrator.settings import Settings

__all__ = ["DB_OPTION", "open_orchestrator", "open_store", "print_table", "settings_for"]

DB_OPTION = typer.Option(
    None,
    "--db",
    help="Store URL (sqlite:///file.db or postgresql+psycopg://...); default ORCH_STORE__URL.",
)
"""The shared `--db URL` option of every command that opens the store."""


def settings_for(db: str | None = None) -> Settings:
    """Load the settings (a bad one raises `ConfigError` naming it), `--db` overriding the URL.

    Raises:
        ConfigError: a setting is invalid, or `--db` is not a SQLite or PostgreSQL URL.
    """
    from pydantic import ValidationError

    from orchestrator import ConfigError, load_settings
    from orchestrator.settings import StoreSettings

    if db is not None:
        try:
            StoreSettings(url=db)
        except ValidationError as exc:
            problem = str(exc.errors()[0]["msg"]).removeprefix("Value error, ")
            raise ConfigError(f"--db: {problem}") from None
        return load_settings(store={"url": db})
    return load_settings()


@contextmanager
def open_store(settings: Settings, *, create: bool) -> Iterator[Engine]:
    """The store's engine, disposed afterwards.

    Args:
        settings: the loaded settings (`settings.store`).
        create: create (or migrate) missing tables, as `seed` and `import` do; when False the
            store must already exist with its tables (`SchemaMissing` otherwise), and no
            SQLite file is created.
    """
    from orchestrator.store.engine import make_engine, require_schema

    engine = make_engine(settings.store, must_exist=not create)
    try:
        if create:
            from orchestrator.store.seed import ensure_schema

            ensure_schema(engine)
        else:
            require_schema(engine)
        yield engine
    finally:
        engine.dispose()


def print_table(table: Table, console: Console | None = None) -> None:
    """Print a rich table whole: no cell is ever cut short.

    Cells that do not fit fold onto the next line instead of ending in an ellipsis; when the
    output is not a terminal (a pipe, a file, a test) the table is printed as wide as its
    longest rows, so every identifier stays whole on one line.
    """
    from rich.console import Console

    console = console or Console()
    for column in table.columns:
        column.overflow = "fold"
    if console.is_terminal:
        console.print(table)
        return
    natural = console.measure(table, options=console.options.update_width(10_000)).maximum
    width = console.width
    console.width = max(width, natural)
    try:
        console.print(table)
    finally:
        console.width = width


@contextmanager
def open_orchestrator(db: str | None) -> Iterator[Any]:
    """The runtime (`Orchestrator`) on an existing store, closed afterwards.

    Raises:
        SchemaMissing: the store has no tables (the CLI prints the fix: `orchestrator seed` or
            `orchestrator db upgrade`); nothing here creates a store.
    """
    from orchestrator.runtime import Orchestrator

    settings = settings_for(db)
    with open_store(settings, create=False):
        pass
    with Orchestrator(settings, upgrade_schema=False) as orch:
        yield orch
