"""Per request on a tiered route: the tier that answered and why a lower tier was escalated.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column("request_log", sa.Column("tier", sa.Text))
    op.add_column("request_log", sa.Column("escalation", sa.Text))


def downgrade() -> None:
    op.drop_column("request_log", "escalation")
    op.drop_column("request_log", "tier")
