"""Fixtures for the memory tests: both store implementations, and a knowledge base.

`store` is parametrized over LangGraph's `InMemoryStore` and orchestrator's `ChromaStore`
(an embedded Chroma directory per test), both indexing the `text` field with the lexical
`HashEmbeddings`, so that the behaviour suite asserts the same results from both.
`minilm_kb` ingests the shipped SOP documents once per session with the real offline embedder.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from langgraph.store.base import BaseStore
from langgraph.store.memory import InMemoryStore

from orchestrator.memory import ChromaStore, HashEmbeddings, KnowledgeBase, builtin_documents

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")


def make_store(kind: str, path: Path, *, fields: list[str] | None = None) -> BaseStore:
    """A fresh store of `kind` (`memory` or `chroma`) with the hash embedder."""
    index = {"dims": 384, "embed": HashEmbeddings(), "fields": fields or ["text"]}
    if kind == "memory":
        return InMemoryStore(index=index)  # type: ignore[arg-type]
    return ChromaStore(path=path, index=index)  # type: ignore[arg-type]


@pytest.fixture(params=["memory", "chroma"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BaseStore]:
    """Each behaviour test runs once on InMemoryStore and once on ChromaStore."""
    yield make_store(request.param, tmp_path / "chroma")


@pytest.fixture(scope="session")
def minilm_kb(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    """The shipped SOPs in an embedded Chroma store with the default embedder."""
    from orchestrator.memory import make_embeddings

    path = tmp_path_factory.mktemp("kb") / "chroma"
    store = ChromaStore(
        path=path, index={"embed": make_embeddings("minilm-onnx"), "fields": ["content"]}
    )
    kb = KnowledgeBase(store)
    kb.ingest(builtin_documents())
    return kb
