"""The pricing graph's explanation from the real local model (SmolLM2 on llama-server).

Whatever the small model writes, the code keeps it only if it names changed SKUs and states no
number outside the facts; the prices are the code's either way.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator import load_settings
from orchestrator.backends.local import LocalModelServer, find_server_binary, resolve_model_path
from orchestrator.runtime import RunContext
from orchestrator.testing import seeded_shop

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _free_port() -> int:
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in (8080, 2024):
            return port


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalModelServer]:
    settings = load_settings().local_model
    binary = find_server_binary(settings.cache_dir, settings.server_binary)
    model = resolve_model_path(settings.cache_dir, settings.model_path)
    if binary is None or model is None:
        pytest.skip("no llama-server binary or GGUF model: run `make local-model`")
    with LocalModelServer(
        binary=binary,
        model_path=model,
        port=_free_port(),
        ctx_size=4096,
        parallel=1,
        jinja=True,
        alias="smollm2",
        startup_timeout_s=120,
        log_path=tmp_path_factory.mktemp("llama") / "server.log",
    ) as running:
        yield running


def test_local_model_explains_a_dry_run(server: LocalModelServer, tmp_path: Path) -> None:
    models = {
        "default": "llamacpp:smollm2",
        "base_urls": {"llamacpp": server.base_url},
        "timeout_s": 60,
        "max_retries": 0,
        "max_tokens": 300,
    }
    with seeded_shop(tmp_path / "shop.db", models=models, memory={"enabled": False}) as shop:
        orch = shop.orchestrator()
        result = orch.run("pricing", {"dry_run": True}, context=RunContext(actor="ann"))
    assert result.status == "completed"
    expl = result.values["explanation"]
    print(f"\nexplanation by {expl['source']} ({expl.get('note')}):\n{expl['summary']}")
    assert expl["source"] in ("model", "template") and expl["summary"]
    for change in result.values["changes"]:
        if change["status"] == "dry_run":
            assert change["proposed_price_cents"] >= change["floor_cents"] > 0
