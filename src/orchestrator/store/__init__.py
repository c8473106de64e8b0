"""The operations store: schema, engine and the services that are the only code that writes."""

from __future__ import annotations

from orchestrator.store.engine import create_all, is_postgres, is_sqlite, make_engine

__all__ = ["create_all", "is_postgres", "is_sqlite", "make_engine"]
