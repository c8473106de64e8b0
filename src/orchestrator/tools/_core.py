"""The tool machinery: `@tool`, `ToolSpec`, `ToolContext` and the idempotency-key rule.

A tool is a plain typed function `def name(ctx: ToolContext, <args>) -> <pydantic model>`.
`@tool(access=..., scope=...)` turns it into a `ToolSpec` whose `args_schema` is a pydantic
model built from the signature (every parameter after `ctx`) and the `Args:` lines of its
Google docstring; the first docstring line is the description the model reads. `ctx` is
injected by the runner and never appears in the schema.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import (
    TYPE_CHECKING,
    Any,
    Literal,
    Protocol,
    get_args,
    get_type_hints,
    runtime_checkable,
)

from pydantic import BaseModel, ConfigDict, ValidationInfo, create_model, field_validator
from pydantic import Field as PydanticField

from orchestrator.errors import ConfigError, HiddenRecord, PermissionDenied

if TYPE_CHECKING:
    from orchestrator.settings import Settings
    from orchestrator.store.services import Actor, StoreService

__all__ = [
    "Access",
    "CallInfo",
    "KnowledgeSource",
    "ScopeDenied",
    "StepCounter",
    "StrictBoolArgs",
    "ToolContext",
    "ToolSpec",
    "current_customer",
    "idempotency_key",
    "parse_docstring",
    "require_owner",
    "run_context_values",
    "step_key",
    "tool",
]

Access = Literal["read", "write"]
"""Whether a tool only reads the store or may change it."""

_MAX_KEY_LEN = 200
"""`IdempotencyRecord.key` is a VARCHAR(200)."""


def step_key(arguments: Mapping[str, Any]) -> str:
    """A stable hash of a tool call's canonical arguments (16 hex digits).

    Canonical = the validated arguments dumped as JSON with sorted keys and no whitespace, so
    the same call always hashes the same, whatever order or spacing the model used. The write
    key does not use it (two real calls with the same arguments are two writes); the service
    keeps a hash of the arguments to refuse a key replayed with other ones.

    Args:
        arguments: the validated arguments, JSON-serializable.
    """
    canonical = json.dumps(arguments, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def idempotency_key(principal: str, thread_id: str, checkpoint_ns: str | None, call_id: str) -> str:
    """The idempotency key of one write call: `{principal}|{thread}|{checkpoint_ns}|{call_id}`.

    It identifies the *call*, never its arguments, time or an attempt counter:

    - `call_id` is the model's tool-call id (checkpointed with the AIMessage, so the same when
      LangGraph re-runs the tool node after a crash or an interrupt resume, and different for
      a second real call with the same arguments), or a node's step id (`step-1`, `step-2`,
      ... in the order the node's code makes its writes, or a label the node chooses).
    - `checkpoint_ns` is LangGraph's namespace of the node's task (`node:<task id>`, nested
      for subgraphs): the same on every re-run of that task, different for another node,
      another subgraph, or the same node reached again later in the run.
    - `principal` scopes the key to whoever acts (`Actor.principal`): two customers' runs
      never share a key.

    Keys longer than the store's 200 characters keep their readable prefix and end in a hash
    of the whole.

    Args:
        principal: who acts (actor name, and customer for customer runs).
        thread_id: the LangGraph thread id (or a script's own run id).
        checkpoint_ns: the node's checkpoint namespace; None outside a graph.
        call_id: the tool-call id or step id.
    """
    key = f"{principal}|{thread_id}|{checkpoint_ns or '-'}|{call_id}"
    if len(key) <= _MAX_KEY_LEN:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"{key[: _MAX_KEY_LEN - 33]}~{digest}"


class StepCounter:
    """Numbers the writes a node (or script) makes without a model tool call: step-1, step-2...

    A node re-run after a crash or an interrupt runs the same code in the same order, so its
    n-th write gets the same step id, hence the same key, and replays.
    """

    __slots__ = ("_count", "_lock")

    def __init__(self) -> None:
        self._count = 0
        self._lock = threading.Lock()

    def next(self) -> str:
        """The next step id."""
        with self._lock:
            self._count += 1
            return f"step-{self._count}"


@dataclass(frozen=True, slots=True)
class CallInfo:
    """What the runner knows about the call in progress; tools read it through `ctx`."""

    tool: str
    """The tool being called."""
    arguments: dict[str, Any]
    """The validated arguments, JSON-shaped."""
    idempotency_key: str | None
    """The key for the call's service write, or None outside a run (no thread id)."""
    approval_id: int | None = None
    """An approved approval to perform a write that needed one."""
    call_id: str | None = None
    """The model's tool-call id or the node's step id."""


@runtime_checkable
class KnowledgeSource(Protocol):
    """What `search_knowledge_base` needs: `orchestrator.memory.KnowledgeBase`, or your own.

    `search` returns passages best first, each with `source`, `heading`, `score` and `text`
    (attributes or mapping keys).
    """

    def search(self, query: str, *, k: int = 3) -> Sequence[Any]:
        """The `k` passages that best answer `query`."""
        ...


@dataclass(frozen=True, slots=True)
class ToolContext:
    """Per-run values injected into every tool call; never visible to the model.

    In a graph, tools made by `as_langchain_tools` build it at call time from LangGraph's
    tool runtime (run context, thread, checkpoint namespace, tool-call id); a hand-written node
    gets one from `ToolContext.for_node`; a script builds one directly.

    Example:
        >>> ctx = ToolContext(service=svc, agent="support", customer_id=42, thread_id="t-1")
    """

    service: StoreService
    """The store's service layer: every read and write goes through it."""
    agent: str
    """The agent profile the calls are made for (its allow-list applies)."""
    actor: str | None = None
    """Who the agent acts for, in the audit log; default `customer:<id>` or `agent:<profile>`."""
    customer_id: int | None = None
    """The authenticated customer (run context). Customer-facing tools act only for them."""
    thread_id: str | None = None
    """The LangGraph thread id (or a script's run id); the root of every write's key. Without
    one, a script's writes are not deduplicated; inside a graph it is required."""
    checkpoint_ns: str | None = None
    """LangGraph's checkpoint namespace of the calling node's task; set only inside a graph."""
    channel: str | None = None
    """Where the run comes from (`web`, `email`, `cli`, ...), from the run context."""
    tenant: str | None = None
    """The tenant, from the run context, for multi-shop deployments."""
    settings: Settings | None = None
    """Settings; defaults to the service's own settings."""
    call: CallInfo | None = None
    """The call in progress; set by the runner, None outside a call."""
    steps: StepCounter = field(default_factory=StepCounter, compare=False)
    """Numbers this context's writes that have no tool-call id (shared by its copies)."""
    knowledge: KnowledgeSource | None = None
    """The SOP / policy knowledge base `search_knowledge_base` reads; None refuses it."""

    @classmethod
    def for_node(
        cls,
        config: Mapping[str, Any],
        context: object = None,
        *,
        service: StoreService,
        agent: str,
        settings: Settings | None = None,
        knowledge: KnowledgeSource | None = None,
    ) -> ToolContext:
        """A context for a hand-written graph node: its run, its task and the run context.

        Call it once per node execution, at the top of the node: its writes are numbered in
        order (`step-1`, `step-2`, ...) within that execution, so a re-run replays them.

        Args:
            config: the node's `RunnableConfig` (thread id, checkpoint namespace).
            context: the run context (`Runtime.context`: a `RunContext`, a mapping with the
                same keys, or None).
            service: the store's service layer.
            agent: the agent profile.
            settings: settings; default the service's.
            knowledge: the knowledge base for `search_knowledge_base`.

        Raises:
            ConfigError: the run context is not a run context.
        """
        configurable = config.get("configurable") or {}
        thread_id = configurable.get("thread_id")
        namespace = configurable.get("checkpoint_ns")
        values = run_context_values(context)
        return cls(
            service=service,
            agent=agent,
            actor=values.get("actor"),
            customer_id=values.get("customer_id"),
            thread_id=str(thread_id) if thread_id is not None else None,
            checkpoint_ns=str(namespace) if namespace is not None else "",
            channel=values.get("channel"),
            tenant=values.get("tenant"),
            settings=settings,
            knowledge=knowledge,
        )

    @property
    def in_graph(self) -> bool:
        """Whether the calls are made inside a LangGraph run."""
        return self.checkpoint_ns is not None

    @property
    def node(self) -> str | None:
        """The calling node's name (from the checkpoint namespace), inside a graph."""
        if not self.checkpoint_ns:
            return None
        return self.checkpoint_ns.split("|")[-1].split(":")[0]

    @property
    def actor_name(self) -> str:
        """The audit log's actor for this run."""
        if self.actor:
            return self.actor
        if self.customer_id is not None:
            return f"customer:{self.customer_id}"
        return f"agent:{self.agent}"

    def make_actor(self) -> Actor:
        """The service-layer `Actor` for this run, with the call in progress as its origin."""
        from orchestrator.store.services import Actor, CallOrigin

        origin = None
        if self.call is not None or self.thread_id is not None:
            origin = CallOrigin(
                tool=self.call.tool if self.call else None,
                tool_arguments=self.call.arguments if self.call else None,
                thread_id=self.thread_id,
                checkpoint_ns=self.checkpoint_ns or None,
                tool_call_id=self.call.call_id if self.call else None,
            )
        return Actor(self.actor_name, agent=self.agent, customer_id=self.customer_id, origin=origin)

    def write_key(self, call_id: str) -> str | None:
        """The idempotency key of this context's write call `call_id` (None without a thread)."""
        if not self.thread_id:
            return None
        return idempotency_key(
            self.make_actor().principal, self.thread_id, self.checkpoint_ns, call_id
        )

    def resolved_settings(self) -> Settings:
        """`settings`, or the service's settings."""
        if self.settings is not None:
            return self.settings
        return self.service.settings

    def write_options(self) -> dict[str, Any]:
        """Keyword arguments for the service write made by the current tool call.

        A tool makes at most one service write: one call, one key, one approval.
        """
        key = self.call.idempotency_key if self.call else None
        return {"actor": self.make_actor(), "idempotency_key": key}

    def approval_options(self) -> dict[str, Any]:
        """`write_options()` plus `approval_id` for a write that may need approval."""
        opts = self.write_options()
        opts["approval_id"] = self.call.approval_id if self.call else None
        return opts


_CONTEXT_KEYS = ("actor", "customer_id", "channel", "tenant")


def run_context_values(context: object) -> dict[str, Any]:
    """The run context's values (`actor`, `customer_id`, `channel`, `tenant`) as a dict.

    Accepts a `RunContext` (or any object with those attributes), a mapping (what LangGraph's
    server passes), or None.

    Raises:
        ConfigError: the context is something else, or a value has the wrong type.
    """
    if context is None:
        return {}
    if isinstance(context, Mapping):
        values = {k: context.get(k) for k in _CONTEXT_KEYS}
        unknown = sorted(set(context) - set(_CONTEXT_KEYS))
        if unknown:
            raise ConfigError(
                f"unknown run-context key(s) {unknown}; a run context has {list(_CONTEXT_KEYS)}"
            )
    elif all(hasattr(context, k) for k in ("actor", "customer_id")):
        values = {k: getattr(context, k, None) for k in _CONTEXT_KEYS}
    else:
        raise ConfigError(
            f"the run context is a {type(context).__name__}; pass "
            "orchestrator.runtime.RunContext(actor=..., customer_id=...) as context="
        )
    customer = values.get("customer_id")
    if customer is not None and (type(customer) is not int or customer <= 0):
        raise ConfigError(f"run context customer_id={customer!r}: expected a positive integer")
    for name in ("actor", "channel", "tenant"):
        value = values.get(name)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise ConfigError(f"run context {name}={value!r}: expected a non-empty string")
    return values


class ScopeDenied(PermissionDenied):
    """Raised by a tool that acts for the authenticated customer when the run names none."""


def require_owner(ctx: ToolContext, entity: str, key: object, owner_customer_id: int) -> None:
    """Refuse (audited by the runner) when the run's customer does not own a record.

    Applies when the run has an authenticated customer (`ctx.customer_id`): a customer-facing
    agent acts only on that customer's orders, returns and tickets. The refusal is a
    `HiddenRecord`, the same answer as an id that does not exist, so a customer cannot probe
    which ids exist; the audit log records it as denied with the real reason.

    Args:
        ctx: the run context.
        entity: what the record is ("order", ...), for the message.
        key: the record's id.
        owner_customer_id: the customer the record belongs to.
    """
    if ctx.customer_id is not None and owner_customer_id != ctx.customer_id:
        from orchestrator.store.services._core import HINTS

        raise HiddenRecord(
            entity,
            key,
            f"{entity} {key!r} belongs to another customer, not to the authenticated "
            f"customer {ctx.customer_id}",
            HINTS.get(entity, ""),
        )


def current_customer(ctx: ToolContext) -> int:
    """The authenticated customer of the run; refuses when there is none.

    Args:
        ctx: the run context.
    """
    if ctx.customer_id is None:
        tool_name = ctx.call.tool if ctx.call else "this tool"
        raise ScopeDenied(
            ctx.agent,
            tool_name,
            "it acts for the authenticated customer and the run context names none "
            "(set ToolContext.customer_id)",
        )
    return ctx.customer_id


_ARG_LINE = re.compile(r"^(\*{0,2}\w+)\s*(?:\(([^)]*)\))?\s*:\s*(.*)$")
_SECTION = re.compile(r"^(Args|Arguments|Returns|Raises|Example|Examples|Yields|Note|Notes):\s*$")


def parse_docstring(doc: str | None) -> tuple[str, str, dict[str, str]]:
    """Split a Google docstring into (first line, body before sections, {arg: description})."""
    text = inspect.cleandoc(doc or "")
    lines = text.splitlines()
    summary = lines[0].strip() if lines else ""
    body: list[str] = []
    args: dict[str, str] = {}
    section: str | None = None
    current: str | None = None
    arg_indent: int | None = None
    for raw in lines[1:]:
        stripped = raw.strip()
        match = _SECTION.match(stripped)
        if match and (len(raw) - len(raw.lstrip())) == 0:
            section = match.group(1)
            current = None
            arg_indent = None
            continue
        if section is None:
            body.append(raw)
            continue
        if section not in ("Args", "Arguments") or not stripped:
            continue
        indent = len(raw) - len(raw.lstrip())
        if arg_indent is None:
            arg_indent = indent
        line_match = _ARG_LINE.match(stripped)
        if indent == arg_indent and line_match:
            current = line_match.group(1).lstrip("*")
            args[current] = line_match.group(3).strip()
        elif current is not None:
            args[current] = f"{args[current]} {stripped}".strip()
    return summary, "\n".join(body).strip(), args


def _schema_name(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_")) + "Args"


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """One tool: what the model sees (name, description, args schema) and how to run it."""

    name: str
    """Unique tool name, what the model calls."""
    description: str
    """The first line of the docstring: what the tool does, for the model."""
    args_schema: type[BaseModel]
    """Pydantic model of the model-visible arguments (`extra="forbid"`)."""
    access: Access
    """`read` or `write`."""
    scope: str
    """The domain it belongs to: catalog, inventory, orders, fulfilment, ..."""
    func: Callable[..., BaseModel]
    """The typed function: `func(ctx, **arguments)`."""
    customer_scoped: bool = False
    """Acts for the run's authenticated customer (`ctx.customer_id`), which it requires."""
    result_type: type[BaseModel] | None = None
    """The pydantic model it returns."""

    def __call__(self, ctx: ToolContext, /, **arguments: Any) -> BaseModel:
        """Call the function directly (no validation, permission check or audit: use a runner)."""
        return self.func(ctx, **arguments)

    def parse_arguments(self, arguments: Mapping[str, Any]) -> BaseModel:
        """Validate raw arguments against the schema (raises pydantic's `ValidationError`)."""
        return self.args_schema.model_validate(dict(arguments))

    @property
    def is_write(self) -> bool:
        """Whether the tool may change the store."""
        return self.access == "write"


def _accepts_bool(annotation: Any) -> bool:
    if annotation is bool or annotation is Any:
        return True
    return any(_accepts_bool(arg) for arg in get_args(annotation))


class StrictBoolArgs(BaseModel):
    """Base of tool argument models: one strict type contract, the services' own.

    Unknown fields are refused; so is any coercion pydantic's lax mode would make: `"120"`,
    `120.0` or `true` for a number, `3` for a string, NaN or infinity for a float. The model
    gets `InvalidInput` naming the field, never a value the service would then refuse.
    """

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_for_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, bool) and info.field_name is not None:
            field_info = cls.model_fields.get(info.field_name)
            if field_info is not None and not _accepts_bool(field_info.annotation):
                ann = field_info.annotation
                raise ValueError(f"expected {getattr(ann, '__name__', ann)}, got a boolean")
        return value


_ArgsBase = StrictBoolArgs


def _has_dates(annotation: Any) -> bool:
    if annotation in (date, datetime, time):
        return True
    return any(_has_dates(arg) for arg in get_args(annotation))


def tool(
    *,
    access: Access,
    scope: str,
    name: str | None = None,
    customer_scoped: bool = False,
) -> Callable[[Callable[..., BaseModel]], ToolSpec]:
    """Turn a typed function `(ctx: ToolContext, ...) -> BaseModel` into a `ToolSpec`.

    Every parameter after `ctx` becomes a field of the args schema with its annotation,
    its default and the description from its `Args:` docstring line; a parameter without an
    `Args:` line is a `ConfigError`, because the model would not know what to put there.

    Args:
        access: `"read"` or `"write"`.
        scope: the domain (catalog, inventory, orders, fulfilment, returns, pricing, support,
            procurement, audit, or your own).
        name: the tool name; default the function's name.
        customer_scoped: the tool acts for `ctx.customer_id` and refuses without one.

    Example:
        >>> @tool(access="read", scope="catalog")
        ... def get_price(ctx: ToolContext, sku: str) -> PriceOut:
        ...     '''Look up a product's price.
        ...
        ...     Args:
        ...         sku: the product's SKU.
        ...     '''
    """
    if access not in ("read", "write"):
        raise ConfigError(f"access={access!r}: use 'read' or 'write'")

    def decorate(func: Callable[..., BaseModel]) -> ToolSpec:
        tool_name = name or func.__name__
        summary, _body, arg_docs = parse_docstring(func.__doc__)
        if not summary:
            raise ConfigError(f"tool {tool_name!r} has no docstring: the model needs one")
        hints = get_type_hints(func, include_extras=True)
        params = list(inspect.signature(func).parameters.values())
        if not params or params[0].name != "ctx":
            raise ConfigError(f"tool {tool_name!r}: the first parameter must be `ctx`")
        fields: dict[str, Any] = {}
        for param in params[1:]:
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                raise ConfigError(f"tool {tool_name!r}: *args/**kwargs cannot be described")
            if param.name not in arg_docs:
                raise ConfigError(
                    f"tool {tool_name!r}: parameter {param.name!r} has no `Args:` line in "
                    "the docstring"
                )
            annotation = hints.get(param.name, Any)
            default = ... if param.default is param.empty else param.default
            fields[param.name] = (
                annotation,
                PydanticField(
                    default,
                    description=arg_docs[param.name],
                    # A date arrives as ISO text in JSON; strict mode would refuse it.
                    strict=False if _has_dates(annotation) else None,
                ),
            )
        schema = create_model(
            _schema_name(tool_name),
            __base__=_ArgsBase,
            __doc__=summary,
            **fields,
        )
        result = hints.get("return")
        result_type = result if isinstance(result, type) and issubclass(result, BaseModel) else None
        return ToolSpec(
            name=tool_name,
            description=summary,
            args_schema=schema,
            access=access,
            scope=scope,
            func=func,
            customer_scoped=customer_scoped,
            result_type=result_type,
        )

    return decorate
