"""The SQL layout of Keel's durable records, as SQLAlchemy Core tables.

This is the current shape the code reads and writes. The schema in a live database is created and
changed only by the Alembic migrations in ``store/migrations``; a test checks both agree.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# Explicit constraint names keep migrations reproducible across dialects: without them PostgreSQL
# and SQLite would each invent their own, and later ALTERs would have to guess.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


def json_type() -> sa.types.TypeEngine[Any]:
    """JSON on every dialect, JSONB on PostgreSQL (indexable, compact).

    ``none_as_null`` stores Python ``None`` as SQL NULL rather than the JSON literal ``null``, so
    "absent" reads back the same on both dialects and ``IS NULL`` filters work.
    """
    return sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")


# Money is exact in the database (sums over millions of rows must not drift); the record carries a
# float, converted on the way in and out.
MONEY = sa.Numeric(18, 9, asdecimal=False)

request_log = sa.Table(
    "request_log",
    metadata,
    sa.Column("request_id", sa.Text, primary_key=True),
    sa.Column("ts", sa.Double, nullable=False, index=True),
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
    sa.Column("cost_usd", MONEY),
    sa.Column("guard_verdicts", json_type()),
    sa.Column("attempts", json_type(), nullable=False),
    sa.Column("request_body", json_type()),
    sa.Column("response_body", json_type()),
    sa.Column("safe_mode", sa.Text),
    sa.Column("cache", sa.Text),
    sa.Column("cost_estimated", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("tier", sa.Text),
    sa.Column("escalation", sa.Text),
    sa.Column("rollout_id", sa.Text, index=True),
    sa.Column("rollout_side", sa.Text),
    sa.Column("confidence", sa.Double),
    sa.Column("traceparent", sa.Text, index=True),
    # The admin views filter by one dimension over a time window, newest first.
    sa.Index("ix_request_log_route_ts", "route", "ts"),
    sa.Index("ix_request_log_key_id_ts", "key_id", "ts"),
    sa.Index("ix_request_log_team_ts", "team", "ts"),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("key_id", sa.Text, primary_key=True),
    sa.Column("key_hash", sa.Text, nullable=False, unique=True),
    sa.Column("hint", sa.Text, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("allowed", json_type(), nullable=False),
    sa.Column("team", sa.Text),
    sa.Column("feature", sa.Text),
    sa.Column("owner", sa.Text),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("revoked_at", sa.Double),
)

kill_switches = sa.Table(
    "kill_switches",
    metadata,
    sa.Column("switch_id", sa.Text, primary_key=True),
    sa.Column("scope", sa.Text, nullable=False),
    sa.Column("target", sa.Text, nullable=False),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("message", sa.Text),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("cleared_at", sa.Double),
    sa.Column("cleared_by", sa.Text),
    sa.Column("cleared_reason", sa.Text),
    sa.Index("ix_kill_switches_scope_target", "scope", "target"),
)

incident_events = sa.Table(
    "incident_events",
    metadata,
    sa.Column("event_id", sa.Text, primary_key=True),
    sa.Column("ts", sa.Double, nullable=False, index=True),
    sa.Column("severity", sa.Text, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("summary", sa.Text, nullable=False),
    sa.Column("route", sa.Text),
    sa.Column("request_id", sa.Text),
    sa.Column("details", json_type(), nullable=False),
)

rollouts = sa.Table(
    "rollouts",
    metadata,
    sa.Column("rollout_id", sa.Text, primary_key=True),
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
    sa.Column("history", json_type(), nullable=False),
    # The route while the rollout is not final, else NULL: the unique index allows one active rollout
    # per route on every dialect (NULLs never collide), without a partial index.
    sa.Column("active_route", sa.Text),
    sa.Index("ix_rollouts_active_route", "active_route", unique=True),
    sa.Index("ix_rollouts_route_created_at", "route", "created_at"),
)

canary_runs = sa.Table(
    "canary_runs",
    metadata,
    sa.Column("run_id", sa.Text, primary_key=True),
    sa.Column("suite", sa.Text, nullable=False),
    sa.Column("target_kind", sa.Text, nullable=False),
    sa.Column("target_name", sa.Text, nullable=False),
    sa.Column("suite_digest", sa.Text, nullable=False),
    sa.Column("trigger", sa.Text, nullable=False),
    sa.Column("started_at", sa.Double, nullable=False, index=True),  # retention prunes by it
    sa.Column("finished_at", sa.Double, nullable=False),
    sa.Column("alert_below", sa.Double, nullable=False),
    sa.Column("trials", sa.Integer, nullable=False),
    sa.Column("passed", sa.Integer, nullable=False),
    sa.Column("pass_rate", sa.Double, nullable=False),
    sa.Column("alert", sa.Boolean, nullable=False),
    # History is read per suite, newest first.
    sa.Index("ix_canary_runs_suite_started_at", "suite", "started_at"),
)

canary_trials = sa.Table(
    "canary_trials",
    metadata,
    sa.Column("run_id", sa.Text, sa.ForeignKey("canary_runs.run_id", ondelete="CASCADE"), primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True),
    sa.Column("test_id", sa.Text, nullable=False),
    sa.Column("repeat_index", sa.Integer, nullable=False),
    sa.Column("passed", sa.Boolean, nullable=False),
    sa.Column("latency_ms", sa.Double, nullable=False),
    sa.Column("error", sa.Text),
    sa.Column("answer", sa.Text),
    sa.Column("deployment", sa.Text),
    sa.Column("outcomes", json_type(), nullable=False),
)

feedback = sa.Table(
    "feedback",
    metadata,
    sa.Column("feedback_id", sa.Text, primary_key=True),
    sa.Column("ts", sa.Double, nullable=False, index=True),
    sa.Column("request_id", sa.Text, nullable=False, index=True),
    sa.Column("score", sa.Double),
    sa.Column("label", sa.Text),
    sa.Column("comment", sa.Text),
    sa.Column("key_id", sa.Text),
)

drift_baselines = sa.Table(
    "drift_baselines",
    metadata,
    sa.Column("route", sa.Text, primary_key=True),
    sa.Column("state", json_type(), nullable=False),
    sa.Column("frozen_at", sa.Double, nullable=False),
)

drift_windows = sa.Table(
    "drift_windows",
    metadata,
    sa.Column("route", sa.Text, primary_key=True),
    sa.Column("replica", sa.Text, primary_key=True),
    sa.Column("phase", sa.Text, nullable=False),
    sa.Column("requests", sa.Integer, nullable=False),
    sa.Column("state", json_type(), nullable=False),
    sa.Column("updated_at", sa.Double, nullable=False),
)

shadow_results = sa.Table(
    "shadow_results",
    metadata,
    sa.Column("request_id", sa.Text, primary_key=True),
    sa.Column("ts", sa.Double, nullable=False, index=True),  # retention prunes by it
    sa.Column("route", sa.Text, nullable=False),
    sa.Column("live_deployment", sa.Text, nullable=False),
    sa.Column("candidate", sa.Text, nullable=False),
    sa.Column("live_latency_ms", sa.Double),
    sa.Column("shadow_latency_ms", sa.Double),
    # Whole nano-dollars: sums are exact on every dialect.
    sa.Column("live_cost_nanos", sa.BigInteger),
    sa.Column("shadow_cost_nanos", sa.BigInteger),
    sa.Column("similarity", sa.Double),
    sa.Column("lexical_similarity", sa.Double),
    sa.Column("semantic_similarity", sa.Double),
    sa.Column("json_equal", sa.Boolean),
    sa.Column("length_ratio", sa.Double),
    sa.Column("live_guard_actions", json_type()),
    sa.Column("shadow_guard_actions", json_type()),
    sa.Column("live_guard_outcome", sa.Text),
    sa.Column("shadow_guard_outcome", sa.Text),
    sa.Column("error", sa.Text),
    # Reports read one route over a time window.
    sa.Index("ix_shadow_results_route_ts", "route", "ts"),
)

reviews = sa.Table(
    "reviews",
    metadata,
    sa.Column("review_id", sa.Text, primary_key=True),
    sa.Column("ts", sa.Double, nullable=False),
    sa.Column("request_id", sa.Text, nullable=False, index=True),
    sa.Column("route", sa.Text, nullable=False),
    sa.Column("deployment", sa.Text),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("confidence", sa.Double),
    sa.Column("parts", json_type(), nullable=False),
    sa.Column("messages", json_type(), nullable=False),  # PII-redacted before it is stored
    sa.Column("answer", sa.Text),  # PII-redacted before it is stored
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("reviewer", sa.Text),
    sa.Column("note", sa.Text),
    sa.Column("corrected_answer", sa.Text),
    sa.Column("decided_at", sa.Double),
    # The queue is read oldest first, for all routes or one.
    sa.Index("ix_reviews_status_ts", "status", "ts"),
    sa.Index("ix_reviews_route_status_ts", "route", "status", "ts"),
)
