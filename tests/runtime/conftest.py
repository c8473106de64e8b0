"""A small seeded shop (`orchestrator.testing.seeded_shop`) on SQLite, and on both engines."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.testing import TestShop, seeded_shop


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[TestShop]:
    """The shop on a fresh SQLite file (checkpoints beside it)."""
    with seeded_shop(tmp_path / "shop.db") as made:
        yield made


@pytest.fixture
def shop_any(store_url: str) -> Iterator[TestShop]:
    """The shop on each store backend (SQLite, and PostgreSQL with its checkpointer)."""
    with seeded_shop(store_url) as made:
        yield made
