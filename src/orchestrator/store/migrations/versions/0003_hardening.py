"""Write-path hardening: money columns are 64-bit.

Every `*_cents` column becomes BIGINT on PostgreSQL (an order or purchase-order total above
2**31 - 1 cents no longer fails on the server). SQLite's INTEGER is 64-bit already: nothing
changes there. Rows are kept as they are (a widening cast).

Revision ID: 0003_hardening
Revises: 0005_policy
Create Date: 2026-11-29 04:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_hardening"
down_revision: str | Sequence[str] | None = "0005_policy"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MONEY_COLUMNS = {
    "product": ("price_cents", "cost_cents"),
    "orders": ("subtotal_cents", "discount_cents", "shipping_cents", "total_cents"),
    "order_line": ("unit_price_cents",),
    "payment": ("amount_cents",),
    "shipment": ("cost_cents",),
    "returns": ("refund_cents",),
    "supplier_offer": ("unit_cost_cents",),
    "purchase_order": ("total_cents",),
    "purchase_order_line": ("unit_cost_cents",),
}


def upgrade() -> None:
    """Upgrade the schema."""
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, columns in MONEY_COLUMNS.items():
        for column in columns:
            op.alter_column(
                table,
                column,
                existing_type=sa.Integer(),
                type_=sa.BigInteger(),
                existing_nullable=False,
            )


def downgrade() -> None:
    """Downgrade the schema (fails on PostgreSQL if a value no longer fits 32 bits)."""
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, columns in MONEY_COLUMNS.items():
        for column in columns:
            op.alter_column(
                table,
                column,
                existing_type=sa.BigInteger(),
                type_=sa.Integer(),
                existing_nullable=False,
            )
