"""Incident events (a PII leak found in an answer, ...).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")


def upgrade() -> None:
    op.create_table(
        "incident_events",
        sa.Column("event_id", sa.Text, nullable=False),
        sa.Column("ts", sa.Double, nullable=False),
        sa.Column("severity", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("route", sa.Text),
        sa.Column("request_id", sa.Text),
        sa.Column("details", _json(), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name="pk_incident_events"),
    )
    op.create_index("ix_incident_events_ts", "incident_events", ["ts"])


def downgrade() -> None:
    op.drop_index("ix_incident_events_ts", table_name="incident_events")
    op.drop_table("incident_events")
