"""The order-fulfilment graph: from an order (structured or text) to a shipped parcel.

```
START -> [intake] -> validate -> plan -> reserve -> assess -> approval -> decide
      -> payment -> ship -> notify -> finish -> END
```
- `intake` (only for text): the model reads the order into an `OrderDraft` (structured
  output), with the parser as its fallback; `validate` keeps the model's reading only where
  the text supports it, and checks the customer (the run context's customer wins: an order
  for someone else is refused), every SKU and quantity, the address and the service.
- `plan` chooses the fulfilling location and applies `settings.orders.policy` to short lines
  (`partial`, `backorder`, `reject`); `reserve` creates and places the order (all planned
  lines reserved at once) and the draft backorder.
- `approval` waits for a person when the order's value, a first order or the risk score
  (`assess`) is above `settings.orders`' thresholds: approve, edit (lower quantities, drop
  lines) or reject.
- `payment` authorises through the `PaymentGateway`; `ship` ships with the zone's carrier at
  the rate table's cost, commits the reservations (ledger rows) and captures.
- A rejection, a decline, a failure or a cancel before shipping goes to `compensate`: void
  or refund, cancel the order, release the reservations.
- `notify` writes the customer's message (the model's, checked, or the template's).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, Literal

from langchain_core.runnables import RunnableConfig, RunnableLambda
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from orchestrator.graphs.order_fulfilment import nodes
from orchestrator.graphs.order_fulfilment.state import OrderDraft, OrderInput, OrderState
from orchestrator.runtime.context import RunContext
from orchestrator.runtime.deps import NodeModels, Services
from orchestrator.runtime.nodes import approval_gate, structured_node

__all__ = ["INTAKE_MAX_TOKENS", "NOTIFY_MAX_TOKENS", "build_order_fulfilment_graph"]

INTAKE_MAX_TOKENS = 400
"""Cap on the tokens the intake model writes (an `OrderDraft` of a few lines is ~100)."""
NOTIFY_MAX_TOKENS = 300
"""Cap on the tokens of the customer's message: a small model must not ramble for minutes."""


def build_order_fulfilment_graph(
    *, models: NodeModels, services: Services, **_: Any
) -> StateGraph[OrderState, RunContext, OrderInput, OrderState]:
    """The order-fulfilment graph, uncompiled.

    Args:
        models: the nodes' models: `intake` reads text orders, `notify` writes the message.
        services: the store, the tool runner and the payment gateway (`services.payments`;
            default an `InProcessGateway` from `settings.orders`).

    Example:
        >>> graph = build_order_fulfilment_graph(models=models, services=services)
        >>> app = graph.compile(checkpointer=saver)
        >>> app.invoke({"customer_id": 3, "lines": [{"sku": "ARD-UNO-001", "qty": 2}]},
        ...            {"configurable": {"thread_id": "order-1"}},
        ...            context=RunContext(actor="order-desk"))
    """
    builder = StateGraph(OrderState, context_schema=RunContext, input_schema=OrderInput)
    builder.add_node(
        "intake",
        structured_node(
            _capped(models.for_node("intake"), INTAKE_MAX_TOKENS),
            OrderDraft,
            prompt=partial(nodes.intake_prompt, services=services),
            fallback=partial(nodes.intake_fallback, services=services),
            key="proposal",
            name="intake",
        )
        | RunnableLambda(_plain, name="intake_plain"),
    )
    # Steps that read only, or whose writes are keyed per step, share a node: fewer
    # checkpoints per order (each is a database write with durability "sync").
    builder.add_node(
        "validate",
        _chain(_bind(nodes.validate, services), _pure(partial(nodes.plan, services=services))),
    )
    builder.add_node(
        "reserve",
        _chain(_bind(nodes.reserve, services), _pure(partial(nodes.assess, services=services))),
    )
    builder.add_node(
        "approval",
        approval_gate(
            "release_order",
            services=services,
            agent=nodes.AGENT,
            needs=lambda state: state.get("approval_reason"),
            arguments=nodes.approval_arguments,
        ),
    )
    builder.add_node(
        "payment", _chain(_bind(nodes.decide, services), _bind(nodes.payment, services))
    )
    builder.add_node("ship", _bind(nodes.ship, services))
    builder.add_node("compensate", _bind(nodes.compensate, services))
    builder.add_node(
        "notify",
        _chain(
            _pure(
                partial(nodes.notify, model=_capped(models.for_node("notify"), NOTIFY_MAX_TOKENS))
            ),
            _pure(nodes.finish),
            always=True,
        ),
    )

    builder.add_conditional_edges(START, _start)
    builder.add_edge("intake", "validate")
    builder.add_conditional_edges("validate", _on("reserve", "notify"))
    builder.add_conditional_edges("reserve", _on("approval", "notify"))
    builder.add_edge("approval", "payment")
    builder.add_conditional_edges("payment", _on("ship", "compensate"))
    builder.add_conditional_edges("ship", _after_ship)
    builder.add_edge("compensate", "notify")
    builder.add_edge("notify", END)
    return builder


def _capped(model: Any, max_tokens: int) -> Any:
    """The model with a cap on generated tokens per call (when it takes one)."""
    bind = getattr(model, "bind", None)
    return bind(max_tokens=max_tokens) if callable(bind) else model


def _plain(update: dict[str, Any]) -> dict[str, Any]:
    """The proposal as a plain dict (state stays plain data)."""
    proposal = update["proposal"]
    return {
        **update,
        "proposal": proposal.model_dump() if isinstance(proposal, OrderDraft) else proposal,
    }


def _start(state: OrderState) -> Literal["intake", "validate"]:
    return "intake" if state.get("text") and not state.get("lines") else "validate"


def _on(go: str, stop: str) -> Any:
    def route(state: OrderState) -> str:
        return go if state.get("status") == "running" else stop

    route.__name__ = f"to_{go}_or_{stop}"
    return route


def _after_ship(state: OrderState) -> Literal["notify", "compensate"]:
    # notify also writes the summary (finish)
    return "notify" if state.get("status") == "completed" else "compensate"


Step = Callable[[OrderState, RunnableConfig, Runtime[RunContext]], dict[str, Any]]


def _chain(*steps: Step, always: bool = False) -> Any:
    """One node running `steps` in order on the state so far, merging their updates.

    `events` are concatenated; the next step runs only while the order is `running` (unless
    `always`).
    """

    def run(
        state: OrderState, config: RunnableConfig, runtime: Runtime[RunContext]
    ) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        events: list[str] = []
        for i, step in enumerate(steps):
            current = {**state, **merged}
            if i and not always and current.get("status") != "running":
                break
            update = step(current, config, runtime)  # type: ignore[arg-type]
            events.extend(update.pop("events", []))
            merged.update(update)
        return {**merged, "events": events} if events else merged

    return run


def _pure(fn: Callable[[OrderState], dict[str, Any]]) -> Step:
    def run(
        state: OrderState, config: RunnableConfig, runtime: Runtime[RunContext]
    ) -> dict[str, Any]:
        return fn(state)

    return run


def _bind(node: Any, services: Services) -> Any:
    def run(
        state: OrderState, config: RunnableConfig, runtime: Runtime[RunContext]
    ) -> dict[str, Any]:
        return node(state, config, runtime, services=services)

    run.__name__ = node.__name__
    return run
