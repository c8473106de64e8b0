"""The `none:` provider: no model at all.

Route a node (or everything: `ORCH_MODELS__DEFAULT=none:rules`) to it and every LLM node takes
its deterministic path at once: no server, no network, no waiting for a timeout.
"""

from __future__ import annotations

from typing import Any

from langchain_core.language_models import BaseChatModel
from pydantic import Field

from orchestrator.backends.probe import Capabilities
from orchestrator.backends.registry import BackendConfig, Provider
from orchestrator.errors import BackendUnavailable

__all__ = ["NONE", "NoModel"]


class NoModel(BaseChatModel):
    """The `none:` provider's model: it never answers, so every LLM node routed to it takes
    its deterministic path (rules only), with no server and no network."""

    model_name: str = "none"
    capabilities: Capabilities = Field(
        default_factory=lambda: Capabilities(
            reachable=False,
            detail="this node is routed to `none:` (no model): it takes its deterministic path",
        )
    )

    @property
    def _llm_type(self) -> str:
        return "none"

    def _generate(self, messages: Any, stop: Any = None, run_manager: Any = None, **kw: Any) -> Any:
        raise BackendUnavailable(self.capabilities.detail)

    def bind_tools(self, tools: Any, **kwargs: Any) -> NoModel:
        """The model itself: it calls no tool either."""
        return self


def _no_model(config: BackendConfig) -> NoModel:
    return NoModel(model_name=config.model_id.model)


NONE = Provider(
    "none",
    _no_model,
    None,
    None,
    "no model: every node routed here takes its deterministic path (`none:rules`)",
)
