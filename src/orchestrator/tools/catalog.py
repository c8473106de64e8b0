"""Catalogue tools: search products, look one up, find similar ones."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Annotated, Any

from pydantic import Field

from orchestrator.errors import InvalidInput
from orchestrator.tools._core import ToolContext, tool
from orchestrator.tools.types import (
    ProductInfo,
    ProductList,
    SimilarProduct,
    SimilarProducts,
    Sku,
)

__all__ = [
    "TOOLS",
    "get_product_info",
    "get_similar_products",
    "rank_similar",
    "search_products",
]

_PRICE = Annotated[int, Field(ge=0, le=100_000_000)]


@tool(access="read", scope="catalog")
def search_products(
    ctx: ToolContext,
    query: Annotated[str, Field(max_length=200)] = "",
    category: Annotated[str, Field(max_length=64)] | None = None,
    min_price_cents: _PRICE | None = None,
    max_price_cents: _PRICE | None = None,
    limit: Annotated[int, Field(ge=1, le=100)] = 20,
) -> ProductList:
    """Search the catalogue by words in the name or description, category and price range.

    Args:
        query: words to look for in the name, SKU or description; empty matches everything.
        category: only this category (exact name).
        min_price_cents: lowest price, in cents.
        max_price_cents: highest price, in cents.
        limit: at most this many products (1-100).
    """
    if (
        min_price_cents is not None
        and max_price_cents is not None
        and min_price_cents > max_price_cents
    ):
        raise InvalidInput(
            "min_price_cents", min_price_cents, f"above max_price_cents={max_price_cents}"
        )
    views = ctx.service.search_products(
        query,
        category=category,
        min_price_cents=min_price_cents,
        max_price_cents=max_price_cents,
        limit=limit,
    )
    products = [ProductInfo.from_view(v) for v in views]
    return ProductList(products=products, count=len(products))


@tool(access="read", scope="catalog")
def get_product_info(ctx: ToolContext, sku: Sku) -> ProductInfo:
    """Get one product's details, price and units available across all locations.

    Args:
        sku: the product's SKU, e.g. "ARD-UNO-R3".
    """
    view = ctx.service.get_product(sku)
    levels = ctx.service.get_stock(sku)
    available = sum(level.available for level in _as_list(levels))
    return ProductInfo.from_view(view, available_units=max(available, 0))


def rank_similar(reference: Any, candidates: Iterable[Any], limit: int = 5) -> list[SimilarProduct]:
    """Rank products by likeness to `reference`: same category, shared attributes, near price.

    Pure: candidates in another category, inactive ones and the reference itself are dropped;
    the rest sort by more shared attribute values first, then smaller price difference, then
    SKU (so ties are deterministic).

    Args:
        reference: the product to match (a `ProductView` or anything with the same fields).
        candidates: products to choose from.
        limit: at most this many.
    """
    ref_attrs = dict(reference.attributes or {})
    scored: list[tuple[int, int, str, SimilarProduct]] = []
    for cand in candidates:
        if cand.sku == reference.sku or cand.category != reference.category or not cand.active:
            continue
        shared = {
            key: value
            for key, value in (cand.attributes or {}).items()
            if key in ref_attrs and ref_attrs[key] == value
        }
        diff = cand.price_cents - reference.price_cents
        scored.append(
            (
                -len(shared),
                abs(diff),
                cand.sku,
                SimilarProduct(
                    product=ProductInfo.from_view(cand),
                    shared_attributes=shared,
                    price_difference_cents=diff,
                ),
            )
        )
    scored.sort(key=lambda item: item[:3])
    return [item[3] for item in scored[:limit]]


@tool(access="read", scope="catalog")
def get_similar_products(
    ctx: ToolContext, sku: Sku, limit: Annotated[int, Field(ge=1, le=20)] = 5
) -> SimilarProducts:
    """Find products like a given one: same category, shared attributes, nearest price.

    Args:
        sku: the product to find alternatives for.
        limit: at most this many alternatives (1-20).
    """
    reference = ctx.service.get_product(sku)
    candidates = ctx.service.search_products("", category=reference.category, limit=500)
    return SimilarProducts(sku=sku, similar=rank_similar(reference, candidates, limit))


def _as_list(value: Any) -> Sequence[Any]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return value
    return [value]


TOOLS = [search_products, get_product_info, get_similar_products]
