"""`ChromaStore`: LangGraph's `BaseStore` on Chroma, embedded (a directory) or a server.

Any graph compiled with `store=ChromaStore(...)` reads and writes long-term memory through
LangGraph's own interface (`runtime.store.put/get/search/delete/list_namespaces`, the async
twins, `batch`/`abatch`), and behaves as LangGraph's `InMemoryStore` does: the same behaviour
suite runs over both (tests/memory/test_store_behaviour.py).

Layout: two Chroma collections per `collection_prefix`:

- `<prefix>_items`: one record per item. The id is a hash of (namespace, key); the document
  is the value as JSON; metadata hold the key, the namespace labels (`ns_0`, `ns_1`, ... and
  `ns_depth`, so that a namespace prefix is a Chroma `where`), the times and the TTL. Chroma
  wants a vector for every record: items carry a one-dimensional placeholder.
- `<prefix>_vectors`: one record per embedded field of an item (`IndexConfig["fields"]`, or
  the `index=` of a put), with its text as the document. A query is embedded once, Chroma
  ranks the vectors (cosine), and an item's score is its best field's similarity (max
  pooling, as `InMemoryStore`).

Filters (`{"status": "open"}`, `{"score": {"$gte": 3}}`, nested dicts) are evaluated in Python
over the namespace prefix's items with the same semantics as `InMemoryStore`, since Chroma
metadata cannot hold nested JSON.

TTL (`supports_ttl = True`): `put(..., ttl=minutes)` (or `TTLConfig.default_ttl`) sets an
expiry that reads refresh (`refresh_on_read`, default True); expired items are never returned
and are deleted by `sweep_ttl()`, which a batch runs by itself every
`TTLConfig.sweep_interval_minutes`.

Concurrency: the embedded client (`path=`) keeps its state in one process; several processes
writing the same directory can corrupt it. Use a Chroma server (`chroma run --path DIR`,
`url=`) for several writers.

Example:
    >>> from orchestrator.memory import ChromaStore, make_embeddings
    >>> store = ChromaStore(path=".orchestrator/chroma",
    ...                     index={"embed": make_embeddings("minilm-onnx"), "fields": ["text"]})
    >>> store.put(("customers", "42", "preferences"), "contact", {"text": "prefers email"})
    >>> store.search(("customers", "42"), query="how to reach them")[0].key
    'contact'
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from langgraph.store.base import (
    BaseStore,
    GetOp,
    IndexConfig,
    Item,
    ListNamespacesOp,
    MatchCondition,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
    TTLConfig,
    ensure_embeddings,
    get_text_at_path,
    tokenize_path,
    validate_op_namespace,
)

from orchestrator.errors import ConfigError

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

    from orchestrator.settings import Settings

__all__ = ["ChromaStore", "chroma_client"]

_SEP = "\x1f"


def chroma_client(*, path: str | Path | None = None, url: str | None = None) -> Any:
    """A Chroma client: a server by URL (`http://host:8000`), else embedded in `path`.

    Telemetry is off. chromadb is imported here, never by `import orchestrator`.

    Args:
        path: the embedded client's directory (created if missing).
        url: a Chroma server's URL; wins over `path`.

    Raises:
        ConfigError: chromadb is not installed, or neither path nor url is given.
    """
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    try:
        import chromadb
        from chromadb.config import Settings as ChromaSettings
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ConfigError(
            "memory needs chromadb: pip install 'commerce-orchestrator[memory]'"
        ) from exc
    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if url:
        parsed = urlparse(url if "://" in url else f"http://{url}")
        if not parsed.hostname:
            raise ConfigError(f"ORCH_MEMORY__SERVER_URL={url!r} has no host: use http://host:port")
        return chromadb.HttpClient(
            host=parsed.hostname,
            port=parsed.port or 8000,
            ssl=parsed.scheme == "https",
            settings=chroma_settings,
        )
    if path is None:
        raise ConfigError("chroma_client needs path= (embedded) or url= (a Chroma server)")
    Path(path).mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=chroma_settings)


def _item_id(namespace: tuple[str, ...], key: str) -> str:
    return hashlib.sha256(json.dumps([list(namespace), key]).encode()).hexdigest()[:40]


def _ns_meta(namespace: tuple[str, ...]) -> dict[str, Any]:
    meta: dict[str, Any] = {"ns_depth": len(namespace), "ns": _SEP.join(namespace)}
    for i, label in enumerate(namespace):
        meta[f"ns_{i}"] = label
    return meta


def _prefix_where(prefix: tuple[str, ...], extra: list[dict[str, Any]] | None = None) -> Any:
    clauses: list[dict[str, Any]] = [{f"ns_{i}": label} for i, label in enumerate(prefix)]
    clauses.extend(extra or [])
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def _placeholder(item_id: str) -> list[float]:
    # Items need a vector; spread the placeholders so Chroma's HNSW index never sees a
    # collection of identical points.
    return [int(item_id[:8], 16) / 0xFFFFFFFF]


def _dt(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


class ChromaStore(BaseStore):
    """LangGraph's `BaseStore` backed by Chroma (see the module docstring).

    Args:
        client: a Chroma client to use (see `chroma_client`); else one is made from `path`
            or `url`.
        path: an embedded Chroma directory (one process writes it).
        url: a Chroma server (`chroma run`) for several processes.
        index: LangGraph's `IndexConfig`: `embed` (an `Embeddings`, a function, or a
            LangChain provider string) and `fields` (default `["$"]`, the whole value).
            Without it the store does not embed, and `search(query=...)` returns filtered
            items unranked, as `InMemoryStore` does.
        ttl: LangGraph's `TTLConfig` (`default_ttl`, `refresh_on_read`,
            `sweep_interval_minutes`).
        collection_prefix: the two collections' name prefix.

    Raises:
        ConfigError: chromadb is missing, or the vectors collection was built with another
            embedder than `index["embed"]` (vectors of two models cannot be compared).
    """

    supports_ttl = True

    def __init__(
        self,
        *,
        client: Any = None,
        path: str | Path | None = None,
        url: str | None = None,
        index: IndexConfig | None = None,
        ttl: TTLConfig | None = None,
        collection_prefix: str = "orch",
    ) -> None:
        self.client = client if client is not None else chroma_client(path=path, url=url)
        self.ttl_config = ttl
        self.collection_prefix = collection_prefix
        self.embeddings: Embeddings | None = None
        self.index_config: dict[str, Any] | None = None
        if index:
            self.index_config = dict(index)
            self.embeddings = ensure_embeddings(index.get("embed"))
            self.index_config["__tokenized_fields"] = [
                (p, tokenize_path(p)) if p != "$" else (p, p)
                for p in (index.get("fields") or ["$"])
            ]
        self._items = self.client.get_or_create_collection(
            f"{collection_prefix}_items", embedding_function=None
        )
        self._vectors: Any = None
        if self.embeddings is not None:
            name = _embedder_name(self.embeddings)
            self._vectors = self.client.get_or_create_collection(
                f"{collection_prefix}_vectors",
                embedding_function=None,
                configuration={"hnsw": {"space": "cosine"}},
                metadata={"embedder": name},
            )
            built_with = (self._vectors.metadata or {}).get("embedder")
            if built_with and built_with != name:
                raise ConfigError(
                    f"Chroma collection {collection_prefix}_vectors holds vectors of {built_with!r}, "
                    f"not of {name!r}: use another ORCH_MEMORY__COLLECTION_PREFIX, or delete "
                    "the collection and ingest again"
                )
        self._lock = threading.RLock()
        self._last_sweep = time.time()

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        embeddings: Embeddings | None = None,
        fields: Sequence[str] | None = None,
        ttl: TTLConfig | None = None,
    ) -> ChromaStore:
        """The store `settings.memory` describes: a server if `server_url`, else `path`.

        Args:
            settings: the settings.
            embeddings: the embedder; default `make_embeddings(settings=settings)`.
            fields: the fields to embed; default the whole value.
            ttl: TTL behaviour.
        """
        from orchestrator.memory.embeddings import make_embeddings

        emb = embeddings if embeddings is not None else make_embeddings(settings=settings)
        index: IndexConfig = {"embed": emb, "fields": list(fields or ["$"])}
        dims = getattr(emb, "dims", None)
        if dims:
            index["dims"] = dims
        memory = settings.memory
        return cls(
            path=None if memory.server_url else memory.path,
            url=memory.server_url,
            index=index,
            ttl=ttl,
            collection_prefix=memory.collection_prefix,
        )

    # -- BaseStore ------------------------------------------------------------------------

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Run get, search, put and list-namespaces operations (puts apply after the reads)."""
        with self._lock:
            ops = list(ops)
            self._maybe_sweep()
            results: list[Result] = []
            puts: dict[tuple[tuple[str, ...], str], PutOp] = {}
            searches: list[tuple[int, SearchOp]] = []
            for op in ops:
                validate_op_namespace(op)
                if isinstance(op, GetOp):
                    results.append(self._get(op))
                elif isinstance(op, SearchOp):
                    searches.append((len(results), op))
                    results.append(None)
                elif isinstance(op, ListNamespacesOp):
                    results.append(self._list_namespaces(op))
                elif isinstance(op, PutOp):
                    puts[(op.namespace, op.key)] = op
                    results.append(None)
                else:
                    raise ValueError(f"Unknown operation type: {type(op)}")
            if searches:
                queries = list({op.query for _, op in searches if op.query})
                vectors: dict[str, list[float]] = {}
                if queries and self.embeddings is not None:
                    vectors = dict(
                        zip(queries, self.embeddings.embed_documents(queries), strict=True)
                    )
                for i, op in searches:
                    results[i] = self._search(op, vectors.get(op.query or ""))
            if puts:
                self._apply_puts(list(puts.values()))
            return results

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """`batch` in a worker thread (Chroma's client is synchronous)."""
        return await asyncio.get_running_loop().run_in_executor(None, self.batch, list(ops))

    # -- maintenance ----------------------------------------------------------------------

    def sweep_ttl(self) -> int:
        """Delete every expired item (and its vectors); returns how many items went."""
        with self._lock:
            now = time.time()
            got = self._items.get(where={"expires_at": {"$lte": now}}, include=[])
            ids = list(got["ids"])
            if ids:
                self._items.delete(ids=ids)
                if self._vectors is not None:
                    self._vectors.delete(where={"item_id": {"$in": ids}})
            self._last_sweep = now
            return len(ids)

    def count(self) -> int:
        """How many items the store holds (expired ones not yet swept included)."""
        return int(self._items.count())

    # -- internals ------------------------------------------------------------------------

    def _maybe_sweep(self) -> None:
        interval = (self.ttl_config or {}).get("sweep_interval_minutes")
        if interval and time.time() - self._last_sweep >= interval * 60:
            self.sweep_ttl()

    def _refresh_default(self) -> bool:
        return bool((self.ttl_config or {}).get("refresh_on_read", True))

    def _to_item(self, meta: Mapping[str, Any], document: str) -> Item:
        namespace = tuple(str(meta["ns"]).split(_SEP)) if meta.get("ns") else ()
        return Item(
            value=json.loads(document),
            key=str(meta["key"]),
            namespace=namespace,
            created_at=_dt(float(meta["created_at"])),
            updated_at=_dt(float(meta["updated_at"])),
        )

    def _live(self, meta: Mapping[str, Any], now: float) -> bool:
        expires = meta.get("expires_at")
        return expires is None or float(expires) > now

    def _refresh(self, ids: list[str], metas: list[Mapping[str, Any]], now: float) -> None:
        touched_ids, touched = [], []
        for item_id, meta in zip(ids, metas, strict=True):
            minutes = meta.get("ttl_minutes")
            if minutes is not None:
                new = dict(meta)
                new["expires_at"] = now + float(minutes) * 60
                touched_ids.append(item_id)
                touched.append(new)
        if touched_ids:
            self._items.update(ids=touched_ids, metadatas=touched)

    def _get(self, op: GetOp) -> Item | None:
        item_id = _item_id(op.namespace, op.key)
        got = self._items.get(ids=[item_id], include=["metadatas", "documents"])
        if not got["ids"]:
            return None
        meta, doc = got["metadatas"][0], got["documents"][0]
        now = time.time()
        if not self._live(meta, now):
            return None
        if op.refresh_ttl:
            self._refresh([item_id], [meta], now)
        return self._to_item(meta, doc)

    def _candidates(self, op: SearchOp) -> list[tuple[str, Mapping[str, Any], str]]:
        where = _prefix_where(op.namespace_prefix)
        got = self._items.get(where=where, include=["metadatas", "documents"])
        now = time.time()
        out = []
        for item_id, meta, doc in zip(got["ids"], got["metadatas"], got["documents"], strict=True):
            if not self._live(meta, now):
                continue
            if len(op.namespace_prefix) and int(meta["ns_depth"]) < len(op.namespace_prefix):
                continue
            if op.filter:
                value = json.loads(doc)
                if not all(_compare_values(value.get(k), v) for k, v in op.filter.items()):
                    continue
            out.append((item_id, meta, doc))
        return out

    def _search(self, op: SearchOp, query_vector: list[float] | None) -> list[SearchItem]:
        candidates = self._candidates(op)
        if not candidates:
            return []
        if not op.query or query_vector is None or self._vectors is None:
            # No ranking: newest first.
            candidates.sort(key=lambda c: float(c[1]["updated_at"]), reverse=True)
            page = candidates[op.offset : op.offset + op.limit]
            if op.refresh_ttl:
                self._refresh([c[0] for c in page], [c[1] for c in page], time.time())
            return [self._search_item(meta, doc, None) for _, meta, doc in page]
        by_id = {item_id: (meta, doc) for item_id, meta, doc in candidates}
        where: Any = {"item_id": {"$in": list(by_id)}}
        total = int(self._vectors.count())
        scores: dict[str, float] = {}
        if total:
            hits = self._vectors.query(
                query_embeddings=[query_vector],
                n_results=total,
                where=where,
                include=["metadatas", "distances"],
            )
            for meta, distance in zip(hits["metadatas"][0], hits["distances"][0], strict=True):
                item_id = str(meta["item_id"])
                score = 1.0 - float(distance)
                if score > scores.get(item_id, float("-inf")):
                    scores[item_id] = score
        ranked = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)
        kept: list[tuple[str, float | None]] = [
            (item_id, score) for item_id, score in ranked[op.offset : op.offset + op.limit]
        ]
        if len(kept) < op.limit:
            scoreless = [item_id for item_id in by_id if item_id not in scores]
            kept.extend((item_id, None) for item_id in scoreless[: op.limit - len(kept)])
        if op.refresh_ttl:
            self._refresh([i for i, _ in kept], [by_id[i][0] for i, _ in kept], time.time())
        return [self._search_item(by_id[i][0], by_id[i][1], score) for i, score in kept]

    def _search_item(self, meta: Mapping[str, Any], doc: str, score: float | None) -> SearchItem:
        item = self._to_item(meta, doc)
        return SearchItem(
            namespace=item.namespace,
            key=item.key,
            value=item.value,
            created_at=item.created_at,
            updated_at=item.updated_at,
            score=score,
        )

    def _list_namespaces(self, op: ListNamespacesOp) -> list[tuple[str, ...]]:
        prefix: tuple[str, ...] = ()
        for cond in op.match_conditions or ():
            if cond.match_type == "prefix" and "*" not in cond.path:
                prefix = tuple(cond.path)
                break
        got = self._items.get(where=_prefix_where(prefix), include=["metadatas"])
        now = time.time()
        namespaces = {
            tuple(str(meta["ns"]).split(_SEP)) for meta in got["metadatas"] if self._live(meta, now)
        }
        if op.match_conditions:
            namespaces = {
                ns for ns in namespaces if all(_does_match(c, ns) for c in op.match_conditions)
            }
        if op.max_depth is not None:
            namespaces = {ns[: op.max_depth] for ns in namespaces}
        return sorted(namespaces)[op.offset : op.offset + op.limit]

    def _texts(self, op: PutOp) -> list[tuple[str, str]]:
        if self.index_config is None or op.value is None or op.index is False:
            return []
        if op.index is None:
            paths = self.index_config["__tokenized_fields"]
        else:
            paths = [(ix, tokenize_path(ix)) for ix in op.index]
        out: list[tuple[str, str]] = []
        for path, field in paths:
            texts = get_text_at_path(op.value, field)
            if len(texts) > 1:
                out.extend((f"{path}.{i}", text) for i, text in enumerate(texts))
            elif texts:
                out.append((path, texts[0]))
        return out

    def _apply_puts(self, puts: list[PutOp]) -> None:
        ids = [_item_id(op.namespace, op.key) for op in puts]
        existing = self._items.get(ids=ids, include=["metadatas"])
        created = {
            item_id: float(meta["created_at"])
            for item_id, meta in zip(existing["ids"], existing["metadatas"], strict=True)
        }
        deletes = [item_id for item_id, op in zip(ids, puts, strict=True) if op.value is None]
        if deletes:
            self._items.delete(ids=deletes)
        if self._vectors is not None and existing["ids"]:
            self._vectors.delete(where={"item_id": {"$in": list(existing["ids"])}})
        now = time.time()
        up_ids, up_docs, up_metas, up_embs = [], [], [], []
        embed_rows: list[tuple[str, str, str, tuple[str, ...]]] = []
        for item_id, op in zip(ids, puts, strict=True):
            if op.value is None:
                continue
            meta = _ns_meta(op.namespace)
            meta.update(
                key=op.key,
                created_at=created.get(item_id, now),
                updated_at=now,
            )
            ttl = op.ttl
            if ttl is not None:
                meta["ttl_minutes"] = float(ttl)
                meta["expires_at"] = now + float(ttl) * 60
            up_ids.append(item_id)
            up_docs.append(json.dumps(dict(op.value), ensure_ascii=False, default=str))
            up_metas.append(meta)
            up_embs.append(_placeholder(item_id))
            embed_rows.extend((item_id, path, text, op.namespace) for path, text in self._texts(op))
        if up_ids:
            self._items.upsert(
                ids=up_ids, documents=up_docs, metadatas=up_metas, embeddings=up_embs
            )
        if embed_rows and self.embeddings is not None and self._vectors is not None:
            vectors = self.embeddings.embed_documents([row[2] for row in embed_rows])
            self._vectors.upsert(
                ids=[f"{item_id}:{path}" for item_id, path, _, _ in embed_rows],
                embeddings=[list(map(float, v)) for v in vectors],
                documents=[text for _, _, text, _ in embed_rows],
                metadatas=[
                    {"item_id": item_id, "path": path, **_ns_meta(ns)}
                    for item_id, path, _, ns in embed_rows
                ],
            )


def _embedder_name(embeddings: Any) -> str:
    kind = type(embeddings).__name__
    model = getattr(embeddings, "model", None)
    return f"{kind}:{model}" if isinstance(model, str) else kind


def _does_match(condition: MatchCondition, namespace: tuple[str, ...]) -> bool:
    path = condition.path
    if len(namespace) < len(path):
        return False
    pairs = (
        zip(namespace, path, strict=False)
        if condition.match_type == "prefix"
        else zip(reversed(namespace), reversed(path), strict=False)
    )
    return all(p == "*" or k == p for k, p in pairs)


def _compare_values(item_value: Any, filter_value: Any) -> bool:
    # The filter semantics of LangGraph's InMemoryStore (JSONB-like, with $ operators).
    if isinstance(filter_value, dict):
        if any(k.startswith("$") for k in filter_value):
            return all(_apply_operator(item_value, k, v) for k, v in filter_value.items())
        if not isinstance(item_value, dict):
            return False
        return all(_compare_values(item_value.get(k), v) for k, v in filter_value.items())
    if isinstance(filter_value, list | tuple):
        return (
            isinstance(item_value, list | tuple)
            and len(item_value) == len(filter_value)
            and all(_compare_values(i, f) for i, f in zip(item_value, filter_value, strict=True))
        )
    return bool(item_value == filter_value)


def _apply_operator(value: Any, operator: str, operand: Any) -> bool:
    if operator == "$eq":
        return bool(value == operand)
    if operator == "$ne":
        return bool(value != operand)
    if operator in ("$gt", "$gte", "$lt", "$lte"):
        if value is None:
            return False
        a, b = float(value), float(operand)
        return {"$gt": a > b, "$gte": a >= b, "$lt": a < b, "$lte": a <= b}[operator]
    raise ValueError(f"Unsupported operator: {operator}")
