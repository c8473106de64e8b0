"""The operations store: schema, engine and the services that are the only code that writes.

`StoreService` (in `orchestrator.store.services`) is the one way to change domain rows;
`check_invariants` says whether the books balance; `orchestrator.store.migrate.upgrade`
brings a database's schema to the newest Alembic revision.
"""

from __future__ import annotations

from orchestrator.store.engine import (
    APPEND_ONLY_TABLES,
    append_only_ddl,
    create_all,
    is_postgres,
    is_sqlite,
    make_engine,
    require_schema,
    safe_url,
)
from orchestrator.store.invariants import InvariantReport, Violation, check_invariants
from orchestrator.store.services import Actor, StoreService

__all__ = [
    "APPEND_ONLY_TABLES",
    "Actor",
    "InvariantReport",
    "StoreService",
    "Violation",
    "append_only_ddl",
    "check_invariants",
    "create_all",
    "is_postgres",
    "is_sqlite",
    "make_engine",
    "require_schema",
    "safe_url",
]
