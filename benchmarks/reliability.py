"""Reliability of the write path under load: mixed writes from N processes, kills, replays.

Two parts, on SQLite and PostgreSQL:

- **mixed**: N spawned processes, each with its own engine, run a seeded mix of writes for a
  fixed time: transfers of one SKU in opposite directions (even workers one way, odd the
  other), `modify_order` swapping a placed order's SKU in opposite phase, orders of several
  lines in shuffled SKU order (create, place, cancel), ad-hoc reserve/release, adjustments and
  receipts. Every call has a fresh idempotency key. Reported: calls per second, outcomes by
  exception type, unexpected exceptions (anything outside `OrchestratorError`, or a
  `StoreError` wrapping a driver error), PostgreSQL deadlocks (`pg_stat_database.deadlocks`
  before and after), invariants and oversold rows afterwards.
- **kill**: processes writing with deterministic keys are SIGKILLed mid-run and restarted; the
  restart replays every key from the start. Every key must have taken effect exactly once
  (one ledger row per key, checked against the audit log's `ok` rows).

Usage:
    python benchmarks/reliability.py --workers 4 --seconds 20 --engines sqlite postgres
    python benchmarks/reliability.py --kills 10 --engines postgres

`run_mixed` and `run_kills` are also what `tests/reliability` calls at a small size.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import signal
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

A, B = "WH-MAIN", "SHOP-1"
SKUS = [f"REL-{i}" for i in range(6)]
OPENING = 100_000
KINDS = ("transfer", "swap", "multi", "reserve", "adjust", "receive")


@dataclass
class MixedResult:
    """What one mixed-write run measured."""

    engine: str
    workers: int
    seconds: float
    calls: int
    calls_per_second: float
    outcomes: dict[str, int]
    by_kind: dict[str, int]
    unexpected: list[str]
    deadlocks: int | None
    invariants_ok: bool
    violations: list[str]
    oversold: int


@dataclass
class KillResult:
    """What one kill-and-replay run measured."""

    engine: str
    kills: int
    keys: int
    effective_once: int
    duplicates: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    invariants_ok: bool = True


def setup_store(url: str, workers: int) -> list[int]:
    """Schema, two locations, the SKUs stocked at both, one placed order per worker."""
    from sqlmodel import Session

    from orchestrator.store import create_all, make_engine
    from orchestrator.store.models import Customer, Location, Product
    from orchestrator.store.services import Actor, OrderLineIn, StoreService

    engine = make_engine(url)
    create_all(engine)
    with Session(engine) as s:
        s.add(Location(code=A, name="Main"))
        s.add(Location(code=B, name="Shop", kind="store"))
        for sku in SKUS:
            s.add(Product(sku=sku, name=sku, category="rel", price_cents=500, cost_cents=200))
        customers = [Customer(name=f"C{i}", email=f"c{i}@example.com") for i in range(workers)]
        s.add_all(customers)
        s.commit()
        customer_ids = [int(c.id or 0) for c in customers]
    svc = StoreService(engine)
    staff = Actor("setup")
    for sku in SKUS:
        for loc in (A, B):
            svc.receive_goods(sku, loc, OPENING, reason="opening", actor=staff)
    orders = []
    for i, cid in enumerate(customer_ids):
        first = SKUS[1] if i % 2 == 0 else SKUS[2]
        order = svc.create_order(cid, [OrderLineIn(sku=first, qty=1)], location=A, actor=staff)
        svc.place_order(order.id, actor=staff)
        orders.append(order.id)
    engine.dispose()
    return orders


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"


def _unexpected(exc: BaseException) -> bool:
    from orchestrator.errors import OrchestratorError, StoreError

    if not isinstance(exc, OrchestratorError):
        return True
    # A StoreError that carries a driver error's text is a raw failure in disguise.
    return isinstance(exc, StoreError) and type(exc) is StoreError


def mixed_worker(
    url: str,
    index: int,
    order_id: int,
    seconds: float,
    seed: int,
    kinds: tuple[str, ...],
    start: Any,
    out: Any,
) -> None:
    """One process of the mixed run; puts (calls, outcomes, by_kind, unexpected) on `out`."""
    from orchestrator.store import make_engine
    from orchestrator.store.services import Actor, OrderLineIn, StoreService

    rng = random.Random(seed * 1000 + index)
    engine = make_engine(url)
    svc = StoreService(engine)
    staff = Actor(f"worker-{index}", agent="inventory")
    orders = Actor(f"worker-{index}", agent="order")
    src, dst = (A, B) if index % 2 == 0 else (B, A)
    phase = index % 2
    outcomes: Counter[str] = Counter()
    by_kind: Counter[str] = Counter()
    unexpected: list[str] = []
    calls = 0
    start.wait()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        kind = rng.choice(kinds)
        key = uuid.uuid4().hex
        try:
            if kind == "transfer":
                svc.transfer_stock(SKUS[0], src, dst, 1, actor=staff, idempotency_key=key)
            elif kind == "swap":
                phase ^= 1
                sku = SKUS[1 + phase]
                svc.modify_order(
                    order_id, [OrderLineIn(sku=sku, qty=1)], actor=orders, idempotency_key=key
                )
            elif kind == "multi":
                picked = rng.sample(SKUS[1:], 3)
                lines = [OrderLineIn(sku=s, qty=rng.randint(1, 3)) for s in picked]
                created = svc.create_order(
                    1 + index, lines, location=A, actor=orders, idempotency_key=key
                )
                calls += 1
                svc.place_order(created.id, actor=orders, idempotency_key=key + "p")
                calls += 1
                svc.cancel_order(
                    created.id, reason="bench", actor=orders, idempotency_key=key + "c"
                )
            elif kind == "reserve":
                res = svc.reserve(SKUS[3], rng.choice((A, B)), 1, actor=staff, idempotency_key=key)
                calls += 1
                svc.release_reservation(
                    res.id, reason="bench", actor=staff, idempotency_key=key + "r"
                )
            elif kind == "adjust":
                svc.adjust_quantity(
                    SKUS[4],
                    rng.choice((A, B)),
                    rng.choice((-1, 1)),
                    reason="count",
                    actor=staff,
                    idempotency_key=key,
                )
            else:
                svc.receive_goods(
                    SKUS[5], rng.choice((A, B)), 1, reason="po", actor=staff, idempotency_key=key
                )
            outcomes["ok"] += 1
        except Exception as exc:  # every outcome is counted, by type
            outcomes[type(exc).__name__] += 1
            if _unexpected(exc) and len(unexpected) < 20:
                unexpected.append(f"{kind}: {_describe(exc)}")
        calls += 1
        by_kind[kind] += 1
    engine.dispose()
    out.put((calls, dict(outcomes), dict(by_kind), unexpected))


def pg_deadlocks(url: str) -> int | None:
    """`pg_stat_database.deadlocks` of the URL's database (None on SQLite)."""
    if not url.startswith("postgresql"):
        return None
    import psycopg

    dsn = url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()
    return int(row[0]) if row else 0


def _check(url: str) -> tuple[bool, list[str], int]:
    from sqlalchemy import text

    from orchestrator.store import make_engine
    from orchestrator.store.invariants import check_invariants

    engine = make_engine(url)
    report = check_invariants(engine)
    with engine.connect() as conn:
        oversold = int(
            conn.execute(
                text("SELECT count(*) FROM stock WHERE on_hand < reserved OR on_hand < 0")
            ).scalar_one()
        )
    engine.dispose()
    return report.ok, [f"{v.rule} {v.key}: {v.detail}" for v in report.violations], oversold


def run_mixed(
    url: str,
    engine: str,
    *,
    workers: int,
    seconds: float,
    seed: int = 7,
    kinds: tuple[str, ...] = KINDS,
) -> MixedResult:
    """Run the mixed-write workload (`kinds` of calls) on a fresh store at `url`."""
    orders = setup_store(url, workers)
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(workers + 1)
    out = ctx.Queue()
    procs = [
        ctx.Process(
            target=mixed_worker,
            args=(url, i, orders[i], seconds, seed, kinds, start, out),
        )
        for i in range(workers)
    ]
    for p in procs:
        p.start()
    time.sleep(0.2)
    before = pg_deadlocks(url)
    start.wait(timeout=120)
    began = time.perf_counter()
    results = [out.get(timeout=seconds + 300) for _ in procs]
    wall = time.perf_counter() - began
    for p in procs:
        p.join(timeout=60)
    time.sleep(1.0)  # backends flush their statistics within a second of going idle
    after = pg_deadlocks(url)
    outcomes: Counter[str] = Counter()
    by_kind: Counter[str] = Counter()
    unexpected: list[str] = []
    calls = 0
    for n, o, k, u in results:
        calls += n
        outcomes.update(o)
        by_kind.update(k)
        unexpected.extend(u)
    ok, violations, oversold = _check(url)
    return MixedResult(
        engine=engine,
        workers=workers,
        seconds=round(wall, 2),
        calls=calls,
        calls_per_second=round(calls / wall, 1),
        outcomes=dict(outcomes),
        by_kind=dict(by_kind),
        unexpected=unexpected,
        deadlocks=None if before is None or after is None else after - before,
        invariants_ok=ok,
        violations=violations[:10],
        oversold=oversold,
    )


# --- kill and replay ---------------------------------------------------------------------


def kill_worker(url: str, index: int, keys: int, progress: Any) -> None:
    """Receive one unit per key `k<index>-<n>`, n = 0..keys-1, from the start every time."""
    from orchestrator.store import make_engine
    from orchestrator.store.services import Actor, StoreService

    engine = make_engine(url)
    svc = StoreService(engine)
    staff = Actor(f"killed-{index}", agent="inventory")
    for n in range(keys):
        svc.receive_goods(
            SKUS[n % len(SKUS)],
            A if (n + index) % 2 else B,
            1,
            reason="kill test",
            ref_type="kill",
            ref_id=f"k{index}-{n}",
            actor=staff,
            idempotency_key=f"k{index}-{n}",
        )
        progress.value = n + 1


def run_kills(url: str, engine: str, *, workers: int, keys: int, kills: int) -> KillResult:
    """SIGKILL writing processes `kills` times in all, restart them, check exactly once."""
    from sqlalchemy import text

    from orchestrator.store import make_engine

    setup_store(url, 1)
    ctx = multiprocessing.get_context("spawn")
    rng = random.Random(11)
    unexpected: list[str] = []
    done_kills = 0
    for index in range(workers):
        progress = ctx.Value("i", 0)
        share = kills // workers + (1 if index < kills % workers else 0)
        for _ in range(share):
            proc = ctx.Process(target=kill_worker, args=(url, index, keys, progress))
            proc.start()
            target = rng.randint(1, max(1, keys - 1))
            deadline = time.monotonic() + 120
            while progress.value < target and proc.is_alive() and time.monotonic() < deadline:
                time.sleep(0.002)
            if proc.is_alive():
                os.kill(proc.pid or 0, signal.SIGKILL)
                done_kills += 1
            proc.join(timeout=30)
        final = ctx.Process(target=kill_worker, args=(url, index, keys, progress))
        final.start()
        final.join(timeout=600)
        if final.exitcode != 0:
            unexpected.append(f"worker {index} exited with {final.exitcode}")
    db = make_engine(url)
    with db.connect() as conn:
        ledger = Counter(
            str(r[0])
            for r in conn.execute(text("SELECT ref_id FROM stock_ledger WHERE ref_type = 'kill'"))
        )
        audited = Counter(
            str(r[0])
            for r in conn.execute(
                text(
                    "SELECT idempotency_key FROM audit_log "
                    "WHERE operation = 'receive_goods' AND outcome = 'ok' "
                    "AND idempotency_key LIKE 'k%'"
                )
            )
        )
    db.dispose()
    wanted = [f"k{i}-{n}" for i in range(workers) for n in range(keys)]
    duplicates = [k for k in wanted if ledger[k] > 1 or audited[k] > 1]
    missing = [k for k in wanted if ledger[k] == 0]
    ok, _, oversold = _check(url)
    return KillResult(
        engine=engine,
        kills=done_kills,
        keys=len(wanted),
        effective_once=sum(1 for k in wanted if ledger[k] == 1 and audited[k] == 1),
        duplicates=duplicates[:10],
        missing=missing[:10],
        unexpected=unexpected,
        invariants_ok=ok and oversold == 0,
    )


# --- a state machine over the whole tool catalogue ---------------------------------------

GARBAGE: tuple[Any, ...] = (
    None,
    True,
    "120",
    "3",
    120.0,
    float("nan"),
    float("inf"),
    -1,
    0,
    2**31,
    2**53,
    2**70,
    "a\ud800b",
    "help\x00me",
    "x" * 5000,
    [1, 2],
    {"nested": {"deep": [1, {"x": "y"}]}},
    "ada@example.org +44 20 7946 0958",
)


@dataclass
class MachineResult:
    """What the tool state machine saw."""

    engine: str
    calls: int = 0
    ok: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    unaudited: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    invariant_failures: list[str] = field(default_factory=list)


def run_tool_machine(
    url: str, engine: str, *, examples: int, steps: int, seed: int = 0
) -> MachineResult:
    """Drive every tool under every profile with valid and hostile arguments.

    Each step picks a profile, a tool (allowed or not), a customer (or none), a thread and a
    call id from small pools (so keys get replayed, with the same or other arguments) and
    arguments that are, field by field, plausible or garbage (strings for numbers, NaN, 2**70,
    NUL, lone surrogates, 5,000 characters, a smuggled customer_id, a list instead of an
    object). After every call: the result is a model or the exception is an
    `OrchestratorError`, and a refusal added an audit row. Invariants are checked at the end
    of every example.
    """
    from hypothesis import HealthCheck, settings
    from hypothesis import strategies as st
    from hypothesis.stateful import RuleBasedStateMachine, rule, run_state_machine_as_test
    from pydantic import BaseModel
    from sqlalchemy import func, select

    from orchestrator.errors import OrchestratorError
    from orchestrator.store.invariants import check_invariants
    from orchestrator.store.models import AuditLog, Location
    from orchestrator.testing import seeded_shop
    from orchestrator.tools import ToolContext, ToolRunner, default_catalog

    result = MachineResult(engine=engine)
    catalog = default_catalog()
    runner = ToolRunner(catalog)
    profiles = sorted(catalog.profiles)
    tools = sorted(catalog.tools)
    with seeded_shop(url, skus=10, days=28, customers=10, seed=seed) as shop:
        svc = shop.service
        with shop.engine.connect() as conn:
            locations = list(conn.execute(select(Location.code)).scalars())  # type: ignore[call-overload]
        orders = sorted({o for ids in shop.placed_orders.values() for o in ids})[:6] or [1]
        audit_table = AuditLog.__table__  # type: ignore[attr-defined]

        def audit_rows() -> int:
            with shop.engine.connect() as conn:
                return int(conn.execute(select(func.count()).select_from(audit_table)).scalar_one())

        def plausible(name: str) -> st.SearchStrategy[Any]:
            sku = st.sampled_from([*shop.skus[:4], "NOPE-1"])
            line = st.fixed_dictionaries({"sku": sku, "qty": st.integers(-1, 4)})
            table: dict[str, st.SearchStrategy[Any]] = {
                "sku": sku,
                "location": st.sampled_from(locations),
                "from_location": st.sampled_from(locations),
                "to_location": st.sampled_from(locations),
                "order_id": st.sampled_from([*orders, 999_999]),
                "po_id": st.integers(1, 4),
                "txn_id": st.integers(1, 4),
                "reservation_id": st.integers(1, 30),
                "supplier_id": st.integers(1, 3),
                "qty": st.integers(-1, 6),
                "delta": st.integers(-80, 80),
                "limit": st.integers(0, 6),
                "k": st.integers(0, 6),
                "reason": st.sampled_from(["cycle count", "x", "ada@example.org asked"]),
                "lines": st.lists(line, min_size=0, max_size=3),
                "items": st.lists(line, min_size=0, max_size=3),
                "query": st.text(max_size=12),
                "subject": st.sampled_from(["Where is it?", ""]),
                "body": st.sampled_from(["call me on +44 20 7946 0958", ""]),
                "shipping_address": st.sampled_from(["1 High St, London", ""]),
                "status": st.sampled_from(["pending", "posted", "failed", "bogus"]),
                "country": st.sampled_from(["GB", "FR", "ZZ"]),
                "service": st.sampled_from(["standard", "express", "next_day", "warp"]),
            }
            return table.get(name, st.one_of(st.none(), st.integers(-2, 5), st.text(max_size=8)))

        def arguments(tool: str) -> st.SearchStrategy[Any]:
            fields = list(catalog.tools[tool].args_schema.model_fields)
            garbage = st.sampled_from(GARBAGE)
            good = st.fixed_dictionaries({f: plausible(f) for f in fields})
            spoiled = st.fixed_dictionaries(
                {f: st.one_of(plausible(f), plausible(f), garbage) for f in fields}
            )
            partial = st.fixed_dictionaries({}, optional={f: plausible(f) for f in fields})
            smuggled = good.map(lambda a: {**a, "customer_id": shop.customers[-1]})
            return st.one_of(
                good,
                good,
                good,
                spoiled,
                partial,
                smuggled,
                st.sampled_from([[1, 2], "qty=3", 42, None]),
            )

        def calls_among(names: list[str]) -> st.SearchStrategy[tuple[str, Any]]:
            return st.sampled_from(names).flatmap(lambda t: st.tuples(st.just(t), arguments(t)))

        def profile_calls(profile: str) -> st.SearchStrategy[Any]:
            mine = sorted(catalog.profiles[profile].allowed & set(tools)) or tools
            own = calls_among(mine)
            return st.tuples(st.just(profile), st.one_of(own, own, own, calls_among(tools)))

        calls = st.sampled_from(profiles).flatmap(profile_calls)

        class ToolMachine(RuleBasedStateMachine):
            @rule(
                choice=calls,
                customer=st.sampled_from([None, *shop.customers[:2]]),
                thread=st.sampled_from(["t1", "t2", "t3"]),
                call_id=st.sampled_from(["c1", "c2", None]),
            )
            def invoke(
                self,
                choice: tuple[str, tuple[str, Any]],
                customer: int | None,
                thread: str,
                call_id: str | None,
            ) -> None:
                profile, (tool, args) = choice
                ctx = ToolContext(
                    service=svc,
                    agent=profile,
                    customer_id=customer,
                    thread_id=f"{thread}-{customer}",
                    settings=shop.settings,
                )
                before = audit_rows()
                result.calls += 1
                try:
                    out = runner.invoke(ctx, tool, args, call_id=call_id)
                except OrchestratorError as exc:
                    kind = type(exc).__name__
                    result.refused[kind] = result.refused.get(kind, 0) + 1
                    if audit_rows() <= before and len(result.unaudited) < 20:
                        result.unaudited.append(f"{profile} {tool} {kind}: {str(exc)[:120]}")
                    return
                except Exception as exc:  # anything outside the error tree is a finding
                    if len(result.unexpected) < 20:
                        result.unexpected.append(
                            f"{profile} {tool} {type(exc).__name__}: {str(exc)[:160]}"
                        )
                    return
                if isinstance(out, BaseModel):
                    result.ok += 1
                elif len(result.unexpected) < 20:
                    result.unexpected.append(f"{profile} {tool} returned {type(out).__name__}")

            def teardown(self) -> None:
                report = check_invariants(shop.engine)
                if not report.ok:
                    result.invariant_failures.extend(
                        f"{v.rule} {v.key}: {v.detail}" for v in report.violations[:5]
                    )

        run_state_machine_as_test(
            ToolMachine,
            settings=settings(
                max_examples=examples,
                stateful_step_count=steps,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=list(HealthCheck),
            ),
        )
    return result


@contextmanager
def store_url(engine: str, admin_url: str) -> Iterator[str]:
    """A fresh store URL on `engine` (`sqlite` or `postgres`), removed afterwards."""
    if engine == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{Path(tmp) / 'reliability.db'}"
        return
    from orchestrator.testing import postgres_database

    with postgres_database(admin_url, prefix="orch_rel") as url:
        yield url


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--keys", type=int, default=200)
    parser.add_argument("--engines", nargs="+", default=["sqlite", "postgres"])
    parser.add_argument("--parts", nargs="+", default=["mixed", "kill", "machine"])
    parser.add_argument("--examples", type=int, default=50)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS)
    parser.add_argument(
        "--admin-url",
        default=os.environ.get(
            "ORCH_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
        ),
    )
    args = parser.parse_args(argv)
    failed = False
    for engine in args.engines:
        if "mixed" in args.parts:
            with store_url(engine, args.admin_url) as url:
                mixed = run_mixed(
                    url,
                    engine,
                    workers=args.workers,
                    seconds=args.seconds,
                    kinds=tuple(args.kinds),
                )
            print(json.dumps({"part": "mixed", **asdict(mixed)}), flush=True)
            failed |= bool(mixed.unexpected) or not mixed.invariants_ok or mixed.oversold > 0
        if "kill" in args.parts:
            with store_url(engine, args.admin_url) as url:
                killed = run_kills(
                    url, engine, workers=min(args.workers, 4), keys=args.keys, kills=args.kills
                )
            print(json.dumps({"part": "kill", **asdict(killed)}), flush=True)
            failed |= bool(killed.duplicates or killed.missing or killed.unexpected)
            failed |= not killed.invariants_ok
        if "machine" in args.parts:
            with store_url(engine, args.admin_url) as url:
                began = time.perf_counter()
                seen = run_tool_machine(url, engine, examples=args.examples, steps=args.steps)
                took = round(time.perf_counter() - began, 1)
            print(json.dumps({"part": "machine", "seconds": took, **asdict(seen)}), flush=True)
            failed |= bool(seen.unaudited or seen.unexpected or seen.invariant_failures)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
