"""The runtime: approvals bound to the call that asked, run-aware audit rows, the run index.

- approval: `operation`, `idempotency_key` (indexed), `thread_id` (indexed), `checkpoint_ns`,
  `tool_call_id`, `approved_arguments` (an edit).
- audit_log: `tool`, `thread_id` (indexed), `tool_call_id`.
- idempotency_record: `principal` (a replay is answered only to whoever made the first call).
- graph_run: one row per LangGraph thread run by the Orchestrator.

Every change adds; nothing existing is rewritten, so the append-only triggers stay in place.

Revision ID: 0002_runtime
Revises: 0001_initial
Create Date: 2026-11-29 01:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_runtime"
down_revision: str | Sequence[str] | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade the schema."""
    op.add_column("approval", sa.Column("operation", sa.String(length=64), nullable=True))
    op.add_column("approval", sa.Column("idempotency_key", sa.String(length=200), nullable=True))
    op.add_column("approval", sa.Column("thread_id", sa.String(length=200), nullable=True))
    op.add_column("approval", sa.Column("checkpoint_ns", sa.String(length=500), nullable=True))
    op.add_column("approval", sa.Column("tool_call_id", sa.String(length=200), nullable=True))
    op.add_column("approval", sa.Column("approved_arguments", sa.JSON(), nullable=True))
    op.create_index("ix_approval_idempotency_key", "approval", ["idempotency_key"])
    op.create_index("ix_approval_thread_id", "approval", ["thread_id"])

    op.add_column("audit_log", sa.Column("tool", sa.String(length=64), nullable=True))
    op.add_column("audit_log", sa.Column("thread_id", sa.String(length=200), nullable=True))
    op.add_column("audit_log", sa.Column("tool_call_id", sa.String(length=200), nullable=True))
    op.create_index("ix_audit_log_thread_id", "audit_log", ["thread_id"])

    op.add_column(
        "idempotency_record", sa.Column("principal", sa.String(length=100), nullable=True)
    )

    op.create_table(
        "graph_run",
        sa.Column("thread_id", sa.String(length=200), nullable=False),
        sa.Column("graph", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=True),
        sa.Column("error", sa.String(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("thread_id"),
    )
    op.create_index("ix_graph_run_graph", "graph_run", ["graph"])
    op.create_index("ix_graph_run_status", "graph_run", ["status"])
    op.create_index("ix_graph_run_customer_id", "graph_run", ["customer_id"])
    op.create_index("ix_graph_run_created_at", "graph_run", ["created_at"])


def downgrade() -> None:
    """Downgrade the schema (drops what upgrade added)."""
    op.drop_table("graph_run")
    op.drop_column("idempotency_record", "principal")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_index("ix_audit_log_thread_id")
        batch.drop_column("tool_call_id")
        batch.drop_column("thread_id")
        batch.drop_column("tool")
    with op.batch_alter_table("approval") as batch:
        batch.drop_index("ix_approval_thread_id")
        batch.drop_index("ix_approval_idempotency_key")
        for column in (
            "approved_arguments",
            "tool_call_id",
            "checkpoint_ns",
            "thread_id",
            "idempotency_key",
            "operation",
        ):
            batch.drop_column(column)
    # SQLite's batch mode rebuilt audit_log: put its append-only triggers back.
    from orchestrator.store.engine import append_only_ddl

    for statement in append_only_ddl(op.get_bind().dialect.name):
        op.execute(statement)
