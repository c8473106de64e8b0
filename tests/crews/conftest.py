"""Fixtures for the crew tests: a small seeded shop, analyst tools, and the real llama-server.

The llama-server fixtures are the backend tests' own (tests/backends/conftest.py), loaded from
that file so that both directories start the server the same way.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from orchestrator import load_settings
from orchestrator.store import make_engine
from orchestrator.store.seed import seed
from orchestrator.store.services import StoreService
from orchestrator.tools import ToolContext

os.environ.setdefault("CREWAI_DISABLE_TELEMETRY", "true")
os.environ.setdefault("OTEL_SDK_DISABLED", "true")

_spec = importlib.util.spec_from_file_location(
    "_backends_conftest", Path(__file__).parents[1] / "backends" / "conftest.py"
)
assert _spec is not None and _spec.loader is not None
_backends = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_backends)
local_pieces = _backends.local_pieces
llama_server = _backends.llama_server


@pytest.fixture(scope="module")
def shop_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A seeded demo shop (40 SKUs, 120 days, 2 injected anomalies) in a SQLite file."""
    path = tmp_path_factory.mktemp("shop") / "shop.db"
    engine = make_engine(f"sqlite:///{path}")
    seed(engine, skus=40, days=120, anomalies=2, reset=True)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def analyst_ctx(shop_engine: Engine) -> ToolContext:
    """The analyst profile's run context, auditing reads too (to see the crew's calls)."""
    settings = load_settings(audit={"log_reads": True})
    svc = StoreService(shop_engine, settings=settings)
    return ToolContext(service=svc, agent="analyst", thread_id="crew-test")


@pytest.fixture
def analyst_tools(analyst_ctx: ToolContext) -> list[Any]:
    """The analyst profile's read-only tools as CrewAI tools."""
    from orchestrator.tools import as_crewai_tools

    return as_crewai_tools(analyst_ctx, "analyst")
