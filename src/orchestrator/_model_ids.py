"""Model ids (`provider:model`): the one parser, and the check settings run at load time.

This module imports nothing heavy on purpose: `orchestrator.settings` validates every model
id with it when settings load, and `import orchestrator` must stay light. The public names
are re-exported by `orchestrator.backends` (`ModelId`, `parse_model_id`); the provider
registry (`orchestrator.backends.registry`) starts from `BUILTIN_PROVIDERS`.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass

from orchestrator.errors import ConfigError

__all__ = [
    "BUILTIN_PROVIDERS",
    "ModelId",
    "check_model_id",
    "known_provider_names",
    "parse_model_id",
]

_PROVIDER = re.compile(r"^[a-z][a-z0-9_-]*$")

BUILTIN_PROVIDERS: dict[str, str] = {
    "llamacpp": "orchestrator.backends.providers:LLAMACPP",
    "vllm": "orchestrator.backends.providers:VLLM",
    "ollama": "orchestrator.backends.providers:OLLAMA",
    "openai": "orchestrator.backends.providers:OPENAI",
    "openai-compatible": "orchestrator.backends.providers:OPENAI_COMPATIBLE",
    "test": "orchestrator.testing:TEST_PROVIDER",
    "none": "orchestrator.backends.none:NONE",
}
"""Built-in provider name -> `module:attribute` of its `Provider`, imported on first use."""


@dataclass(frozen=True, slots=True)
class ModelId:
    """A parsed `provider:model` id.

    Attributes:
        provider: the registry name of the backend, lower case (`llamacpp`, `openai`, ...).
        model: the model name the backend knows, passed through unchanged.
    """

    provider: str
    model: str

    def __str__(self) -> str:
        return f"{self.provider}:{self.model}"


def parse_model_id(value: str | ModelId) -> ModelId:
    """Parse a `provider:model` id; the only place the format is interpreted.

    Args:
        value: an id such as `llamacpp:smollm2`, or an already parsed `ModelId`.

    Returns:
        The `ModelId`. The provider is lower-cased; the model name is kept as given.

    Raises:
        ConfigError: the value has no `provider:` prefix, an empty model, or a provider name
            that is not lower-case letters, digits, `-` and `_`.

    Example:
        >>> parse_model_id("ollama:qwen2.5:7b")
        ModelId(provider='ollama', model='qwen2.5:7b')
    """
    if isinstance(value, ModelId):
        return value
    if not isinstance(value, str):
        raise ConfigError(f"model id {value!r} is not a string; write it as 'provider:model'")
    provider, sep, model = value.strip().partition(":")
    provider = provider.strip().lower()
    model = model.strip()
    if not sep or not model:
        raise ConfigError(
            f"model id {value!r} is not of the form 'provider:model'; for example "
            "'llamacpp:smollm2', 'ollama:qwen2.5' or 'openai:gpt-4o-mini'"
        )
    if not _PROVIDER.match(provider):
        raise ConfigError(
            f"model id {value!r} has an invalid provider {provider!r}: use lower-case letters, "
            "digits, '-' and '_' (e.g. 'llamacpp', 'openai-compatible')"
        )
    return ModelId(provider, model)


def known_provider_names() -> list[str]:
    """The provider names ids may use now: the built-in ones plus any registered from code.

    Registering a provider (`orchestrator.backends.register_provider`) imports the registry,
    so when the registry has not been imported only the built-in names can be known; nothing
    is imported here either way.
    """
    registry = sys.modules.get("orchestrator.backends.registry")
    if registry is None:
        return sorted(BUILTIN_PROVIDERS)
    names: list[str] = registry.known_providers()
    return names


def check_model_id(value: str) -> str:
    """Check that `value` is a well-formed id whose provider is known; return it unchanged.

    Raises:
        ConfigError: malformed, or the provider is neither built in nor registered; the
            message lists the known providers and how to register one.
    """
    provider = parse_model_id(value).provider
    known = known_provider_names()
    if provider not in known:
        raise ConfigError(
            f"model id {value!r} names an unknown provider {provider!r}; known providers: "
            f"{', '.join(known)}. Fix the id's prefix, or register the provider with "
            "orchestrator.backends.register_provider() before loading the settings"
        )
    return value
