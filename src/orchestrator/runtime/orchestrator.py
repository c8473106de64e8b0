"""`Orchestrator`: the one composition root, and the registry of graphs it runs.

It is the only place the library builds `Settings` from the environment and the clients they
name: the store's engine and service layer, the model router, the tool runner, the
checkpointer (SQLite by default, PostgreSQL by URL) and the long-term store. Graphs are
registered by name (the built-ins, and yours with `register_graph`), built once with a model
per node and the services, compiled with the checkpointer, and run by thread id: `run`,
`stream`, `resume`, `state`. Every run is recorded in the run index (`graph_run`), so another
process (the CLI deciding an approval, a worker) can find and resume it.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from orchestrator.errors import ConfigError, InvalidInput, InvalidTransition
from orchestrator.runtime.context import RunContext
from orchestrator.runtime.deps import NodeModels, Services
from orchestrator.runtime.memory import default_knowledge, default_long_term_store
from orchestrator.store.runs import RunIndex, RunView
from orchestrator.tools.approval import ApprovalDecision, ApprovalRequest

if TYPE_CHECKING:
    from langgraph.graph import StateGraph

    from orchestrator.settings import Settings
    from orchestrator.store.services import ApprovalView, AuditEntryView
    from orchestrator.tools import ToolCatalog

__all__ = [
    "BUILTIN_GRAPHS",
    "GraphBuilder",
    "GraphSpec",
    "Orchestrator",
    "RunResult",
    "RunState",
    "StreamEvent",
]

logger = logging.getLogger(__name__)

GraphBuilder = Callable[..., "StateGraph[Any, Any, Any, Any]"]
"""`build_<name>_graph(*, models: NodeModels, services: Services, **options) -> StateGraph`."""

BUILTIN_GRAPHS: dict[str, tuple[str, str]] = {
    "cycle_count": (
        "orchestrator.graphs.cycle_count:build_cycle_count_graph",
        "Reconcile counted stock with the books: adjustments, large ones after approval.",
    ),
    "support": (
        "orchestrator.graphs.support:build_support_graph",
        "Answer a customer: route to orders, products, knowledge or a person; writes on a yes.",
    ),
    "order_fulfilment": (
        "orchestrator.graphs.order_fulfilment:build_order_fulfilment_graph",
        "Take an order from intake to shipment: reserve, approve, pay, ship, notify.",
    ),
    "inventory_tuning": (
        "orchestrator.graphs.inventory_tuning:build_inventory_tuning_graph",
        "Forecast demand and tune reorder points, safety stock and order quantities.",
    ),
    "supply_chain": (
        "orchestrator.graphs.supply_chain:build_supply_chain_graph",
        "Reorder what runs low: choose suppliers, draft, approve, send and receive POs.",
    ),
    "pricing": (
        "orchestrator.graphs.pricing:build_pricing_graph",
        "Propose markdowns and price moves from elasticity, within the guard rails.",
    ),
    "auditor": (
        "orchestrator.graphs.auditor:build_auditor_graph",
        "Find discrepancies, diagnose, fix through tools, re-check and escalate.",
    ),
    "business_review": (
        "orchestrator.graphs.business_review:build_business_review_graph",
        "Gather KPIs, run the analyst crew, store its insights and write the report.",
    ),
}
"""Built-in graphs: name -> ("module:builder", description), imported when first used.

A built-in whose package is not installed in this build is left out of the registry."""

Status = Literal["running", "waiting", "completed", "failed"]


@dataclass(frozen=True)
class GraphSpec:
    """A registered graph: how to build it, and what it is for."""

    name: str
    builder: GraphBuilder | str
    """The builder, or `"module:function"` imported when first used."""
    description: str = ""
    options: Mapping[str, Any] = field(default_factory=dict)
    """Extra keyword arguments for the builder."""

    def load(self) -> GraphBuilder:
        """The builder function (importing it if registered by path)."""
        if not isinstance(self.builder, str):
            return self.builder
        import importlib

        module, _, attr = self.builder.partition(":")
        builder: GraphBuilder = getattr(importlib.import_module(module), attr)
        return builder


class RunResult(BaseModel):
    """Where a run stopped: completed, waiting on an interrupt, or failed."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    thread_id: str
    graph: str
    status: Status
    """`completed`, `waiting` (an interrupt: an approval, or a question), or `failed`."""
    values: dict[str, Any] = Field(default_factory=dict)
    """The graph's state (its output when completed)."""
    interrupts: list[dict[str, Any]] = Field(default_factory=list)
    """What the run waits for: each interrupt's `id` and `value`."""
    error: str | None = None

    @property
    def approval_ids(self) -> list[int]:
        """The approvals the run waits on."""
        return [
            int(i["value"]["approval_id"])
            for i in self.interrupts
            if isinstance(i.get("value"), Mapping) and i["value"].get("kind") == "approval_required"
        ]

    @property
    def approval_id(self) -> int | None:
        """The (first) approval the run waits on, if any."""
        ids = self.approval_ids
        return ids[0] if ids else None


class RunState(BaseModel):
    """A run as another process sees it: its index row, its state, what it did."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    run: RunView
    values: dict[str, Any]
    next: list[str]
    """The nodes that run next (empty when it ended)."""
    interrupts: list[dict[str, Any]]
    audit: list[Any]
    """The audit rows of its calls, newest first (`AuditEntryView`)."""


class StreamEvent(BaseModel):
    """One event of `Orchestrator.stream`.

    `kind` is `update` (a node finished: `node`, `data` = its state update), `token` (a
    model token: `node`, `data` = the text), `interrupt` (the run paused: `data` = the
    interrupt values) or `done` (`result` = the `RunResult`).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    kind: Literal["update", "token", "interrupt", "done"]
    node: str | None = None
    data: Any = None
    result: RunResult | None = None


class Orchestrator:
    """Builds the store, models, tools, checkpointer and long-term store; runs graphs.

    Args:
        settings: the configuration; default `load_settings()` (environment and `.env`).
        models: models instead of the router's, for tests and scripts: one chat model for
            every node, or a mapping from `"graph.node"`, `"graph"` or `"*"` to a model.
        catalog: the tool catalogue; default `default_catalog()`.
        payments: the payment gateway graphs that take payments use.
        knowledge: the knowledge base graphs that answer from documents use; default the SOP
            knowledge base in `settings.memory` (with the memory extra; opened on first use).
        long_term_store: a LangGraph `BaseStore`; default a `ChromaStore` in
            `settings.memory` (with the memory extra; opened on first use), else in memory.
        checkpointer: a LangGraph checkpointer; default the one the settings name.
        upgrade_schema: bring the store's schema to the newest revision on start (default).

    Example:
        >>> with Orchestrator(load_settings(store={"url": "sqlite:///shop.db"})) as orch:
        ...     result = orch.run("cycle_count", {"counts": [...]},
        ...                       context=RunContext(actor="ann"))
        ...     if result.status == "waiting":
        ...         orch.resume(result.thread_id, "approve", by="manager")
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        models: Any = None,
        catalog: ToolCatalog | None = None,
        payments: Any = None,
        knowledge: Any = None,
        long_term_store: Any = None,
        checkpointer: Any = None,
        upgrade_schema: bool = True,
    ) -> None:
        from orchestrator.backends import ModelRouter
        from orchestrator.runtime.checkpoint import open_checkpointer
        from orchestrator.settings import load_settings
        from orchestrator.store import make_engine
        from orchestrator.store.services import StoreService

        self.settings = settings if settings is not None else load_settings()
        self.engine = make_engine(self.settings.store)
        self._closers: list[Callable[[], None]] = [self.engine.dispose]
        try:
            if upgrade_schema:
                _ensure_schema(self.engine)
            self.service = StoreService(self.engine, settings=self.settings)
            self.router = ModelRouter(self.settings.models)
            self.services = Services.for_store(
                self.service,
                settings=self.settings,
                catalog=catalog,
                payments=payments,
                knowledge=knowledge if knowledge is not None else default_knowledge(self.settings),
            )
            if checkpointer is None:
                checkpointer, close = open_checkpointer(self.settings)
                self._closers.append(close)
            self.checkpointer = checkpointer
            if long_term_store is None:
                long_term_store = default_long_term_store(self.settings)
            self.long_term_store = long_term_store
        except Exception:
            self.close()
            raise
        self.runs = RunIndex(self.engine)
        self._models = models
        self._compiled: dict[str, Any] = {}
        self._graphs: dict[str, GraphSpec] = {
            name: GraphSpec(name, path, description)
            for name, (path, description) in BUILTIN_GRAPHS.items()
            if _importable(path)
        }
        # Graphs named in settings are known to every process (a worker, the CLI resuming a
        # run after a decision), not only to the one that registered them.
        for name, path in self.settings.runtime.graphs.items():
            self.register_graph(name, path, replace=True)

    # -- lifecycle ------------------------------------------------------------------------

    def close(self) -> None:
        """Close the checkpointer's connections and the store's engine (idempotent)."""
        while self._closers:
            closer = self._closers.pop()
            try:
                closer()
            except Exception:  # pragma: no cover - best effort on shutdown
                logger.warning("closing %r failed", closer, exc_info=True)

    def __enter__(self) -> Orchestrator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the registry ---------------------------------------------------------------------

    def register_graph(
        self,
        name: str,
        builder: GraphBuilder | str,
        *,
        description: str = "",
        replace: bool = False,
        **options: Any,
    ) -> GraphSpec:
        """Register a graph under `name`.

        Args:
            name: the graph's name: what `run` takes and the first part of `graph.node` model
                routing keys (letters, digits, `_`, `-`).
            builder: `build_x_graph(*, models, services, **options) -> StateGraph` (returned
                uncompiled), or `"module:function"`.
            description: one line, for `graphs()` and the CLI.
            replace: overwrite a graph of the same name (a built-in, say).
            options: extra keyword arguments for the builder.

        Raises:
            ConfigError: a bad name, or the name is taken and `replace` is False.
        """
        if not name or not name.replace("_", "").replace("-", "").isalnum() or len(name) > 64:
            raise ConfigError(f"graph name {name!r}: use 1-64 letters, digits, '_' or '-'")
        if name in self._graphs and not replace:
            raise ConfigError(
                f"a graph named {name!r} is already registered; pass replace=True to override"
            )
        spec = GraphSpec(name, builder, description, dict(options))
        self._graphs[name] = spec
        self._compiled.pop(name, None)
        return spec

    def graphs(self) -> dict[str, str]:
        """Registered graph names and their descriptions."""
        return {name: spec.description for name, spec in sorted(self._graphs.items())}

    def node_models(self, graph: str) -> NodeModels:
        """The models of `graph`'s nodes: the router's, or those passed as `models=`."""
        if self._models is None:
            return NodeModels(graph, self.router)
        if not isinstance(self._models, Mapping):
            return NodeModels(graph, self._models)
        mapping: dict[str, Any] = {}
        for key, model in self._models.items():
            if key == "*" or key == graph:
                mapping.setdefault("*", model)
            elif key.startswith(f"{graph}."):
                mapping[key.split(".", 1)[1]] = model
        if "*" in self._models:
            mapping["*"] = self._models["*"]
        if graph in self._models:
            mapping["*"] = self._models[graph]
        return NodeModels(graph, mapping)

    def graph(self, name: str) -> Any:
        """The compiled graph `name` (built and compiled once, with the checkpointer).

        Raises:
            ConfigError: no graph of that name (the message lists the registered ones).
        """
        if name not in self._compiled:
            spec = self._graphs.get(name)
            if spec is None:
                raise ConfigError(
                    f"no graph named {name!r}; registered: {', '.join(sorted(self._graphs))} "
                    "(register yours with register_graph, or name it in ORCH_RUNTIME__GRAPHS "
                    "so that every process knows it)"
                )
            builder = spec.load()(
                models=self.node_models(name), services=self.services, **spec.options
            )
            self._compiled[name] = builder.compile(
                checkpointer=self.checkpointer, store=self.long_term_store, name=name
            )
        return self._compiled[name]

    # -- running --------------------------------------------------------------------------

    def _config(self, thread_id: str) -> dict[str, Any]:
        return {
            "configurable": {"thread_id": thread_id},
            "recursion_limit": self.settings.runtime.recursion_limit,
        }

    @staticmethod
    def _thread(thread_id: str | None) -> str:
        if thread_id is None:
            return f"run-{uuid.uuid4().hex}"
        if not isinstance(thread_id, str) or not thread_id.strip() or len(thread_id) > 120:
            raise InvalidInput("thread_id", thread_id, "expected 1-120 characters")
        return thread_id

    def run(
        self,
        graph: str,
        input: Any,
        *,
        context: RunContext | Mapping[str, Any],
        thread_id: str | None = None,
    ) -> RunResult:
        """Run `graph` on `input` to completion or to its first interrupt.

        Args:
            graph: a registered graph's name.
            input: the graph's input (its input state).
            context: who the run acts for (`RunContext`, or a mapping of its fields).
            thread_id: continue this thread (another turn of a conversation), or start one
                with this id; default a new id.

        Returns:
            The `RunResult`: `completed`, or `waiting` with the interrupts (approvals carry
            `approval_id`).

        Raises:
            ConfigError: unknown graph, bad context, a thread of another graph or customer.
            OrchestratorError: what a node raised (the run is recorded as `failed`).
        """
        ctx = RunContext.coerce(context)
        thread = self._thread(thread_id)
        compiled = self.graph(graph)
        self.runs.start(
            thread,
            graph,
            actor=ctx.actor,
            customer_id=ctx.customer_id,
            channel=ctx.channel,
            tenant=ctx.tenant,
        )
        return self._invoke(graph, compiled, input, thread, ctx)

    def _invoke(
        self, graph: str, compiled: Any, input: Any, thread: str, ctx: RunContext
    ) -> RunResult:
        config = self._config(thread)
        try:
            compiled.invoke(input, config, context=ctx, durability="sync")
        except Exception as exc:
            self.runs.finish(thread, "failed", f"{type(exc).__name__}: {exc}")
            raise
        return self._result(graph, compiled, thread)

    def _result(self, graph: str, compiled: Any, thread: str) -> RunResult:
        snapshot = compiled.get_state(self._config(thread))
        interrupts = [{"id": i.id, "value": i.value} for i in snapshot.interrupts]
        status: Status = "waiting" if interrupts else "completed"
        if not interrupts and snapshot.next:
            status = "waiting"
        self.runs.finish(thread, status)
        return RunResult(
            thread_id=thread,
            graph=graph,
            status=status,
            values=dict(snapshot.values or {}),
            interrupts=interrupts,
        )

    def stream(
        self,
        graph: str,
        input: Any,
        *,
        context: RunContext | Mapping[str, Any],
        thread_id: str | None = None,
        tokens: bool = True,
    ) -> Iterator[StreamEvent]:
        """Run `graph` and yield node updates and model tokens as they happen, then `done`.

        Args:
            graph: a registered graph's name.
            input: the graph's input, or a `Command` (see `resume` for approvals).
            context: who the run acts for.
            thread_id: continue or start this thread; default a new one.
            tokens: also yield model tokens (`kind="token"`).
        """
        ctx = RunContext.coerce(context)
        thread = self._thread(thread_id)
        compiled = self.graph(graph)
        self.runs.start(
            thread,
            graph,
            actor=ctx.actor,
            customer_id=ctx.customer_id,
            channel=ctx.channel,
            tenant=ctx.tenant,
        )
        modes = ["updates", "messages"] if tokens else ["updates"]
        try:
            for mode, chunk in compiled.stream(
                input, self._config(thread), context=ctx, stream_mode=modes, durability="sync"
            ):
                if mode == "messages":
                    message, meta = chunk
                    text = getattr(message, "content", "")
                    if isinstance(text, str) and text:
                        yield StreamEvent(kind="token", node=meta.get("langgraph_node"), data=text)
                    continue
                for node, update in chunk.items():
                    if node == "__interrupt__":
                        yield StreamEvent(
                            kind="interrupt", data=[getattr(i, "value", i) for i in update]
                        )
                    else:
                        yield StreamEvent(kind="update", node=node, data=update)
        except Exception as exc:
            self.runs.finish(thread, "failed", f"{type(exc).__name__}: {exc}")
            raise
        yield StreamEvent(kind="done", result=self._result(graph, compiled, thread))

    def resume(
        self,
        thread_id: str,
        decision: Any = None,
        *,
        by: str | None = None,
    ) -> RunResult:
        """Answer what a waiting run waits for, or continue a run that stopped: one call, any process.

        - A run waiting for an approval: `decision` is `"approve"`, `"reject"`, an
          `ApprovalDecision` or a mapping of its fields (`{"decision": "edit", "arguments":
          {...}, "note": ...}`), and `by` names the person. The decision is recorded in the
          store (edited arguments validated against the tool's schema first), then the run
          resumes and performs the write once. With no `decision`, the approvals must have
          been decided already (e.g. with `orchestrator approvals approve`).
        - A run waiting for another answer (a question to the customer): `decision` is the
          answer, passed to the graph as is.
        - A run that stopped without finishing (its process died): no `decision`; it goes on
          from its last checkpoint, and writes already made replay instead of happening twice.

        Args:
            thread_id: the run's thread.
            decision: the decision or answer (None to continue a stopped run).
            by: the person deciding an approval.

        Raises:
            NotFound: no run has that thread id.
            ConfigError: nothing to resume, an undecided approval without a decision, or an
                approval decision without `by`.
            InvalidInput: an edit whose arguments do not fit the tool.
        """
        from langgraph.types import Command

        run = self.runs.get(thread_id)
        compiled = self.graph(run.graph)
        snapshot = compiled.get_state(self._config(thread_id))
        pending = list(snapshot.interrupts)
        ctx = RunContext(
            actor=run.actor, customer_id=run.customer_id, channel=run.channel, tenant=run.tenant
        )
        if not pending:
            if not snapshot.next:
                raise ConfigError(
                    f"run {thread_id!r} ({run.graph}) has finished ({run.status}): nothing to "
                    "resume"
                )
            if decision is not None:
                raise ConfigError(f"run {thread_id!r} waits for no decision: resume it without one")
            self._restart(thread_id, run)
            return self._invoke(run.graph, compiled, None, thread_id, ctx)
        approvals = [
            i
            for i in pending
            if isinstance(i.value, Mapping) and i.value.get("kind") == "approval_required"
        ]
        if approvals and decision is None:
            waiting = [
                a.approval_id
                for a in (ApprovalRequest.model_validate(i.value) for i in approvals)
                if self.service.get_approval(a.approval_id).status == "pending"
            ]
            if waiting:
                ids = ", ".join(map(str, waiting))
                raise ConfigError(
                    f"run {thread_id!r} waits for approval {ids}: decide it "
                    f"(resume(thread, 'approve', by=...), or `orchestrator approvals approve {waiting[0]}`)"
                )
            value: Any = {"decision": "recorded"}
        elif approvals:
            value = self._decide(thread_id, approvals, decision, by).model_dump(mode="json")
        elif decision is None:
            raise ConfigError(
                f"run {thread_id!r} waits for an answer: "
                + json.dumps([i.value for i in pending], default=str)[:300]
            )
        else:
            value = decision
        resume: Any = {i.id: value for i in pending} if len(pending) > 1 else value
        self._restart(thread_id, run)
        return self._invoke(run.graph, compiled, Command(resume=resume), thread_id, ctx)

    def _restart(self, thread_id: str, run: RunView) -> None:
        self.runs.start(
            thread_id,
            run.graph,
            actor=run.actor,
            customer_id=run.customer_id,
            channel=run.channel,
            tenant=run.tenant,
        )

    def _decide(
        self, thread_id: str, waiting: list[Any], decision: Any, by: str | None
    ) -> ApprovalDecision:
        if by is None or not str(by).strip():
            raise ConfigError(
                f"run {thread_id!r} waits for an approval: a person decides it, pass by=<name>"
            )
        if isinstance(decision, str):
            decision = {"decision": decision}
        parsed = (
            decision
            if isinstance(decision, ApprovalDecision)
            else ApprovalDecision.model_validate(decision)
        )
        requests = [ApprovalRequest.model_validate(i.value) for i in waiting]
        if parsed.approval_id is None and len(requests) > 1:
            ids = ", ".join(str(r.approval_id) for r in requests)
            raise ConfigError(
                f"run {thread_id!r} waits on approvals {ids}: say which with approval_id"
            )
        approval_id = parsed.approval_id or requests[0].approval_id
        if approval_id not in {r.approval_id for r in requests}:
            raise ConfigError(f"run {thread_id!r} does not wait on approval {approval_id}")
        self.decide(approval_id, parsed, by=by)
        return parsed.model_copy(update={"approval_id": approval_id})

    def decide(self, approval_id: int, decision: Any, *, by: str) -> ApprovalView:
        """Record a person's decision on an approval (without resuming anything).

        `resume` calls it; call it directly for an approval no run waits on (a script's).
        A decision already recorded the same way is accepted again (safe to retry).

        Raises:
            InvalidInput: an edit whose arguments do not fit the tool.
            InvalidTransition: the approval was decided the other way already.
        """
        from orchestrator.store.services import Actor

        if isinstance(decision, str):
            decision = {"decision": decision}
        parsed = (
            decision
            if isinstance(decision, ApprovalDecision)
            else ApprovalDecision.model_validate(decision)
        )
        approval = self.service.get_approval(approval_id)
        arguments = None
        if parsed.decision == "edit":
            if parsed.arguments is None:
                raise InvalidInput("arguments", None, "an edit needs the complete new arguments")
            arguments = self._validated_edit(approval.tool, parsed.arguments)
        try:
            return self.service.decide_approval(
                approval_id,
                approve=parsed.decision != "reject",
                note=parsed.note,
                arguments=arguments,
                actor=Actor(str(by)),
            )
        except InvalidTransition:
            again = self.service.get_approval(approval_id)
            wanted = "rejected" if parsed.decision == "reject" else "approved"
            if again.status == wanted:
                return again
            raise

    def _validated_edit(self, tool: str, arguments: Mapping[str, Any]) -> dict[str, Any]:
        from pydantic import ValidationError

        from orchestrator.tools.runner import validation_error_to_invalid_input

        spec = self.services.catalog.tools.get(tool)
        if spec is None:
            return dict(arguments)  # a gate or a service operation: the store checks it
        try:
            return spec.parse_arguments(arguments).model_dump(mode="json")
        except ValidationError as err:
            raise validation_error_to_invalid_input(spec, err) from None

    # -- inspection -----------------------------------------------------------------------

    def state(self, thread_id: str) -> RunState:
        """A run's index row, state, next nodes, interrupts and audit trail.

        Raises:
            NotFound: no run has that thread id.
        """
        run = self.runs.get(thread_id)
        compiled = self.graph(run.graph)
        snapshot = compiled.get_state(self._config(thread_id))
        return RunState(
            run=run,
            values=dict(snapshot.values or {}),
            next=list(snapshot.next),
            interrupts=[{"id": i.id, "value": i.value} for i in snapshot.interrupts],
            audit=self.service.audit_log(thread_id=thread_id, limit=500),
        )

    def pending_approvals(self, *, thread_id: str | None = None) -> list[ApprovalView]:
        """Approvals waiting for a person, oldest first (of one run, if given)."""
        return self.service.pending_approvals(thread_id=thread_id)

    def audit(self, thread_id: str, limit: int = 500) -> list[AuditEntryView]:
        """What run `thread_id` did: its audit rows, newest first."""
        return self.service.audit_log(thread_id=thread_id, limit=limit)


def _importable(path: str) -> bool:
    """Whether the module of a "module:builder" path exists (without importing it)."""
    module = path.partition(":")[0]
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def _ensure_schema(engine: Any) -> None:
    """Bring the store to the newest schema revision if it is not there (idempotent)."""
    from orchestrator.store.migrate import current_revision, head_revision, upgrade

    if current_revision(engine) != head_revision():
        upgrade(engine)
