"""Fixtures for the backend tests: one real `llama-server` with SmolLM2 for the whole session.

The server is started by `LocalModelServer` on a free port (never 8080, which a user may be
running, nor 2024) with two parallel slots, and stopped at the end of the session. Where the
built binary or the model is missing, the integration tests skip with the reason, except under
CI (env CI=true), where they fail: `make test` builds both first, so missing pieces are a bug.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from orchestrator import load_settings
from orchestrator.backends import ModelRouter
from orchestrator.backends.local import (
    LocalModelServer,
    find_server_binary,
    resolve_model_path,
)


def _free_port() -> int:
    """A TCP port nothing listens on right now (never 8080 or 2024)."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in (8080, 2024):
            return port


def _missing(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(name="free_port")
def free_port_fixture() -> Callable[[], int]:
    """A function returning a TCP port nothing listens on (never 8080 or 2024)."""
    return _free_port


@pytest.fixture(scope="session")
def local_pieces() -> tuple[Path, Path]:
    """The `llama-server` binary and the GGUF model; skip (fail under CI) when missing."""
    settings = load_settings().local_model
    binary = find_server_binary(settings.cache_dir, settings.server_binary)
    if binary is None:
        _missing(
            "no llama-server binary: run `make local-model` (or `orchestrator local-model build`)"
        )
    model = resolve_model_path(settings.cache_dir, settings.model_path)
    if model is None:
        _missing("no GGUF model: run `orchestrator local-model fetch-model`")
    assert binary is not None and model is not None
    return binary, model


@pytest.fixture(scope="session")
def llama_server(
    local_pieces: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalModelServer]:
    """A real llama-server with SmolLM2 on a free port, two slots, for the whole session."""
    binary, model = local_pieces
    server = LocalModelServer(
        binary=binary,
        model_path=model,
        port=_free_port(),
        ctx_size=4096,
        parallel=2,
        jinja=True,
        alias="smollm2",
        startup_timeout_s=120,
        log_path=tmp_path_factory.mktemp("llama") / "server.log",
    )
    with server:
        yield server


@pytest.fixture
def local_router(llama_server: LocalModelServer) -> ModelRouter:
    """A router whose default model is the session's llama-server."""
    settings = load_settings(
        models={
            "default": "llamacpp:smollm2",
            "base_urls": {"llamacpp": llama_server.base_url},
            "timeout_s": 120,
            "max_retries": 1,
            "max_tokens": 128,
        }
    )
    return ModelRouter(settings.models)
