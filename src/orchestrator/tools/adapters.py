"""A profile's tools as LangChain tools and as CrewAI tools.

Both adapters run every call through a `ToolRunner`, so the allow-list, the customer scope,
the audit and the idempotency key apply exactly as for `invoke`. The tool returns the result
as JSON. Refusals the model can act on (`InvalidInput`, `NotFound`, `InsufficientStock`,
`InvalidTransition`, `PermissionDenied`, `IdempotencyConflict`) come back to the model as an
`error: ...` string naming the bad value; `ApprovalRequired` propagates, for the graph to
turn into `interrupt()` (or, with `on_approval="interrupt"`, the LangChain tool interrupts
itself, which suits a `ToolNode`); anything else propagates too.

crewai is imported only inside `as_crewai_tools`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ValidationError

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
from orchestrator.tools._core import ToolContext, ToolSpec
from orchestrator.tools.registry import AgentProfile, ToolCatalog
from orchestrator.tools.runner import ToolRunner, validation_error_to_invalid_input

if TYPE_CHECKING:
    from crewai.tools import BaseTool as CrewBaseTool
    from langchain_core.tools import BaseTool

__all__ = [
    "MODEL_VISIBLE_ERRORS",
    "OnApproval",
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


def _bind(
    ctx: ToolContext,
    profile: AgentProfile | str | None,
    catalog: ToolCatalog | None,
    runner: ToolRunner | None,
) -> tuple[ToolContext, ToolRunner, list[ToolSpec]]:
    from dataclasses import replace

    run = runner if runner is not None else ToolRunner(catalog)
    if profile is None:
        name = ctx.agent
    elif isinstance(profile, AgentProfile):
        known = run.catalog.profiles.get(profile.name)
        if known != profile:
            raise ConfigError(
                f"profile {profile.name!r} is not the one registered in the catalogue; "
                "register it with catalog.register_profile(...) first"
            )
        name = profile.name
    else:
        name = profile
    prof = run.catalog.profile(name)
    bound = ctx if ctx.agent == name else replace(ctx, agent=name)
    return bound, run, run.catalog.tools_for(prof)


OnApproval = Literal["raise", "interrupt"]


def approval_payload(exc: ApprovalRequired) -> dict[str, Any]:
    """What a human must decide, as the JSON-serializable value of a LangGraph interrupt.

    Args:
        exc: the approval request.
    """
    return {
        "kind": "approval_required",
        "tool": exc.tool,
        "arguments": exc.arguments,
        "reason": exc.reason,
        "approval_id": exc.approval_id,
    }


def _resumed_approval_id(decision: Any) -> int | None:
    if isinstance(decision, bool):
        return None
    if isinstance(decision, int):
        return decision
    if isinstance(decision, Mapping) and decision.get("approved", True):
        value = decision.get("approval_id")
        return value if isinstance(value, int) and not isinstance(value, bool) else None
    return None


def run_for_model(
    runner: ToolRunner,
    ctx: ToolContext,
    name: str,
    arguments: dict[str, Any],
    *,
    on_approval: OnApproval = "raise",
) -> str:
    """Run a tool call and give the model JSON, or `error: ...` for a refusal it can fix.

    Args:
        runner: the runner.
        ctx: the run context.
        name: the tool's name.
        arguments: the model's arguments.
        on_approval: `raise` lets `ApprovalRequired` propagate; `interrupt` calls LangGraph's
            `interrupt(approval_payload(exc))` and, resumed with `{"approval_id": id}` (or the
            bare id) of an approved approval, performs the call with it; resumed with
            `{"approved": False, "note": ...}` it tells the model the human said no.
    """
    args = _jsonable(arguments)
    try:
        try:
            result = runner.invoke(ctx, name, args)
        except ApprovalRequired as exc:
            if on_approval != "interrupt":
                raise
            from langgraph.types import interrupt

            decision = interrupt(approval_payload(exc))
            approval_id = _resumed_approval_id(decision)
            if approval_id is None:
                note = decision.get("note", "") if isinstance(decision, Mapping) else ""
                return f"error: ApprovalRejected: a human declined {name}" + (
                    f": {note}" if note else ""
                )
            result = runner.invoke(ctx, name, args, approval_id=approval_id)
    except MODEL_VISIBLE_ERRORS as exc:
        kind = next(c.__name__ for c in type(exc).__mro__ if c.__module__ == "orchestrator.errors")
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


def as_langchain_tools(
    ctx: ToolContext,
    profile: AgentProfile | str | None = None,
    *,
    catalog: ToolCatalog | None = None,
    runner: ToolRunner | None = None,
    on_approval: OnApproval = "raise",
) -> list[BaseTool]:
    """The profile's tools as LangChain `StructuredTool`s bound to `ctx`.

    Args:
        ctx: the run context every call uses.
        profile: the agent profile (name or registered profile); default `ctx.agent`.
        catalog: the catalogue; default `default_catalog()` (ignored when `runner` is given).
        runner: a runner to share.
        on_approval: `raise` (default) lets `ApprovalRequired` propagate; `interrupt` turns it
            into a LangGraph `interrupt()` inside the tool (for a `ToolNode`), see
            `run_for_model`.

    Example:
        >>> tools = as_langchain_tools(ctx, "support")
        >>> model.bind_tools(tools)
    """
    from langchain_core.tools import StructuredTool

    bound, run, specs = _bind(ctx, profile, catalog, runner)
    tools: list[BaseTool] = []
    for spec in specs:

        def make(name: str) -> Callable[..., str]:
            def func(**kwargs: Any) -> str:
                return run_for_model(run, bound, name, kwargs, on_approval=on_approval)

            return func

        tools.append(
            StructuredTool.from_function(
                func=make(spec.name),
                name=spec.name,
                description=spec.description,
                args_schema=spec.args_schema,
                infer_schema=False,
                handle_validation_error=_validation_message(spec),
            )
        )
    return tools


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
    tool_class = _crew_tool_class()
    bound, run, specs = _bind(ctx, profile, catalog, runner)
    tools: list[CrewBaseTool] = []
    for spec in specs:
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
