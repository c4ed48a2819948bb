"""Shadow results: a candidate deployment's answers to mirrored live requests, as figures only.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")


def upgrade() -> None:
    op.create_table(
        "shadow_results",
        sa.Column("request_id", sa.Text, nullable=False),
        sa.Column("ts", sa.Double, nullable=False),
        sa.Column("route", sa.Text, nullable=False),
        sa.Column("live_deployment", sa.Text, nullable=False),
        sa.Column("candidate", sa.Text, nullable=False),
        sa.Column("live_latency_ms", sa.Double),
        sa.Column("shadow_latency_ms", sa.Double),
        sa.Column("live_cost_nanos", sa.BigInteger),
        sa.Column("shadow_cost_nanos", sa.BigInteger),
        sa.Column("similarity", sa.Double),
        sa.Column("lexical_similarity", sa.Double),
        sa.Column("semantic_similarity", sa.Double),
        sa.Column("json_equal", sa.Boolean),
        sa.Column("length_ratio", sa.Double),
        sa.Column("live_guard_actions", _json()),
        sa.Column("shadow_guard_actions", _json()),
        sa.Column("live_guard_outcome", sa.Text),
        sa.Column("shadow_guard_outcome", sa.Text),
        sa.Column("error", sa.Text),
        sa.PrimaryKeyConstraint("request_id", name="pk_shadow_results"),
    )
    op.create_index("ix_shadow_results_route_ts", "shadow_results", ["route", "ts"])


def downgrade() -> None:
    op.drop_index("ix_shadow_results_route_ts", table_name="shadow_results")
    op.drop_table("shadow_results")
