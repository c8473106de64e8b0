"""Routing: which model each LLM node gets, from `ModelSettings`.

Resolution order for `(graph, node)`: `models.nodes["graph.node"]`, then `models.graphs[graph]`,
then `models.default`. The chosen id, plus `models.fallbacks` in order, become one runnable:
the primary chat model `.with_fallbacks([...])` (LangChain's own mechanism), tried on
`BackendUnavailable` / `BackendTimeout`. Retries within one backend are the client library's
own (`models.max_retries`); nothing here loops.

Example:
    >>> from orchestrator import load_settings
    >>> router = ModelRouter(load_settings(models={"default": "test:echo",
    ...                                            "nodes": {"support.router": "test:router"}}).models)
    >>> str(router.model_id_for("support", "router")), str(router.model_id_for("support", "reply"))
    ('test:router', 'test:echo')
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from orchestrator.backends.ids import ModelId, parse_model_id
from orchestrator.backends.registry import BackendConfig, get_provider
from orchestrator.errors import BackendTimeout, BackendUnavailable, ConfigError

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.runnables import Runnable

    from orchestrator.settings import ModelSettings

__all__ = ["ModelRouter"]

logger = logging.getLogger(__name__)


class ModelRouter:
    """Builds the chat model (or CrewAI LLM) for a graph node from `ModelSettings`.

    Every id in the settings is parsed and its provider looked up at construction, so a typo
    fails at start-up, not at the first request. Built models are cached per id.

    Args:
        settings: `Settings.models`.
        pinned: model instances to use for given ids instead of building them, e.g.
            `{"test:router": ScriptedModel(...)}` in tests.

    Raises:
        ConfigError: an id is malformed or names an unknown provider.
    """

    def __init__(
        self, settings: ModelSettings, *, pinned: Mapping[str, BaseChatModel] | None = None
    ) -> None:
        self.settings = settings
        self._pinned = {str(parse_model_id(k)): v for k, v in (pinned or {}).items()}
        self._chat_cache: dict[str, BaseChatModel] = {}
        ids = [
            settings.default,
            *settings.graphs.values(),
            *settings.nodes.values(),
            *settings.fallbacks,
        ]
        for raw in ids:
            get_provider(parse_model_id(raw).provider)
        for key in settings.nodes:
            if "." not in key:
                raise ConfigError(
                    f"ORCH_MODELS__NODES key {key!r} must be 'graph.node', e.g. 'support.router'"
                )

    def model_id_for(self, graph: str, node: str | None = None) -> ModelId:
        """The id routed to `graph.node` (node override, else graph override, else default)."""
        if node is not None and (raw := self.settings.nodes.get(f"{graph}.{node}")):
            return parse_model_id(raw)
        return parse_model_id(self.settings.graphs.get(graph, self.settings.default))

    def backend_config(self, model_id: ModelId | str) -> BackendConfig:
        """The resolved configuration (base URL, key, timeout, retries) for one id."""
        mid = parse_model_id(model_id)
        provider = get_provider(mid.provider)
        return BackendConfig(
            model_id=mid,
            base_url=self.settings.base_urls.get(mid.provider) or provider.default_base_url,
            api_key=self.settings.api_keys.get(mid.provider),
            timeout_s=self.settings.timeout_s,
            max_retries=self.settings.max_retries,
            temperature=self.settings.temperature,
            max_tokens=self.settings.max_tokens,
        )

    def build(self, model_id: ModelId | str) -> BaseChatModel:
        """The chat model for one id, without fallbacks (cached per id)."""
        key = str(parse_model_id(model_id))
        if key in self._pinned:
            return self._pinned[key]
        if key not in self._chat_cache:
            config = self.backend_config(key)
            logger.debug("building chat model %s at %s", key, config.base_url)
            self._chat_cache[key] = get_provider(config.model_id.provider).chat_model(config)
        return self._chat_cache[key]

    def chat_model(self, graph: str, node: str | None = None) -> Runnable[Any, Any]:
        """The LangChain chat model for `graph.node`, with the fallback chain attached.

        Returns:
            The primary `BaseChatModel`, or a `RunnableWithFallbacks` over it and
            `models.fallbacks` (which still offers `bind_tools` and `with_structured_output`).
        """
        primary_id = self.model_id_for(graph, node)
        primary = self.build(primary_id)
        rest = [
            self.build(fid)
            for fid in dict.fromkeys(str(parse_model_id(f)) for f in self.settings.fallbacks)
            if fid != str(primary_id)
        ]
        if not rest:
            return primary
        return primary.with_fallbacks(
            rest, exceptions_to_handle=(BackendUnavailable, BackendTimeout)
        )

    def crewai_llm(self, graph: str, node: str | None = None) -> Any:
        """The CrewAI LLM for `graph.node` (imports crewai; no fallbacks: CrewAI has none).

        Raises:
            ConfigError: the provider has no CrewAI adapter.
        """
        mid = self.model_id_for(graph, node)
        if str(mid) in self._pinned:
            pinned = self._pinned[str(mid)]
            as_crewai = getattr(pinned, "as_crewai_llm", None)
            if as_crewai is None:
                raise ConfigError(f"the model pinned for {mid} has no as_crewai_llm()")
            return as_crewai()
        provider = get_provider(mid.provider)
        if provider.crewai_llm is None:
            raise ConfigError(
                f"provider {mid.provider!r} has no CrewAI adapter; route crews to another model "
                "or register the provider with crewai_llm="
            )
        return provider.crewai_llm(self.backend_config(mid))
