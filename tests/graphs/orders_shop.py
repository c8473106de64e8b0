"""A seeded shop for the order tests, seeded once and copied per test (seeding takes seconds).

Import from tests next to this file: `from orders_shop import OrderShop, make_template`.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from orchestrator.settings import Settings
from orchestrator.store import make_engine
from orchestrator.store.services import StoreService
from orchestrator.testing import seeded_shop


def make_template(folder: Path) -> Path:
    """Seed the small test shop into `folder/template.db` once."""
    path = folder / "template.db"
    with seeded_shop(path, memory={"enabled": False}):
        pass
    return path


@dataclass
class OrderShop:
    """A private copy of the seeded shop: settings, engine, service, and orchestrators."""

    settings: Settings
    engine: Any
    service: StoreService
    _open: list[Any] = field(default_factory=list)

    @classmethod
    def copy(cls, template: Path, folder: Path, **sections: Any) -> OrderShop:
        """Copy the template into `folder` with these settings sections (e.g. `orders=`)."""
        db = folder / "shop.db"
        for suffix in ("", "-wal", "-shm"):
            src = Path(f"{template}{suffix}")
            if src.exists():
                shutil.copy(src, f"{db}{suffix}")
        return cls.at(f"sqlite:///{db}", **sections)

    @classmethod
    def at(cls, url: str, **sections: Any) -> OrderShop:
        """A shop on an already seeded store at `url`."""
        base = Settings.defaults()
        update: dict[str, Any] = {
            "store": base.store.model_copy(update={"url": url}),
            "models": base.models.model_copy(update={"default": "test:echo"}),
            "memory": base.memory.model_copy(update={"enabled": False}),
        }
        for name, value in sections.items():
            update[name] = getattr(base, name).model_copy(update=value)
        settings = base.model_copy(update=update)
        engine = make_engine(settings.store)
        return cls(
            settings=settings, engine=engine, service=StoreService(engine, settings=settings)
        )

    def orchestrator(self, **kwargs: Any) -> Any:
        from orchestrator.runtime import Orchestrator

        orch = Orchestrator(self.settings, **kwargs)
        self._open.append(orch)
        return orch

    def close(self) -> None:
        for orch in self._open:
            orch.close()
        self.engine.dispose()

    def count(self, model: type, *where: Any) -> int:
        stmt = select(func.count()).select_from(model)  # type: ignore[arg-type]
        for cond in where:
            stmt = stmt.where(cond)
        with self.engine.connect() as conn:
            return int(conn.execute(stmt).scalar_one())

    def rows(self, model: type, *where: Any) -> list[Any]:
        stmt = select(model)  # type: ignore[call-overload]
        for cond in where:
            stmt = stmt.where(cond)
        with self.engine.connect() as conn:
            return list(conn.execute(stmt).mappings())
