"""Inventory policy: set (audited, idempotent, checked), read, history; the 0005 migration."""

from __future__ import annotations

import math

import pytest
from sqlalchemy import text
from store_factories import STAFF, Shop

from orchestrator.errors import InvalidInput, NotFound, PermissionDenied, UnknownSku
from orchestrator.store import make_engine
from orchestrator.store.migrate import head_revision, schema_diff, upgrade
from orchestrator.store.services import Actor, StoreService


def _set(svc: StoreService, sku: str, **kw: object) -> object:
    args: dict[str, object] = {
        "reorder_point": 30,
        "safety_stock": 10,
        "order_quantity": 50,
        "service_level": 0.95,
        "method": "forecast:AutoETS",
        "reason": "tuned on 52 weeks",
        "actor": STAFF,
    }
    args.update(kw)
    return svc.set_inventory_policy(sku, "WH-MAIN", **args)  # type: ignore[arg-type]


def test_set_policy_updates_stock_history_and_audit(svc: StoreService, shop: Shop) -> None:
    sku = shop.skus[0]
    first = _set(svc, sku, idempotency_key="tune-1")
    assert first.version == 1 and first.reorder_point == 30  # type: ignore[attr-defined]
    assert svc.get_stock(sku, "WH-MAIN")[0].reorder_point == 30
    second = _set(svc, sku, reorder_point=40, safety_stock=12, idempotency_key="tune-2")
    assert second.version == 2 and second.previous_reorder_point == 30  # type: ignore[attr-defined]
    current = svc.get_inventory_policy(sku, "WH-MAIN")
    assert current is not None and current.reorder_point == 40 and current.set_by == "alice"
    assert svc.get_stock(sku, "WH-MAIN")[0].reorder_point == 40
    assert [p.reorder_point for p in svc.inventory_policy_history(sku, "WH-MAIN")] == [40, 30]
    audit = svc.audit_log(operation="set_inventory_policy")
    assert {a.outcome for a in audit} == {"ok"} and len(audit) == 2
    assert [p.sku for p in svc.inventory_policies(category="widgets")] == [sku]


def test_set_policy_is_idempotent_and_same_values_do_not_bump(
    svc: StoreService, shop: Shop
) -> None:
    sku = shop.skus[0]
    _set(svc, sku, idempotency_key="k-1")
    again = _set(svc, sku, idempotency_key="k-1")
    assert again.replayed  # type: ignore[attr-defined]
    same = _set(svc, sku, idempotency_key="k-2")
    assert same.version == 1  # type: ignore[attr-defined]
    assert len(svc.inventory_policy_history(sku, "WH-MAIN")) == 1


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("reorder_point", -1, "negative"),
        ("reorder_point", math.nan, "NaN"),
        ("safety_stock", 2.5, "whole number"),
        ("safety_stock", 31, "above the reorder point"),
        ("order_quantity", 0, "zero"),
        ("order_quantity", math.nan, "NaN"),
        ("service_level", math.nan, "between 0 and 1"),
        ("service_level", 1.0, "between 0 and 1"),
        ("reason", "  ", "must not be empty"),
    ],
)
def test_bad_policies_are_refused_naming_the_field(
    svc: StoreService, shop: Shop, field: str, value: object, words: str
) -> None:
    sku = shop.skus[0]
    with pytest.raises(InvalidInput) as info:
        _set(svc, sku, **{field: value})
    assert info.value.field == field and words in str(info.value)
    assert svc.get_inventory_policy(sku, "WH-MAIN") is None
    assert svc.get_stock(sku, "WH-MAIN")[0].reorder_point is None
    assert svc.audit_log(operation="set_inventory_policy")[0].outcome == "error"


def test_unknown_pairs_and_customers_are_refused(svc: StoreService, shop: Shop) -> None:
    with pytest.raises(UnknownSku):
        _set(svc, "NOPE-1")
    with pytest.raises(NotFound):
        svc.set_inventory_policy(
            shop.skus[0],
            "WH-NOWHERE",
            reorder_point=1,
            safety_stock=0,
            order_quantity=1,
            reason="x",
            actor=STAFF,
        )
    with pytest.raises(PermissionDenied):
        _set(svc, shop.skus[0], actor=Actor("customer:1", customer_id=1))


def test_a_pair_without_stock_gets_an_empty_stock_row(svc: StoreService, shop: Shop) -> None:
    sku = shop.skus[0]
    svc.set_inventory_policy(
        sku, "SHOP-1", reorder_point=4, safety_stock=1, order_quantity=6, reason="new", actor=STAFF
    )
    [level] = svc.get_stock(sku, "SHOP-1")
    assert (level.on_hand, level.reorder_point) == (0, 4)


def test_migration_carries_reorder_points_over(store_url: str) -> None:
    """A database made at 0002 with stock and reorder points upgrades with every row kept."""
    engine = make_engine(store_url)
    try:
        upgrade(engine, "0002_runtime")
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO location (code, name, kind) VALUES ('WH', 'W', 'w')"))
            for sku in ("A-1", "B-2"):
                conn.execute(
                    text(
                        "INSERT INTO product (sku, name, category, unit, price_cents, "
                        "cost_cents, description, perishable, weight_grams, active, "
                        "attributes, created_at) VALUES (:s, 'n', 'c', 'each', 100, 50, '', "
                        "false, 1, true, '{}', CURRENT_TIMESTAMP)"
                    ),
                    {"s": sku},
                )
            conn.execute(
                text(
                    "INSERT INTO stock (sku, location, on_hand, reserved, reorder_point, "
                    "updated_at) VALUES ('A-1', 'WH', 7, 0, 12, CURRENT_TIMESTAMP), "
                    "('B-2', 'WH', 3, 0, NULL, CURRENT_TIMESTAMP)"
                )
            )
        assert upgrade(engine) == head_revision()
        assert schema_diff(engine) == []
        svc = StoreService(engine)
        policy = svc.get_inventory_policy("A-1", "WH")
        assert policy is not None
        assert (policy.reorder_point, policy.method, policy.version) == (12, "imported", 1)
        assert policy.safety_stock is None and policy.set_at.tzinfo is not None
        assert svc.get_inventory_policy("B-2", "WH") is None
        assert [p.reorder_point for p in svc.inventory_policy_history("A-1", "WH")] == [12]
        assert svc.get_stock("A-1", "WH")[0].on_hand == 7
        # And the policy can be tuned from there.
        tuned = svc.set_inventory_policy(
            "A-1",
            "WH",
            reorder_point=15,
            safety_stock=5,
            order_quantity=20,
            reason="tuned",
            actor=Actor("ann"),
        )
        assert (tuned.version, tuned.previous_reorder_point) == (2, 12)
    finally:
        engine.dispose()
