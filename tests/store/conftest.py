"""Fixtures of the store's service tests (factories in `store_factories`)."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine
from store_factories import Shop, make_shop

from orchestrator.settings import Settings
from orchestrator.store.services import StoreService


@pytest.fixture
def settings() -> Settings:
    """Default settings (approval thresholds: refund 100, adjustment 50 units, PO 5000)."""
    return Settings(_env_file=None)  # type: ignore[call-arg]


@pytest.fixture
def svc(engine: Engine, settings: Settings) -> StoreService:
    """A service on a fresh store (SQLite and PostgreSQL)."""
    return StoreService(engine, settings=settings)


@pytest.fixture
def shop(engine: Engine) -> Shop:
    """A small shop on the fresh store."""
    return make_shop(engine)
