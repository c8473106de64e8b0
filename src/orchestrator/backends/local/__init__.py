"""The local model: llama.cpp's `llama-server` built once per machine, a GGUF model, a process.

- `build_llama_server` compiles `llama-server` from the llama.cpp sources in PyPI's
  `llama-cpp-python` sdist into the user cache (once, ~12 minutes on 2 cores).
- `fetch_default_model` puts SmolLM2-135M-Instruct Q4_1 (98 MB) into the cache.
- `LocalModelServer` runs the two, waits for `/health` and stops cleanly.
"""

from __future__ import annotations

from orchestrator.backends.local.build import (
    LLAMA_CPP_PYTHON_VERSION,
    LocalBuildError,
    build_llama_server,
    cached_server_binary,
    find_server_binary,
)
from orchestrator.backends.local.model import (
    cached_model_path,
    fetch_default_model,
    resolve_model_path,
)
from orchestrator.backends.local.server import (
    LocalModelServer,
    ServerStatus,
    ensure_local_server,
    read_status,
    stop_detached,
)

__all__ = [
    "LLAMA_CPP_PYTHON_VERSION",
    "LocalBuildError",
    "LocalModelServer",
    "ServerStatus",
    "build_llama_server",
    "cached_model_path",
    "cached_server_binary",
    "ensure_local_server",
    "fetch_default_model",
    "find_server_binary",
    "read_status",
    "resolve_model_path",
    "stop_detached",
]
