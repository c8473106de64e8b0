"""The Orchestrator: one composition root, a graph registry, run / resume / state by thread."""

from __future__ import annotations

from typing import Any

import pytest
from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict

from orchestrator.errors import ConfigError, InvalidInput, InvalidTransition, NotFound
from orchestrator.runtime import NodeModels, Orchestrator, RunContext, Services
from orchestrator.testing import TestShop

ANN = RunContext(actor="ann")


def _counts(shop: TestShop, big: int = 60) -> list[dict[str, Any]]:
    a, b = shop.skus[:2]
    on_hand = {s: shop.service.get_stock(s, "WH-MAIN")[0].on_hand for s in (a, b)}
    return [
        {"sku": a, "location": "WH-MAIN", "counted": on_hand[a] - 1},
        {"sku": b, "location": "WH-MAIN", "counted": on_hand[b] + big},
    ]


def test_run_waits_on_approval_and_resume_performs_it_once(shop_any: TestShop) -> None:
    shop = shop_any
    orch = shop.orchestrator()
    counts = _counts(shop)
    first = orch.run("cycle_count", {"counts": counts, "reason": "test"}, context=ANN)
    assert first.status == "waiting" and len(first.approval_ids) == 1
    assert orch.runs.get(first.thread_id).status == "waiting"
    [pending] = orch.pending_approvals()
    assert pending.thread_id == first.thread_id and pending.tool == "adjust_quantity"
    with pytest.raises(ConfigError, match="by=<name>"):
        orch.resume(first.thread_id, "approve")
    done = orch.resume(first.thread_id, "approve", by="manager")
    assert done.status == "completed"
    assert [shop.service.get_stock(c["sku"], "WH-MAIN")[0].on_hand for c in counts] == [
        c["counted"] for c in counts
    ]
    assert orch.runs.get(first.thread_id).status == "completed"
    approval = shop.service.get_approval(first.approval_ids[0])
    assert approval.decided_by == "manager" and approval.consumed_at is not None
    state = orch.state(first.thread_id)
    assert state.next == [] and "report" in state.values
    assert {e.tool for e in state.audit if e.outcome == "ok"} == {"adjust_quantity"}
    with pytest.raises(ConfigError, match="nothing to resume"):
        orch.resume(first.thread_id, "approve", by="manager")


def test_edit_is_validated_then_performed(shop: TestShop) -> None:
    orch = shop.orchestrator()
    counts = _counts(shop)
    first = orch.run("cycle_count", {"counts": counts, "reason": "test"}, context=ANN)
    approval = shop.service.get_approval(first.approval_ids[0])
    bad = {**approval.arguments, "delta": "sixty"}
    with pytest.raises(InvalidInput, match="delta"):
        orch.resume(first.thread_id, {"decision": "edit", "arguments": bad}, by="boss")
    assert shop.service.get_approval(approval.id).status == "pending"  # nothing recorded
    edited = {**approval.arguments, "delta": 20}
    done = orch.resume(
        first.thread_id, {"decision": "edit", "arguments": edited, "note": "20 only"}, by="boss"
    )
    sku = counts[1]["sku"]
    assert shop.service.get_stock(sku, "WH-MAIN")[0].on_hand == counts[1]["counted"] - 40
    line = next(line for line in done.values["lines"] if line["sku"] == sku)
    assert line["delta"] == 20 and "changed the adjustment" in line["detail"]


def test_reject_is_recorded_and_the_run_goes_on(shop: TestShop) -> None:
    orch = shop.orchestrator()
    counts = _counts(shop)
    before = shop.service.get_stock(counts[1]["sku"], "WH-MAIN")[0].on_hand
    first = orch.run("cycle_count", {"counts": counts, "reason": "test"}, context=ANN)
    done = orch.resume(first.thread_id, {"decision": "reject", "note": "recount"}, by="boss")
    assert done.status == "completed"
    statuses = {line["sku"]: line["status"] for line in done.values["lines"]}
    assert statuses[counts[1]["sku"]] == "rejected"
    assert statuses[counts[0]["sku"]] == "adjusted"
    assert shop.service.get_stock(counts[1]["sku"], "WH-MAIN")[0].on_hand == before


def test_state_survives_a_new_orchestrator(shop: TestShop) -> None:
    """Resume from another process (here: another Orchestrator on the same files)."""
    first_orch = shop.orchestrator()
    first = first_orch.run("cycle_count", {"counts": _counts(shop), "reason": "t"}, context=ANN)
    first_orch.close()
    other = shop.orchestrator()
    assert other.state(first.thread_id).run.status == "waiting"
    assert other.resume(first.thread_id, "approve", by="boss").status == "completed"
    assert len(shop.service.approvals()) == 1


def test_registry(shop: TestShop) -> None:
    orch = shop.orchestrator()
    assert {"cycle_count", "support"} <= set(orch.graphs())
    with pytest.raises(ConfigError, match="no graph named 'nope'; registered:"):
        orch.run("nope", {}, context=ANN)
    with pytest.raises(ConfigError, match="already registered"):
        orch.register_graph("support", lambda **_: None)
    with pytest.raises(ConfigError, match="graph name"):
        orch.register_graph("bad name!", lambda **_: None)


class Echo(TypedDict, total=False):
    text: str
    by: str
    node_model: str


def build_echo_graph(*, models: NodeModels, services: Services, suffix: str = "") -> Any:
    """A user's own graph: reads the run context and its node's model."""
    from langgraph.runtime import Runtime

    def echo(state: Echo, runtime: Runtime[RunContext]) -> dict[str, Any]:
        return {
            "text": state["text"] + suffix,
            "by": runtime.context.actor,
            "node_model": models.model_id("echo"),
        }

    builder = StateGraph(Echo, context_schema=RunContext)
    builder.add_node("echo", echo)
    builder.add_edge(START, "echo")
    builder.add_edge("echo", END)
    return builder


def test_register_a_users_graph_with_options_and_routed_models(shop: TestShop) -> None:
    settings = shop.settings.model_copy(
        update={
            "models": shop.settings.models.model_copy(
                update={"nodes": {"mine.echo": "test:special"}}
            )
        }
    )
    with Orchestrator(settings) as orch:
        orch.register_graph("mine", build_echo_graph, description="echo", suffix="!")
        result = orch.run("mine", {"text": "hi"}, context={"actor": "zoe"}, thread_id="t-1")
        assert result.values == {"text": "hi!", "by": "zoe", "node_model": "test:special"}
        again = orch.run("mine", {"text": "again"}, context={"actor": "zoe"}, thread_id="t-1")
        assert again.values["text"] == "again!"
        with pytest.raises(ConfigError, match=r"is a run of graph .mine."):
            orch.run("cycle_count", {"counts": []}, context=ANN, thread_id="t-1")


def test_context_is_validated(shop: TestShop) -> None:
    orch = shop.orchestrator()
    with pytest.raises(ConfigError, match="actor"):
        orch.run("support", {"message": "hi"}, context={"customer_id": 1})
    with pytest.raises(ConfigError, match="unknown run-context key"):
        orch.run("support", {"message": "hi"}, context={"actor": "a", "role": "admin"})
    with pytest.raises(ConfigError, match="customer_id"):
        RunContext(actor="a", customer_id=-3)
    with pytest.raises(InvalidInput, match="thread_id"):
        orch.run("support", {"message": "hi"}, context=ANN, thread_id="")
    with pytest.raises(NotFound, match="no run"):
        orch.state("never-ran")


def test_a_thread_belongs_to_one_customer(shop: TestShop) -> None:
    orch = shop.orchestrator()
    a, b = shop.customers[:2]
    orch.run(
        "support",
        {"message": "hello"},
        context=RunContext(actor=f"customer:{a}", customer_id=a),
        thread_id="chat-1",
    )
    with pytest.raises(ConfigError, match="another customer"):
        orch.run(
            "support",
            {"message": "hello"},
            context=RunContext(actor=f"customer:{b}", customer_id=b),
            thread_id="chat-1",
        )


def test_stream_yields_updates_then_done(shop: TestShop) -> None:
    orch = shop.orchestrator()
    events = list(orch.stream("cycle_count", {"counts": _counts(shop), "reason": "s"}, context=ANN))
    kinds = [e.kind for e in events]
    assert kinds[0] == "update" and events[0].node == "compare"
    assert "interrupt" in kinds and kinds[-1] == "done"
    assert events[-1].result is not None and events[-1].result.status == "waiting"


def test_failed_run_is_recorded(shop: TestShop) -> None:
    orch = shop.orchestrator()

    def boom(**_: Any) -> Any:
        def node(state: Echo) -> dict[str, Any]:
            raise RuntimeError("the node broke")

        builder = StateGraph(Echo, context_schema=RunContext)
        builder.add_node("node", node)
        builder.add_edge(START, "node")
        builder.add_edge("node", END)
        return builder

    orch.register_graph("boom", boom)
    with pytest.raises(RuntimeError, match="the node broke"):
        orch.run("boom", {"text": "x"}, context=ANN, thread_id="b-1")
    run = orch.runs.get("b-1")
    assert run.status == "failed" and "the node broke" in (run.error or "")


def test_decide_without_a_run(shop: TestShop) -> None:
    """An approval a script asked for is decided the same way; a retry is harmless."""
    from orchestrator.errors import ApprovalRequired
    from orchestrator.store.services import Actor

    orch = shop.orchestrator()
    sku = shop.skus[0]
    with pytest.raises(ApprovalRequired) as asked:
        shop.service.adjust_quantity(sku, "WH-MAIN", 80, reason="found", actor=Actor("ann"))
    approval_id = asked.value.approval_id
    assert approval_id is not None
    orch.decide(approval_id, "approve", by="boss")
    orch.decide(approval_id, "approve", by="boss")  # the same decision again: accepted
    with pytest.raises(InvalidTransition, match="approval"):
        orch.decide(approval_id, "reject", by="boss")
    assert shop.service.get_approval(approval_id).status == "approved"
    assert len(shop.service.approvals()) == 1
