"""The auditor's findings: what its scans saw, what it tried, and the scan watermark.

- finding: one row per (rule, key), with status, first/last seen, evidence, attempts.
- finding_attempt: each fix attempt (diagnosis, plan, outcome).
- finding_event: each status change (who, from, to, note).
- finding_scan: each scan; the newest finished one is the incremental watermark.
- stock_ledger: index (sku, location, created_at) for the `no_movement` rule.

Every change adds; nothing existing is rewritten.

Revision ID: 0004_findings
Revises: 0002_runtime
Create Date: 2026-11-29 04:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_findings"
down_revision: str | Sequence[str] | None = "0002_runtime"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade the schema."""
    op.create_table(
        "finding",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(length=48), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("entity", sa.String(length=32), nullable=False),
        sa.Column("entities", sa.JSON(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("detail", sa.String(length=1000), nullable=False),
        sa.Column("expected", sa.String(length=64), nullable=True),
        sa.Column("actual", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_by", sa.String(length=64), nullable=True),
        sa.Column("status_note", sa.String(length=1000), nullable=True),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("occurrences", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("rule", "key"),
    )
    op.create_index("ix_finding_rule", "finding", ["rule"])
    op.create_index("ix_finding_status", "finding", ["status"])
    op.create_index("ix_finding_first_seen", "finding", ["first_seen"])

    op.create_table(
        "finding_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("finding_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by", sa.String(length=64), nullable=False),
        sa.Column("diagnosis", sa.JSON(), nullable=True),
        sa.Column("plan", sa.JSON(), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["finding_id"], ["finding.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_finding_attempt_finding_id", "finding_attempt", ["finding_id"])

    op.create_table(
        "finding_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("finding_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("by", sa.String(length=64), nullable=False),
        sa.Column("note", sa.String(length=1000), nullable=False),
        sa.ForeignKeyConstraint(["finding_id"], ["finding.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_finding_event_finding_id", "finding_event", ["finding_id"])
    op.create_index("ix_finding_event_at", "finding_event", ["at"])

    op.create_table(
        "finding_scan",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("full", sa.Boolean(), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_finding_scan_started_at", "finding_scan", ["started_at"])

    op.create_index(
        "ix_ledger_sku_location_created", "stock_ledger", ["sku", "location", "created_at"]
    )


def downgrade() -> None:
    """Downgrade the schema (drops what upgrade added)."""
    op.drop_index("ix_ledger_sku_location_created", table_name="stock_ledger")
    op.drop_table("finding_scan")
    op.drop_table("finding_event")
    op.drop_table("finding_attempt")
    op.drop_table("finding")
