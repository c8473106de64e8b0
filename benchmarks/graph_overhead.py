"""Graph overhead: the order graph vs a bare LangGraph graph of the same steps vs the services.

Places the same small order (customer 7, two lines, below every approval threshold) again
and again, three ways, in one run, on SQLite and then on PostgreSQL:

- `graph`: `Orchestrator.run("order_fulfilment", ...)` with an instant scripted model (the
  notification node gets a valid message at once), so what is measured is the graph and the
  runtime: state, checkpoints (durability "sync"), the run index, the approval gate's check,
  risk scoring, the message checks, the write keys.
- `nodes`: the same compiled graph invoked directly (no `Orchestrator.run`: no run index rows,
  no state read afterwards), to tell the graph's own cost from the runtime's.
- `bare`: a bare LangGraph `StateGraph` of the same steps (validate, plan, reserve, payment,
  ship, notify) calling the same services with idempotency keys, compiled with the same
  checkpointer and run with durability "sync".
- `direct`: the same service calls in a plain loop (no LangGraph).

Prints per-order latency (mean, median, p95) and the ratios graph/bare (target <= 1.3) and
graph/direct.

    .venv/bin/python benchmarks/graph_overhead.py [--orders 40] [--pg postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict

from orchestrator.graphs.order_fulfilment import InProcessGateway
from orchestrator.runtime import RunContext
from orchestrator.store.services import Actor, OrderLineIn
from orchestrator.testing import ScriptedModel, postgres_database, seeded_shop

LINES = [{"sku": "ARD-UNO-001", "qty": 1}, {"sku": "CHEM-SET-001", "qty": 1}]
CUSTOMER = 7
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _message(messages: list[Any]) -> str:
    text = " ".join(str(m.content) for m in messages)
    order_id = text.split("'order_id': ")[1].split(",")[0]
    return json.dumps({"subject": f"Order #{order_id}", "body": f"Your order #{order_id} shipped."})


def place_directly(svc: Any, gateway: InProcessGateway, actor: Actor, key: str) -> int:
    """The services called in sequence: what each graph does for one order."""
    svc.get_customer(CUSTOMER)
    for line in LINES:
        svc.get_product(line["sku"])
        svc.get_stock(line["sku"])
    order = svc.create_order(
        CUSTOMER,
        [OrderLineIn(**line) for line in LINES],
        location="WH-MAIN",
        channel="orders",
        actor=actor,
        idempotency_key=f"{key}:create",
    )
    placed = svc.place_order(order.id, actor=actor, idempotency_key=f"{key}:place")
    auth = gateway.authorize(
        order_id=order.id,
        customer_id=CUSTOMER,
        amount_cents=placed.total_cents,
        idempotency_key=f"{key}:auth",
    )
    svc.record_payment(
        order.id,
        "authorization",
        placed.total_cents,
        provider_ref=auth.reference,
        actor=actor,
        idempotency_key=f"{key}:record-auth",
    )
    svc.quote_shipping(order_id=order.id, service="standard")
    svc.ship_order(
        order.id,
        carrier="royal-mail",
        service="standard",
        tracking="T",
        actor=actor,
        idempotency_key=f"{key}:ship",
    )
    gateway.capture(
        reference=auth.reference, amount_cents=placed.total_cents, idempotency_key=f"{key}:cap"
    )
    svc.record_payment(
        order.id,
        "capture",
        placed.total_cents,
        provider_ref=auth.reference,
        actor=actor,
        idempotency_key=f"{key}:record-cap",
    )
    return int(order.id)


class BareState(TypedDict, total=False):
    key: str
    order_id: int
    total: int
    ref: str
    message: str


def bare_graph(svc: Any, gateway: InProcessGateway, actor: Actor) -> StateGraph[Any, Any, Any, Any]:
    """The same steps as plain LangGraph nodes calling the same services."""

    def validate(state: BareState) -> dict[str, Any]:
        svc.get_customer(CUSTOMER)
        for line in LINES:
            svc.get_product(line["sku"])
        return {}

    def plan(state: BareState) -> dict[str, Any]:
        for line in LINES:
            svc.get_stock(line["sku"])
        return {}

    def reserve(state: BareState) -> dict[str, Any]:
        key = state["key"]
        order = svc.create_order(
            CUSTOMER,
            [OrderLineIn(**line) for line in LINES],
            location="WH-MAIN",
            channel="orders",
            actor=actor,
            idempotency_key=f"{key}:create",
        )
        placed = svc.place_order(order.id, actor=actor, idempotency_key=f"{key}:place")
        return {"order_id": order.id, "total": placed.total_cents}

    def payment(state: BareState) -> dict[str, Any]:
        key = state["key"]
        auth = gateway.authorize(
            order_id=state["order_id"],
            customer_id=CUSTOMER,
            amount_cents=state["total"],
            idempotency_key=f"{key}:auth",
        )
        svc.record_payment(
            state["order_id"],
            "authorization",
            state["total"],
            provider_ref=auth.reference,
            actor=actor,
            idempotency_key=f"{key}:record-auth",
        )
        return {"ref": auth.reference}

    def ship(state: BareState) -> dict[str, Any]:
        key = state["key"]
        svc.quote_shipping(order_id=state["order_id"], service="standard")
        svc.ship_order(
            state["order_id"],
            carrier="royal-mail",
            service="standard",
            tracking="T",
            actor=actor,
            idempotency_key=f"{key}:ship",
        )
        gateway.capture(
            reference=state["ref"], amount_cents=state["total"], idempotency_key=f"{key}:cap"
        )
        svc.record_payment(
            state["order_id"],
            "capture",
            state["total"],
            provider_ref=state["ref"],
            actor=actor,
            idempotency_key=f"{key}:record-cap",
        )
        return {}

    def notify(state: BareState) -> dict[str, Any]:
        return {"message": f"Your order #{state['order_id']} shipped."}

    builder = StateGraph(BareState)
    names = ["validate", "plan", "reserve", "payment", "ship", "notify"]
    for name, fn in zip(names, [validate, plan, reserve, payment, ship, notify], strict=True):
        builder.add_node(name, fn)
    builder.add_edge(START, names[0])
    for a, b in itertools.pairwise(names):
        builder.add_edge(a, b)
    builder.add_edge(names[-1], END)
    return builder


def _time(fn: Callable[[int], Any], n: int) -> list[float]:
    fn(-1)  # warm up (imports, first statements, compiled graphs)
    out = []
    for i in range(n):
        start = time.perf_counter()
        fn(i)
        out.append((time.perf_counter() - start) * 1000)
    return out


def _stats(ms: list[float]) -> tuple[float, float, float]:
    ordered = sorted(ms)
    return statistics.fmean(ms), statistics.median(ms), ordered[int(0.95 * (len(ordered) - 1))]


def measure(url: str, n: int) -> dict[str, list[float]]:
    with seeded_shop(url, memory={"enabled": False}) as shop:
        for line in LINES:
            shop.service.receive_goods(
                line["sku"], "WH-MAIN", 10 * n + 50, actor=Actor("bench"), reason="benchmark"
            )
        gateway = InProcessGateway()
        model = ScriptedModel(responses=[_message] * (2 * n + 20))
        orch = shop.orchestrator(models=model, payments=gateway)
        actor = Actor("bench", agent="order")
        run_id = uuid.uuid4().hex[:8]
        bare = bare_graph(orch.service, gateway, actor).compile(checkpointer=orch.checkpointer)
        ctx = RunContext(actor="bench")

        def graph_once(i: int) -> None:
            result = orch.run(
                "order_fulfilment", {"customer_id": CUSTOMER, "lines": LINES}, context=ctx
            )
            assert result.values["status"] == "completed", result.values

        compiled = orch.graph("order_fulfilment")

        def nodes_once(i: int) -> None:
            thread = f"nodes-{run_id}-{i}"
            compiled.invoke(
                {"customer_id": CUSTOMER, "lines": LINES},
                {"configurable": {"thread_id": thread}},
                context=ctx,
                durability="sync",
            )

        def bare_once(i: int) -> None:
            thread = f"bare-{run_id}-{i}"
            bare.invoke(
                {"key": thread},
                {"configurable": {"thread_id": thread}},
                durability="sync",
            )

        def direct_once(i: int) -> None:
            place_directly(orch.service, gateway, actor, f"direct-{run_id}-{i}")

        timings: dict[str, list[float]] = {"graph": [], "nodes": [], "bare": [], "direct": []}
        # interleave in rounds so that load on the shared machine hits every variant alike
        rounds = 4
        per = max(1, n // rounds)
        for r in range(rounds):
            for name, fn in (
                ("graph", graph_once),
                ("nodes", nodes_once),
                ("bare", bare_once),
                ("direct", direct_once),
            ):
                timings[name] += _time(lambda i, f=fn, r=r: f(r * 1000 + i), per)
        return timings


def report(engine: str, timings: dict[str, list[float]]) -> None:
    print(f"\n{engine}: per-order latency in ms ({len(timings['graph'])} orders each)")
    print(f"{'variant':8} {'mean':>8} {'median':>8} {'p95':>8}")
    means = {}
    for name, ms in timings.items():
        mean, median, p95 = _stats(ms)
        means[name] = median
        print(f"{name:8} {mean:8.1f} {median:8.1f} {p95:8.1f}")
    print(
        f"ratio (medians): graph/bare {means['graph'] / means['bare']:.2f} (target <= 1.3), "
        f"nodes/bare {means['nodes'] / means['bare']:.2f}, "
        f"graph/direct {means['graph'] / means['direct']:.2f}, "
        f"bare/direct {means['bare'] / means['direct']:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=40, help="orders per variant and engine")
    parser.add_argument("--pg", default=PG_ADMIN, help="PostgreSQL admin URL ('' to skip)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        report("SQLite", measure(f"sqlite:///{Path(tmp) / 'bench.db'}", args.orders))
    if args.pg:
        with postgres_database(args.pg, prefix="orch_bench_orders") as url:
            report("PostgreSQL", measure(url, args.orders))


if __name__ == "__main__":
    main()
