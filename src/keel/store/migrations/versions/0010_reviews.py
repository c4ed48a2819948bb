"""Answer confidence per request, and the human review queue.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0010"
down_revision: str | None = "0009"
branch_labels: str | None = None
depends_on: str | None = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")


def upgrade() -> None:
    op.add_column("request_log", sa.Column("confidence", sa.Double))
    op.create_table(
        "reviews",
        sa.Column("review_id", sa.Text, nullable=False),
        sa.Column("ts", sa.Double, nullable=False),
        sa.Column("request_id", sa.Text, nullable=False),
        sa.Column("route", sa.Text, nullable=False),
        sa.Column("deployment", sa.Text),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("confidence", sa.Double),
        sa.Column("parts", _json(), nullable=False),
        sa.Column("messages", _json(), nullable=False),
        sa.Column("answer", sa.Text),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("reviewer", sa.Text),
        sa.Column("note", sa.Text),
        sa.Column("corrected_answer", sa.Text),
        sa.Column("decided_at", sa.Double),
        sa.PrimaryKeyConstraint("review_id", name="pk_reviews"),
    )
    op.create_index("ix_reviews_request_id", "reviews", ["request_id"])
    op.create_index("ix_reviews_status_ts", "reviews", ["status", "ts"])
    op.create_index("ix_reviews_route_status_ts", "reviews", ["route", "status", "ts"])


def downgrade() -> None:
    op.drop_index("ix_reviews_route_status_ts", table_name="reviews")
    op.drop_index("ix_reviews_status_ts", table_name="reviews")
    op.drop_index("ix_reviews_request_id", table_name="reviews")
    op.drop_table("reviews")
    op.drop_column("request_log", "confidence")
