"""Long-term memory and the SOP knowledge base, behind LangGraph's `BaseStore` interface.

- `ChromaStore`: a `BaseStore` on Chroma, embedded (a directory) or a Chroma server by URL;
  any graph compiled with `store=` uses it natively.
- Embeddings: offline all-MiniLM-L6-v2 (int8 ONNX) by default, others pluggable
  (`make_embeddings`).
- Namespaces for customers, products, sales, insights and knowledge (`customer_ns`, ...).
- `KnowledgeBase`: ingest markdown / text SOPs and search them (dense, keyword, hybrid).

chromadb, onnxruntime and bm25s are imported only when a store, an embedder or a search needs
them, never by `import orchestrator`. See docs/memory.md.

Example:
    >>> from orchestrator import Settings
    >>> from orchestrator.memory import KnowledgeBase, builtin_documents
    >>> kb = KnowledgeBase.from_settings(Settings())
    >>> kb.ingest(builtin_documents())
    >>> kb.search("can I send back a kit my son doesn't want?", k=1)[0].source
    'returns-and-refunds.md'
"""

from __future__ import annotations

from orchestrator.memory.embeddings import (
    DEFAULT_EMBEDDING,
    FunctionEmbeddings,
    HashEmbeddings,
    MiniLMOnnxEmbeddings,
    OpenAIEmbeddings,
    make_embeddings,
)
from orchestrator.memory.kb import (
    IngestedFile,
    IngestReport,
    KnowledgeBase,
    KnowledgeHit,
    KnowledgeResult,
    SearchMode,
    builtin_documents,
)
from orchestrator.memory.namespaces import (
    Insight,
    customer_ns,
    insights_ns,
    knowledge_ns,
    product_ns,
    recent_insights,
    record_insight,
    sales_ns,
)
from orchestrator.memory.store import ChromaStore, chroma_client

__all__ = [
    "DEFAULT_EMBEDDING",
    "ChromaStore",
    "FunctionEmbeddings",
    "HashEmbeddings",
    "IngestReport",
    "IngestedFile",
    "Insight",
    "KnowledgeBase",
    "KnowledgeHit",
    "KnowledgeResult",
    "MiniLMOnnxEmbeddings",
    "OpenAIEmbeddings",
    "SearchMode",
    "builtin_documents",
    "chroma_client",
    "customer_ns",
    "insights_ns",
    "knowledge_ns",
    "make_embeddings",
    "product_ns",
    "recent_insights",
    "record_insight",
    "sales_ns",
]
