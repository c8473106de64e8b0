"""A profile's tools as LangChain tools (for graphs) and as CrewAI tools (for crews).

Both run every call through a `ToolRunner`, so the allow-list, the customer scope, the audit
and the idempotency key apply exactly as for `invoke`. A tool returns the result as JSON.
Refusals the model can act on (`InvalidInput`, `NotFound`, `InsufficientStock`,
`InvalidTransition`, `PermissionDenied` (with `ApprovalRejected`), `IdempotencyConflict`) come
back to the model as an `error: ...` string naming the bad value; anything else propagates.

LangChain tools are built once per graph and know nothing of a run: at call time they read
LangGraph's injected `ToolRuntime` (the run context, the thread, the checkpoint namespace and
the tool-call id), so `ToolNode(tools)` and `model.bind_tools(tools)` happen at build time.
Inside a graph, a write that needs approval pauses the run (`perform_with_approval`).

crewai is imported only inside `as_crewai_tools`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

from langchain_core.tools import InjectedToolArg
from pydantic import BaseModel, Field, ValidationError, create_model

from orchestrator.errors import (
    ApprovalRequired,
    ConfigError,
    IdempotencyConflict,
    InsufficientStock,
    InvalidInput,
    InvalidTransition,
    NotFound,
    PermissionDenied,
)
from orchestrator.tools._core import KnowledgeSource, ToolContext, ToolSpec
from orchestrator.tools.approval import ApprovalRequest
from orchestrator.tools.registry import AgentProfile, ToolCatalog
from orchestrator.tools.runner import ToolRunner, validation_error_to_invalid_input

if TYPE_CHECKING:
    from crewai.tools import BaseTool as CrewBaseTool
    from langchain_core.tools import BaseTool

    from orchestrator.settings import Settings
    from orchestrator.store.services import StoreService

__all__ = [
    "MODEL_VISIBLE_ERRORS",
    "approval_payload",
    "as_crewai_tools",
    "as_langchain_tools",
    "run_for_model",
]

MODEL_VISIBLE_ERRORS: tuple[type[Exception], ...] = (
    InvalidInput,
    NotFound,
    InsufficientStock,
    InvalidTransition,
    PermissionDenied,
    IdempotencyConflict,
)
"""Errors handed back to the model as text (it can correct the call); others propagate."""


def _profile_name(profile: AgentProfile | str, runner: ToolRunner) -> str:
    if isinstance(profile, AgentProfile):
        known = runner.catalog.profiles.get(profile.name)
        if known != profile:
            raise ConfigError(
                f"profile {profile.name!r} is not the one registered in the catalogue; "
                "register it with catalog.register_profile(...) first"
            )
        return profile.name
    runner.catalog.profile(profile)  # ConfigError naming the known ones
    return profile


def approval_payload(exc: ApprovalRequired) -> dict[str, Any]:
    """What a human must decide, as the JSON-serializable value of a LangGraph interrupt.

    Args:
        exc: the approval request (recorded by the store, so it has an `approval_id`).
    """
    return ApprovalRequest.from_error(exc).model_dump(mode="json")


def run_for_model(
    runner: ToolRunner,
    ctx: ToolContext,
    name: str,
    arguments: dict[str, Any],
    *,
    call_id: str | None = None,
) -> str:
    """Run a tool call and give the model JSON, or `error: ...` for a refusal it can fix.

    Inside a graph run a write that needs approval pauses the run until a person decides
    (`on_approval="interrupt"`); outside one, `ApprovalRequired` propagates.

    Args:
        runner: the runner.
        ctx: the run context.
        name: the tool's name.
        arguments: the model's arguments.
        call_id: the model's tool-call id (the write key's last part).
    """
    args = _jsonable(arguments)
    try:
        result = runner.invoke(ctx, name, args, call_id=call_id, on_approval="interrupt")
    except MODEL_VISIBLE_ERRORS as exc:
        kind = next(c.__name__ for c in type(exc).__mro__ if c.__module__ == "orchestrator.errors")
        if kind == "HiddenRecord":
            kind = "NotFound"  # the model (and so the customer) sees what a missing id gives
        return f"error: {kind}: {exc}"
    return result.model_dump_json()


def _jsonable(arguments: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in arguments.items():
        out[key] = _plain(value)
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


def _validation_message(spec: ToolSpec) -> Callable[[Any], str]:
    def handle(exc: Any) -> str:
        if isinstance(exc, ValidationError):
            return f"error: InvalidInput: {validation_error_to_invalid_input(spec, exc)}"
        return f"error: InvalidInput: {exc}"

    return handle


def _with_runtime(spec: ToolSpec) -> type[BaseModel]:
    """The tool's args schema plus LangGraph's injected `runtime` (never shown to the model).

    LangGraph's `ToolNode` injects a `ToolRuntime` into a parameter named `runtime`; it is
    excluded from the schema the model reads and from dumps.
    """
    return create_model(
        spec.args_schema.__name__,
        __base__=spec.args_schema,
        runtime=(Annotated[Any, InjectedToolArg, Field(exclude=True)], None),
    )


def as_langchain_tools(
    profile: AgentProfile | str,
    *,
    service: StoreService,
    catalog: ToolCatalog | None = None,
    runner: ToolRunner | None = None,
    settings: Settings | None = None,
    knowledge: KnowledgeSource | None = None,
) -> list[BaseTool]:
    """The profile's tools as LangChain tools, built once per graph, bound to no run.

    At call time each tool reads LangGraph's injected `ToolRuntime`: the run context (actor,
    authenticated customer, channel, tenant; see `orchestrator.runtime.RunContext`), the
    thread id and checkpoint namespace from its config, and the tool-call id; a write's
    idempotency key is derived from those. Called outside a graph (`tool.invoke({...})`) the
    tool runs with no customer and no key, like a script.

    Args:
        profile: the agent profile (name or registered profile): its allow-list applies.
        service: the store's service layer.
        catalog: the catalogue; default `default_catalog()` (ignored when `runner` is given).
        runner: a runner to share.
        settings: settings; default the service's.
        knowledge: the knowledge base `search_knowledge_base` reads, if the profile has it.

    Example:
        >>> tools = as_langchain_tools("support", service=svc)
        >>> agent = model.bind_tools(tools)
        >>> builder.add_node("tools", ToolNode(tools))
    """
    from langchain_core.tools import StructuredTool
    from langgraph.prebuilt import ToolRuntime

    run = runner if runner is not None else ToolRunner(catalog)
    name = _profile_name(profile, run)
    base = ToolContext(service=service, agent=name, settings=settings, knowledge=knowledge)
    tools: list[BaseTool] = []
    for spec in run.catalog.tools_for(name):

        def make(tool_name: str) -> Callable[..., str]:
            def func(runtime: Any = None, **kwargs: Any) -> str:
                ctx, call_id = _context_from_runtime(base, runtime)
                return run_for_model(run, ctx, tool_name, kwargs, call_id=call_id)

            # What LangChain and LangGraph read to inject the runtime (resolved, not a string).
            func.__annotations__ = {"runtime": ToolRuntime, "kwargs": Any, "return": str}
            return func

        tools.append(
            StructuredTool.from_function(
                func=make(spec.name),
                name=spec.name,
                description=spec.description,
                args_schema=_with_runtime(spec),
                infer_schema=False,
                handle_validation_error=_validation_message(spec),
            )
        )
    return tools


def _context_from_runtime(base: ToolContext, runtime: Any) -> tuple[ToolContext, str | None]:
    """The call's `ToolContext` and tool-call id from LangGraph's `ToolRuntime` (or none)."""
    from dataclasses import replace

    from orchestrator.tools._core import run_context_values

    if runtime is None:
        return base, None
    config = getattr(runtime, "config", None) or {}
    configurable = config.get("configurable") or {}
    values = run_context_values(getattr(runtime, "context", None))
    thread_id = configurable.get("thread_id")
    namespace = configurable.get("checkpoint_ns")
    ctx = replace(
        base,
        actor=values.get("actor"),
        customer_id=values.get("customer_id"),
        channel=values.get("channel"),
        tenant=values.get("tenant"),
        thread_id=str(thread_id) if thread_id is not None else None,
        checkpoint_ns=str(namespace) if namespace is not None else "",
    )
    call_id = getattr(runtime, "tool_call_id", None)
    return ctx, str(call_id) if call_id else None


def as_crewai_tools(
    ctx: ToolContext,
    profile: AgentProfile | str | None = None,
    *,
    catalog: ToolCatalog | None = None,
    runner: ToolRunner | None = None,
) -> list[CrewBaseTool]:
    """The profile's tools as CrewAI tools bound to `ctx` (imports crewai, which is slow).

    Args:
        ctx: the run context every call uses.
        profile: the agent profile (name or registered profile); default `ctx.agent`.
        catalog: the catalogue; default `default_catalog()` (ignored when `runner` is given).
        runner: a runner to share.

    Example:
        >>> agent = crewai.Agent(role="analyst", tools=as_crewai_tools(ctx, "analyst"), ...)
    """
    from dataclasses import replace

    tool_class = _crew_tool_class()
    run = runner if runner is not None else ToolRunner(catalog)
    name = ctx.agent if profile is None else _profile_name(profile, run)
    bound = ctx if ctx.agent == name else replace(ctx, agent=name)
    tools: list[CrewBaseTool] = []
    for spec in run.catalog.tools_for(name):
        crew_tool = tool_class(
            name=spec.name,
            description=spec.description,
            args_schema=spec.args_schema,
        )
        crew_tool.bind(run, bound)
        tools.append(crew_tool)
    return tools


_CREW_TOOL_CLASS: Any = None


def _crew_tool_class() -> Any:
    global _CREW_TOOL_CLASS
    if _CREW_TOOL_CLASS is not None:
        return _CREW_TOOL_CLASS
    try:
        from crewai.tools import BaseTool as CrewBaseTool
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ConfigError(
            "as_crewai_tools needs crewai: pip install 'commerce-orchestrator[crews]'"
        ) from exc
    from pydantic import PrivateAttr

    class OrchestratorCrewTool(CrewBaseTool):
        """A catalogue tool run through orchestrator's `ToolRunner`."""

        _runner: Any = PrivateAttr(default=None)
        _ctx: Any = PrivateAttr(default=None)

        def bind(self, runner: ToolRunner, ctx: ToolContext) -> None:
            self._runner = runner
            self._ctx = ctx

        def _run(self, **kwargs: Any) -> str:
            if self._runner is None:
                raise ConfigError(f"crew tool {self.name!r} is not bound to a run context")
            return run_for_model(self._runner, self._ctx, self.name, kwargs)

    OrchestratorCrewTool.__module__ = __name__
    _CREW_TOOL_CLASS = OrchestratorCrewTool
    return OrchestratorCrewTool
