"""The provider registry: provider name -> lazily imported factory.

A provider turns a resolved `BackendConfig` into a LangChain chat model (for graph nodes) and,
optionally, into a CrewAI LLM (for crews). Built-in providers are named by import path and
loaded on first use, so `import orchestrator.backends` imports neither `langchain_openai` nor
`crewai`.

Register your own from user code:

```python
from langchain_core.language_models import BaseChatModel
from orchestrator.backends import BackendConfig, register_provider

def my_factory(config: BackendConfig) -> BaseChatModel:
    return MyChatModel(model=config.model_id.model, timeout=config.timeout_s)

register_provider("mine", my_factory)          # now "mine:some-model" routes to it
```
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from orchestrator._model_ids import BUILTIN_PROVIDERS, ModelId
from orchestrator.errors import ConfigError

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

__all__ = [
    "BackendConfig",
    "ChatModelFactory",
    "CrewAIFactory",
    "Provider",
    "get_provider",
    "known_providers",
    "register_provider",
    "unregister_provider",
]


@dataclass(frozen=True, slots=True)
class BackendConfig:
    """Everything a provider needs to build one model client; resolved from `ModelSettings`.

    Attributes:
        model_id: the parsed `provider:model` id.
        base_url: the OpenAI-compatible base URL (ending in `/v1`), or None for the default.
        api_key: the key, never logged (`SecretStr`); None for local servers.
        timeout_s: seconds before one request fails with `BackendTimeout`.
        max_retries: retries done by the client library itself.
        temperature: sampling temperature.
        max_tokens: cap on generated tokens, or None for the server's default.
    """

    model_id: ModelId
    base_url: str | None = None
    api_key: SecretStr | None = None
    timeout_s: float = 60.0
    max_retries: int = 2
    temperature: float = 0.0
    max_tokens: int | None = None


ChatModelFactory = Callable[[BackendConfig], "BaseChatModel"]
"""Builds a LangChain chat model from a resolved configuration."""
CrewAIFactory = Callable[[BackendConfig], Any]
"""Builds a CrewAI `BaseLLM` from a resolved configuration (imports crewai itself)."""


@dataclass(frozen=True, slots=True)
class Provider:
    """A registered backend kind.

    Attributes:
        name: the id prefix (`llamacpp` in `llamacpp:smollm2`).
        chat_model: the LangChain factory.
        crewai_llm: the CrewAI factory, or None when crews cannot use this provider.
        default_base_url: used when settings give no base URL for the provider.
        description: one line for `known_providers()` listings and docs.
    """

    name: str
    chat_model: ChatModelFactory
    crewai_llm: CrewAIFactory | None = None
    default_base_url: str | None = None
    description: str = ""


_BUILTIN: dict[str, str] = dict(BUILTIN_PROVIDERS)
_registry: dict[str, Provider | str] = dict(_BUILTIN)
_lock = threading.Lock()


def register_provider(
    name: str,
    chat_model: ChatModelFactory,
    *,
    crewai_llm: CrewAIFactory | None = None,
    default_base_url: str | None = None,
    description: str = "",
    replace: bool = False,
) -> Provider:
    """Register a provider so that `name:<model>` ids route to `chat_model`.

    Args:
        name: the id prefix; lower-case letters, digits, `-`, `_`.
        chat_model: builds a LangChain `BaseChatModel` from a `BackendConfig`.
        crewai_llm: builds a CrewAI LLM from a `BackendConfig`; omit if crews cannot use it.
        default_base_url: the base URL used when `ORCH_MODELS__BASE_URLS` names none.
        description: one line shown in listings.
        replace: allow replacing an already registered provider (including a built-in one).

    Returns:
        The registered `Provider`.

    Raises:
        ConfigError: the name is invalid, or already registered and `replace` is False.
    """
    from orchestrator.backends.ids import parse_model_id

    canonical = parse_model_id(f"{name}:x").provider
    if canonical != name:
        raise ConfigError(f"provider name {name!r} must be lower case, e.g. {canonical!r}")
    provider = Provider(name, chat_model, crewai_llm, default_base_url, description)
    with _lock:
        if name in _registry and not replace:
            raise ConfigError(
                f"provider {name!r} is already registered; pass replace=True to override it"
            )
        _registry[name] = provider
    return provider


def unregister_provider(name: str) -> None:
    """Remove a provider registered from user code (built-in ones come back as built-ins)."""
    with _lock:
        _registry.pop(name, None)
        if name in _BUILTIN:
            _registry[name] = _BUILTIN[name]


def known_providers() -> list[str]:
    """The registered provider names, sorted."""
    with _lock:
        return sorted(_registry)


def get_provider(name: str) -> Provider:
    """Return the provider registered as `name`, importing a built-in one on first use.

    Raises:
        ConfigError: no provider has that name; the message lists the known ones.
    """
    with _lock:
        entry = _registry.get(name)
    if entry is None:
        raise ConfigError(
            f"unknown model provider {name!r}; known providers: {', '.join(known_providers())}. "
            "Fix the id's prefix, or register one with orchestrator.backends.register_provider()"
        )
    if isinstance(entry, Provider):
        return entry
    module_name, _, attr = entry.partition(":")
    provider = getattr(importlib.import_module(module_name), attr)
    if not isinstance(provider, Provider):
        raise TypeError(f"{entry} is not a Provider")  # a packaging bug, not a user error
    with _lock:
        if _registry.get(name) == entry:
            _registry[name] = provider
    return provider
