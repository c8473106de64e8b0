"""Run a tool for an agent: validate, check the profile and the customer, audit, call.

```
invoke(ctx, name, args)
  1. profile allow-list        outside it        -> PermissionDenied (audited)
  2. args schema               wrong/missing/extra -> InvalidInput naming the field
  3. customer scope            no customer / another customer's record
                                                 -> PermissionDenied (audited)
  4. read audit                when settings.audit.log_reads
  5. the tool -> the service   with actor, agent, idempotency key, approval id
     ApprovalRequired propagates unchanged for the graph to turn into interrupt()
```
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from pydantic import BaseModel, ValidationError

from orchestrator.errors import ApprovalRequired, ConfigError, InvalidInput, PermissionDenied
from orchestrator.tools._audit import record_tool_audit
from orchestrator.tools._core import CallInfo, ScopeDenied, ToolContext, ToolSpec, idempotency_key
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
    return InvalidInput(field, value, problem)


class ToolRunner:
    """Runs catalogue tools for agents; the one path from a model's tool call to the store.

    Args:
        catalog: the tools and profiles; default `default_catalog()`.

    Example:
        >>> runner = ToolRunner()
        >>> ctx = ToolContext(service=svc, agent="support", customer_id=7, thread_id="t1",
        ...                   node="agent")
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
    ) -> BaseModel:
        """Validate and run one tool call for the agent in `ctx`.

        Args:
            ctx: the run context (service, agent profile, customer, thread id, node).
            name: the tool's name.
            args: the model's arguments.
            approval_id: an approved approval for this call; default
                `ctx.approvals.get(name)`.

        Returns:
            The tool's pydantic result.

        Raises:
            PermissionDenied: the tool is outside the profile, or the record belongs to
                another customer (both audited).
            InvalidInput: the arguments do not fit the schema; names the field and value.
            ApprovalRequired: the write needs a human decision first (from the service).
            StoreError: whatever the service refuses (`NotFound`, `InsufficientStock`, ...).
        """
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
            raise validation_error_to_invalid_input(spec, err) from None
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
        key = (
            idempotency_key(ctx.thread_id, ctx.node, name, arguments)
            if spec.is_write and ctx.thread_id
            else None
        )
        call_ctx = replace(
            ctx,
            call=CallInfo(
                tool=name,
                arguments=arguments,
                idempotency_key=key,
                approval_id=approval_id if approval_id is not None else ctx.approvals.get(name),
            ),
        )
        kwargs = {field: getattr(parsed, field) for field in spec.args_schema.model_fields}
        try:
            result = spec.func(call_ctx, **kwargs)
        except ScopeDenied as exc:
            record_tool_audit(
                ctx,
                name,
                arguments,
                outcome="denied",
                reason=exc.reason,
                error=f"PermissionDenied: {exc}",
            )
            raise
        except ApprovalRequired as exc:
            if exc.tool == name:
                raise
            # The service operation that asked (e.g. approve_purchase_order) is not the tool
            # the agent called: name the tool and its arguments, keep the approval id.
            raise ApprovalRequired(
                name,
                arguments,
                f"{exc.reason} (service operation {exc.tool} with {exc.arguments})",
                approval_id=exc.approval_id,
            ) from exc
        if not spec.is_write and call_ctx.resolved_settings().audit.log_reads:
            record_tool_audit(ctx, name, arguments, outcome="ok", reason="read")
        if not isinstance(result, BaseModel):
            raise ConfigError(f"tool {name!r} returned {type(result).__name__}, not a model")
        return result


def invoke(
    ctx: ToolContext,
    name: str,
    args: Mapping[str, Any] | None = None,
    *,
    catalog: ToolCatalog | None = None,
    approval_id: int | None = None,
) -> BaseModel:
    """Run one tool call through a `ToolRunner` over `catalog` (default: the built-ins).

    Args:
        ctx: the run context.
        name: the tool's name.
        args: the model's arguments.
        catalog: the catalogue; default `default_catalog()`.
        approval_id: an approved approval for this call.
    """
    return ToolRunner(catalog).invoke(ctx, name, args, approval_id=approval_id)
