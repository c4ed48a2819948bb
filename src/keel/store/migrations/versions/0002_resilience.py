"""Kill switches; per request: the safe-mode mark, the cache outcome, whether the cost was estimated.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column("request_log", sa.Column("safe_mode", sa.Text))
    op.add_column("request_log", sa.Column("cache", sa.Text))
    op.add_column("request_log", sa.Column("cost_estimated", sa.Boolean, nullable=False, server_default=sa.false()))
    op.create_table(
        "kill_switches",
        sa.Column("switch_id", sa.Text, nullable=False),
        sa.Column("scope", sa.Text, nullable=False),
        sa.Column("target", sa.Text, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("message", sa.Text),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("cleared_at", sa.Double),
        sa.Column("cleared_by", sa.Text),
        sa.Column("cleared_reason", sa.Text),
        sa.PrimaryKeyConstraint("switch_id", name="pk_kill_switches"),
    )
    op.create_index("ix_kill_switches_scope_target", "kill_switches", ["scope", "target"])


def downgrade() -> None:
    op.drop_index("ix_kill_switches_scope_target", table_name="kill_switches")
    op.drop_table("kill_switches")
    op.drop_column("request_log", "cost_estimated")
    op.drop_column("request_log", "cache")
    op.drop_column("request_log", "safe_mode")
