"""`langgraph.json` and `orchestrator.serve`: the graphs served by LangGraph's own server."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from orchestrator.runtime.orchestrator import BUILTIN_GRAPHS

ROOT = Path(__file__).resolve().parents[1]


def test_langgraph_json_names_factories_of_the_registry() -> None:
    import orchestrator.serve as serve

    config = json.loads((ROOT / "langgraph.json").read_text())
    assert {"cycle_count", "support"} <= set(config["graphs"])
    for name, target in config["graphs"].items():
        path, _, attr = target.partition(":")
        assert (ROOT / path).resolve() == Path(serve.__file__).resolve()
        assert attr == name and callable(getattr(serve, attr))
    assert set(serve.SERVED) == set(BUILTIN_GRAPHS)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.integration
@pytest.mark.slow
def test_langgraph_dev_serves_the_support_graph(tmp_path: Path) -> None:
    cli = shutil.which("langgraph") or str(Path(sys.executable).parent / "langgraph")
    if not Path(cli).exists():
        pytest.skip("the langgraph CLI is not installed: pip install 'langgraph-cli[inmem]'")
    from orchestrator.evaluation.support import pick_ids
    from orchestrator.testing import seeded_shop

    with seeded_shop(tmp_path / "shop.db") as shop:
        ids = pick_ids(shop.engine)
        url = shop.settings.store.url
    port = _free_port()
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
        "ORCH_STORE__URL": url,
        "ORCH_MODELS__DEFAULT": "none:rules",
        "ORCH_MEMORY__EMBEDDING": "hash",
        "ORCH_MEMORY__PATH": str(tmp_path / "memory"),
    }
    # --allow-blocking: the graphs' nodes and the store are synchronous (the dev server's
    # blocking-call detector would refuse the factory's first build).
    server = subprocess.Popen(
        [cli, "dev", "--no-browser", "--port", str(port), "--allow-blocking"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/ok", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    "langgraph dev did not start:\n"
                    + (server.stdout.read() if server.stdout else "")
                )
            time.sleep(1)
        body = {
            "assistant_id": "support",
            "input": {"message": f"Where is order {ids.own_shipped}?"},
            "context": {"actor": f"customer:{ids.main}", "customer_id": ids.main},
        }
        done = httpx.post(f"{base}/runs/wait", json=body, timeout=120).json()
        assert done["specialist"] == "orders"
        assert done["reply"].startswith(f"Order {ids.own_shipped} is shipped")
        body["input"] = {"message": f"Where is order {ids.other_placed}?"}
        other = httpx.post(f"{base}/runs/wait", json=body, timeout=120).json()
        assert other["reply"] == f"I can't find order {ids.other_placed} on your account."
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
