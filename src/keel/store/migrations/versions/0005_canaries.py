"""Canary suite executions and their trials.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def _json() -> sa.types.TypeEngine[Any]:
    # A frozen copy of keel.store.tables.json_type, so this migration never changes with it.
    return sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")


def upgrade() -> None:
    op.create_table(
        "canary_runs",
        sa.Column("run_id", sa.Text, nullable=False),
        sa.Column("suite", sa.Text, nullable=False),
        sa.Column("target_kind", sa.Text, nullable=False),
        sa.Column("target_name", sa.Text, nullable=False),
        sa.Column("suite_digest", sa.Text, nullable=False),
        sa.Column("trigger", sa.Text, nullable=False),
        sa.Column("started_at", sa.Double, nullable=False),
        sa.Column("finished_at", sa.Double, nullable=False),
        sa.Column("alert_below", sa.Double, nullable=False),
        sa.Column("trials", sa.Integer, nullable=False),
        sa.Column("passed", sa.Integer, nullable=False),
        sa.Column("pass_rate", sa.Double, nullable=False),
        sa.Column("alert", sa.Boolean, nullable=False),
        sa.PrimaryKeyConstraint("run_id", name="pk_canary_runs"),
    )
    op.create_index("ix_canary_runs_suite_started_at", "canary_runs", ["suite", "started_at"])
    op.create_table(
        "canary_trials",
        sa.Column("run_id", sa.Text, nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("test_id", sa.Text, nullable=False),
        sa.Column("repeat_index", sa.Integer, nullable=False),
        sa.Column("passed", sa.Boolean, nullable=False),
        sa.Column("latency_ms", sa.Double, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("answer", sa.Text),
        sa.Column("deployment", sa.Text),
        sa.Column("outcomes", _json(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "position", name="pk_canary_trials"),
        sa.ForeignKeyConstraint(
            ["run_id"], ["canary_runs.run_id"], name="fk_canary_trials_run_id_canary_runs", ondelete="CASCADE"
        ),
    )


def downgrade() -> None:
    op.drop_table("canary_trials")
    op.drop_index("ix_canary_runs_suite_started_at", table_name="canary_runs")
    op.drop_table("canary_runs")
