"""The long-term store and the knowledge base the `Orchestrator` gives graphs, made lazily.

With the `memory` extra installed (and `ORCH_MEMORY__ENABLED`, the default), graphs get a
`ChromaStore` (LangGraph's `BaseStore` on Chroma, `settings.memory`) and tools a
`KnowledgeBase` over the SOP documents; both are opened on first use, so a process whose
graphs never touch memory pays nothing for it. Without the extra: LangGraph's `InMemoryStore`
and no knowledge base (`search_knowledge_base` then refuses, saying so).
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from langgraph.store.base import BaseStore, Op, Result

if TYPE_CHECKING:
    from orchestrator.settings import Settings

__all__ = ["LazyKnowledge", "LazyStore", "default_knowledge", "default_long_term_store"]


def _memory_installed() -> bool:
    return importlib.util.find_spec("chromadb") is not None


class LazyStore(BaseStore):
    """A `BaseStore` that builds the real one on its first operation (thread-safe)."""

    def __init__(self, factory: Callable[[], BaseStore]) -> None:
        self._factory = factory
        self._store: BaseStore | None = None
        self._lock = threading.Lock()

    @property
    def store(self) -> BaseStore:
        """The real store (built now if it was not yet)."""
        if self._store is None:
            with self._lock:
                if self._store is None:
                    self._store = self._factory()
        return self._store

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        return self.store.batch(ops)

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        return await self.store.abatch(ops)


class LazyKnowledge:
    """A knowledge base (`search(query, *, k)`) opened on its first search."""

    def __init__(self, factory: Callable[[], Any]) -> None:
        self._factory = factory
        self._kb: Any = None
        self._lock = threading.Lock()

    def search(self, query: str, *, k: int = 3) -> Sequence[Any]:
        """The `k` passages that best answer `query` (see `KnowledgeBase.search`)."""
        if self._kb is None:
            with self._lock:
                if self._kb is None:
                    self._kb = self._factory()
        return self._kb.search(query, k=k)


def default_long_term_store(settings: Settings) -> BaseStore:
    """Chroma (lazily) when the memory extra is installed and enabled, else in memory."""
    if settings.memory.enabled and _memory_installed():

        def chroma() -> BaseStore:
            from orchestrator.memory import ChromaStore

            return ChromaStore.from_settings(settings)

        return LazyStore(chroma)
    from langgraph.store.memory import InMemoryStore

    return InMemoryStore()


def default_knowledge(settings: Settings) -> LazyKnowledge | None:
    """The SOP knowledge base (lazily) when the memory extra is installed and enabled."""
    if not (settings.memory.enabled and _memory_installed()):
        return None

    def open_kb() -> Any:
        from orchestrator.memory import KnowledgeBase

        return KnowledgeBase.from_settings(settings)

    return LazyKnowledge(open_kb)
