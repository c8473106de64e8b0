"""What a graph builder gets: a model per node (`NodeModels`) and the services (`Services`).

A builder has the signature `build_<name>_graph(*, models: NodeModels, services: Services,
**options) -> StateGraph` and returns the graph uncompiled; the `Orchestrator` (or a test)
compiles it with a checkpointer and a store.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from orchestrator.errors import ConfigError

if TYPE_CHECKING:
    from langchain_core.tools import BaseTool

    from orchestrator.backends.routing import ModelRouter
    from orchestrator.settings import Settings
    from orchestrator.store.services import StoreService
    from orchestrator.tools import ToolCatalog, ToolContext, ToolRunner

__all__ = ["NodeModels", "Services"]


class NodeModels:
    """The chat model of each LLM node of one graph.

    Built by the `Orchestrator` from the `ModelRouter` (settings route `graph.node`, then the
    graph, then the default), or in tests from one model for every node or a mapping by node.

    Args:
        graph: the graph's registered name (the routing key's first part).
        source: a `ModelRouter`, one chat model for every node, or `{node: model}` with an
            optional `"*"` entry for the others.

    Example:
        >>> models = NodeModels("support", ScriptedModel(responses=[...]))
        >>> models.for_node("router")
    """

    def __init__(self, graph: str, source: ModelRouter | Any | Mapping[str, Any]) -> None:
        self.graph = graph
        self._source = source

    def for_node(self, node: str) -> Any:
        """The chat model (a LangChain runnable with `bind_tools`) for `node`.

        Raises:
            ConfigError: a mapping without this node and without a `"*"` entry.
        """
        from orchestrator.backends.routing import ModelRouter

        if isinstance(self._source, ModelRouter):
            return self._source.chat_model(self.graph, node)
        if isinstance(self._source, Mapping):
            model = self._source.get(node, self._source.get("*"))
            if model is None:
                raise ConfigError(
                    f"no model for node {node!r} of graph {self.graph!r}: the mapping has "
                    f"{sorted(self._source)}; add the node or a '*' entry"
                )
            return model
        return self._source

    def crewai_llm(self, node: str) -> Any:
        """The CrewAI LLM for `node`, for a node that runs a crew.

        From the router (`ModelRouter.crewai_llm`), or the scripted model's `as_crewai_llm()`.

        Raises:
            ConfigError: the routed provider (or the given model) has no CrewAI adapter.
        """
        from orchestrator.backends.routing import ModelRouter

        if isinstance(self._source, ModelRouter):
            return self._source.crewai_llm(self.graph, node)
        model = self.for_node(node)
        as_crewai = getattr(model, "as_crewai_llm", None)
        if as_crewai is None:
            raise ConfigError(
                f"the model for node {node!r} of graph {self.graph!r} "
                f"({type(model).__name__}) has no as_crewai_llm(): give a ScriptedModel or route "
                "the node through settings"
            )
        return as_crewai()

    def model_id(self, node: str) -> str:
        """The `provider:model` id routed to `node` (`scripted` when not routed by settings)."""
        from orchestrator.backends.routing import ModelRouter

        if isinstance(self._source, ModelRouter):
            return str(self._source.model_id_for(self.graph, node))
        model = self.for_node(node)
        return f"scripted:{getattr(model, 'model_name', type(model).__name__)}"


@dataclass
class Services:
    """The services a graph's nodes and tools use; built once per `Orchestrator`.

    Attributes:
        store: the store's service layer (the only writer).
        settings: the process settings.
        runner: the tool runner over the tool catalogue (profiles and allow-lists).
        payments: the payment gateway, for graphs that take payments.
        knowledge: the knowledge base, for graphs that answer from documents.
        extras: anything else a user's graph needs, by name.
    """

    store: StoreService
    settings: Settings
    runner: ToolRunner
    payments: Any = None
    knowledge: Any = None
    extras: dict[str, Any] = field(default_factory=dict)
    _tools: dict[str, list[BaseTool]] = field(default_factory=dict, repr=False)

    @classmethod
    def for_store(
        cls,
        store: StoreService,
        *,
        settings: Settings | None = None,
        catalog: ToolCatalog | None = None,
        **kwargs: Any,
    ) -> Services:
        """Services around an existing store service (tests, scripts).

        Args:
            store: the store's service layer.
            settings: default the service's settings.
            catalog: the tool catalogue; default `default_catalog()`.
            kwargs: `payments`, `knowledge`, `extras`.
        """
        from orchestrator.tools import ToolRunner

        return cls(
            store=store,
            settings=settings if settings is not None else store.settings,
            runner=ToolRunner(catalog),
            **kwargs,
        )

    @property
    def catalog(self) -> ToolCatalog:
        """The tool catalogue."""
        return self.runner.catalog

    def tools(self, profile: str) -> list[BaseTool]:
        """The profile's tools as LangChain tools, built once (for `ToolNode` and `bind_tools`)."""
        if profile not in self._tools:
            from orchestrator.tools import as_langchain_tools

            self._tools[profile] = as_langchain_tools(
                profile,
                service=self.store,
                runner=self.runner,
                settings=self.settings,
                knowledge=self.knowledge,
            )
        return self._tools[profile]

    def node_context(
        self, config: Mapping[str, Any], context: object, *, agent: str
    ) -> ToolContext:
        """A `ToolContext` for a hand-written node's calls (see `ToolContext.for_node`).

        Call it once at the top of each node execution.
        """
        from orchestrator.tools import ToolContext

        return ToolContext.for_node(
            config,
            context,
            service=self.store,
            agent=agent,
            settings=self.settings,
            knowledge=self.knowledge,
        )

    def invoke(
        self,
        ctx: ToolContext,
        name: str,
        args: Mapping[str, Any],
        *,
        call_id: str | None = None,
        on_approval: Literal["raise", "interrupt"] = "interrupt",
    ) -> Any:
        """Run one tool call through the runner (`ToolRunner.invoke`).

        Inside a graph run, a write that needs approval pauses the run until a person
        decides, then is performed once (`on_approval="interrupt"`, the default here).
        """
        return self.runner.invoke(ctx, name, args, call_id=call_id, on_approval=on_approval)
