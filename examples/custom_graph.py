"""Your own graph, built from the library's pieces and registered with the runtime.

A "damage report" graph for warehouse staff: someone writes what broke ("3 units of
ARD-UNO-001 dropped at WH-MAIN"), the model reads it into a structured `DamageReport` (a
regular expression is the deterministic fallback), code checks the report against the store
(the SKU exists and is stocked there, the units are plausible), and the `inventory` agent
writes the adjustment; a large one waits for a person's approval.

    python examples/custom_graph.py                         # the routed model (local by default)
    python examples/custom_graph.py --no-model              # rules only
    python examples/custom_graph.py --message "40 units of X broke at WH-MAIN"

The pieces: `NodeModels` (a model per node), `Services` (store, tools), `propose` (validated
structured output with a fallback), `Services.invoke` (a keyed, audited write that pauses the
run for approval), `RunContext`, `Orchestrator.register_graph`, `run` and `resume`.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from pydantic import BaseModel, Field
from typing_extensions import TypedDict

from orchestrator.errors import ApprovalRejected, OrchestratorError
from orchestrator.runtime import NodeModels, RunContext, Services, propose


class DamageReport(BaseModel):
    """What the model reads out of a damage message."""

    sku: str = Field(max_length=64, description="the product's SKU as written")
    location: str = Field(default="WH-MAIN", max_length=32, description="the location code")
    units: int = Field(ge=1, le=10_000, description="how many units were damaged")


class State(TypedDict, total=False):
    message: str
    report: dict[str, Any]
    source: str
    problem: str
    outcome: str


_REPORT = re.compile(
    r"(?P<units>\d+)\s+(?:units?\s+of\s+|x\s*)?(?P<sku>[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)+)"
    r"(?:.*?\bat\s+(?P<location>[A-Z][A-Z0-9-]+))?",
    re.IGNORECASE,
)


def read_rules(message: str) -> DamageReport:
    """The deterministic reading of a damage message."""
    match = _REPORT.search(message)
    if match is None:
        raise ValueError("no '<units> units of <SKU>' in the message")
    return DamageReport(
        sku=match["sku"].upper(),
        location=(match["location"] or "WH-MAIN").upper(),
        units=int(match["units"]),
    )


def build_damage_graph(*, models: NodeModels, services: Services) -> StateGraph[Any, Any, Any, Any]:
    """read (model, rules fallback) -> check (code) -> adjust (inventory agent) -> END."""
    model = models.for_node("read")

    def read(state: State) -> dict[str, Any]:
        message = state["message"]
        try:
            rules: DamageReport | None = read_rules(message)
        except ValueError:
            rules = None
        proposal = propose(
            model,
            [("system", "Read the damage report: SKU, location, units."), ("user", message)],
            DamageReport,
            fallback=lambda: rules or DamageReport(sku="?", units=1),
        )
        report = proposal.value
        # The model proposes; the message decides: keep what the message itself says.
        if rules is not None and (report.sku, report.units) != (rules.sku, rules.units):
            report = rules
        return {"report": report.model_dump(), "source": proposal.source}

    def check(state: State) -> dict[str, Any]:
        report = DamageReport.model_validate(state["report"])
        try:
            levels = services.store.get_stock(report.sku, report.location)
        except OrchestratorError as exc:
            return {"problem": str(exc)}
        if not levels or levels[0].available < report.units:
            have = levels[0].available if levels else 0
            return {"problem": f"only {have} available of {report.sku} at {report.location}"}
        return {"problem": ""}

    def adjust(
        state: State, config: RunnableConfig, runtime: Runtime[RunContext]
    ) -> dict[str, Any]:
        report = DamageReport.model_validate(state["report"])
        ctx = services.node_context(config, runtime.context, agent="inventory")
        args = {
            "sku": report.sku,
            "location": report.location,
            "delta": -report.units,
            "reason": f"damage report: {state['message'][:150]}",
        }
        try:
            view = services.invoke(ctx, "adjust_quantity", args, call_id="damage")
        except ApprovalRejected as exc:
            return {"outcome": f"not adjusted: {exc.reason}"}
        return {"outcome": f"{report.units} x {report.sku} written off; on hand {view.on_hand}"}

    def refuse(state: State) -> dict[str, Any]:
        return {"outcome": f"not adjusted: {state['problem']}"}

    builder = StateGraph(State, context_schema=RunContext)
    builder.add_node("read", read)
    builder.add_node("check", check)
    builder.add_node("adjust", adjust)
    builder.add_node("refuse", refuse)
    builder.add_edge(START, "read")
    builder.add_edge("read", "check")
    builder.add_conditional_edges(
        "check", lambda s: "refuse" if s.get("problem") else "adjust", ["adjust", "refuse"]
    )
    builder.add_edge("adjust", END)
    builder.add_edge("refuse", END)
    return builder


def main(argv: list[str] | None = None) -> int:
    """Seed a small shop, register the graph, report damage, approve the large one."""
    from orchestrator import load_settings
    from orchestrator.backends.local.server import ensure_local_server
    from orchestrator.runtime import Orchestrator
    from orchestrator.store import make_engine
    from orchestrator.store.seed import seed

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--message", action="append", help="a damage message (repeatable)")
    parser.add_argument("--no-model", action="store_true", help="rules only, no model")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'shop.db'}"
        overrides: dict[str, Any] = {"store": {"url": url}}
        if args.no_model:
            overrides["models"] = {"default": "none:rules"}
        settings = load_settings(**overrides)
        engine = make_engine(settings.store)
        seed(engine, skus=20, days=35, customers=12, anomalies=0, reset=True)
        engine.dispose()
        messages = args.message or [
            "2 units of ARD-UNO-001 dropped at WH-MAIN, boxes crushed",
            "Forklift hit a pallet: 60 units of ARD-MEGA-001 at WH-MAIN are ruined",
            "5 units of NOPE-404 broke",
        ]
        with ensure_local_server(settings), Orchestrator(settings) as orch:
            orch.register_graph("damage", build_damage_graph, description="write off damage")
            staff = RunContext(actor="warehouse-lead", channel="cli")
            for message in messages:
                result = orch.run("damage", {"message": message}, context=staff)
                if result.status == "waiting":
                    print(f"waiting for approval {result.approval_id}: {message}")
                    result = orch.resume(result.thread_id, "approve", by="store-manager")
                print(f"[{result.values.get('source')}] {message}\n  -> {result.values['outcome']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
