"""The row schemas of every import kind, with the bounds the services keep.

A row model says what one line (CSV) or object (JSON) may hold. Only the key columns are
required by the schema; what a *new* row needs besides (a new product's name, category, ...)
is listed in `Kind.create_requires` and checked once the store says whether the key exists,
so that a file with only `sku,price` updates prices.

Bounds: quantities are those of the services (`MAX_QTY` units per sale row, counts up to
`100 * MAX_QTY`), unit amounts at most `MAX_UNIT_PRICE_CENTS`, so that no value can overflow
a column on PostgreSQL (whose INTEGER stops at 2**31 - 1) while SQLite would take it: both
engines refuse the same rows with the same messages, before anything is written.
"""

from __future__ import annotations

import json
import re
from datetime import date as Date
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from orchestrator.store.services._core import MAX_QTY

__all__ = [
    "MAX_COUNT",
    "MAX_UNIT_PRICE_CENTS",
    "CustomerRow",
    "LocationRow",
    "OfferRow",
    "OpeningStockRow",
    "ProductRow",
    "SaleRow",
    "StockRow",
    "SupplierRow",
]

MAX_UNIT_PRICE_CENTS = 100_000_000
"""The largest price or cost per unit an import accepts: 1,000,000.00 in the store currency."""
MAX_COUNT = 100 * MAX_QTY
"""The largest on-hand count or reorder point (as `StoreService.correct_stock` allows)."""

_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/#@+-]*$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def cents(value: Any) -> int:
    """An amount like `12.99` (a string or a JSON number) as integer cents."""
    if isinstance(value, bool):
        raise ValueError("not an amount; write it like 12.99")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError("not an amount; write it like 12.99") from None
    if not amount.is_finite():
        raise ValueError("not an amount; write it like 12.99")
    if amount < 0:
        raise ValueError("must not be negative")
    amount_cents = amount * 100
    if amount_cents != amount_cents.to_integral_value():
        raise ValueError("more than two decimals")
    if amount_cents > MAX_UNIT_PRICE_CENTS:
        raise ValueError(f"more than {MAX_UNIT_PRICE_CENTS // 100:,} per unit is refused as absurd")
    return int(amount_cents)


def code(value: Any, max_len: int) -> Any:
    """A SKU or location code as the services accept it."""
    if isinstance(value, str) and (len(value) > max_len or not _CODE.match(value)):
        raise ValueError(
            f"expected 1..{max_len} letters, digits or ._:/#@+- (no spaces), starting with a "
            "letter or digit"
        )
    return value


class Row(BaseModel):
    """Base of the row schemas: unknown fields are refused, text is stripped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _json_object(value: Any) -> Any:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not valid JSON ({exc.msg})") from None
        if not isinstance(value, dict):
            raise ValueError("must be a JSON object")
    return value


class ProductRow(Row):
    """One row of a products file; a new SKU needs name, category, unit, price and cost."""

    sku: str = Field(min_length=1, max_length=64)
    name: str | None = Field(default=None, min_length=1, max_length=200)
    category: str | None = Field(default=None, min_length=1, max_length=64)
    unit: str | None = Field(default=None, min_length=1, max_length=16)
    price: int | None = None
    """Cents (parsed from an amount like `12.99`)."""
    cost: int | None = None
    description: str | None = Field(default=None, max_length=5000)
    perishable: bool | None = None
    shelf_life_days: int | None = Field(default=None, gt=0, le=36_500)
    weight_grams: int | None = Field(default=None, ge=0, le=100_000_000)
    attributes: dict[str, Any] | None = None

    @field_validator("sku")
    @classmethod
    def _sku(cls, value: str) -> str:
        return code(value, 64)

    @field_validator("price", "cost", mode="before")
    @classmethod
    def _money(cls, value: Any) -> int | None:
        return None if value is None else cents(value)

    @field_validator("attributes", mode="before")
    @classmethod
    def _attributes(cls, value: Any) -> Any:
        return _json_object(value)


class LocationRow(Row):
    """One row of a locations file; a new code needs a name."""

    code: str = Field(min_length=1, max_length=32)
    name: str | None = Field(default=None, min_length=1, max_length=200)
    kind: Literal["warehouse", "store"] | None = None
    """`warehouse` (default for new ones) or `store`."""

    @field_validator("code")
    @classmethod
    def _code(cls, value: str) -> str:
        return code(value, 32)


class CustomerRow(Row):
    """One row of a customers file, keyed by e-mail address; a new one needs a name."""

    email: str = Field(min_length=3, max_length=254)
    name: str | None = Field(default=None, min_length=1, max_length=200)
    phone: str | None = Field(default=None, max_length=40)
    address: str | None = Field(default=None, max_length=500)
    city: str | None = Field(default=None, max_length=100)
    postcode: str | None = Field(default=None, max_length=20)
    country: str | None = Field(default=None, min_length=2, max_length=2)
    tier: Literal["standard", "silver", "gold"] | None = None
    marketing_opt_in: bool | None = None

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if not _EMAIL.match(value):
            raise ValueError("not an e-mail address; write it like ada@example.com")
        return value.lower()

    @field_validator("country")
    @classmethod
    def _country(cls, value: str | None) -> str | None:
        if value is not None and not value.isalpha():
            raise ValueError("expected a two-letter country code such as GB")
        return None if value is None else value.upper()


class SupplierRow(Row):
    """One row of a suppliers file, keyed by name."""

    name: str = Field(min_length=1, max_length=200)
    email: str | None = Field(default=None, max_length=254)
    country: str | None = Field(default=None, min_length=2, max_length=2)
    active: bool | None = None

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not _EMAIL.match(value):
            raise ValueError("not an e-mail address; write it like orders@supplier.example")
        return None if value is None else value.lower()

    @field_validator("country")
    @classmethod
    def _country(cls, value: str | None) -> str | None:
        if value is not None and not value.isalpha():
            raise ValueError("expected a two-letter country code such as GB")
        return None if value is None else value.upper()


class OfferRow(Row):
    """One row of a supplier offers file, keyed by (supplier name, SKU).

    A new offer needs `unit_cost` and `lead_time_days`.
    """

    supplier: str = Field(min_length=1, max_length=200)
    sku: str = Field(min_length=1, max_length=64)
    unit_cost: int | None = None
    """Cents (parsed from an amount like `12.99`)."""
    lead_time_days: int | None = Field(default=None, ge=0, le=3650)
    moq: int | None = Field(default=None, ge=1, le=MAX_QTY)
    on_time_rate: float | None = Field(default=None, ge=0.0, le=1.0)
    active: bool | None = None

    @field_validator("sku")
    @classmethod
    def _sku(cls, value: str) -> str:
        return code(value, 64)

    @field_validator("unit_cost", mode="before")
    @classmethod
    def _money(cls, value: Any) -> int | None:
        return None if value is None else cents(value)


class StockRow(Row):
    """One row of a stock count file."""

    sku: str = Field(min_length=1, max_length=64)
    location: str = Field(min_length=1, max_length=32)
    on_hand: int = Field(ge=0, le=MAX_COUNT)
    reorder_point: int | None = Field(default=None, ge=0, le=MAX_COUNT)


class OpeningStockRow(StockRow):
    """One row of an opening stock file: a stock count plus the day it held."""

    date: Date | None = None
    """The opening row is dated at 00:00 UTC that day (default: now)."""


class SaleRow(Row):
    """One row of a sales file."""

    date: Date
    sku: str = Field(min_length=1, max_length=64)
    location: str = Field(min_length=1, max_length=32)
    quantity: int = Field(gt=0, le=MAX_QTY)
    id: str | None = Field(default=None, min_length=1, max_length=60)
    """Your system's id of the sale (receipt line, order line); makes re-imports exact."""
