"""Pricing: the append-only price history that every `set_price` writes.

- price_history: one row per list-price change (old and new price, the cost and margin floor
  it was checked against, kind, reason, who, which run, which approval), with append-only
  triggers like the ledger's and the audit log's.

Nothing existing changes.

Revision ID: 0006_pricing
Revises: 0002_runtime
Create Date: 2026-11-29 04:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_pricing"
down_revision: str | Sequence[str] | None = "0002_runtime"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade the schema."""
    op.create_table(
        "price_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("old_price_cents", sa.Integer(), nullable=False),
        sa.Column("new_price_cents", sa.Integer(), nullable=False),
        sa.Column("cost_cents", sa.Integer(), nullable=False),
        sa.Column("floor_cents", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("agent", sa.String(length=32), nullable=True),
        sa.Column("thread_id", sa.String(length=200), nullable=True),
        sa.Column("approval_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["sku"], ["product.sku"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_price_history_sku_at", "price_history", ["sku", "created_at"])
    for statement in _append_only_ddl(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade() -> None:
    """Downgrade the schema (drops the price history and its triggers)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS price_history_append_only ON price_history")
    op.drop_index("ix_price_history_sku_at", table_name="price_history")
    op.drop_table("price_history")


def _append_only_ddl(dialect: str) -> list[str]:
    # A copy frozen with this revision (engine.append_only_ddl may change later); the
    # PostgreSQL trigger function orch_append_only() exists since 0001_initial.
    table = "price_history"
    if dialect == "sqlite":
        return [
            f"CREATE TRIGGER IF NOT EXISTS {table}_no_{op_.lower()} BEFORE {op_} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {op_} refused; "
            "append a correcting row instead'); END"
            for op_ in ("UPDATE", "DELETE")
        ]
    if dialect == "postgresql":
        return [
            f"CREATE OR REPLACE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON "
            f"{table} FOR EACH ROW EXECUTE FUNCTION orch_append_only()"
        ]
    return []
