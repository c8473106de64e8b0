"""The shipping rate table: what shipping costs, for every caller (services, tools, graphs).

`StoreService.quote_shipping` and `ship_order` price from it, and so does the agents'
`calculate_shipping` tool: a caller cannot name its own price.

The rate table (all money in integer cents of the store currency, shipping from the UK):

| zone | countries | standard | express | next_day |
| --- | --- | --- | --- | --- |
| domestic | GB | 395 + 100/kg, 2-3 days | 695 + 150/kg, 1-2 days | 995 + 200/kg, 1 day |
| europe | EU, EEA, CH, and the rest of `EUROPE` | 995 + 300/kg, 4-7 days | 1795 + 450/kg, 2-3 days | - |
| world | everything else | 1495 + 600/kg, 7-14 days | 2995 + 900/kg, 3-5 days | - |

- Billable weight per parcel = the items' `Product.weight_grams` x qty, plus 200 g packaging.
  A parcel holds at most 30 kg; heavier shipments go in several parcels, each charged.
- Each parcel pays the base rate, which covers its first kilogram, plus the per-kg rate for
  every started kilogram above the first.
- Remote UK postcodes (`REMOTE_POSTCODE_PREFIXES`: Highlands and Islands, Northern Ireland,
  Isle of Man, Channel Islands) add 500 per parcel and have no next-day service.
- Free shipping: domestic `standard` when the goods are worth `FREE_SHIPPING_THRESHOLD_CENTS`
  (5000) or more; remote surcharges still apply.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel

from orchestrator.errors import InvalidInput

__all__ = [
    "EUROPE",
    "FREE_SHIPPING_THRESHOLD_CENTS",
    "MAX_PARCEL_GRAMS",
    "PACKAGING_GRAMS",
    "RATES",
    "REMOTE_POSTCODE_PREFIXES",
    "REMOTE_SURCHARGE_CENTS",
    "Rate",
    "ShippingQuote",
    "quote_shipping",
    "zone_of",
]

Service = Literal["standard", "express", "next_day"]
Zone = Literal["domestic", "europe", "world"]


@dataclass(frozen=True, slots=True)
class Rate:
    """One cell of the rate table."""

    base_cents: int
    """Per parcel; covers its first kilogram."""
    per_kg_cents: int
    """Per started kilogram above the first, per parcel."""
    days_min: int
    days_max: int


RATES: dict[Zone, dict[Service, Rate]] = {
    "domestic": {
        "standard": Rate(395, 100, 2, 3),
        "express": Rate(695, 150, 1, 2),
        "next_day": Rate(995, 200, 1, 1),
    },
    "europe": {
        "standard": Rate(995, 300, 4, 7),
        "express": Rate(1795, 450, 2, 3),
    },
    "world": {
        "standard": Rate(1495, 600, 7, 14),
        "express": Rate(2995, 900, 3, 5),
    },
}
"""Rates by zone and service; a missing service is not offered in that zone."""

EUROPE = frozenset(
    [
        "AT",
        "BE",
        "BG",
        "HR",
        "CY",
        "CZ",
        "DK",
        "EE",
        "FI",
        "FR",
        "DE",
        "GR",
        "HU",
        "IE",
        "IT",
        "LV",
        "LT",
        "LU",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SK",
        "SI",
        "ES",
        "SE",
        "IS",
        "LI",
        "NO",
        "CH",
        "AD",
        "MC",
        "SM",
        "VA",
        "AL",
        "BA",
        "ME",
        "MK",
        "RS",
    ]
)
"""Countries (ISO 3166-1 alpha-2) in the `europe` zone."""

PACKAGING_GRAMS = 200
MAX_PARCEL_GRAMS = 30_000
FREE_SHIPPING_THRESHOLD_CENTS = 5_000
REMOTE_SURCHARGE_CENTS = 500
REMOTE_POSTCODE_PREFIXES = ("HS", "ZE", "KW", "IV", "BT", "IM", "JE", "GY")
"""Postcode areas (letters before the digits) that pay the remote surcharge."""

_COUNTRY = re.compile(r"^[A-Z]{2}$")
_POSTCODE_AREA = re.compile(r"^([A-Z]{1,2})\d")


def zone_of(country: str) -> Zone:
    """The shipping zone of an ISO alpha-2 country code (`UK` is taken as `GB`).

    Args:
        country: two letters, e.g. "GB", "FR", "US".
    """
    code = country.strip().upper()
    if code == "UK":
        code = "GB"
    if not _COUNTRY.match(code):
        raise InvalidInput("country", country, "use a two-letter ISO country code such as 'GB'")
    if code == "GB":
        return "domestic"
    return "europe" if code in EUROPE else "world"


def _is_remote(postcode: str) -> bool:
    match = _POSTCODE_AREA.match(postcode.strip().upper().replace(" ", ""))
    return bool(match) and match is not None and match.group(1) in REMOTE_POSTCODE_PREFIXES


class ShippingQuote(BaseModel):
    """The price and speed of shipping a set of goods to a destination."""

    country: str
    zone: Zone
    service: Service
    weight_grams: int
    """Billable weight including packaging."""
    parcels: int
    cost_cents: int
    free_shipping: bool
    remote_area: bool
    days_min: int
    days_max: int
    breakdown: list[str]
    """How the cost was reached, one line per component."""


def quote_shipping(
    *,
    country: str,
    postcode: str = "",
    service: Service = "standard",
    goods_weight_grams: int,
    goods_value_cents: int,
) -> ShippingQuote:
    """Price shipping from the rate table (pure; the module docstring documents the rules).

    Args:
        country: destination ISO alpha-2 code.
        postcode: destination postcode (drives the UK remote surcharge).
        service: `standard`, `express` or `next_day`.
        goods_weight_grams: total weight of the goods, without packaging.
        goods_value_cents: total value of the goods (for free shipping).
    """
    zone = zone_of(country)
    code = "GB" if country.strip().upper() == "UK" else country.strip().upper()
    remote = zone == "domestic" and _is_remote(postcode)
    rate = RATES[zone].get(service)
    if rate is None or (remote and service == "next_day"):
        offered = [s for s in RATES[zone] if not (remote and s == "next_day")]
        where = "this remote postcode" if remote else f"zone {zone!r} ({code})"
        raise InvalidInput(
            "service", service, f"not offered to {where}; choose one of {', '.join(offered)}"
        )
    if goods_weight_grams < 0:
        raise InvalidInput("weight_grams", goods_weight_grams, "must not be negative")
    parcels = max(1, math.ceil(goods_weight_grams / (MAX_PARCEL_GRAMS - PACKAGING_GRAMS)))
    weight = goods_weight_grams + parcels * PACKAGING_GRAMS
    per_parcel = weight / parcels
    extra_kg = max(0, math.ceil(per_parcel / 1000) - 1)
    breakdown = [
        f"{parcels} parcel(s) x base {rate.base_cents}",
        f"{parcels} parcel(s) x {extra_kg} extra kg x {rate.per_kg_cents}",
    ]
    cost = parcels * (rate.base_cents + extra_kg * rate.per_kg_cents)
    free = (
        zone == "domestic"
        and service == "standard"
        and goods_value_cents >= FREE_SHIPPING_THRESHOLD_CENTS
    )
    if free:
        breakdown.append(
            f"free standard shipping: goods {goods_value_cents} >= {FREE_SHIPPING_THRESHOLD_CENTS}"
        )
        cost = 0
    if remote:
        breakdown.append(f"{parcels} parcel(s) x remote surcharge {REMOTE_SURCHARGE_CENTS}")
        cost += parcels * REMOTE_SURCHARGE_CENTS
    return ShippingQuote(
        country=code,
        zone=zone,
        service=service,
        weight_grams=weight,
        parcels=parcels,
        cost_cents=cost,
        free_shipping=free,
        remote_area=remote,
        days_min=rate.days_min,
        days_max=rate.days_max,
        breakdown=breakdown,
    )
