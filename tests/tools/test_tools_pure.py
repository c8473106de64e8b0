"""Pure pieces: docstring parsing, schemas, keys, the rate table, the discount table, ranking."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from orchestrator.errors import ConfigError, InvalidInput
from orchestrator.tools import (
    AgentProfile,
    ToolContext,
    default_catalog,
    evaluate_discounts,
    idempotency_key,
    quote_shipping,
    step_key,
    tool,
)
from orchestrator.tools._core import parse_docstring
from orchestrator.tools.catalog import rank_similar
from orchestrator.tools.fulfilment import zone_of


class Out(BaseModel):
    value: int


def test_docstring_args_become_field_descriptions() -> None:
    @tool(access="read", scope="demo")
    def double(ctx: ToolContext, n: int, note: str = "") -> Out:
        """Double a number.

        Longer text the model does not need.

        Args:
            n: the number to double;
                it may be negative.
            note: a free note.

        Returns:
            The doubled number.
        """
        return Out(value=2 * n)

    assert double.name == "double"
    assert double.description == "Double a number."
    schema = double.args_schema.model_json_schema()
    assert schema["properties"]["n"]["description"] == "the number to double; it may be negative."
    assert schema["required"] == ["n"]
    assert "ctx" not in schema["properties"]
    assert schema.get("additionalProperties") is False
    assert double.result_type is Out


def test_a_parameter_without_an_args_line_is_refused() -> None:
    with pytest.raises(ConfigError, match="'n' has no `Args:` line"):

        @tool(access="read", scope="demo")
        def bad(ctx: ToolContext, n: int) -> Out:
            """Do something."""
            return Out(value=n)


def test_parse_docstring_sections() -> None:
    summary, body, args = parse_docstring(
        """First line.

        Body.

        Args:
            a (int): one.
            b: two
                continued.

        Raises:
            ValueError: never an arg.
        """
    )
    assert summary == "First line."
    assert body == "Body."
    assert args == {"a": "one.", "b": "two continued."}


def test_idempotency_key_names_the_call_not_its_arguments() -> None:
    key = idempotency_key("customer:7", "t1", "tools:abc", "call_1")
    assert key == "customer:7|t1|tools:abc|call_1"
    # Every part tells calls apart: principal, thread, checkpoint namespace, call id.
    assert idempotency_key("customer:8", "t1", "tools:abc", "call_1") != key
    assert idempotency_key("customer:7", "t2", "tools:abc", "call_1") != key
    assert idempotency_key("customer:7", "t1", "tools:abd", "call_1") != key
    assert idempotency_key("customer:7", "t1", "tools:abc", "call_2") != key
    assert idempotency_key("ann", "t1", None, "step-1") == "ann|t1|-|step-1"
    long = idempotency_key("a", "t" * 300, "ns", "c")
    assert len(long) == 200 and long.startswith("a|ttt")
    assert idempotency_key("a", "t" * 300, "ns", "d") != long


def test_step_key_is_order_independent() -> None:
    assert step_key({"sku": "A", "delta": 3}) == step_key({"delta": 3, "sku": "A"})
    assert step_key({"sku": "A", "delta": 4}) != step_key({"sku": "A", "delta": 3})


def test_builtin_profiles() -> None:
    catalog = default_catalog()
    assert len(catalog) == 27
    support = catalog.profile("support")
    assert support.customer_facing
    assert {"cancel_order", "initiate_return", "create_support_ticket"} <= support.allowed
    assert "adjust_quantity" not in support.allowed
    analyst = catalog.profile("analyst")
    assert {s.name for s in catalog.tools_for(analyst)} == set(catalog.read_tools())
    assert all(s.access == "read" for s in catalog.tools_for("analyst"))
    assert "adjust_quantity" in catalog.profile("auditor").allowed
    assert "create_purchase_order" in catalog.profile("procurement").allowed
    for spec in catalog:
        assert spec.description and spec.access in ("read", "write")
        for name, fld in spec.args_schema.model_fields.items():
            assert fld.description, f"{spec.name}.{name} has no description"


def test_register_own_tool_and_profile() -> None:
    @tool(access="read", scope="demo")
    def echo(ctx: ToolContext, n: int) -> Out:
        """Echo a number.

        Args:
            n: the number.
        """
        return Out(value=n)

    catalog = default_catalog(extra_tools=[echo])
    assert "echo" in catalog.profile("analyst").allowed
    catalog.register_profile(AgentProfile("demo", frozenset({"echo"})))
    assert [s.name for s in catalog.tools_for("demo")] == ["echo"]
    with pytest.raises(ConfigError, match="already registered"):
        catalog.register(echo)
    with pytest.raises(ConfigError, match="unregistered tools"):
        catalog.register_profile(AgentProfile("x", frozenset({"nope"})))
    with pytest.raises(ConfigError, match="unknown agent profile 'nobody'"):
        catalog.profile("nobody")


# --- shipping ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("country", "zone"),
    [("GB", "domestic"), ("uk", "domestic"), ("FR", "europe"), ("NO", "europe"), ("US", "world")],
)
def test_zones(country: str, zone: str) -> None:
    assert zone_of(country) == zone


def test_bad_country_names_the_value() -> None:
    with pytest.raises(InvalidInput, match="country='Franc'"):
        zone_of("Franc")


def test_domestic_standard_rate() -> None:
    q = quote_shipping(country="GB", goods_weight_grams=700, goods_value_cents=1000)
    # 700 g + 200 g packaging = 0.9 kg: base only.
    assert (q.cost_cents, q.weight_grams, q.parcels, q.days_min, q.days_max) == (395, 900, 1, 2, 3)
    q = quote_shipping(country="GB", goods_weight_grams=2500, goods_value_cents=1000)
    # 2.7 kg: base + 2 started extra kg.
    assert q.cost_cents == 395 + 2 * 100


def test_express_next_day_and_zones() -> None:
    assert (
        quote_shipping(
            country="GB", service="express", goods_weight_grams=100, goods_value_cents=0
        ).cost_cents
        == 695
    )
    assert (
        quote_shipping(
            country="GB", service="next_day", goods_weight_grams=1700, goods_value_cents=0
        ).cost_cents
        == 995 + 200
    )
    assert (
        quote_shipping(country="DE", goods_weight_grams=1700, goods_value_cents=0).cost_cents
        == 995 + 300
    )
    assert (
        quote_shipping(
            country="US", service="express", goods_weight_grams=100, goods_value_cents=0
        ).cost_cents
        == 2995
    )


def test_free_shipping_threshold_only_domestic_standard() -> None:
    q = quote_shipping(country="GB", goods_weight_grams=100, goods_value_cents=5000)
    assert q.free_shipping and q.cost_cents == 0
    assert not quote_shipping(
        country="GB", goods_weight_grams=100, goods_value_cents=4999
    ).free_shipping
    assert (
        quote_shipping(
            country="GB", service="express", goods_weight_grams=100, goods_value_cents=9999
        ).cost_cents
        == 695
    )
    assert (
        quote_shipping(country="FR", goods_weight_grams=100, goods_value_cents=9999).cost_cents
        == 995
    )


def test_remote_postcodes_and_next_day_abroad() -> None:
    q = quote_shipping(
        country="GB", postcode="HS1 2AB", goods_weight_grams=100, goods_value_cents=9999
    )
    assert q.remote_area and q.cost_cents == 500  # free standard, surcharge still applies
    with pytest.raises(InvalidInput, match="service='next_day'"):
        quote_shipping(
            country="GB",
            postcode="ZE1 0AA",
            service="next_day",
            goods_weight_grams=100,
            goods_value_cents=0,
        )
    with pytest.raises(InvalidInput, match=r"service='next_day'.*standard, express"):
        quote_shipping(
            country="FR", service="next_day", goods_weight_grams=100, goods_value_cents=0
        )


def test_heavy_shipments_split_into_parcels() -> None:
    q = quote_shipping(country="GB", goods_weight_grams=45_000, goods_value_cents=0)
    assert q.parcels == 2
    assert q.weight_grams == 45_400
    # 22.7 kg per parcel -> 22 extra kg each.
    assert q.cost_cents == 2 * (395 + 22 * 100)


# --- discounts ---------------------------------------------------------------------------


def test_gold_first_order() -> None:
    eligible, best = evaluate_discounts(tier="gold", order_count=0, lifetime_spend_cents=0)
    assert [d.code for d in eligible] == ["TIER_GOLD", "FIRST_ORDER"]
    assert best is not None and best.code == "TIER_GOLD"  # tie on 10%: table order wins


def test_standard_customer_with_history_gets_nothing() -> None:
    eligible, best = evaluate_discounts(tier="standard", order_count=2, lifetime_spend_cents=5000)
    assert eligible == [] and best is None


def test_loyalty_and_bulk_amounts() -> None:
    eligible, best = evaluate_discounts(
        tier="silver", order_count=6, lifetime_spend_cents=0, basket=[(12, 1000), (1, 5000)]
    )
    codes = {d.code: d for d in eligible}
    assert set(codes) == {"TIER_SILVER", "LOYALTY", "BULK"}
    assert codes["BULK"].amount_cents == 12 * 1000 * 5 // 100
    assert codes["TIER_SILVER"].amount_cents == 17000 * 5 // 100
    assert best is not None and best.code == "TIER_SILVER"
    assert "6 earlier orders" in codes["LOYALTY"].reason


# --- similar products --------------------------------------------------------------------


def _p(sku: str, cat: str, price: int, attrs: dict[str, object], active: bool = True) -> object:
    return SimpleNamespace(
        sku=sku,
        name=sku,
        category=cat,
        unit="each",
        price_cents=price,
        description="",
        perishable=False,
        weight_grams=1,
        active=active,
        attributes=attrs,
    )


def test_rank_similar() -> None:
    ref = _p("A", "boards", 1000, {"mcu": "x", "v": 5})
    cands = [
        ref,
        _p("B", "boards", 1100, {"mcu": "x", "v": 5}),
        _p("C", "boards", 1000, {"mcu": "y"}),
        _p("D", "boards", 900, {"mcu": "x"}),
        _p("E", "power", 1000, {"mcu": "x", "v": 5}),
        _p("F", "boards", 1000, {"mcu": "x", "v": 5}, active=False),
    ]
    ranked = rank_similar(ref, cands, limit=5)
    assert [r.product.sku for r in ranked] == ["B", "D", "C"]
    assert ranked[0].shared_attributes == {"mcu": "x", "v": 5}
    assert ranked[1].price_difference_cents == -100


# --- properties --------------------------------------------------------------------------


@given(
    country=st.sampled_from(["GB", "FR", "US"]),
    service=st.sampled_from(["standard", "express"]),
    light=st.integers(0, 200_000),
    extra=st.integers(0, 50_000),
)
def test_shipping_never_cheaper_when_heavier(
    country: str, service: Any, light: int, extra: int
) -> None:
    a = quote_shipping(
        country=country, service=service, goods_weight_grams=light, goods_value_cents=0
    )
    b = quote_shipping(
        country=country, service=service, goods_weight_grams=light + extra, goods_value_cents=0
    )
    assert b.cost_cents >= a.cost_cents > 0
    assert b.parcels >= a.parcels
    assert a.weight_grams <= a.parcels * 30_000


@given(
    args=st.dictionaries(
        st.text(min_size=1, max_size=8),
        st.one_of(st.integers(), st.text(max_size=8)),
        max_size=6,
    )
)
def test_step_key_ignores_argument_order(args: dict[str, Any]) -> None:
    flipped = dict(reversed(list(args.items())))
    assert step_key(args) == step_key(flipped)


@given(
    tier=st.sampled_from(["standard", "silver", "gold"]),
    orders=st.integers(0, 20),
    spend=st.integers(0, 300_000),
    basket=st.lists(st.tuples(st.integers(1, 30), st.integers(1, 10_000)), max_size=5),
)
def test_best_discount_is_worth_the_most(
    tier: str, orders: int, spend: int, basket: list[tuple[int, int]]
) -> None:
    eligible, best = evaluate_discounts(
        tier=tier, order_count=orders, lifetime_spend_cents=spend, basket=basket
    )
    assert (best is None) == (eligible == [])
    if best is not None and basket:
        assert best.amount_cents == max(d.amount_cents or 0 for d in eligible)
    if best is not None and not basket:
        assert best.percent == max(d.percent for d in eligible)
