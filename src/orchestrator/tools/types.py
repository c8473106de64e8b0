"""Argument types and result models shared by the tools.

Argument types carry their limits in the JSON schema the model reads (a quantity is a
positive integer up to `MAX_QTY`, a SKU matches `SKU_PATTERN`), so a bad value is refused as
`InvalidInput` naming the field before anything reaches the store.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field

from orchestrator.store.services.views import (
    IntegrationTxnView,
    OrderView,
    StockView,
    SupplierOfferView,
    SupplierView,
)
from orchestrator.tools._core import StrictBoolArgs

__all__ = [
    "MAX_QTY",
    "SKU_PATTERN",
    "CustomerOrders",
    "Id",
    "IntegrationTxnList",
    "InventoryReport",
    "LocationCode",
    "LowStockReport",
    "OrderLineArg",
    "POLineArg",
    "ProductInfo",
    "ProductList",
    "Qty",
    "Reason",
    "ReceiptLineArg",
    "ReturnLineArg",
    "SimilarProduct",
    "SimilarProducts",
    "Sku",
    "SupplierList",
    "SupplierOffers",
]

MAX_QTY = 100_000
"""The largest quantity any tool accepts in one call; more is refused as absurd."""

SKU_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/#@+-]{0,63}$"

Sku = Annotated[
    str,
    Field(min_length=1, max_length=64, pattern=SKU_PATTERN, examples=["ARD-UNO-R3"]),
]
"""A product SKU: letters, digits, `.`, `_`, `/`, `-`; at most 64 characters."""

LocationCode = Annotated[
    str,
    Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/#@+-]{0,31}$"),
]
"""A location code such as `WH-MAIN`."""

Id = Annotated[int, Field(gt=0, le=2**31 - 1)]
"""A positive integer id (the store's ids are 32-bit)."""

Qty = Annotated[int, Field(gt=0, le=MAX_QTY)]
"""A positive quantity of units, at most `MAX_QTY`."""

Reason = Annotated[str, Field(min_length=3, max_length=500)]
"""Why: a short human-readable reason, recorded in the audit log."""


_Arg = StrictBoolArgs


class OrderLineArg(_Arg):
    """One order line: which product and how many units."""

    sku: Sku = Field(description="The product's SKU.")
    qty: Qty = Field(description="Units wanted, at least 1.")


class ReturnLineArg(_Arg):
    """One returned line: which shipped product and how many units come back."""

    sku: Sku = Field(description="A SKU the order shipped.")
    qty: Qty = Field(description="Units coming back, at least 1.")


class POLineArg(_Arg):
    """One purchase order line."""

    sku: Sku = Field(description="The product's SKU.")
    qty: Qty = Field(description="Units to order from the supplier, at least 1.")
    unit_cost_cents: Annotated[int, Field(ge=0, le=100_000_000)] | None = Field(
        default=None, description="Agreed unit cost in cents; default the supplier's offer."
    )


class ReceiptLineArg(_Arg):
    """Units of one SKU that arrived against a purchase order."""

    sku: Sku = Field(description="The product's SKU.")
    qty: Qty = Field(description="Units received, at least 1.")


class ProductInfo(BaseModel):
    """A product as an agent may show it (no cost price)."""

    sku: str
    name: str
    category: str
    unit: str
    price_cents: int
    description: str = ""
    perishable: bool = False
    weight_grams: int = 0
    active: bool = True
    attributes: dict[str, Any] = Field(default_factory=dict)
    available_units: int | None = None
    """Units available across all locations, when the tool looked them up."""

    @classmethod
    def from_view(cls, view: Any, *, available_units: int | None = None) -> ProductInfo:
        """Build from a service `ProductView`."""
        return cls(
            sku=view.sku,
            name=view.name,
            category=view.category,
            unit=view.unit,
            price_cents=view.price_cents,
            description=view.description,
            perishable=view.perishable,
            weight_grams=view.weight_grams,
            active=view.active,
            attributes=dict(view.attributes),
            available_units=available_units,
        )


class ProductList(BaseModel):
    """Products that matched a search."""

    products: list[ProductInfo]
    count: int


class SimilarProduct(BaseModel):
    """A product like another: same category, near in price, sharing attributes."""

    product: ProductInfo
    shared_attributes: dict[str, Any]
    price_difference_cents: int
    """This product's price minus the reference product's."""


class SimilarProducts(BaseModel):
    """Products similar to `sku`, best match first."""

    sku: str
    similar: list[SimilarProduct]


class InventoryReport(BaseModel):
    """Stock of one SKU per location, with totals."""

    sku: str
    levels: list[StockView]
    total_on_hand: int
    total_available: int


class LowStockReport(BaseModel):
    """Stock rows whose available units are at or below their reorder point."""

    items: list[StockView]
    count: int


class CustomerOrders(BaseModel):
    """The authenticated customer's orders, newest first."""

    customer_id: int
    orders: list[OrderView]


class SupplierList(BaseModel):
    """Suppliers (optionally those offering one SKU)."""

    suppliers: list[SupplierView]


class SupplierOffers(BaseModel):
    """Every supplier's offer for a SKU."""

    sku: str
    offers: list[SupplierOfferView]


class IntegrationTxnList(BaseModel):
    """Integration transactions matching the filter."""

    transactions: list[IntegrationTxnView]
    count: int
