"""Backend overhead: the adapter (`ModelRouter` -> ChatOpenAI) vs direct HTTP to one llama-server.

Runs the same prompts through both paths, interleaved in one run (A B, then B A, ...), against
one `llama-server` with SmolLM2 (started here on a free port unless `--base-url` names a running
one). Both paths send `ignore_eos` and `cache_prompt: false`, so each call generates exactly
`--max-tokens` tokens and processes its whole prompt. Prints tokens/s and latency per path, their
ratio (target: adapter >= 0.95x direct), and SmolLM2's prompt and generation speed as reported by
llama.cpp's own `timings`.

    .venv/bin/python benchmarks/backend_overhead.py [--rounds 10] [--max-tokens 64]
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import statistics
import time
from collections.abc import Iterator
from typing import Any

import httpx

from orchestrator import load_settings
from orchestrator.backends import ModelRouter
from orchestrator.backends.local import LocalModelServer

FILLER = (
    "Our shop sells kitchenware: mugs, kettles, teapots, knives and boards. Orders ship from two "
    "warehouses and customers write in about delays, refunds and stock. "
)


def prompt(i: int) -> str:
    return (
        f"Request {i}. " + FILLER * 4 + "Write a short, friendly reply about order " + str(1000 + i)
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def server(base_url: str | None) -> Iterator[str]:
    if base_url:
        yield base_url
        return
    with LocalModelServer.from_settings(
        load_settings().local_model, port=free_port(), parallel=1, ctx_size=2048
    ) as srv:
        yield srv.base_url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--base-url", default=None, help="an already running llama-server /v1 URL")
    args = parser.parse_args()
    extra = {"ignore_eos": True, "cache_prompt": False}

    with server(args.base_url) as base_url:
        router = ModelRouter(
            load_settings(
                models={
                    "default": "llamacpp:smollm2",
                    "base_urls": {"llamacpp": base_url},
                    "max_tokens": args.max_tokens,
                    "timeout_s": 120,
                }
            ).models
        )
        adapter = router.chat_model("bench").bind(extra_body=extra)
        client = httpx.Client(timeout=120)

        def direct(text: str) -> tuple[float, int, dict[str, Any]]:
            body = {
                "model": "smollm2",
                "messages": [{"role": "user", "content": text}],
                "temperature": 0,
                "max_tokens": args.max_tokens,
                **extra,
            }
            start = time.perf_counter()
            data = client.post(f"{base_url}/chat/completions", json=body).json()
            return (
                time.perf_counter() - start,
                int(data["usage"]["completion_tokens"]),
                data.get("timings", {}),
            )

        def via_adapter(text: str) -> tuple[float, int]:
            start = time.perf_counter()
            reply = adapter.invoke(text)
            elapsed = time.perf_counter() - start
            usage = reply.usage_metadata or {"output_tokens": 0}
            return elapsed, int(usage["output_tokens"])

        direct(prompt(-1))  # warm-up
        via_adapter(prompt(-2))
        d_lat: list[float] = []
        d_tps: list[float] = []
        a_lat: list[float] = []
        a_tps: list[float] = []
        prompt_speed: list[float] = []
        gen_speed: list[float] = []
        for i in range(args.rounds):
            order = ("direct", "adapter") if i % 2 == 0 else ("adapter", "direct")
            for path in order:
                if path == "direct":
                    lat, tokens, timings = direct(prompt(i))
                    d_lat.append(lat)
                    d_tps.append(tokens / lat)
                    if timings:
                        prompt_speed.append(float(timings.get("prompt_per_second", 0)))
                        gen_speed.append(float(timings.get("predicted_per_second", 0)))
                else:
                    lat, tokens = via_adapter(prompt(i))
                    a_lat.append(lat)
                    a_tps.append(tokens / lat)

    med = statistics.median
    print(
        f"rounds: {args.rounds} per path, interleaved; {args.max_tokens} generated tokens per call"
    )
    print(f"direct HTTP : {med(d_tps):6.1f} tokens/s   latency median {med(d_lat) * 1000:7.0f} ms")
    print(f"adapter     : {med(a_tps):6.1f} tokens/s   latency median {med(a_lat) * 1000:7.0f} ms")
    print(f"ratio adapter/direct (tokens/s): {med(a_tps) / med(d_tps):.3f}x (target >= 0.95x)")
    print(f"adapter overhead per call: {(med(a_lat) - med(d_lat)) * 1000:+.1f} ms")
    if prompt_speed:
        print(
            f"SmolLM2 on this machine: prompt {med(prompt_speed):.1f} tokens/s, "
            f"generation {med(gen_speed):.1f} tokens/s (llama.cpp timings)"
        )


if __name__ == "__main__":
    main()
