"""Canary rollouts: each rollout's phase, weight and history, so a restart resumes where it stopped.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def _json() -> sa.types.TypeEngine[Any]:
    # Spelled out here rather than imported from keel.store.tables: a migration is a frozen snapshot.
    return sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")


def upgrade() -> None:
    op.create_table(
        "rollouts",
        sa.Column("rollout_id", sa.Text, nullable=False),
        sa.Column("route", sa.Text, nullable=False),
        sa.Column("live", sa.Text, nullable=False),
        sa.Column("candidate", sa.Text, nullable=False),
        sa.Column("phase", sa.Text, nullable=False),
        sa.Column("step_index", sa.Integer, nullable=False),
        sa.Column("weight", sa.Double, nullable=False),
        sa.Column("step_started_at", sa.Double, nullable=False),
        sa.Column("failed_checks", sa.Integer, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("updated_at", sa.Double, nullable=False),
        sa.Column("history", _json(), nullable=False),
        sa.Column("active_route", sa.Text),
        sa.PrimaryKeyConstraint("rollout_id", name="pk_rollouts"),
    )
    op.create_index("ix_rollouts_active_route", "rollouts", ["active_route"], unique=True)
    op.create_index("ix_rollouts_route_created_at", "rollouts", ["route", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_rollouts_route_created_at", table_name="rollouts")
    op.drop_index("ix_rollouts_active_route", table_name="rollouts")
    op.drop_table("rollouts")
