"""The support scenario suite: conversations with the expected final store, as τ²-bench does.

A scenario (YAML, docs/eval.md *Support scenarios*) is a conversation of one customer with the
`support` graph: its turns (and the answer to each confirmation the graph asks for), the facts
the replies must contain, and the expected change to the store (orders whose status or lines
change, returns started, tickets opened). Every scenario runs on its own copy of one seeded
shop; after the run the store is compared with the copy before it: a change that is not
expected, or an expected one that did not happen, fails the scenario. Ids in the text are
placeholders (`{own_placed}`, `{other_placed}`, `{sku}`, ...) resolved from the seeded store
(`Picks`).

Example:
    >>> report = run_support_eval(load_scenarios("tests/scenarios/support"))  # doctest: +SKIP
    >>> print(report.passed, report.total)  # doctest: +SKIP
"""

from __future__ import annotations

import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from orchestrator.errors import ConfigError

__all__ = [
    "ExpectedState",
    "Picks",
    "ScenarioResult",
    "SupportEvalReport",
    "SupportScenario",
    "SupportTurn",
    "compare_state",
    "load_scenarios",
    "pick_ids",
    "run_support_eval",
    "store_state",
]

DEFAULT_SCENARIOS = Path("tests/scenarios/support")


class SupportTurn(BaseModel):
    """One customer message, and how the customer answers a confirmation if asked."""

    model_config = ConfigDict(extra="forbid")

    message: str
    confirm: bool | None = None
    """`true`: say yes to a confirmation; `false` or absent: say no (no write without a yes)."""


class ExpectedState(BaseModel):
    """The change the conversation must leave in the store, and nothing else."""

    model_config = ConfigDict(extra="forbid")

    orders: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """Orders that change: id -> `{status: ..., lines: {sku: qty}}` (either key optional)."""
    returns: list[dict[str, Any]] = Field(default_factory=list)
    """Returns started: `{order_id: ..., lines: {sku: qty}}`."""
    tickets: int = 0
    """Support tickets opened."""


class SupportScenario(BaseModel):
    """One conversation and what must hold after it."""

    model_config = ConfigDict(extra="forbid")

    id: str
    description: str = ""
    customer: Literal["main", "other"] = "main"
    tags: list[str] = Field(default_factory=list)
    """`hostile` for injections and other customers' data, `multi-turn`, ..."""
    turns: list[SupportTurn] = Field(min_length=1)
    specialist: str | None = None
    """The specialist that must answer the last turn (`orders`, `products`, `knowledge`,
    `escalation`, `clarify`)."""
    reply_contains: list[str] = Field(default_factory=list)
    """Facts the last reply must contain (case-insensitive)."""
    reply_excludes: list[str] = Field(default_factory=list)
    """What no reply may contain (another customer's data, say)."""
    asks_confirmation: bool | None = None
    """Whether some turn must pause for the customer's yes."""
    state: ExpectedState = Field(default_factory=ExpectedState)
    scripted_model: list[str] = Field(default_factory=list)
    """Replies of the scripted model (JSON intent votes), used when no real model is given."""


class Picks(BaseModel):
    """Ids the placeholders stand for, read from the seeded store."""

    main: int
    other: int
    own_placed: int
    own_placed_2: int
    own_delivered: int
    own_shipped: int
    own_cancelled: int
    other_placed: int
    other_delivered: int
    placed_sku: str
    delivered_sku: str
    delivered_qty: int
    sku: str
    sku_2: str

    def fill(self, text: str) -> str:
        """`text` with `{name}` placeholders replaced."""
        values = self.model_dump()
        return re.sub(r"\{(\w+)\}", lambda m: str(values.get(m.group(1), m.group(0))), text)


class ScenarioResult(BaseModel):
    """How one scenario went."""

    id: str
    passed: bool
    store_ok: bool
    """The store ended as expected (even if a reply missed a fact)."""
    reasons: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    specialists: list[str] = Field(default_factory=list)
    replies: list[str] = Field(default_factory=list)
    model_votes: list[str] = Field(default_factory=list)
    """Per turn: `model` when the model's vote was used, else the verdict."""
    tool_calls: list[list[dict[str, Any]]] = Field(default_factory=list)
    """Per turn: the tool calls (name, arguments, outcome)."""
    seconds: float = 0.0


class SupportEvalReport(BaseModel):
    """The suite's results."""

    model: str
    results: list[ScenarioResult]

    @property
    def total(self) -> int:
        """Scenarios run."""
        return len(self.results)

    @property
    def passed(self) -> int:
        """Scenarios that passed."""
        return sum(r.passed for r in self.results)

    @property
    def store_correct(self) -> int:
        """Scenarios whose store ended as expected."""
        return sum(r.store_ok for r in self.results)

    @property
    def pass_rate(self) -> float:
        """Passed / total."""
        return self.passed / self.total if self.total else 0.0


def load_scenarios(directory: str | Path = DEFAULT_SCENARIOS) -> list[SupportScenario]:
    """Every scenario in the YAML files of `directory` (a file holds one scenario or a list).

    Raises:
        ConfigError: no such directory, no scenario, a bad file (its name and the error), or
            two scenarios with one id.
    """
    import yaml

    folder = Path(directory)
    if not folder.is_dir():
        raise ConfigError(f"no scenario directory {str(folder)!r}")
    scenarios: list[SupportScenario] = []
    for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
        try:
            data = yaml.safe_load(path.read_text())
            items = data if isinstance(data, list) else [data]
            scenarios.extend(SupportScenario.model_validate(item) for item in items)
        except Exception as exc:
            raise ConfigError(f"{path}: {exc}") from exc
    if not scenarios:
        raise ConfigError(f"no scenarios (*.yaml) in {str(folder)!r}")
    ids = [s.id for s in scenarios]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ConfigError(f"duplicate scenario ids: {duplicates}")
    return scenarios


def pick_ids(engine: Any) -> Picks:
    """The placeholders' ids, read from the store as it is now.

    `main` is the customer with the most of: two placed orders, a delivered, a shipped and a
    cancelled one (at least one placed and one shipped or delivered); `other` another customer
    with a placed order (and a delivered one if any has). Missing kinds fall back to a near one
    (`own_shipped` to a delivered order, ...); the scenarios need the test seed's shop.
    """
    from sqlmodel import Session, col, select

    from orchestrator.store.models import Order, OrderLine, Return, Stock

    with Session(engine) as session:
        rows = session.exec(
            select(Order.id, Order.customer_id, Order.status).order_by(col(Order.id))
        ).all()
        by_customer: dict[int, dict[str, list[int]]] = {}
        for order_id, customer_id, status in rows:
            by_customer.setdefault(int(customer_id), {}).setdefault(str(status), []).append(
                int(order_id or 0)
            )

        def has(orders: Mapping[str, list[int]], **counts: int) -> bool:
            return all(len(orders.get(status, [])) >= n for status, n in counts.items())

        def score(orders: Mapping[str, list[int]]) -> int:
            if not has(orders, placed=1) or not (orders.get("delivered") or orders.get("shipped")):
                return -1
            return (
                8 * has(orders, placed=2)
                + 4 * has(orders, delivered=1)
                + 2 * has(orders, shipped=1)
                + has(orders, cancelled=1)
            )

        ranked = sorted(by_customer.items(), key=lambda item: (-score(item[1]), item[0]))
        main = ranked[0][0] if ranked and score(ranked[0][1]) >= 0 else None
        other = next(
            (
                c
                for c, o in sorted(
                    by_customer.items(), key=lambda i: (not i[1].get("delivered"), i[0])
                )
                if c != main and has(o, placed=1)
            ),
            None,
        )
        if main is None or other is None:
            raise ConfigError("the seeded store lacks the customers the scenarios need: re-seed")
        mine, theirs = dict(by_customer[main]), dict(by_customer[other])
        mine.setdefault("delivered", mine.get("shipped", []))
        mine.setdefault("shipped", mine["delivered"])
        mine.setdefault("cancelled", [0])
        theirs.setdefault("delivered", theirs["placed"])

        def first_line(order_id: int) -> tuple[str, int]:
            line = session.exec(
                select(OrderLine).where(OrderLine.order_id == order_id).order_by(col(OrderLine.id))
            ).first()
            assert line is not None
            return line.sku, line.qty

        skus = list(
            session.exec(
                select(Stock.sku)
                .where(Stock.location == "WH-MAIN", Stock.on_hand - Stock.reserved >= 20)
                .order_by(col(Stock.sku))
            ).all()
        )
        returned = set(session.exec(select(Return.order_id)).all())
        mine["delivered"] = [o for o in mine["delivered"] if o not in returned] or mine["delivered"]
        delivered_sku, delivered_qty = first_line(mine["delivered"][0])
        return Picks(
            main=main,
            other=other,
            own_placed=mine["placed"][-1],
            own_placed_2=mine["placed"][-2] if len(mine["placed"]) > 1 else mine["placed"][-1],
            own_delivered=mine["delivered"][0],
            own_shipped=mine["shipped"][0],
            own_cancelled=mine["cancelled"][0],
            other_placed=theirs["placed"][0],
            other_delivered=theirs["delivered"][0],
            placed_sku=first_line(mine["placed"][-1])[0],
            delivered_sku=delivered_sku,
            delivered_qty=delivered_qty,
            sku=skus[0],
            sku_2=skus[1],
        )


def store_state(engine: Any) -> dict[str, Any]:
    """What the scenarios compare: every order (status, lines), return and ticket."""
    from sqlmodel import Session, select

    from orchestrator.store.models import Order, OrderLine, Return, ReturnLine, SupportTicket

    with Session(engine) as session:
        orders: dict[int, dict[str, Any]] = {
            int(o.id): {"status": str(o.status), "lines": {}}
            for o in session.exec(select(Order)).all()
            if o.id is not None
        }
        for line in session.exec(select(OrderLine)).all():
            orders[line.order_id]["lines"][line.sku] = (
                orders[line.order_id]["lines"].get(line.sku, 0) + line.qty
            )
        returns: dict[int, dict[str, Any]] = {
            int(r.id): {"order_id": r.order_id, "lines": {}}
            for r in session.exec(select(Return)).all()
            if r.id is not None
        }
        for rline in session.exec(select(ReturnLine)).all():
            returns[rline.return_id]["lines"][rline.sku] = rline.qty
        tickets = {
            int(t.id): t.customer_id for t in session.exec(select(SupportTicket)).all() if t.id
        }
    return {"orders": orders, "returns": returns, "tickets": tickets}


def compare_state(
    before: Mapping[str, Any], after: Mapping[str, Any], expected: ExpectedState, picks: Picks
) -> list[str]:
    """What differs from the expected change (empty: the store is right)."""
    problems: list[str] = []
    want_orders = {int(picks.fill(str(k))): v for k, v in expected.orders.items()}
    changed = {
        order_id: state
        for order_id, state in after["orders"].items()
        if before["orders"].get(order_id) != state
    }
    for order_id, state in changed.items():
        if order_id not in want_orders:
            old = before["orders"].get(order_id, {})
            problems.append(
                f"order {order_id} changed unexpectedly: {old.get('status')} -> {state['status']}"
                + (
                    f", lines {old.get('lines')} -> {state['lines']}"
                    if old.get("lines") != state["lines"]
                    else ""
                )
            )
    for order_id, want in want_orders.items():
        got = after["orders"].get(order_id)
        if got is None:
            problems.append(f"order {order_id} is missing")
            continue
        if "status" in want and got["status"] != want["status"]:
            problems.append(f"order {order_id} is {got['status']}, expected {want['status']}")
        if "lines" in want:
            lines = {picks.fill(str(s)): int(picks.fill(str(q))) for s, q in want["lines"].items()}
            if got["lines"] != lines:
                problems.append(f"order {order_id} has lines {got['lines']}, expected {lines}")
    new_returns = [r for rid, r in after["returns"].items() if rid not in before["returns"]]
    want_returns = [
        {
            "order_id": int(picks.fill(str(r["order_id"]))),
            "lines": {
                picks.fill(str(s)): int(picks.fill(str(q))) for s, q in r.get("lines", {}).items()
            },
        }
        for r in expected.returns
    ]
    for ret in new_returns:
        match = next(
            (
                w
                for w in want_returns
                if w["order_id"] == ret["order_id"]
                and (not w["lines"] or w["lines"] == ret["lines"])
            ),
            None,
        )
        if match is None:
            problems.append(f"unexpected return on order {ret['order_id']}: {ret['lines']}")
        else:
            want_returns.remove(match)
    problems.extend(
        f"expected a return on order {w['order_id']}: {w['lines']}" for w in want_returns
    )
    new_tickets = len(set(after["tickets"]) - set(before["tickets"]))
    if new_tickets != expected.tickets:
        problems.append(f"{new_tickets} ticket(s) opened, expected {expected.tickets}")
    return problems


def _seed(folder: Path, settings: Any | None) -> tuple[Path, Any]:
    from orchestrator.settings import Settings
    from orchestrator.store import make_engine
    from orchestrator.store.seed import seed

    db = folder / "base.db"
    base = settings or Settings.defaults()
    config = base.model_copy(
        update={"store": base.store.model_copy(update={"url": f"sqlite:///{db}"})}
    )
    engine = make_engine(config.store)
    try:
        seed(engine, skus=20, days=35, customers=12, anomalies=0, seed=0, reset=True)
    finally:
        engine.dispose()
    return db, config


def run_support_eval(
    scenarios: Iterable[SupportScenario],
    *,
    model: Any = None,
    model_name: str = "scripted",
    settings: Any = None,
    embedding: str = "hash",
    progress: Callable[[ScenarioResult], None] | None = None,
) -> SupportEvalReport:
    """Run each scenario on a fresh copy of one seeded shop and check replies and store.

    Args:
        scenarios: the scenarios (`load_scenarios`).
        model: a chat model for every node of the graph; None: a `ScriptedModel` per scenario
            replaying its `scripted_model` replies (then echoing, which the graph overrules).
        model_name: how the report names the model.
        settings: base settings (models, runtime); the store and memory are the eval's own.
        embedding: the knowledge base's embedder (`hash` is fast; `minilm-onnx` the default
            of a real deployment).
        progress: called with each result as it is ready.
    """
    from langgraph.store.memory import InMemoryStore

    from orchestrator.memory import KnowledgeBase
    from orchestrator.memory.kb import builtin_documents
    from orchestrator.runtime import Orchestrator
    from orchestrator.store import make_engine

    folder = Path(tempfile.mkdtemp(prefix="orch-eval-support-"))
    try:
        base_db, config = _seed(folder, settings)
        config = config.model_copy(
            update={
                "memory": config.memory.model_copy(
                    update={"path": folder / "chroma", "embedding": embedding}
                )
            }
        )
        knowledge = KnowledgeBase.from_settings(config)
        knowledge.ingest(builtin_documents())
        engine = make_engine(config.store)
        try:
            picks = pick_ids(engine)
        finally:
            engine.dispose()
        results = []
        for n, scenario in enumerate(scenarios):
            db = folder / f"s{n}.db"
            shutil.copy(base_db, db)
            run_config = config.model_copy(
                update={"store": config.store.model_copy(update={"url": f"sqlite:///{db}"})}
            )
            result = _run_one(
                scenario,
                run_config,
                picks,
                model=model,
                knowledge=knowledge,
                long_term_store=InMemoryStore(),
                orchestrator=Orchestrator,
            )
            results.append(result)
            if progress is not None:
                progress(result)
            for suffix in ("", "-wal", "-shm"):
                Path(f"{db}{suffix}").unlink(missing_ok=True)
        return SupportEvalReport(model=model_name, results=results)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _run_one(
    scenario: SupportScenario,
    config: Any,
    picks: Picks,
    *,
    model: Any,
    knowledge: Any,
    long_term_store: Any,
    orchestrator: Any,
) -> ScenarioResult:
    from langchain_core.messages import AIMessage

    from orchestrator.runtime import RunContext
    from orchestrator.testing import ScriptedModel

    started = time.perf_counter()
    if model is None:
        model = ScriptedModel(
            responses=[AIMessage(content=picks.fill(r)) for r in scenario.scripted_model],
            when_exhausted="echo",
            model_name="eval",
        )
    customer = picks.main if scenario.customer == "main" else picks.other
    context = RunContext(actor=f"customer:{customer}", customer_id=customer, channel="web")
    reasons: list[str] = []
    replies: list[str] = []
    specialists: list[str] = []
    votes: list[str] = []
    calls: list[list[dict[str, Any]]] = []
    asked = False
    with orchestrator(
        config,
        models=model,
        knowledge=knowledge,
        long_term_store=long_term_store,
        checkpointer=_memory_saver(),
    ) as orch:
        before = store_state(orch.engine)
        thread = f"eval-{scenario.id}"
        for turn in scenario.turns:
            try:
                run = orch.run(
                    "support",
                    {"message": picks.fill(turn.message)},
                    context=context,
                    thread_id=thread,
                )
                while run.status == "waiting" and run.interrupts:
                    value = run.interrupts[0]["value"]
                    if not (isinstance(value, Mapping) and value.get("kind") == "confirm"):
                        break  # an approval: no person decides in the eval
                    asked = True
                    run = orch.resume(thread, "yes" if turn.confirm else "no")
            except Exception as exc:
                reasons.append(f"turn failed: {type(exc).__name__}: {str(exc)[:200]}")
                break
            replies.append(str(run.values.get("reply", "")))
            specialists.append(str(run.values.get("specialist", "")))
            calls.append(list(run.values.get("tool_calls", [])))
            votes.append(
                "model"
                if run.values.get("source") == "model"
                else str(run.values.get("verdict", ""))
            )
        after = store_state(orch.engine)
    store_problems = compare_state(before, after, scenario.state, picks)
    reasons.extend(store_problems)
    last = replies[-1] if replies else ""
    if scenario.specialist and (not specialists or specialists[-1] != scenario.specialist):
        reasons.append(
            f"answered by {specialists[-1] if specialists else 'nobody'}, expected {scenario.specialist}"
        )
    for fact in scenario.reply_contains:
        if picks.fill(fact).lower() not in last.lower():
            reasons.append(f"reply lacks {picks.fill(fact)!r}: {last[:160]!r}")
    for banned in scenario.reply_excludes:
        text = picks.fill(banned).lower()
        if any(text in reply.lower() for reply in replies):
            reasons.append(f"a reply contains {picks.fill(banned)!r}")
    if scenario.asks_confirmation is not None and asked != scenario.asks_confirmation:
        reasons.append("asked for confirmation" if asked else "did not ask for confirmation")
    return ScenarioResult(
        id=scenario.id,
        passed=not reasons,
        store_ok=not store_problems,
        reasons=reasons,
        tags=scenario.tags,
        specialists=specialists,
        replies=replies,
        model_votes=votes,
        tool_calls=calls,
        seconds=round(time.perf_counter() - started, 3),
    )


def _memory_saver() -> Any:
    from langgraph.checkpoint.memory import InMemorySaver

    return InMemorySaver()
