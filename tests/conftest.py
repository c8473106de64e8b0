"""Shared fixtures: the network guard and store engines on SQLite and PostgreSQL.

Network guard: a test may open TCP connections only if it is marked `integration` or
`postgres`, and then only to loopback addresses. A unit test that reaches a real model (or
anything else on the network) fails with a message saying so.

Engines: `engine` is parametrized over a fresh SQLite file and a fresh PostgreSQL database
(created on the server named by ORCH_TEST_POSTGRES_URL, default
postgresql+psycopg://postgres@127.0.0.1:5432/postgres, and dropped afterwards). Where no
PostgreSQL server answers, the PostgreSQL cases skip with the reason.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

PG_ADMIN_URL = os.environ.get(
    "ORCH_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _is_loopback(address: object) -> bool:
    if not isinstance(address, tuple) or not address:
        return True  # AF_UNIX paths and the like never leave the machine
    host = str(address[0])
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def _network_guard(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    allowed = request.node.get_closest_marker("integration") or request.node.get_closest_marker(
        "postgres"
    )

    def check(sock: socket.socket, address: object) -> None:
        if sock.family == socket.AF_UNIX:
            return
        if not allowed:
            pytest.fail(
                f"unit test tried to connect to {address!r}: use orchestrator.testing's scripted "
                "model, or mark the test @pytest.mark.integration",
                pytrace=False,
            )
        if not _is_loopback(address):
            pytest.fail(f"test tried to reach {address!r}, which is not loopback", pytrace=False)

    def connect(sock: socket.socket, address: object) -> None:
        check(sock, address)
        return _real_connect(sock, address)  # type: ignore[arg-type]

    def connect_ex(sock: socket.socket, address: object) -> int:
        check(sock, address)
        return _real_connect_ex(sock, address)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)


def _postgres_reason() -> str | None:
    try:
        import psycopg

        dsn = PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(dsn, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:
        return f"no PostgreSQL server answers at {PG_ADMIN_URL} ({type(exc).__name__}: {exc})"
    return None


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    """The admin URL of a PostgreSQL server that answers; skips with the reason otherwise."""
    reason = _postgres_reason()
    if reason:
        pytest.skip(reason)
    return PG_ADMIN_URL


@pytest.fixture
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    from orchestrator.testing import postgres_database

    with postgres_database(postgres_admin_url) as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite file for one test."""
    return f"sqlite:///{tmp_path / 'store.db'}"


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh store URL, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    from orchestrator.testing import postgres_database

    with postgres_database(request.getfixturevalue("postgres_admin_url")) as url:
        yield url


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    """An engine with every table created, on each store backend."""
    from orchestrator.store import create_all, make_engine

    eng = make_engine(store_url)
    create_all(eng)
    try:
        yield eng
    finally:
        eng.dispose()
