"""Test doubles that ship with the library: a scripted chat model for graphs and crews.

`ScriptedModel` is a LangChain chat model that replays the replies you script, in order:
`AIMessage`s (with `tool_calls` if you like), plain strings, callables that compute a reply
from the messages, or exceptions to raise (to drive a graph's deterministic path). It records
every call it receives, its `bind_tools` returns itself, `with_structured_output` parses its
reply into the schema, and `as_crewai_llm()` wraps the same script as a CrewAI LLM, so one fake
drives both frameworks.

Example:
    >>> from langchain_core.messages import AIMessage
    >>> from orchestrator.testing import ScriptedModel
    >>> model = ScriptedModel(responses=[
    ...     AIMessage(content="", tool_calls=[{"name": "get_stock", "args": {"sku": "A1"}, "id": "1"}]),
    ...     "There are 4 in stock.",
    ... ])
    >>> model.bind_tools([]).invoke("stock of A1?").tool_calls[0]["name"]
    'get_stock'
    >>> model.invoke("and now?").content
    'There are 4 in stock.'
    >>> len(model.calls)
    2

Model id `test:<anything>` (from settings) gives a `ScriptedModel` that echoes the last
message; give the router a scripted instance for anything else (`ModelRouter(..., pinned=...)`).

`seeded_shop()` makes a small seeded shop (SQLite file or PostgreSQL) and an `Orchestrator` on it,
so you test your own graphs the way the project tests its own:

    >>> with seeded_shop(tmp_path / "shop.db") as shop:
    ...     orch = shop.orchestrator(models=ScriptedModel(responses=[...]))
    ...     orch.register_graph("mine", build_my_graph)
    ...     result = orch.run("mine", {...}, context=RunContext(actor="test"))
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, convert_to_messages
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableLambda
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from orchestrator.backends.probe import Capabilities
from orchestrator.backends.registry import BackendConfig, Provider

__all__ = [
    "TEST_PROVIDER",
    "ScriptExhausted",
    "ScriptedCall",
    "ScriptedModel",
    "TestShop",
    "postgres_database",
    "seeded_shop",
]

Reply = AIMessage | str | BaseException | Callable[[list[BaseMessage]], "AIMessage | str"]
"""One scripted reply: a message, its text, an exception to raise, or a function of the input."""


class ScriptExhausted(AssertionError):
    """A `ScriptedModel` was called more times than it has replies (and does not echo)."""


@dataclass(frozen=True, slots=True)
class ScriptedCall:
    """One call a `ScriptedModel` received.

    Attributes:
        messages: the messages it was given.
        kwargs: the request options (`response_format`, `tools`, `tool_choice`, `stop`, ...).
    """

    messages: list[BaseMessage]
    kwargs: dict[str, Any] = field(default_factory=dict)


class ScriptedModel(BaseChatModel):
    """A chat model that replays scripted replies and records what it was asked.

    Attributes:
        responses: the script, consumed in order.
        when_exhausted: `error` raises `ScriptExhausted`; `echo` replies with the last message;
            `repeat` replays the last scripted reply forever (a model that always says the
            same thing, e.g. a hijacked one).
        capabilities: what it declares to `structured_output` / `choose_tool`
            (default: native tools and JSON-schema output).
        model_name: a name for logs.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    responses: list[Any] = Field(default_factory=list)
    when_exhausted: Literal["error", "echo", "repeat"] = "error"
    capabilities: Capabilities = Field(
        default_factory=lambda: Capabilities(native_tools=True, json_schema=True, json_mode=True)
    )
    model_name: str = "scripted"

    _cursor: int = PrivateAttr(default=0)
    _calls: list[ScriptedCall] = PrivateAttr(default_factory=list)
    _bound_tools: list[Any] = PrivateAttr(default_factory=list)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @property
    def _llm_type(self) -> str:
        return "scripted"

    @property
    def calls(self) -> list[ScriptedCall]:
        """Every call received so far, oldest first."""
        return list(self._calls)

    @property
    def bound_tools(self) -> list[Any]:
        """The tools passed to the last `bind_tools` call."""
        return list(self._bound_tools)

    @property
    def remaining(self) -> int:
        """How many scripted replies are left."""
        return len(self.responses) - self._cursor

    def _next(self, messages: list[BaseMessage], kwargs: dict[str, Any]) -> AIMessage:
        with self._lock:
            self._calls.append(ScriptedCall(list(messages), dict(kwargs)))
            if self._cursor >= len(self.responses):
                if self.when_exhausted == "repeat" and self.responses:
                    self._cursor = len(self.responses) - 1
                elif self.when_exhausted == "echo":
                    last = messages[-1].content if messages else ""
                    return AIMessage(content=last if isinstance(last, str) else str(last))
                else:
                    raise ScriptExhausted(
                        f"ScriptedModel {self.model_name!r} got call {len(self._calls)} but has "
                        f"only {len(self.responses)} scripted replies; add replies to its script"
                    )
            reply = self.responses[self._cursor]
            self._cursor += 1
        if isinstance(reply, BaseException):
            raise reply
        if callable(reply) and not isinstance(reply, AIMessage):
            reply = reply(list(messages))
        if isinstance(reply, str):
            return AIMessage(content=reply)
        if isinstance(reply, AIMessage):
            return reply.model_copy()
        raise TypeError(
            f"a scripted reply must be an AIMessage, str, exception or callable: {reply!r}"
        )

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        if stop is not None:
            kwargs["stop"] = stop
        return ChatResult(generations=[ChatGeneration(message=self._next(messages, kwargs))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        if stop is not None:
            kwargs["stop"] = stop
        reply = self._next(messages, kwargs)
        text = reply.content if isinstance(reply.content, str) else ""
        pieces = [piece + " " for piece in text.split(" ")]
        if pieces:
            pieces[-1] = pieces[-1][:-1]
        for piece in pieces:
            if piece:
                chunk = ChatGenerationChunk(message=AIMessageChunk(content=piece))
                if run_manager:
                    run_manager.on_llm_new_token(piece, chunk=chunk)
                yield chunk
        if reply.tool_calls:
            yield ChatGenerationChunk(
                message=AIMessageChunk(
                    content="",
                    tool_call_chunks=[
                        {
                            "name": call["name"],
                            "args": json.dumps(call["args"]),
                            "id": call.get("id"),
                            "index": i,
                        }
                        for i, call in enumerate(reply.tool_calls)
                    ],
                )
            )

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ScriptedModel:
        """Remember the tools and return the model itself (the script decides the calls)."""
        self._bound_tools = list(tools)
        return self

    def with_structured_output(
        self, schema: type[BaseModel] | dict[str, Any], *, include_raw: bool = False, **kwargs: Any
    ) -> Runnable[Any, Any]:
        """Parse the scripted reply (its first tool call's args, else its JSON text) into `schema`."""

        def parse(message: BaseMessage) -> Any:
            if isinstance(message, AIMessage) and message.tool_calls:
                payload: Any = message.tool_calls[0]["args"]
            else:
                payload = json.loads(str(message.content))
            parsed = schema.model_validate(payload) if isinstance(schema, type) else payload
            return (
                {"raw": message, "parsed": parsed, "parsing_error": None} if include_raw else parsed
            )

        return self | RunnableLambda(parse)

    def as_crewai_llm(self) -> Any:
        """This model's script as a CrewAI `BaseLLM` (imports crewai, which is slow)."""
        return _crewai_class()(model=f"test/{self.model_name}", chat_model=self)


@cache
def _crewai_class() -> type[Any]:
    import os

    os.environ.setdefault("CREWAI_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("OTEL_SDK_DISABLED", "true")
    from crewai.llms.base_llm import BaseLLM

    class ScriptedCrewAILLM(BaseLLM):
        """A CrewAI LLM that answers from a `ScriptedModel`'s script."""

        llm_type: str = "scripted"
        chat_model: Any = None

        def call(
            self,
            messages: Any,
            tools: Any = None,
            callbacks: Any = None,
            available_functions: Any = None,
            from_task: Any = None,
            from_agent: Any = None,
            response_model: Any = None,
        ) -> Any:
            if isinstance(messages, str):
                messages = [{"role": "user", "content": messages}]
            converted = convert_to_messages(
                [(m.get("role", "user"), str(m.get("content") or "")) for m in messages]
            )
            reply = self.chat_model.invoke(converted)
            text = reply.content if isinstance(reply.content, str) else str(reply.content)
            if response_model is not None:
                return response_model.model_validate_json(text)
            return text

        def supports_function_calling(self) -> bool:
            return False

        def supports_stop_words(self) -> bool:
            return False

        def get_context_window_size(self) -> int:
            return 8192

    return ScriptedCrewAILLM


def _test_chat_model(config: BackendConfig) -> BaseChatModel:
    return ScriptedModel(when_exhausted="echo", model_name=config.model_id.model)


def _test_crewai_llm(config: BackendConfig) -> Any:
    return ScriptedModel(when_exhausted="echo", model_name=config.model_id.model).as_crewai_llm()


TEST_PROVIDER = Provider(
    "test",
    _test_chat_model,
    _test_crewai_llm,
    None,
    "scripted models from orchestrator.testing (echo unless pinned)",
)


@dataclass
class TestShop:
    """A small seeded shop for tests: its settings, engine, service, and ids to use.

    Attributes:
        settings: settings pointing at the store (models default to `test:echo`, so nothing
            reaches a real model; checkpoints go beside the store).
        engine: the store's engine.
        service: its `StoreService`.
        customers: customer ids, lowest first.
        skus: SKUs stocked at `location` with at least 5 units available, sorted.
        location: the main warehouse's code.
        placed_orders: ids of orders in status `placed`, by customer id.
    """

    __test__ = False  # not a pytest test class

    settings: Any
    engine: Any
    service: Any
    customers: list[int]
    skus: list[str]
    location: str
    placed_orders: dict[int, list[int]]
    _open: list[Any] = field(default_factory=list)

    def orchestrator(self, **kwargs: Any) -> Any:
        """An `Orchestrator` on this shop (closed with the shop); kwargs go to it."""
        from orchestrator.runtime import Orchestrator

        orch = Orchestrator(self.settings, **kwargs)
        self._open.append(orch)
        return orch

    def close(self) -> None:
        """Close the orchestrators made here and the engine."""
        for orch in self._open:
            orch.close()
        self._open.clear()
        self.engine.dispose()


@contextmanager
def seeded_shop(
    where: str | Any,
    *,
    skus: int = 20,
    days: int = 35,
    customers: int = 12,
    anomalies: int = 0,
    seed: int = 0,
    **settings: Any,
) -> Iterator[TestShop]:
    """A small deterministic shop seeded into `where`, for tests of graphs and tools.

    Args:
        where: a SQLite file path, or a store URL (`sqlite:///...`, `postgresql+psycopg://...`,
            e.g. one from `postgres_database`). The store is reset.
        skus, days, customers, anomalies, seed: the seeded world (see `orchestrator seed`).
        settings: further settings sections, e.g. `approvals={"adjustment_units": 5}`.
            Default: models `test:echo` (nothing reaches a real model), and memory in a
            directory beside the store with the `hash` embedder.

    Yields:
        The `TestShop`, closed afterwards.
    """
    from sqlalchemy import select

    from orchestrator.settings import Settings
    from orchestrator.store import make_engine
    from orchestrator.store.models import Customer, Order, OrderStatus, Stock
    from orchestrator.store.seed import seed as seed_store
    from orchestrator.store.services import StoreService

    url = str(where)
    if "://" not in url:
        url = f"sqlite:///{url}"
    settings.setdefault("models", {"default": "test:echo"})
    if "memory" not in settings:
        # Memory beside the store, with the lexical embedder: fast and still real Chroma.
        import tempfile
        from pathlib import Path

        folder = (
            Path(url.removeprefix("sqlite:///")).with_suffix(".chroma")
            if url.startswith("sqlite:///") and url != "sqlite:///:memory:"
            else Path(tempfile.mkdtemp(prefix="orch-memory-"))
        )
        settings["memory"] = {"path": folder, "embedding": "hash"}
    config = Settings.defaults().model_copy(
        update={
            "store": Settings.defaults().store.model_copy(update={"url": url}),
            **{
                name: getattr(Settings.defaults(), name).model_copy(update=value)
                for name, value in settings.items()
            },
        }
    )
    engine = make_engine(config.store)
    try:
        seed_store(
            engine,
            skus=skus,
            days=days,
            customers=customers,
            anomalies=anomalies,
            seed=seed,
            reset=True,
        )
        with engine.connect() as conn:
            stock = conn.execute(
                select(Stock.sku)  # type: ignore[call-overload]
                .where(Stock.location == "WH-MAIN", Stock.on_hand - Stock.reserved >= 5)
                .order_by(Stock.sku)
            ).scalars()
            skus_ok = list(stock)
            placed: dict[int, list[int]] = {}
            for customer_id, order_id in conn.execute(
                select(Order.customer_id, Order.id)  # type: ignore[call-overload]
                .where(Order.status == OrderStatus.PLACED)
                .order_by(Order.id)
            ):
                placed.setdefault(int(customer_id), []).append(int(order_id))
            ids = list(conn.execute(select(Customer.id).order_by(Customer.id)).scalars())  # type: ignore[call-overload]
    except Exception:
        engine.dispose()
        raise
    shop = TestShop(
        settings=config,
        engine=engine,
        service=StoreService(engine, settings=config),
        customers=[int(i) for i in ids],
        skus=skus_ok,
        location="WH-MAIN",
        placed_orders=placed,
    )
    try:
        yield shop
    finally:
        shop.close()


@contextmanager
def postgres_database(admin_url: str, *, prefix: str = "orch_test") -> Iterator[str]:
    """A fresh, empty PostgreSQL database for a test or a benchmark, dropped afterwards.

    Args:
        admin_url: a URL of any database on the server whose user may `CREATE DATABASE`,
            e.g. `postgresql+psycopg://postgres@127.0.0.1:5432/postgres`.
        prefix: the new database's name is `<prefix>_<12 hex digits>`.

    Yields:
        The new database's SQLAlchemy URL (`postgresql+psycopg://.../<name>`).

    Example:
        >>> with postgres_database(ADMIN) as url:  # doctest: +SKIP
        ...     engine = make_engine(url)
    """
    import uuid

    import psycopg

    base = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    dsn = admin_url.replace("postgresql+psycopg://", "postgresql://", 1)
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
