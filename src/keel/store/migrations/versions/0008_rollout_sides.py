"""Per request: the canary rollout it took part in, and on which side; drift baselines and windows.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")


revision = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column("request_log", sa.Column("rollout_id", sa.Text))
    op.add_column("request_log", sa.Column("rollout_side", sa.Text))
    op.create_index("ix_request_log_rollout_id", "request_log", ["rollout_id"])
    op.create_table(
        "drift_baselines",
        sa.Column("route", sa.Text, nullable=False),
        sa.Column("state", _json(), nullable=False),
        sa.Column("frozen_at", sa.Double, nullable=False),
        sa.PrimaryKeyConstraint("route", name="pk_drift_baselines"),
    )
    op.create_table(
        "drift_windows",
        sa.Column("route", sa.Text, nullable=False),
        sa.Column("replica", sa.Text, nullable=False),
        sa.Column("phase", sa.Text, nullable=False),
        sa.Column("requests", sa.Integer, nullable=False),
        sa.Column("state", _json(), nullable=False),
        sa.Column("updated_at", sa.Double, nullable=False),
        sa.PrimaryKeyConstraint("route", "replica", name="pk_drift_windows"),
    )


def downgrade() -> None:
    op.drop_table("drift_windows")
    op.drop_table("drift_baselines")
    op.drop_index("ix_request_log_rollout_id", table_name="request_log")
    op.drop_column("request_log", "rollout_side")
    op.drop_column("request_log", "rollout_id")
