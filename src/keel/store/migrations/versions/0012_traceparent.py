"""The caller's W3C traceparent on each logged request, linking it to the caller's trace.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision: str | None = "0011"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column("request_log", sa.Column("traceparent", sa.Text))
    op.create_index("ix_request_log_traceparent", "request_log", ["traceparent"])


def downgrade() -> None:
    op.drop_index("ix_request_log_traceparent", table_name="request_log")
    op.drop_column("request_log", "traceparent")
