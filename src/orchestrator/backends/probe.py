"""Capability probe: what a backend can do, asked once per (base URL, model) and cached.

Three questions, each answered by a tiny real request:

- reachable: `GET <root>/health` (llama.cpp) or `GET <base>/models` answers 200;
- native tool calls: a chat request with one tool and `tool_choice="required"` comes back with
  a well-formed `tool_calls` entry;
- JSON-schema output: `response_format={"type": "json_schema", ...}` is accepted and the
  reply validates (and, as a weaker rung, `{"type": "json_object"}` gives parseable JSON).

`structured_output` and `choose_tool` consult `capabilities_of(model)` to pick their ladder.
"""

from __future__ import annotations

import json
import sys
import threading
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import SecretStr

from orchestrator.backends.exceptions import how_to_start

__all__ = ["Capabilities", "capabilities_of", "clear_probe_cache", "probe_backend"]


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What one backend supports.

    Attributes:
        reachable: the server answered.
        native_tools: it returns OpenAI-style `tool_calls` when asked to call a tool.
        json_schema: it accepts `response_format` `json_schema` (constrained decoding).
        json_mode: it accepts `response_format` `json_object`.
        detail: why a capability is missing (the error seen), for logs and messages.
    """

    reachable: bool = True
    native_tools: bool = False
    json_schema: bool = False
    json_mode: bool = False
    detail: str = ""


FULL = Capabilities(reachable=True, native_tools=True, json_schema=True, json_mode=True)
"""What OpenAI's own API supports; not probed (that would spend tokens on every start)."""

_cache: dict[tuple[str, str], Capabilities] = {}
_lock = threading.Lock()

_PROBE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"answer": {"type": "integer"}},
    "required": ["answer"],
    "additionalProperties": False,
}
_PROBE_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


def clear_probe_cache() -> None:
    """Forget every probed backend (e.g. after restarting a server with other flags)."""
    with _lock:
        _cache.clear()


def _chat(client: httpx.Client, base: str, body: dict[str, Any]) -> dict[str, Any] | None:
    response = client.post(f"{base}/chat/completions", json=body)
    if response.status_code != 200:
        return None
    data: dict[str, Any] = response.json()
    return data


def _message(data: dict[str, Any] | None) -> dict[str, Any]:
    if not data or not data.get("choices"):
        return {}
    message: dict[str, Any] = data["choices"][0].get("message") or {}
    return message


def _probe(
    base: str, model: str, api_key: str, timeout_s: float, transport: httpx.BaseTransport | None
) -> Capabilities:
    headers = {"Authorization": f"Bearer {api_key}"}
    root = base.removesuffix("/").removesuffix("/v1")
    with httpx.Client(timeout=timeout_s, headers=headers, transport=transport) as client:
        try:
            health = client.get(f"{root}/health")
            if health.status_code != 200:
                health = client.get(f"{base}/models")
        except httpx.HTTPError as exc:
            return Capabilities(
                reachable=False,
                detail=f"no model server answers at {base} ({type(exc).__name__}: {exc}); "
                + how_to_start(base),
            )
        if health.status_code != 200:
            return Capabilities(
                reachable=False,
                detail=f"the model server at {base} is not ready (HTTP {health.status_code}); "
                + how_to_start(base),
            )
        notes: list[str] = []
        common = {"model": model, "temperature": 0, "max_tokens": 48}

        tools = False
        try:
            msg = _message(
                _chat(
                    client,
                    base,
                    {
                        **common,
                        "messages": [
                            {"role": "user", "content": "Weather in Paris? Use the tool."}
                        ],
                        "tools": [_PROBE_TOOL],
                        "tool_choice": "required",
                    },
                )
            )
            calls = msg.get("tool_calls") or []
            if calls and calls[0].get("function", {}).get("name") == "get_weather":
                json.loads(calls[0]["function"].get("arguments") or "{}")
                tools = True
            else:
                notes.append("no native tool call returned")
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            notes.append(f"tools: {type(exc).__name__}")

        def json_probe(response_format: dict[str, Any]) -> bool:
            try:
                msg = _message(
                    _chat(
                        client,
                        base,
                        {
                            **common,
                            "messages": [
                                {"role": "user", "content": 'Reply with JSON {"answer": 4}.'}
                            ],
                            "response_format": response_format,
                        },
                    )
                )
                content = msg.get("content")
                return isinstance(content, str) and isinstance(json.loads(content), dict)
            except (httpx.HTTPError, ValueError):
                return False

        schema = json_probe(
            {
                "type": "json_schema",
                "json_schema": {"name": "probe", "strict": True, "schema": _PROBE_SCHEMA},
            }
        )
        if not schema:
            notes.append("json_schema response_format refused or not honoured")
        mode = schema or json_probe({"type": "json_object"})
        return Capabilities(True, tools, schema, mode, "; ".join(notes))


def probe_backend(
    base_url: str,
    *,
    model: str = "default",
    api_key: SecretStr | str | None = None,
    timeout_s: float = 30.0,
    refresh: bool = False,
    transport: httpx.BaseTransport | None = None,
) -> Capabilities:
    """Probe an OpenAI-compatible server once and cache the answer per (base URL, model).

    Args:
        base_url: the server's OpenAI base URL, e.g. `http://127.0.0.1:8080/v1`.
        model: the model name to send.
        api_key: the key, if the server wants one.
        timeout_s: per-request timeout of the probe.
        refresh: ignore the cache and ask again.
        transport: an httpx transport to use instead of the network (tests).

    Returns:
        The `Capabilities`; `reachable=False` (with `detail`) when nothing answers. A server
        that is unreachable is not cached, so a later call sees it once it is up.
    """
    key = (base_url.rstrip("/"), model)
    with _lock:
        if not refresh and key in _cache:
            return _cache[key]
    secret = api_key.get_secret_value() if isinstance(api_key, SecretStr) else api_key
    caps = _probe(key[0], model, secret or "local", timeout_s, transport)
    if caps.reachable:
        with _lock:
            _cache[key] = caps
    return caps


def capabilities_of(model: Any) -> Capabilities:
    """The capabilities of a chat model as returned by `ModelRouter.chat_model`.

    Unwraps fallbacks (the first reachable model of the chain decides) and bindings; asks a
    scripted model for its declared capabilities; probes an OpenAI-compatible server (cached); assumes OpenAI's own
    API supports everything; and assumes only native tools for any other LangChain model.
    """
    from langchain_core.runnables import RunnableBinding, RunnableWithFallbacks

    while True:
        if isinstance(model, RunnableWithFallbacks):
            # The first reachable model of the chain answers; when the local primary is down,
            # the request goes to a fallback, so that one's capabilities pick the ladder.
            first = capabilities_of(model.runnable)
            if first.reachable:
                return first
            for fallback in model.fallbacks:
                caps = capabilities_of(fallback)
                if caps.reachable:
                    return caps
            return first
        if isinstance(model, RunnableBinding):
            model = model.bound
        else:
            break
    declared = getattr(model, "capabilities", None)
    if isinstance(declared, Capabilities):
        return declared
    openai_module = sys.modules.get("langchain_openai.chat_models.base")
    if openai_module is not None and isinstance(model, openai_module.BaseChatOpenAI):
        base = model.openai_api_base
        if not base:
            return FULL
        timeout = getattr(model, "request_timeout", None)
        return probe_backend(
            str(base),
            model=str(model.model_name),
            api_key=getattr(model, "openai_api_key", None),
            timeout_s=float(timeout) if isinstance(timeout, int | float) else 30.0,
        )
    return Capabilities(reachable=True, native_tools=True, detail="not probed: unknown model class")
