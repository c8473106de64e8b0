"""Fixtures for the support tests: one seeded shop per module, copied for each test.

Import `base_shop` and `support_shop` into a test module to use them (seeding is the slow part).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from orchestrator.evaluation.support import Picks, pick_ids
from orchestrator.testing import seeded_shop


@dataclass
class SupportShop:
    """A fresh copy of the seeded shop: its settings and the ids the tests use."""

    settings: Any
    picks: Picks
    knowledge: Any
    _open: list[Any]

    def orchestrator(self, **kwargs: Any) -> Any:
        from orchestrator.runtime import Orchestrator

        kwargs.setdefault("knowledge", self.knowledge)
        orch = Orchestrator(self.settings, **kwargs)
        self._open.append(orch)
        return orch


@pytest.fixture(scope="module")
def base_shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Any, Picks, Any]]:
    from orchestrator.memory import KnowledgeBase
    from orchestrator.memory.kb import builtin_documents

    folder = tmp_path_factory.mktemp("support-shop")
    with seeded_shop(folder / "base.db") as shop:
        knowledge = KnowledgeBase.from_settings(shop.settings)
        knowledge.ingest(builtin_documents())
        yield folder / "base.db", shop.settings, pick_ids(shop.engine), knowledge


@pytest.fixture
def support_shop(base_shop: tuple[Path, Any, Picks, Any], tmp_path: Path) -> Iterator[SupportShop]:
    base_db, settings, picks, knowledge = base_shop
    db = tmp_path / "shop.db"
    with sqlite3.connect(base_db) as source, sqlite3.connect(db) as target:
        source.backup(target)  # the seeded rows may still sit in the WAL
    config = settings.model_copy(
        update={
            "store": settings.store.model_copy(update={"url": f"sqlite:///{db}"}),
            "memory": settings.memory.model_copy(update={"path": tmp_path / "memory"}),
        }
    )
    shop = SupportShop(config, picks, knowledge, [])
    try:
        yield shop
    finally:
        for orch in shop._open:
            orch.close()
