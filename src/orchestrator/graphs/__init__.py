"""LangGraph state machines, one subpackage each (`state.py`, `nodes.py`, `graph.py`).

Each `build_<name>_graph(*, models, services) -> StateGraph` returns the graph uncompiled;
`orchestrator.runtime.Orchestrator` registers the built-ins by name and compiles them with
its checkpointer:

- `cycle_count`: reconcile counted stock with the books (adjustments, approvals).
- `support`: answer a customer's message for the authenticated customer.
- `inventory_tuning`: forecast demand and set reorder policies (approvals, report).
"""

__all__: list[str] = []
