"""Backend errors beyond the package-wide tree in `orchestrator.errors`.

```
BackendError (orchestrator.errors)
├── BackendUnavailable
│   └── LocalServerError     the local llama-server could not be started or died
├── BackendTimeout
├── BackendRejected          the server answered with an HTTP error (4xx/5xx other than 503)
├── StructuredOutputError
└── ToolCallError
```
"""

from __future__ import annotations

from orchestrator.errors import BackendError, BackendUnavailable

__all__ = ["BackendRejected", "LocalServerError", "how_to_start"]


def how_to_start(base_url: str) -> str:
    """What to do when nothing answers at `base_url`: the command or setting that fixes it."""
    if ":11434" in base_url:
        return "start Ollama (`ollama serve`) or fix ORCH_MODELS__BASE_URLS"
    if ":8000" in base_url:
        return "start vLLM (`vllm serve <model>`) or fix ORCH_MODELS__BASE_URLS"
    return (
        "start the local model with `orchestrator local-model start` (see "
        "`orchestrator local-model status`), or point ORCH_MODELS__BASE_URLS at a running "
        "llama.cpp / vLLM / Ollama server"
    )


class BackendRejected(BackendError):
    """The model server refused the request (bad key, unknown model, unsupported parameter).

    Attributes:
        url: the base URL the request went to.
        status_code: the HTTP status it answered with.
    """

    def __init__(self, url: str, status_code: int, detail: str) -> None:
        self.url = url
        self.status_code = status_code
        hint = {
            401: "check the API key (ORCH_MODELS__API_KEYS)",
            403: "check the API key's permissions",
            404: "check the model name and ORCH_MODELS__BASE_URLS",
        }.get(status_code, "check the model id and the request parameters")
        super().__init__(
            f"{url} refused the request with HTTP {status_code}: {detail[:300]}; {hint}"
        )


class LocalServerError(BackendUnavailable):
    """The local `llama-server` process could not be started, or exited.

    Attributes:
        log_tail: the last lines of the server's output.
    """

    def __init__(self, message: str, log_tail: str = "") -> None:
        self.log_tail = log_tail
        tail = f"\n--- llama-server output ---\n{log_tail}" if log_tail else ""
        super().__init__(message + tail)
