"""Inventory policy: the current policy per SKU x location and its history.

- inventory_policy: reorder point, safety stock, order quantity, service level, method, when,
  by whom and why, per (sku, location); `stock.reorder_point` stays the column everything
  reads and is kept equal to the policy's reorder point by the service that sets both.
- inventory_policy_history: one row per policy a pair has had.

Existing reorder points are carried over: each stock row with a reorder point gets a policy
(method `imported`, set by `migration`, no safety stock or order quantity yet) and its first
history row, so the history starts from what the store already used.

Revision ID: 0005_policy
Revises: 0006_pricing
Create Date: 2026-11-29 04:30:00
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0005_policy"
down_revision: str | Sequence[str] | None = "0006_pricing"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_REASON = "carried over from stock.reorder_point by migration 0005_policy"


def upgrade() -> None:
    """Upgrade the schema and carry the existing reorder points over."""
    op.create_table(
        "inventory_policy",
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("location", sa.String(length=32), nullable=False),
        sa.Column("reorder_point", sa.Integer(), nullable=False),
        sa.Column("safety_stock", sa.Integer(), nullable=True),
        sa.Column("order_quantity", sa.Integer(), nullable=True),
        sa.Column("service_level", sa.Float(), nullable=True),
        sa.Column("method", sa.String(length=64), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("set_by", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["location"], ["location.code"]),
        sa.ForeignKeyConstraint(["sku"], ["product.sku"]),
        sa.PrimaryKeyConstraint("sku", "location"),
    )
    op.create_table(
        "inventory_policy_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("location", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("reorder_point", sa.Integer(), nullable=False),
        sa.Column("safety_stock", sa.Integer(), nullable=True),
        sa.Column("order_quantity", sa.Integer(), nullable=True),
        sa.Column("service_level", sa.Float(), nullable=True),
        sa.Column("method", sa.String(length=64), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("set_by", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("previous_reorder_point", sa.Integer(), nullable=True),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["location"], ["location.code"]),
        sa.ForeignKeyConstraint(["sku"], ["product.sku"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_policy_history_sku_location",
        "inventory_policy_history",
        ["sku", "location", "version"],
    )

    bind = op.get_bind()
    now = datetime.now(UTC)
    params = {"now": now, "reason": _REASON}
    if bind.dialect.name == "sqlite":
        # What SQLAlchemy's DateTime writes on SQLite (UTC text), so reads parse it.
        params["now"] = now.strftime("%Y-%m-%d %H:%M:%S.%f")
    columns = "sku, location, reorder_point, method, set_at, set_by, reason, version"
    select = (
        "SELECT sku, location, reorder_point, 'imported', :now, 'migration', :reason, 1 "
        "FROM stock WHERE reorder_point IS NOT NULL"
    )
    bind.execute(sa.text(f"INSERT INTO inventory_policy ({columns}) {select}"), params)
    bind.execute(sa.text(f"INSERT INTO inventory_policy_history ({columns}) {select}"), params)


def downgrade() -> None:
    """Downgrade the schema (drops the policy tables; stock.reorder_point keeps its values)."""
    op.drop_index("ix_policy_history_sku_location", table_name="inventory_policy_history")
    op.drop_table("inventory_policy_history")
    op.drop_table("inventory_policy")
