"""Run a tool for an agent: validate, check the profile and the customer, audit, call.

```
invoke(ctx, name, args)
  1. profile allow-list        outside it        -> PermissionDenied (audited)
  2. args schema               wrong/missing/extra -> InvalidInput naming the field
  3. customer scope            no customer        -> PermissionDenied (audited)
                               another's record   -> HiddenRecord, a NotFound (audited)
  4. the write key             principal|thread|checkpoint_ns|call id; a human's edit of
                               an approval for this key replaces the arguments
  5. the tool -> the service   with actor (+ call origin), idempotency key, approval id
     ApprovalRequired propagates for the graph to turn into interrupt()
  6. read audit                when settings.audit.log_reads
```
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from orchestrator.errors import (
    ApprovalRequired,
    ConfigError,
    HiddenRecord,
    InvalidInput,
    OrchestratorError,
    PermissionDenied,
)
from orchestrator.store.services._record import PERSONAL_FIELDS
from orchestrator.tools._audit import record_tool_audit
from orchestrator.tools._core import CallInfo, ScopeDenied, ToolContext, ToolSpec
from orchestrator.tools.approval import ApprovalRequest, in_graph_run
from orchestrator.tools.registry import AgentProfile, ToolCatalog, default_catalog

__all__ = ["ToolRunner", "invoke", "validation_error_to_invalid_input"]

_MISSING = "<missing>"


def validation_error_to_invalid_input(spec: ToolSpec, exc: ValidationError) -> InvalidInput:
    """Turn pydantic's error into `InvalidInput` naming the first bad field and its value.

    Args:
        spec: the tool whose arguments failed.
        exc: pydantic's error.
    """
    errors = exc.errors()
    first = errors[0]
    field = ".".join(str(part) for part in first["loc"]) or "arguments"
    kind = first["type"]
    if kind == "missing":
        value: object = _MISSING
        problem = f"required by {spec.name} and not given"
    elif kind == "extra_forbidden":
        value = first.get("input")
        problem = f"{spec.name} has no argument {field!r}"
        if field.split(".")[-1] in ("customer_id", "customer"):
            problem += " (the customer always comes from the run context)"
        allowed = ", ".join(spec.args_schema.model_fields)
        problem += f"; its arguments are: {allowed or 'none'}"
    else:
        value = first.get("input")
        problem = first["msg"]
    if len(errors) > 1:
        others = ", ".join(".".join(str(p) for p in err["loc"]) for err in errors[1:4])
        problem += f" (also check: {others})"
    if field.split(".")[-1] in PERSONAL_FIELDS and isinstance(value, str):
        value = f"<{len(value)} characters>"  # personal data is never quoted in an error
    return InvalidInput(field, value, problem)


def _names_customer(field: str) -> bool:
    return field.split(".")[-1] in ("customer_id", "customer")


class ToolRunner:
    """Runs catalogue tools for agents; the one path from a model's tool call to the store.

    Args:
        catalog: the tools and profiles; default `default_catalog()`.

    Example:
        >>> runner = ToolRunner()
        >>> ctx = ToolContext(service=svc, agent="support", customer_id=7, thread_id="t1")
        >>> runner.invoke(ctx, "get_order_status", {"order_id": 12})
    """

    def __init__(self, catalog: ToolCatalog | None = None) -> None:
        self.catalog = catalog if catalog is not None else default_catalog()

    def profile_of(self, ctx: ToolContext) -> AgentProfile:
        """The profile named by `ctx.agent`."""
        return self.catalog.profile(ctx.agent)

    def invoke(
        self,
        ctx: ToolContext,
        name: str,
        args: Mapping[str, Any] | None = None,
        *,
        approval_id: int | None = None,
        call_id: str | None = None,
        on_approval: Literal["raise", "interrupt"] = "raise",
    ) -> BaseModel:
        """Validate and run one tool call for the agent in `ctx`.

        Args:
            ctx: the run context (service, agent profile, customer, thread, namespace).
            name: the tool's name.
            args: the model's arguments.
            approval_id: an approved approval for this call (scripts; a graph's call finds
                its own approval through its key).
            call_id: the model's tool-call id; default the context's next step id
                (`step-1`, `step-2`, ... for the writes made through `ctx`).
            on_approval: `raise` lets `ApprovalRequired` propagate; `interrupt` (inside a
                graph run) pauses the run with an `ApprovalRequest` until a person decides,
                then performs the same call (the adapters and `Services.invoke` use it).

        Returns:
            The tool's pydantic result (`replayed=True` when its key had been used).

        Raises:
            PermissionDenied: the tool is outside the profile (audited).
            HiddenRecord: the record belongs to another customer (audited as denied; the
                caller sees the same `NotFound` as for a missing id).
            InvalidInput: the arguments do not fit the schema; names the field and value.
            ConfigError: a write inside a graph that runs without a thread id.
            ApprovalRequired: the write needs a human decision first (from the service).
            ApprovalRejected: a human rejected it.
            StoreError: whatever the service refuses (`NotFound`, `InsufficientStock`, ...).
        """
        if not isinstance(name, str) or not name.strip() or len(name) > 64:
            refused = InvalidInput(
                "name",
                name if isinstance(name, str) else type(name).__name__,
                "expected a tool name: a string of 1..64 characters",
            )
            record_tool_audit(
                ctx,
                "<invalid tool name>",
                {"name": name, "arguments": args},
                outcome="error",
                reason="invalid tool name",
                error=f"InvalidInput: {refused}",
            )
            raise refused
        if args is not None and not isinstance(args, Mapping):
            refused = InvalidInput(
                "arguments",
                type(args).__name__,
                f"expected an object of named arguments ({{name: value}}) for {name}, "
                f"got a {type(args).__name__}",
            )
            record_tool_audit(
                ctx,
                name,
                {"arguments": args},
                outcome="error",
                reason="arguments are not an object",
                error=f"InvalidInput: {refused}",
            )
            raise refused
        raw = dict(args or {})
        profile = self.profile_of(ctx)
        spec = self.catalog.tools.get(name)
        if spec is None or not profile.allows(spec):
            reason = (
                f"{name!r} is not in the allow-list of profile {profile.name!r}"
                if spec is None or spec.name not in profile.allowed
                else f"profile {profile.name!r} is read-only and {name!r} writes"
            )
            exc = PermissionDenied(profile.name, f"call {name}", reason)
            record_tool_audit(
                ctx, name, raw, outcome="denied", reason=reason, error=f"PermissionDenied: {exc}"
            )
            raise exc
        try:
            parsed = spec.parse_arguments(raw)
        except ValidationError as err:
            refused = validation_error_to_invalid_input(spec, err)
            # Every refusal is audited, a customer id smuggled into the arguments included.
            record_tool_audit(
                ctx,
                name,
                raw,
                outcome="denied" if _names_customer(refused.field) else "error",
                reason=f"invalid {refused.field}",
                error=f"InvalidInput: {refused}",
            )
            raise refused from None
        arguments = parsed.model_dump(mode="json")
        if (spec.customer_scoped or profile.customer_facing) and ctx.customer_id is None:
            reason = (
                f"{name} acts for the authenticated customer and the run context names none"
                if spec.customer_scoped
                else f"profile {profile.name!r} is customer-facing and the run context names "
                "no authenticated customer"
            )
            exc = PermissionDenied(profile.name, f"call {name}", reason)
            record_tool_audit(
                ctx,
                name,
                arguments,
                outcome="denied",
                reason=reason,
                error=f"PermissionDenied: {exc}",
            )
            raise exc
        key: str | None = None
        step: str | None = call_id
        if spec.is_write:
            if ctx.in_graph and not ctx.thread_id:
                raise ConfigError(
                    f"{name} writes, and the graph runs without a thread id, so the write "
                    "could not be made idempotent: compile the graph with a checkpointer and "
                    "run it with config={'configurable': {'thread_id': ...}} (the Orchestrator "
                    "does both)"
                )
            if ctx.thread_id:
                step = call_id if call_id else ctx.steps.next()
                key = ctx.write_key(step)
        while True:
            try:
                return self._perform(ctx, spec, parsed, key, step, approval_id)
            except ApprovalRequired as exc:
                if on_approval != "interrupt" or exc.approval_id is None or not in_graph_run():
                    raise
                from langgraph.types import interrupt

                # Pauses the run; once resumed, the same call (same key) goes again and the
                # store decides: approved -> performed, rejected -> ApprovalRejected, still
                # pending -> the next interrupt() pauses again.
                interrupt(ApprovalRequest.from_error(exc).model_dump(mode="json"))

    def _perform(
        self,
        ctx: ToolContext,
        spec: ToolSpec,
        parsed: BaseModel,
        key: str | None,
        step: str | None,
        approval_id: int | None,
    ) -> BaseModel:
        """Make the call (with a person's edit of its approval, if there is one)."""
        name = spec.name
        if key is not None:
            edit = self._approved_edit(ctx, key)
            if edit is not None:
                approval_id, edited = edit
                try:
                    parsed = spec.parse_arguments(edited)
                except ValidationError as err:
                    raise validation_error_to_invalid_input(spec, err) from None
        arguments = parsed.model_dump(mode="json")
        call_ctx = replace(
            ctx,
            call=CallInfo(
                tool=name,
                arguments=arguments,
                idempotency_key=key,
                approval_id=approval_id,
                call_id=step,
            ),
        )
        kwargs = {field: getattr(parsed, field) for field in spec.args_schema.model_fields}
        try:
            result = spec.func(call_ctx, **kwargs)
        except (ScopeDenied, HiddenRecord) as exc:
            reason = exc.reason
            if not getattr(exc, "audited", False):
                record_tool_audit(
                    call_ctx,
                    name,
                    arguments,
                    outcome="denied",
                    reason=reason,
                    error=f"{type(exc).__name__}: {reason}",
                )
            raise
        except OrchestratorError as exc:
            # The services audit their own writes' refusals; what they did not (a read's
            # NotFound, a tool's own check) is audited here: every refusal is in the log.
            if not isinstance(exc, ApprovalRequired) and not getattr(exc, "audited", False):
                record_tool_audit(
                    call_ctx,
                    name,
                    arguments,
                    outcome="denied" if isinstance(exc, PermissionDenied) else "error",
                    reason=f"{name} refused",
                    error=f"{type(exc).__name__}: {exc}",
                )
            raise
        if not spec.is_write and call_ctx.resolved_settings().audit.log_reads:
            record_tool_audit(call_ctx, name, arguments, outcome="ok", reason="read")
        if not isinstance(result, BaseModel):
            raise ConfigError(f"tool {name!r} returned {type(result).__name__}, not a model")
        return result

    @staticmethod
    def _approved_edit(ctx: ToolContext, key: str) -> tuple[int, dict[str, Any]] | None:
        """The approval and the arguments a person approved in place of this call's, if they
        edited them."""
        found = ctx.service.approvals(idempotency_key=key, limit=1)
        if found and found[0].status == "approved" and found[0].approved_arguments is not None:
            return found[0].id, dict(found[0].approved_arguments)
        return None


def invoke(
    ctx: ToolContext,
    name: str,
    args: Mapping[str, Any] | None = None,
    *,
    catalog: ToolCatalog | None = None,
    approval_id: int | None = None,
    call_id: str | None = None,
    on_approval: Literal["raise", "interrupt"] = "raise",
) -> BaseModel:
    """Run one tool call through a `ToolRunner` over `catalog` (default: the built-ins).

    Args:
        ctx: the run context.
        name: the tool's name.
        args: the model's arguments.
        catalog: the catalogue; default `default_catalog()`.
        approval_id: an approved approval for this call.
        call_id: the call's id (see `ToolRunner.invoke`).
        on_approval: `raise` or `interrupt` (see `ToolRunner.invoke`).
    """
    return ToolRunner(catalog).invoke(
        ctx, name, args, approval_id=approval_id, call_id=call_id, on_approval=on_approval
    )
