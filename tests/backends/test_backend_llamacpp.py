"""Integration: the adapter against a real `llama-server` process running SmolLM2-135M."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Literal

import pytest
from langchain_core.tools import tool
from pydantic import BaseModel

from orchestrator import (
    BackendError,
    BackendTimeout,
    BackendUnavailable,
    StructuredOutputError,
    load_settings,
)
from orchestrator.backends import (
    LocalServerError,
    ModelRouter,
    capabilities_of,
    choose_tool,
    structured_output,
)
from orchestrator.backends.local import LocalModelServer

pytestmark = pytest.mark.integration


class Ticket(BaseModel):
    """How to route one customer message."""

    intent: Literal["order_status", "refund", "stock_question", "other"]
    priority: Literal["low", "normal", "high"]
    needs_human: bool


MESSAGES = [
    "Where is my order 1042? It was due yesterday.",
    "I want a refund for the broken kettle.",
    "Do you have the blue mug in stock?",
    "Your website is great, thanks!",
    "URGENT: I was charged twice for order 2231.",
]


def test_plain_chat(local_router: ModelRouter) -> None:
    reply = local_router.chat_model("support", "reply").invoke("Say hello to a customer named Ann.")
    assert isinstance(reply.content, str) and reply.content.strip()
    assert reply.usage_metadata and reply.usage_metadata["output_tokens"] > 0


def test_probe_sees_constrained_decoding(local_router: ModelRouter) -> None:
    caps = capabilities_of(local_router.chat_model("support"))
    assert caps.reachable
    assert caps.json_schema, caps.detail
    assert caps.json_mode


def test_fifty_structured_calls_are_all_schema_valid(local_router: ModelRouter) -> None:
    model = local_router.chat_model("support", "router")
    capabilities_of(model)  # probe once, before the threads

    def one(i: int) -> Ticket | StructuredOutputError:
        text = MESSAGES[i % len(MESSAGES)] + f" (message {i})"
        try:
            return structured_output(
                model, [("system", "Classify the message."), ("human", text)], Ticket
            )
        except StructuredOutputError as exc:
            return exc

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(one, range(50)))
    failures = [r for r in results if not isinstance(r, Ticket)]
    print(f"structured output: {50 - len(failures)}/50 schema-valid")
    assert failures == []


@tool
def get_stock(sku: str) -> str:
    """Look up how many units of a product are in stock.

    Args:
        sku: the product's SKU, e.g. "MUG-BLUE".
    """
    return f'{{"sku": "{sku}", "available": 4}}'


@tool
def get_order_status(order_id: int) -> str:
    """Look up an order's shipping status.

    Args:
        order_id: the order number.
    """
    return f'{{"order_id": {order_id}, "status": "shipped"}}'


def test_tool_call_round_trip(local_router: ModelRouter) -> None:
    model = local_router.chat_model("inventory", "agent")
    tools = {"get_stock": get_stock, "get_order_status": get_order_status}
    question = "How many MUG-BLUE do we have in stock?"
    choice = choose_tool(model, question, list(tools.values()))
    # The model proposes; the code checks: a valid call to one of the offered tools.
    assert choice.name in tools
    assert choice.via in ("native", "protocol")
    result = tools[choice.name].invoke(choice.args)
    answer = model.invoke(
        [
            ("system", "Answer the user's question using the tool result."),
            ("human", question),
            ("system", f"Tool {choice.name} returned: {result}"),
        ]
    )
    assert isinstance(answer.content, str) and answer.content.strip()


def test_streaming(local_router: ModelRouter) -> None:
    chunks = list(local_router.chat_model("support").stream("Count from one to five in words."))
    text = "".join(str(c.content) for c in chunks)
    assert len([c for c in chunks if c.content]) > 3
    assert text.strip()


def test_crewai_llm_against_the_server(local_router: ModelRouter) -> None:
    llm = local_router.crewai_llm("analyst")
    answer = llm.call([{"role": "user", "content": "Name one fruit."}])
    assert isinstance(answer, str) and answer.strip()


def test_nothing_listening_names_the_url_and_how_to_start(free_port: Callable[[], int]) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    router = ModelRouter(
        load_settings(
            models={"default": "llamacpp:smollm2", "base_urls": {"llamacpp": url}, "timeout_s": 5}
        ).models
    )
    started = time.monotonic()
    with pytest.raises(BackendUnavailable) as info:
        router.chat_model("support").invoke("hi")
    assert time.monotonic() - started < 10
    assert url in str(info.value)
    assert "orchestrator local-model start" in str(info.value)
    with pytest.raises(BackendUnavailable, match="local-model start"):
        structured_output(router.chat_model("support"), "hi", Ticket)


def test_server_killed_mid_request_raises_a_typed_error_within_the_timeout(
    local_pieces: tuple[Path, Path], tmp_path: Path, free_port: Callable[[], int]
) -> None:
    binary, model_path = local_pieces
    server = LocalModelServer(
        binary=binary,
        model_path=model_path,
        port=free_port(),
        ctx_size=2048,
        parallel=1,
        log_path=tmp_path / "victim.log",
    )
    timeout_s = 30.0
    with server:
        router = ModelRouter(
            load_settings(
                models={
                    "default": "llamacpp:smollm2",
                    "base_urls": {"llamacpp": server.base_url},
                    "timeout_s": timeout_s,
                    "max_retries": 1,
                    "max_tokens": 4000,
                }
            ).models
        )
        outcome: list[BaseException | str] = []

        def request() -> None:
            try:
                reply = router.chat_model("support").invoke("Write a very long story about a shop.")
                outcome.append(str(reply.content))
            except BaseException as exc:
                outcome.append(exc)

        worker = threading.Thread(target=request)
        started = time.monotonic()
        worker.start()
        time.sleep(1.5)
        assert server.pid is not None
        os.killpg(server.pid, signal.SIGKILL)
        worker.join(timeout_s + 5)
        elapsed = time.monotonic() - started
    assert not worker.is_alive(), "the request hung after the server died"
    assert elapsed < timeout_s
    assert outcome and isinstance(outcome[0], BackendUnavailable | BackendTimeout), outcome
    assert server.base_url in str(outcome[0])


def test_second_start_reuses_a_healthy_server(llama_server: LocalModelServer) -> None:
    again = LocalModelServer(
        binary=llama_server.binary, model_path=llama_server.model_path, port=llama_server.port
    )
    with again:
        assert again.reused and again.pid is None
    assert llama_server.is_healthy()


def test_a_server_that_cannot_start_reports_its_log(
    tmp_path: Path, free_port: Callable[[], int]
) -> None:
    fake = tmp_path / "llama-server"
    fake.write_text("#!/bin/sh\necho 'error: cannot load model' >&2\nexit 3\n")
    fake.chmod(0o755)
    server = LocalModelServer(
        binary=fake, model_path=fake, port=free_port(), log_path=tmp_path / "l.log"
    )
    with pytest.raises(LocalServerError) as info:
        server.start()
    assert "exited with code 3" in str(info.value)
    assert "cannot load model" in info.value.log_tail


def test_cli_start_status_stop(
    local_pieces: tuple[Path, Path], tmp_path: Path, free_port: Callable[[], int]
) -> None:
    binary, model_path = local_pieces
    port = free_port()
    env = {
        **os.environ,
        "ORCH_LOCAL_MODEL__SERVER_BINARY": str(binary),
        "ORCH_LOCAL_MODEL__MODEL_PATH": str(model_path),
        "ORCH_LOCAL_MODEL__PORT": str(port),
        "ORCH_LOCAL_MODEL__CACHE_DIR": str(tmp_path),
    }

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        code = "from orchestrator.cli import main; main()"
        return subprocess.run(
            [sys.executable, "-c", code, *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    started = run("local-model", "start", "--parallel", "1", "--ctx-size", "2048")
    assert started.returncode == 0, started.stderr
    assert f"http://127.0.0.1:{port}/v1" in started.stdout
    status = run("local-model", "status")
    assert status.returncode == 0 and "healthy: yes" in status.stdout, status.stdout
    pid = int(status.stdout.split("pid:")[1].split()[0])
    again = run("local-model", "start")
    assert "reusing" in again.stdout
    stopped = run("local-model", "stop")
    assert f"pid {pid}" in stopped.stdout
    deadline = time.monotonic() + 10
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not Path(f"/proc/{pid}").exists(), "llama-server still runs after stop"
    assert run("local-model", "status").returncode == 3


def test_backend_errors_are_one_tree() -> None:
    assert issubclass(LocalServerError, BackendError)


def test_ensure_local_server_reuses_or_starts_only_when_needed(
    llama_server: LocalModelServer, local_pieces: tuple[Path, Path], free_port: Callable[[], int]
) -> None:
    from orchestrator.backends.local import ensure_local_server

    binary, model_path = local_pieces
    running = load_settings(
        models={"default": "llamacpp:smollm2", "base_urls": {"llamacpp": llama_server.base_url}},
        local_model={"port": llama_server.port},
    )
    with ensure_local_server(running) as started:
        assert started is None
    cloud = load_settings(models={"default": "openai:gpt-4o-mini"})
    with ensure_local_server(cloud) as started:
        assert started is None
    port = free_port()
    needed = load_settings(
        models={
            "default": "llamacpp:smollm2",
            "base_urls": {"llamacpp": f"http://127.0.0.1:{port}/v1"},
        },
        local_model={
            "port": port,
            "server_binary": str(binary),
            "model_path": str(model_path),
            "ctx_size": 2048,
            "parallel": 1,
        },
    )
    with ensure_local_server(needed) as started:
        assert started is not None and started.is_healthy()
        pid = started.pid
    assert pid is not None
    deadline = time.monotonic() + 10
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not Path(f"/proc/{pid}").exists()
