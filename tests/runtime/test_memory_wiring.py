"""The Orchestrator gives graphs Chroma long-term memory and tools the knowledge base."""

from __future__ import annotations

import json
from typing import Any

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from typing_extensions import TypedDict

from orchestrator.runtime import NodeModels, Orchestrator, RunContext, Services
from orchestrator.runtime.memory import LazyStore
from orchestrator.testing import TestShop


class Note(TypedDict, total=False):
    text: str
    seen: list[str]


def build_notes_graph(*, models: NodeModels, services: Services) -> Any:
    """Remembers every note of a customer across threads, in the long-term store."""

    def remember(state: Note, runtime: Runtime[RunContext]) -> dict[str, Any]:
        assert runtime.store is not None
        namespace = ("customers", str(runtime.context.customer_id), "notes")
        runtime.store.put(
            namespace, f"n{len(runtime.store.search(namespace))}", {"text": state["text"]}
        )
        return {"seen": sorted(i.value["text"] for i in runtime.store.search(namespace))}

    builder = StateGraph(Note, context_schema=RunContext)
    builder.add_node("remember", remember)
    builder.add_edge(START, "remember")
    builder.add_edge("remember", END)
    return builder


def test_long_term_memory_persists_across_threads_and_processes(shop: TestShop) -> None:
    ada = RunContext(actor="web", customer_id=shop.customers[0])
    with Orchestrator(shop.settings) as orch:
        assert isinstance(orch.long_term_store, LazyStore)
        orch.register_graph("notes", build_notes_graph)
        orch.run("notes", {"text": "prefers email"}, context=ada, thread_id="chat-1")
    with Orchestrator(shop.settings) as orch:  # a new process, another conversation
        orch.register_graph("notes", build_notes_graph)
        result = orch.run("notes", {"text": "allergic to nuts"}, context=ada, thread_id="chat-2")
    assert result.values["seen"] == ["allergic to nuts", "prefers email"]
    assert (shop.settings.memory.path / "chroma.sqlite3").exists()


def test_tools_search_the_knowledge_base(shop: TestShop) -> None:
    from orchestrator.memory import KnowledgeBase
    from orchestrator.memory.kb import builtin_documents
    from orchestrator.tools import ToolContext

    KnowledgeBase.from_settings(shop.settings).ingest(builtin_documents())
    with Orchestrator(shop.settings) as orch:
        # The analyst profile (not customer-facing) can call it outside a run.
        [tool] = [t for t in orch.services.tools("analyst") if t.name == "search_knowledge_base"]
        out = json.loads(tool.invoke({"query": "how long do I have to return an item?", "k": 2}))
        assert out["hits"] and all("source" in h for h in out["hits"])
        ctx = orch.services.node_context({}, RunContext(actor="a", customer_id=1), agent="support")
        assert isinstance(ctx, ToolContext) and ctx.knowledge is orch.services.knowledge


def test_memory_can_be_turned_off(shop: TestShop) -> None:
    from langgraph.store.memory import InMemoryStore

    settings = shop.settings.model_copy(
        update={"memory": shop.settings.memory.model_copy(update={"enabled": False})}
    )
    with Orchestrator(settings) as orch:
        assert isinstance(orch.long_term_store, InMemoryStore)
        assert orch.services.knowledge is None
