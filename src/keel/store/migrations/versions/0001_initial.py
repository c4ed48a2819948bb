"""Request log and API keys.

Revision ID: 0001
Revises:
Create Date: 2024-06-01
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def _json() -> sa.types.TypeEngine[Any]:
    # Spelled out here rather than imported from keel.store.tables: a migration is a frozen snapshot
    # and must not change when the current table definitions do.
    return sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")


def upgrade() -> None:
    op.create_table(
        "request_log",
        sa.Column("request_id", sa.Text, nullable=False),
        sa.Column("ts", sa.Double, nullable=False),
        sa.Column("endpoint", sa.Text, nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("config_hash", sa.Text, nullable=False),
        sa.Column("key_id", sa.Text),
        sa.Column("team", sa.Text),
        sa.Column("feature", sa.Text),
        sa.Column("route", sa.Text),
        sa.Column("deployment", sa.Text),
        sa.Column("provider", sa.Text),
        sa.Column("model", sa.Text),
        sa.Column("stream", sa.Boolean, nullable=False),
        sa.Column("error_class", sa.Text),
        sa.Column("error_code", sa.Text),
        sa.Column("latency_ms", sa.Double, nullable=False),
        sa.Column("ttft_ms", sa.Double),
        sa.Column("overhead_ms", sa.Double, nullable=False),
        sa.Column("prompt_tokens", sa.Integer),
        sa.Column("completion_tokens", sa.Integer),
        sa.Column("total_tokens", sa.Integer),
        sa.Column("cost_usd", sa.Numeric(18, 9)),
        sa.Column("guard_verdicts", _json()),
        sa.Column("attempts", _json(), nullable=False),
        sa.Column("request_body", _json()),
        sa.Column("response_body", _json()),
        sa.PrimaryKeyConstraint("request_id", name="pk_request_log"),
    )
    op.create_index("ix_request_log_ts", "request_log", ["ts"])
    op.create_index("ix_request_log_route_ts", "request_log", ["route", "ts"])
    op.create_index("ix_request_log_key_id_ts", "request_log", ["key_id", "ts"])
    op.create_index("ix_request_log_team_ts", "request_log", ["team", "ts"])

    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.Text, nullable=False),
        sa.Column("key_hash", sa.Text, nullable=False),
        sa.Column("hint", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("allowed", _json(), nullable=False),
        sa.Column("team", sa.Text),
        sa.Column("feature", sa.Text),
        sa.Column("owner", sa.Text),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("revoked_at", sa.Double),
        sa.PrimaryKeyConstraint("key_id", name="pk_api_keys"),
        sa.UniqueConstraint("key_hash", name="uq_api_keys_key_hash"),
    )


def downgrade() -> None:
    op.drop_table("api_keys")
    op.drop_index("ix_request_log_team_ts", table_name="request_log")
    op.drop_index("ix_request_log_key_id_ts", table_name="request_log")
    op.drop_index("ix_request_log_route_ts", table_name="request_log")
    op.drop_index("ix_request_log_ts", table_name="request_log")
    op.drop_table("request_log")
