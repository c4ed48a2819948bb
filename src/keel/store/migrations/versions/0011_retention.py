"""Indexes on the timestamps retention prunes by, for the tables that had none of their own.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision: str | None = "0010"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_index("ix_shadow_results_ts", "shadow_results", ["ts"])
    op.create_index("ix_canary_runs_started_at", "canary_runs", ["started_at"])


def downgrade() -> None:
    op.drop_index("ix_canary_runs_started_at", table_name="canary_runs")
    op.drop_index("ix_shadow_results_ts", table_name="shadow_results")
