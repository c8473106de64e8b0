"""Model backends: `provider:model` ids, per-node routing, structured output, the local model.

Every LLM node in every graph and every crew gets its model from a `ModelRouter` built from
`Settings.models`. Providers (`llamacpp`, `vllm`, `ollama`, `openai`, `openai-compatible`,
`test`) live in a registry of lazily imported factories; `register_provider` adds your own.
`structured_output` and `choose_tool` turn any backend's reply into validated data or a typed
`BackendError`. `orchestrator.backends.local` runs llama.cpp's `llama-server` on this machine.

This package imports neither `langchain_openai` nor `crewai` until a model is built.
See docs/backends.md.
"""

from __future__ import annotations

from orchestrator.backends.exceptions import BackendRejected, LocalServerError
from orchestrator.backends.ids import ModelId, parse_model_id
from orchestrator.backends.probe import (
    Capabilities,
    capabilities_of,
    clear_probe_cache,
    probe_backend,
)
from orchestrator.backends.registry import (
    BackendConfig,
    Provider,
    get_provider,
    known_providers,
    register_provider,
    unregister_provider,
)
from orchestrator.backends.routing import ModelRouter
from orchestrator.backends.structured import (
    ToolChoice,
    achoose_tool,
    astructured_output,
    choose_tool,
    structured_output,
)

__all__ = [
    "BackendConfig",
    "BackendRejected",
    "Capabilities",
    "LocalServerError",
    "ModelId",
    "ModelRouter",
    "Provider",
    "ToolChoice",
    "achoose_tool",
    "astructured_output",
    "capabilities_of",
    "choose_tool",
    "clear_probe_cache",
    "get_provider",
    "known_providers",
    "parse_model_id",
    "probe_backend",
    "register_provider",
    "structured_output",
    "unregister_provider",
]
