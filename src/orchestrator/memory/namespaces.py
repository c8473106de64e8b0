"""Where long-term memory lives: one namespace family per kind of memory.

| namespace | holds | written by |
| --- | --- | --- |
| `("customers", "<id>", "preferences")` | what a customer prefers (channel, delivery slot, school account), keyed by topic | the support graph |
| `("customers", "<id>", "issues")` | outcomes of past conversations, one item per issue | the support graph |
| `("products", "<sku>")` | notes about a product: recurring faults, substitutes, supplier remarks | support, procurement |
| `("sales", "<location>")` | observations about demand at a location (a promotion's effect, a season) | tuning, review |
| `("insights", "<topic>")` | what a run changed and why (`tuning`, `pricing`, `audit`, `review`) | graphs and crews |
| `("knowledge", "<collection>")` | the SOP / policy knowledge base's chunks | `orchestrator kb ingest` |

Customer memory is keyed by customer number only: no e-mail address, phone number or postal
address goes into memory (docs/memory.md, *Personal data*).

Example:
    >>> customer_ns(42, "preferences")
    ('customers', '42', 'preferences')
    >>> insights_ns("pricing")
    ('insights', 'pricing')
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from orchestrator.errors import ConfigError

if TYPE_CHECKING:
    from langgraph.store.base import BaseStore

__all__ = [
    "CUSTOMERS",
    "INSIGHTS",
    "KNOWLEDGE",
    "PRODUCTS",
    "SALES",
    "CustomerMemoryKind",
    "Insight",
    "InsightTopic",
    "customer_ns",
    "insights_ns",
    "knowledge_ns",
    "product_ns",
    "recent_insights",
    "record_insight",
    "sales_ns",
]

CUSTOMERS = "customers"
PRODUCTS = "products"
SALES = "sales"
INSIGHTS = "insights"
KNOWLEDGE = "knowledge"

CustomerMemoryKind = Literal["preferences", "issues"]
InsightTopic = Literal["tuning", "pricing", "audit", "review"]


def _label(value: object, what: str) -> str:
    label = str(value)
    if not label or "." in label or "\x00" in label:
        raise ConfigError(f"{what} {value!r} cannot be a namespace label (empty, '.' or NUL)")
    return label


def customer_ns(customer_id: int, kind: CustomerMemoryKind = "preferences") -> tuple[str, ...]:
    """A customer's memory namespace.

    Args:
        customer_id: the customer's number (never an e-mail address).
        kind: `preferences` or `issues`.
    """
    if isinstance(customer_id, bool) or not isinstance(customer_id, int) or customer_id < 1:
        raise ConfigError(f"customer_id={customer_id!r}: use the customer's positive number")
    return (CUSTOMERS, str(customer_id), kind)


def product_ns(sku: str) -> tuple[str, ...]:
    """A product's notes.

    Args:
        sku: the product's SKU.
    """
    return (PRODUCTS, _label(sku, "sku"))


def sales_ns(location: str) -> tuple[str, ...]:
    """Demand observations for a location (`WH-MAIN`, ...).

    Args:
        location: the location code.
    """
    return (SALES, _label(location, "location"))


def insights_ns(topic: InsightTopic | str) -> tuple[str, ...]:
    """Insights written by runs about one topic.

    Args:
        topic: `tuning`, `pricing`, `audit`, `review`, or your own.
    """
    return (INSIGHTS, _label(topic, "topic"))


def knowledge_ns(collection: str = "sop") -> tuple[str, ...]:
    """The knowledge base's chunks.

    Args:
        collection: which document set; `sop` is the shipped one.
    """
    return (KNOWLEDGE, _label(collection, "collection"))


class Insight(BaseModel):
    """What a run found or changed, and why; searchable by later runs and analysts."""

    topic: str
    """`tuning`, `pricing`, `audit`, `review`, ..."""
    text: str = Field(min_length=1, max_length=2000)
    """The insight in one or two sentences (embedded for search)."""
    source: str
    """Which graph, crew or run wrote it."""
    skus: list[str] = Field(default_factory=list)
    """The SKUs it concerns, if any."""
    data: dict[str, Any] = Field(default_factory=dict)
    """Figures behind it (JSON)."""
    at: datetime = Field(default_factory=lambda: datetime.now(UTC))


def record_insight(store: BaseStore, insight: Insight, *, key: str | None = None) -> str:
    """Store an insight under `insights_ns(insight.topic)`; returns its key.

    Args:
        store: any LangGraph store.
        insight: the insight.
        key: a stable key (a run id) to overwrite on re-run; default topic + time.
    """
    item_key = key or f"{insight.source}-{insight.at.strftime('%Y%m%dT%H%M%S%f')}"
    store.put(
        insights_ns(insight.topic),
        item_key,
        insight.model_dump(mode="json"),
        index=["text"],
    )
    return item_key


def recent_insights(
    store: BaseStore, query: str | None = None, *, topic: str | None = None, limit: int = 5
) -> list[Insight]:
    """Insights relevant to `query` (or the newest), across topics or within one.

    Args:
        store: any LangGraph store.
        query: what the insights should be about; None for the newest.
        topic: only this topic.
        limit: at most this many.
    """
    prefix = insights_ns(topic) if topic else (INSIGHTS,)
    hits = store.search(prefix, query=query, limit=limit)
    if query is None:
        hits = sorted(hits, key=lambda h: str(h.value.get("at", "")), reverse=True)
    return [Insight.model_validate(hit.value) for hit in hits]
