"""Model ids: `provider:model`, parsed in exactly one function.

Examples of ids: `llamacpp:smollm2`, `vllm:Qwen/Qwen2.5-7B-Instruct`, `ollama:qwen2.5:7b`,
`openai:gpt-4o-mini`, `openai-compatible:my-model`, `test:scripted`. Only the first colon
separates the provider, so model names may contain colons (Ollama tags) and slashes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from orchestrator.errors import ConfigError

__all__ = ["ModelId", "parse_model_id"]

_PROVIDER = re.compile(r"^[a-z][a-z0-9_-]*$")


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
