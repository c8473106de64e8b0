"""The checkpointer graph runs keep their state in: SQLite by default, PostgreSQL by URL.

`open_checkpointer(settings)` returns LangGraph's own savers, set up (tables created,
idempotently) and ready: `SqliteSaver` on a file beside a SQLite store, `PostgresSaver` over a
connection pool in a PostgreSQL store's database (for many workers), `InMemorySaver` for an
in-memory store or `ORCH_CHECKPOINT__URL=memory`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from orchestrator.errors import ConfigError

if TYPE_CHECKING:
    from langgraph.checkpoint.base import BaseCheckpointSaver

    from orchestrator.settings import Settings

__all__ = ["checkpoint_url", "open_checkpointer"]


def checkpoint_url(settings: Settings) -> str:
    """Where checkpoints go: `settings.checkpoint.url`, else derived from the store's URL.

    A SQLite store `sqlite:///shop.db` keeps them in `sqlite:///shop.checkpoints.db`; a
    PostgreSQL store in its own database; an in-memory SQLite store in memory.
    """
    if settings.checkpoint.url:
        return settings.checkpoint.url
    store = settings.store.url
    if store.startswith("postgresql"):
        return store
    path = store.split("///", 1)[1] if "///" in store else ""
    if not path or path == ":memory:":
        return "memory"
    target = Path(path)
    return f"sqlite:///{target.with_name(target.stem + '.checkpoints' + (target.suffix or '.db'))}"


def open_checkpointer(settings: Settings) -> tuple[BaseCheckpointSaver[str], Callable[[], None]]:
    """Open (and set up) the checkpointer the settings name; returns it and its closer.

    Raises:
        ConfigError: the URL names something that cannot be opened (with the reason).
    """
    url = checkpoint_url(settings)
    if url == "memory":
        from langgraph.checkpoint.memory import InMemorySaver

        return InMemorySaver(), lambda: None
    if url.startswith("sqlite"):
        return _sqlite(url)
    return _postgres(url, settings.store.pool_size)


def _sqlite(url: str) -> tuple[BaseCheckpointSaver[str], Callable[[], None]]:
    import sqlite3

    from langgraph.checkpoint.sqlite import SqliteSaver

    path = url.split("///", 1)[1] if "///" in url else ""
    if not path:
        raise ConfigError(f"checkpoint URL {url!r}: expected sqlite:///path/to/file.db")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = sqlite3.connect(path, check_same_thread=False, timeout=30)
        # Several processes (a worker, the CLI deciding an approval) share the file.
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA busy_timeout=30000")
        saver = SqliteSaver(conn)
        saver.setup()
    except sqlite3.Error as exc:
        raise ConfigError(f"cannot open the checkpoint database {path!r}: {exc}") from exc
    return saver, conn.close


def _postgres(url: str, pool_size: int) -> tuple[BaseCheckpointSaver[str], Callable[[], None]]:
    from langgraph.checkpoint.postgres import PostgresSaver
    from psycopg.rows import dict_row
    from psycopg_pool import ConnectionPool

    conninfo = url.replace("postgresql+psycopg://", "postgresql://", 1)
    pool: ConnectionPool = ConnectionPool(
        conninfo,
        min_size=1,
        max_size=max(2, pool_size),
        kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
        open=False,
    )
    try:
        pool.open(wait=True, timeout=10)
        saver = PostgresSaver(pool)  # type: ignore[arg-type]
        saver.setup()
    except Exception as exc:
        pool.close()
        raise ConfigError(
            f"cannot open the checkpoint database at {_redact(conninfo)}: "
            f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        ) from exc
    return saver, pool.close


def _redact(conninfo: str) -> str:
    """The URL without its password."""
    if "@" not in conninfo or "://" not in conninfo:
        return conninfo
    scheme, rest = conninfo.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}@{host}"
