"""The SOP / policy knowledge base: ingest markdown and text, search it by meaning and words.

Documents are split by LangChain's kept splitters (`MarkdownHeaderTextSplitter`, then
`RecursiveCharacterTextSplitter` for long sections); each chunk keeps its headings
(`Returns and refunds > Refunds`) as context, in the text that is embedded and in the hit's
`heading`. Chunks are items of any LangGraph store under `knowledge_ns(collection)`, keyed
`<file name>#<n>`, with the file's sha256: ingesting an unchanged file does nothing, a
changed file's chunks are replaced in one batch, so ingest is idempotent.

Search modes (docs/memory.md has the measured recall of each):

- `dense` (default): the store's vector search (cosine similarity of the offline MiniLM
  embeddings);
- `keyword`: BM25 (the `bm25s` library) over the chunks' headings and text, with English
  stop words and a light suffix stemmer;
- `hybrid`: reciprocal-rank fusion of the two rankings (helps with exact terms: SKUs, codes).

The shipped document set (returns and refunds, shipping and lost parcels, damaged goods,
cancellations, stock adjustments and cycle counts, purchase-order approvals, supplier
escalation, perishables and markdowns, personal data, education accounts) is
`builtin_documents()`.

Example:
    >>> kb = KnowledgeBase(store)
    >>> kb.ingest(builtin_documents()).added
    10
    >>> kb.search("parcel says delivered but never came", k=1)[0].source
    'shipping-and-lost-parcels.md'
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from langgraph.store.base import BaseStore, PutOp
from pydantic import BaseModel, Field

from orchestrator.errors import ConfigError, InvalidInput
from orchestrator.memory.namespaces import knowledge_ns

if TYPE_CHECKING:
    from orchestrator.settings import Settings

__all__ = [
    "IngestReport",
    "IngestedFile",
    "KnowledgeBase",
    "KnowledgeHit",
    "KnowledgeResult",
    "SearchMode",
    "builtin_documents",
    "split_document",
]

SearchMode = Literal["hybrid", "dense", "keyword"]

_SUFFIXES = (".md", ".markdown", ".txt")
_RRF_K = 60
"""Reciprocal-rank fusion constant (Cormack et al. 2009): score = sum 1 / (60 + rank)."""
_MAX_CHUNKS = 100_000


class KnowledgeHit(BaseModel):
    """One passage that answers a query."""

    source: str
    """The document's file name, e.g. `returns-and-refunds.md`."""
    heading: str
    """The headings above the passage, outermost first, joined by ` > `."""
    score: float
    """Higher is better: cosine similarity (dense), BM25 (keyword) or fused rank (hybrid)."""
    text: str
    """The passage."""


class KnowledgeResult(BaseModel):
    """A query and its hits, best first (the shape of `kb search --json`)."""

    query: str
    hits: list[KnowledgeHit] = Field(default_factory=list)


class IngestedFile(BaseModel):
    """What ingest did with one file."""

    source: str
    status: Literal["added", "replaced", "unchanged"]
    chunks: int


class IngestReport(BaseModel):
    """What one `ingest` call did."""

    files: list[IngestedFile] = Field(default_factory=list)

    @property
    def added(self) -> int:
        """Files that were new."""
        return sum(f.status == "added" for f in self.files)

    @property
    def replaced(self) -> int:
        """Files whose chunks were replaced because the file changed."""
        return sum(f.status == "replaced" for f in self.files)

    @property
    def unchanged(self) -> int:
        """Files skipped because they had not changed."""
        return sum(f.status == "unchanged" for f in self.files)


def builtin_documents() -> list[Path]:
    """The SOP and policy documents shipped with orchestrator (package data), sorted."""
    root = resources.files("orchestrator.memory").joinpath("sop")
    return sorted(Path(str(entry)) for entry in root.iterdir() if entry.name.endswith(".md"))


@dataclass(frozen=True, slots=True)
class _Chunk:
    heading: str
    text: str

    @property
    def content(self) -> str:
        # What is embedded and keyword-indexed: the headings give a short chunk its topic.
        return f"{self.heading}\n{self.text}" if self.heading else self.text


def split_document(
    text: str, *, title: str, chunk_size: int = 500, overlap: int = 100
) -> list[_Chunk]:
    """Split markdown (or plain text) into chunks that carry their headings."""
    from langchain_text_splitters import MarkdownHeaderTextSplitter, RecursiveCharacterTextSplitter

    by_heading = MarkdownHeaderTextSplitter(
        headers_to_split_on=[("#", "h1"), ("##", "h2"), ("###", "h3")], strip_headers=True
    ).split_text(text)
    splitter = RecursiveCharacterTextSplitter(chunk_size=chunk_size, chunk_overlap=overlap)
    chunks: list[_Chunk] = []
    for doc in by_heading:
        meta = doc.metadata
        headings = [meta[h] for h in ("h1", "h2", "h3") if meta.get(h)]
        if not headings or headings[0] != meta.get("h1"):
            headings.insert(0, title)
        heading = " > ".join(headings)
        for piece in splitter.split_text(doc.page_content):
            if piece.strip():
                chunks.append(_Chunk(heading, piece.strip()))
    return chunks


_TOKEN = re.compile(r"[a-z0-9]+(?:[.,][0-9]+)?")
_STEM_RULES = (
    ("ies", "y"),
    ("sses", "ss"),
    ("ing", ""),
    ("ed", ""),
    ("es", ""),
    ("s", ""),
)


def _stem(word: str) -> str:
    for suffix, repl in _STEM_RULES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)] + repl
    return word


def _keyword_tokens(texts: Sequence[str]) -> list[list[str]]:
    from bm25s.stopwords import STOPWORDS_EN

    stop = set(STOPWORDS_EN)
    return [
        [_stem(tok) for tok in _TOKEN.findall(text.lower()) if tok not in stop] for text in texts
    ]


class KnowledgeBase:
    """The knowledge base over a LangGraph store (a `ChromaStore` by default).

    Args:
        store: the store holding the chunks; it must have an embedding index for `dense` and
            `hybrid` search (a `ChromaStore` from `from_settings` has).
        collection: which document set (`knowledge_ns(collection)`).
        mode: the default search mode.
        chunk_size: characters per chunk at most.
        chunk_overlap: characters shared by consecutive chunks of one section.
    """

    def __init__(
        self,
        store: BaseStore,
        *,
        collection: str = "sop",
        mode: SearchMode = "dense",
        chunk_size: int = 500,
        chunk_overlap: int = 100,
    ) -> None:
        if mode not in ("hybrid", "dense", "keyword"):
            raise ConfigError(f"mode={mode!r}: use 'hybrid', 'dense' or 'keyword'")
        self.store = store
        self.namespace = knowledge_ns(collection)
        self.mode: SearchMode = mode
        self.chunk_size = chunk_size
        self.chunk_overlap = chunk_overlap

    @classmethod
    def from_settings(cls, settings: Settings, *, mode: SearchMode = "dense") -> KnowledgeBase:
        """A knowledge base in the Chroma store `settings.memory` names.

        Args:
            settings: the settings.
            mode: the default search mode.
        """
        from orchestrator.memory.store import ChromaStore

        return cls(ChromaStore.from_settings(settings, fields=["content"]), mode=mode)

    # -- ingest ---------------------------------------------------------------------------

    def ingest(self, paths: Iterable[str | Path]) -> IngestReport:
        """Ingest markdown and text files (directories: every .md/.markdown/.txt inside).

        A file's chunks are keyed by its file name: an unchanged file is skipped, a changed
        one has all its chunks replaced in one batch.

        Args:
            paths: files or directories.

        Raises:
            InvalidInput: a path does not exist, or is not markdown or text.
        """
        report = IngestReport()
        for path in _expand(paths):
            text = path.read_text(encoding="utf-8")
            digest = hashlib.sha256(text.encode()).hexdigest()
            existing = self.store.search(
                self.namespace, filter={"source": path.name}, limit=_MAX_CHUNKS
            )
            if existing and all(hit.value.get("sha256") == digest for hit in existing):
                report.files.append(
                    IngestedFile(source=path.name, status="unchanged", chunks=len(existing))
                )
                continue
            title = _title(text, path)
            chunks = split_document(
                text, title=title, chunk_size=self.chunk_size, overlap=self.chunk_overlap
            )
            ops: list[PutOp] = [PutOp(self.namespace, hit.key, None) for hit in existing]
            keep = {f"{path.name}#{i:03d}" for i in range(len(chunks))}
            ops = [op for op in ops if op.key not in keep]
            for i, chunk in enumerate(chunks):
                ops.append(
                    PutOp(
                        self.namespace,
                        f"{path.name}#{i:03d}",
                        {
                            "source": path.name,
                            "title": title,
                            "heading": chunk.heading,
                            "text": chunk.text,
                            "content": chunk.content,
                            "chunk": i,
                            "sha256": digest,
                        },
                        index=["content"],
                    )
                )
            self.store.batch(ops)
            report.files.append(
                IngestedFile(
                    source=path.name,
                    status="replaced" if existing else "added",
                    chunks=len(chunks),
                )
            )
        return report

    def sources(self) -> list[str]:
        """The file names ingested so far, sorted."""
        return sorted({str(c["source"]) for c in self._corpus()})

    # -- search ---------------------------------------------------------------------------

    def search(
        self, query: str, *, k: int = 3, mode: SearchMode | None = None
    ) -> list[KnowledgeHit]:
        """The `k` passages that best answer `query`, best first.

        Args:
            query: a question, in the customer's or staff's own words.
            k: how many passages (1-50).
            mode: `hybrid`, `dense` or `keyword`; default the knowledge base's.

        Raises:
            InvalidInput: an empty query or k outside 1-50.
        """
        return self.search_many([query], k=k, mode=mode)[0].hits

    def search_many(
        self, queries: Sequence[str], *, k: int = 3, mode: SearchMode | None = None
    ) -> list[KnowledgeResult]:
        """`search` for several queries, in input order (the corpus is read once).

        Args:
            queries: the questions.
            k: passages per question (1-50).
            mode: `hybrid`, `dense` or `keyword`; default the knowledge base's.
        """
        mode = mode or self.mode
        if not 1 <= k <= 50:
            raise InvalidInput("k", k, "ask for 1 to 50 passages")
        for query in queries:
            if not query.strip():
                raise InvalidInput("query", query, "the query is empty")
        corpus = self._corpus()
        if not corpus:
            return [KnowledgeResult(query=q) for q in queries]
        by_key = {c["__key"]: c for c in corpus}
        depth = max(k, 20)
        results: list[KnowledgeResult] = []
        keyword = self._keyword_ranker(corpus) if mode != "dense" else None
        for query in queries:
            dense: list[tuple[str, float]] = []
            if mode != "keyword":
                dense = [
                    (hit.key, float(hit.score))
                    for hit in self.store.search(self.namespace, query=query, limit=depth)
                    if hit.score is not None
                ]
            words = keyword(query, depth) if keyword is not None else []
            if mode == "dense":
                ranked = dense[:k]
            elif mode == "keyword":
                ranked = words[:k]
            else:
                ranked = _fuse([dense, words])[:k]
            results.append(
                KnowledgeResult(
                    query=query,
                    hits=[
                        KnowledgeHit(
                            source=str(by_key[key]["source"]),
                            heading=str(by_key[key]["heading"]),
                            score=round(score, 6),
                            text=str(by_key[key]["text"]),
                        )
                        for key, score in ranked
                        if key in by_key
                    ],
                )
            )
        return results

    # -- internals ------------------------------------------------------------------------

    def _corpus(self) -> list[dict[str, Any]]:
        items = self.store.search(self.namespace, limit=_MAX_CHUNKS)
        corpus = [{**item.value, "__key": item.key} for item in items]
        corpus.sort(key=lambda c: c["__key"])
        return corpus

    def _keyword_ranker(self, corpus: list[dict[str, Any]]) -> Any:
        import bm25s
        import numpy as np

        tokens = _keyword_tokens([str(c["content"]) for c in corpus])
        retriever = bm25s.BM25()
        retriever.index(tokens, show_progress=False)
        keys = [c["__key"] for c in corpus]

        def rank(query: str, depth: int) -> list[tuple[str, float]]:
            (q,) = _keyword_tokens([query])
            if not q:
                return []
            scores = retriever.get_scores(q)
            order = np.argsort(-scores, kind="stable")[:depth]
            return [(keys[i], float(scores[i])) for i in order if scores[i] > 0]

        return rank


def _fuse(rankings: Sequence[Sequence[tuple[str, float]]]) -> list[tuple[str, float]]:
    fused: dict[str, float] = {}
    for ranking in rankings:
        for rank, (key, _score) in enumerate(ranking, start=1):
            fused[key] = fused.get(key, 0.0) + 1.0 / (_RRF_K + rank)
    return sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))


def _title(text: str, path: Path) -> str:
    for line in text.splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return path.stem.replace("-", " ").replace("_", " ").capitalize()


def _expand(paths: Iterable[str | Path]) -> list[Path]:
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.suffix.lower() in _SUFFIXES))
        elif path.is_file():
            if path.suffix.lower() not in _SUFFIXES:
                raise InvalidInput(
                    "path", str(path), "only markdown (.md, .markdown) and text (.txt) are ingested"
                )
            files.append(path)
        else:
            raise InvalidInput("path", str(path), "no such file or directory")
    return files
