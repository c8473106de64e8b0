"""The order-fulfilment scenario suite: run each scenario on a fresh copy of a seeded shop.

A scenario (YAML or JSON, one per file; the format is in docs/eval.md, "Orders scenarios")
gives the run context, the input, what a person decides if the run waits, optionally the
scripted model's replies, and what must hold afterwards: the run's status, the final
database state of the order (compared with the store after the run, as tau2-bench does),
the facts the customer's message must contain, and the store's invariants. A scenario the
model gets wrong must still leave a correct store: refusal or escalation, never a wrong write.

Example:
    >>> report = run_order_scenarios(Path("tests/scenarios/orders"), model="scripted")
    >>> report.passed, report.total
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select

from orchestrator.errors import ConfigError

__all__ = [
    "OrderExpectation",
    "OrderScenario",
    "OrderScenarioResult",
    "OrdersReport",
    "load_order_scenarios",
    "run_order_scenarios",
]

SCRIPTED = "scripted"


class OrderExpectation(BaseModel):
    """What must hold after the scenario's run."""

    model_config = ConfigDict(extra="forbid")

    status: Literal["completed", "waiting_approval", "failed"]
    """The `order place --json` status at the end."""
    outcome: str | None = None
    """The graph's own outcome: completed, backordered, failed, cancelled, rejected."""
    approval: bool | None = None
    """Whether the run asked a person (None: either)."""
    reason_contains: list[str] = Field(default_factory=list)
    """Phrases the failure reason must contain."""
    db: dict[str, Any] = Field(default_factory=dict)
    """The expected database state (see docs/eval.md); only the keys given are compared."""
    notification_contains: list[str] = Field(default_factory=list)
    """Facts the customer's message must contain (`{order_id}`, `{total}` are filled in)."""
    notification_excludes: list[str] = Field(default_factory=list)
    """What the message must not contain."""


class OrderScenario(BaseModel):
    """One scenario file."""

    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    hostile: bool = False
    """A scenario that tries to make the graph do something it must not."""
    settings: dict[str, Any] = Field(default_factory=dict)
    """`settings.orders` overrides (policy, thresholds, capture, locations)."""
    gateway: dict[str, Any] = Field(default_factory=dict)
    """The in-process gateway's options: `decline_customers`, `decline_over_cents`, `decline_all`."""
    context: dict[str, Any] = Field(default_factory=lambda: {"actor": "order-desk"})
    """The run context (`actor`, `customer_id`, `channel`)."""
    input: dict[str, Any]
    """The graph's input (`customer_id`, `lines`, `text`, `shipping_address`, `service`, `note`)."""
    decision: dict[str, Any] | None = None
    """If the run waits for approval: `{"decision": "approve"|"reject"|"edit", "note": ...,
    "lines": [...]}` (edit: the new lines)."""
    cancel: bool = False
    """Cancel the order (from outside the run) once it waits for approval."""
    scripted: dict[str, Any] = Field(default_factory=dict)
    """The scripted model's replies by node (`intake`, `notify`: an object or a string);
    used only with the scripted model. A node without one gets no model (its fallback)."""
    expect: OrderExpectation
    source: str = ""
    """The file it came from (filled in when loaded)."""


class OrderScenarioResult(BaseModel):
    """How one scenario went."""

    scenario: str
    passed: bool
    hostile: bool = False
    failures: list[str] = Field(default_factory=list)
    status: str | None = None
    outcome: str | None = None
    order_id: int | None = None
    intake_source: str | None = None
    notification_source: str | None = None
    model_notes: list[str] = Field(default_factory=list)
    """What the run's events say about the models' output (used, overruled, failed)."""
    seconds: float = 0.0


class OrdersReport(BaseModel):
    """Every scenario's result and the pass rate."""

    model: str
    results: list[OrderScenarioResult]

    @property
    def total(self) -> int:
        return len(self.results)

    @property
    def passed(self) -> int:
        return sum(r.passed for r in self.results)

    @property
    def pass_rate(self) -> float:
        return self.passed / self.total if self.total else 0.0

    def summary(self) -> dict[str, Any]:
        """The summary object of `eval orders --json` (its last line)."""
        hostile = [r for r in self.results if r.hostile]
        return {
            "summary": True,
            "model": self.model,
            "total": self.total,
            "passed": self.passed,
            "pass_rate": round(self.pass_rate, 3),
            "hostile_total": len(hostile),
            "hostile_passed": sum(r.passed for r in hostile),
        }


def load_order_scenarios(folder: Path) -> list[OrderScenario]:
    """Every `*.yaml`, `*.yml` and `*.json` scenario in `folder`, by file name.

    Raises:
        ConfigError: no such folder, no scenario in it, or a file that is not a scenario.
    """
    if not folder.is_dir():
        raise ConfigError(f"no scenario folder {str(folder)!r}: pass --scenarios DIR")
    files = sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml", ".json"))
    if not files:
        raise ConfigError(f"{str(folder)!r} holds no *.yaml or *.json scenario")
    scenarios = []
    for path in files:
        try:
            if path.suffix == ".json":
                raw = json.loads(path.read_text(encoding="utf-8"))
            else:
                import yaml

                raw = yaml.safe_load(path.read_text(encoding="utf-8"))
            scenarios.append(OrderScenario.model_validate({**raw, "source": path.name}))
        except Exception as exc:
            raise ConfigError(f"scenario {path.name}: {exc}") from exc
    return scenarios


@contextmanager
def _template(folder: Path) -> Iterator[Path]:
    from orchestrator.store import make_engine
    from orchestrator.store.seed import seed

    path = folder / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        seed(engine, skus=20, days=35, customers=12, anomalies=0, seed=0, reset=True)
    finally:
        engine.dispose()
    yield path


def _settings(url: str, model: str, orders: dict[str, Any], base: Any = None) -> Any:
    from orchestrator.settings import Settings

    base = base if base is not None else Settings.defaults()
    default = "none:rules" if model == SCRIPTED else model
    return base.model_copy(
        update={
            "store": base.store.model_copy(update={"url": url}),
            "models": base.models.model_copy(
                update={"default": default, "graphs": {}, "nodes": {}, "fallbacks": []}
            ),
            "memory": base.memory.model_copy(update={"enabled": False}),
            "orders": base.orders.model_copy(update=orders),
        }
    )


def _scripted_models(scenario: OrderScenario) -> dict[str, Any] | None:
    from orchestrator.backends.none import NoModel
    from orchestrator.testing import ScriptedModel

    models: dict[str, Any] = {"*": NoModel()}
    for node, reply in scenario.scripted.items():
        text = reply if isinstance(reply, str) else json.dumps(reply)
        models[f"order_fulfilment.{node}"] = ScriptedModel(responses=[text], model_name=node)
    return models


def _snapshot(engine: Any) -> dict[str, Any]:
    from orchestrator.store.models import Order, Payment, Stock

    with engine.connect() as conn:
        stock = {
            f"{r.sku}@{r.location}": (int(r.on_hand), int(r.reserved))
            for r in conn.execute(select(Stock.sku, Stock.location, Stock.on_hand, Stock.reserved))  # type: ignore[call-overload]
        }
        last_order = conn.execute(select(func.max(Order.id))).scalar() or 0
        last_payment = conn.execute(select(func.max(Payment.id))).scalar() or 0
    return {"stock": stock, "last_order": int(last_order), "last_payment": int(last_payment)}


def _db_state(
    engine: Any, before: dict[str, Any], values: dict[str, Any], thread: str
) -> dict[str, Any]:
    """The database state the scenario's `expect.db` keys are compared with."""
    from orchestrator.store.models import (
        AuditLog,
        Order,
        OrderLine,
        Payment,
        Reservation,
        Shipment,
        StockLedger,
    )

    after = _snapshot(engine)
    state: dict[str, Any] = {}
    order_id, back_id = values.get("order_id"), values.get("backorder_id")
    with engine.connect() as conn:
        state["orders_created"] = int(
            conn.execute(select(func.count()).where(Order.id > before["last_order"])).scalar_one()
        )
        new_payments = list(
            conn.execute(select(Payment.kind).where(Payment.id > before["last_payment"]))  # type: ignore[call-overload]
        )
        state["refunds_created"] = sum(1 for (kind,) in new_payments if kind == "refund")

        def order(oid: int) -> dict[str, Any]:
            row = conn.execute(select(Order).where(Order.id == oid)).mappings().one()  # type: ignore[arg-type]
            lines = {
                r.sku: int(r.qty)
                for r in conn.execute(
                    select(OrderLine.sku, OrderLine.qty).where(OrderLine.order_id == oid)  # type: ignore[call-overload]
                )
            }
            return {"status": row["status"], "location": row["location"], "lines": lines}

        if order_id is not None:
            state["order"] = order(order_id)
            res: dict[str, list[list[Any]]] = {}
            for r in conn.execute(
                select(Reservation.sku, Reservation.qty, Reservation.status)  # type: ignore[call-overload]
                .where(Reservation.order_id == order_id)
                .order_by(Reservation.id)
            ):
                res.setdefault(r.sku, []).append([int(r.qty), r.status])
            state["reservations"] = res
            ship = (
                conn.execute(
                    select(Shipment.carrier, Shipment.service).where(Shipment.order_id == order_id)  # type: ignore[call-overload]
                )
                .mappings()
                .first()
            )
            if ship is not None:
                state["shipment"] = dict(ship)
            state["shipments"] = int(
                conn.execute(select(func.count()).where(Shipment.order_id == order_id)).scalar_one()
            )
            ledger: dict[str, int] = {}
            for r in conn.execute(
                select(StockLedger.sku, StockLedger.delta).where(  # type: ignore[call-overload]
                    StockLedger.ref_type == "order", StockLedger.ref_id == str(order_id)
                )
            ):
                ledger[r.sku] = ledger.get(r.sku, 0) + int(r.delta)
            state["ledger"] = ledger
            state["payments"] = sorted(
                [r.kind, r.status]
                for r in conn.execute(
                    select(Payment.kind, Payment.status).where(Payment.order_id == order_id)  # type: ignore[call-overload]
                )
            )
        if back_id is not None:
            state["backorder"] = order(back_id)
        state["operations"] = sorted(
            {
                op
                for (op,) in conn.execute(
                    select(AuditLog.operation).where(  # type: ignore[call-overload]
                        AuditLog.thread_id == thread, AuditLog.outcome == "ok"
                    )
                )
            }
        )
    state["stock_delta"] = {
        key: {"on_hand": now[0] - was[0], "reserved": now[1] - was[1]}
        for key, now in after["stock"].items()
        if (was := before["stock"].get(key, (0, 0))) != now
    }
    return state


def _compare(expected: Any, actual: Any, where: str) -> list[str]:
    if isinstance(expected, dict) and isinstance(actual, dict):
        problems: list[str] = []
        for key, value in expected.items():
            if key not in actual:
                problems.append(f"{where}.{key}: expected {value!r}, got nothing")
            else:
                problems.extend(_compare(value, actual[key], f"{where}.{key}"))
        return problems
    if expected != actual:
        return [f"{where}: expected {expected!r}, got {actual!r}"]
    return []


def _exact(expected: dict[str, Any], actual: dict[str, Any]) -> list[str]:
    """Compare `expect.db`; `stock_delta`, `reservations` and `ledger` must match whole."""
    problems = []
    for key, value in expected.items():
        got = actual.get(key)
        if (
            key in ("stock_delta", "reservations", "ledger", "payments", "operations")
            and got != value
        ):
            problems.append(f"db.{key}: expected {value!r}, got {got!r}")
        elif key not in ("stock_delta", "reservations", "ledger", "payments", "operations"):
            problems.extend(_compare(value, got, f"db.{key}"))
    return problems


def run_order_scenario(
    scenario: OrderScenario,
    template: Path,
    folder: Path,
    *,
    model: str = SCRIPTED,
    settings: Any = None,
) -> OrderScenarioResult:
    """Run one scenario on a fresh copy of `template` and check its expectations."""
    from orchestrator.cli.order import place_result
    from orchestrator.graphs.order_fulfilment import InProcessGateway, cancel_order_run
    from orchestrator.runtime import Orchestrator, RunContext
    from orchestrator.store.invariants import check_invariants

    started = time.perf_counter()
    db = folder / f"{Path(scenario.source or scenario.name).stem}.db"
    shutil.copy(template, db)
    settings = _settings(f"sqlite:///{db}", model, scenario.settings, settings)
    models = _scripted_models(scenario) if model == SCRIPTED else None
    failures: list[str] = []
    result = None
    with Orchestrator(
        settings, models=models, payments=InProcessGateway(**scenario.gateway)
    ) as orch:
        before = _snapshot(orch.engine)
        context = RunContext.coerce(scenario.context)
        try:
            result = orch.run("order_fulfilment", scenario.input, context=context)
            asked = result.status == "waiting"
            if asked and scenario.cancel:
                cancel_order_run(
                    orch,
                    int(result.values["order_id"]),
                    by="eval",
                    reason="cancelled by the scenario",
                )
                result = _final(orch, result.thread_id)
            elif asked and scenario.decision is not None:
                result = orch.resume(
                    result.thread_id, _decision(orch, result, scenario.decision), by="eval-manager"
                )
        except Exception as exc:
            failures.append(f"the run raised {type(exc).__name__}: {exc}")
            asked = False
        if result is not None:
            out = place_result(result)
            values = result.values
            expect = scenario.expect
            if out["status"] != expect.status:
                failures.append(
                    f"status: expected {expect.status}, got {out['status']} ({out.get('reason', '')})"
                )
            if expect.outcome is not None and values.get("status") != expect.outcome:
                failures.append(
                    f"outcome: expected {expect.outcome}, got {values.get('status')} ({values.get('reason', '')})"
                )
            if expect.approval is not None and asked != expect.approval:
                failures.append(
                    f"approval: expected {'a' if expect.approval else 'no'} request for approval"
                )
            for phrase in expect.reason_contains:
                if phrase.lower() not in str(values.get("reason", "")).lower():
                    failures.append(f"reason: {phrase!r} not in {values.get('reason', '')!r}")
            facts = {
                "order_id": str(values.get("order_id")),
                "backorder_id": str(values.get("backorder_id")),
                "total": f"{int(values.get('total_cents', 0)) / 100:,.2f}",
            }
            note = str(values.get("notification", ""))
            for fact in expect.notification_contains:
                wanted = fact.format(**facts)
                if wanted not in note:
                    failures.append(f"notification: {wanted!r} missing")
            for fact in expect.notification_excludes:
                unwanted = fact.format(**facts)
                if unwanted.lower() in note.lower():
                    failures.append(f"notification: contains {unwanted!r}")
            if expect.db:
                state = _db_state(orch.engine, before, values, result.thread_id)
                failures.extend(_exact(expect.db, state))
        report = check_invariants(orch.engine)
        if not report.ok:
            failures.append(f"invariants: {report.by_rule()}")
    return OrderScenarioResult(
        scenario=scenario.name,
        passed=not failures,
        hostile=scenario.hostile,
        failures=failures,
        status=place_result(result)["status"] if result is not None else None,
        outcome=result.values.get("status") if result is not None else None,
        order_id=result.values.get("order_id") if result is not None else None,
        intake_source=(result.values.get("draft") or {}).get("source")
        if result is not None
        else None,
        notification_source=result.values.get("notification_source")
        if result is not None
        else None,
        model_notes=[
            str(e)
            for e in (result.values.get("events", []) if result is not None else [])
            if str(e).startswith(("intake:", "notification"))
        ],
        seconds=round(time.perf_counter() - started, 2),
    )


def _final(orch: Any, thread: str) -> Any:
    """The run's result after something outside it moved it on."""
    from orchestrator.runtime import RunResult

    state = orch.state(thread)
    return RunResult(
        thread_id=thread,
        graph="order_fulfilment",
        status="waiting" if state.interrupts else "completed",
        values=state.values,
        interrupts=state.interrupts,
    )


def _decision(orch: Any, result: Any, decision: dict[str, Any]) -> dict[str, Any]:
    kind = decision.get("decision", "approve")
    out: dict[str, Any] = {"decision": kind, "note": decision.get("note", "")}
    if kind == "edit":
        arguments = dict(orch.service.get_approval(result.approval_id).arguments)
        arguments["lines"] = decision["lines"]
        out["arguments"] = arguments
    return out


def run_order_scenarios(
    folder: Path,
    *,
    model: str = SCRIPTED,
    settings: Any = None,
    on_result: Callable[[OrderScenarioResult], None] | None = None,
) -> OrdersReport:
    """Run every scenario in `folder` with `model` (`scripted`, or a `provider:model` id).

    Args:
        folder: the scenario folder.
        model: `scripted` (each scenario's scripted replies; nodes without one use no model)
            or a model id routed to every node (e.g. `llamacpp:smollm2`).
        settings: where model servers are (`models.base_urls`, timeouts, token caps) and
            the defaults of everything else; default the built-in defaults.
        on_result: called with each result as it is made (for progress output).
    """
    scenarios = load_order_scenarios(folder)
    results = []
    with (
        tempfile.TemporaryDirectory(prefix="orch-eval-orders-") as tmp,
        _template(Path(tmp)) as template,
    ):
        for scenario in scenarios:
            outcome = run_order_scenario(
                scenario, template, Path(tmp), model=model, settings=settings
            )
            results.append(outcome)
            if on_result is not None:
                on_result(outcome)
    return OrdersReport(model=model, results=results)
