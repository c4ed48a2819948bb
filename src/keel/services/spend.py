"""Spend reports outside a running gateway (the CLI): time windows as people write them, totals."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal

from keel.config.runtime import RuntimeConfig
from keel.store.sql import open_database
from keel.store.sql_spend import SpendBy, SpendRow, SqlSpendStore

_AGO = re.compile(r"(\d+)([dhm])")
_SECONDS = {"d": 86_400, "h": 3_600, "m": 60}


def parse_when(text: str, now: float) -> float:
    """A point in time as seconds since the epoch.

    ``30d``, ``12h`` and ``90m`` are that long before ``now``; otherwise an ISO 8601 date or date and
    time (``2025-06-01``, ``2025-06-01T12:00``, ``2025-06-01T12:00+02:00``), in UTC unless it names
    an offset. Raises ValueError for anything else.
    """
    value = text.strip()
    ago = _AGO.fullmatch(value)
    if ago:
        return now - int(ago.group(1)) * _SECONDS[ago.group(2)]
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{text!r} is neither a duration (30d, 12h, 90m) nor an ISO date (2025-06-01)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def total_of(rows: Sequence[SpendRow]) -> SpendRow:
    """Every row added up (its ``group`` is None)."""
    return SpendRow(
        group=None,
        requests=sum(row.requests for row in rows),
        prompt_tokens=sum(row.prompt_tokens for row in rows),
        completion_tokens=sum(row.completion_tokens for row in rows),
        cost_usd=sum((row.cost_usd for row in rows), start=Decimal(0)),
    )


@asynccontextmanager
async def open_spend_store(config: RuntimeConfig) -> AsyncIterator[SqlSpendStore]:
    db = await open_database(config.raw.storage.database_url, schema=config.raw.storage.database_schema)
    try:
        yield SqlSpendStore(db)
    finally:
        await db.aclose()


async def spend_report(
    config: RuntimeConfig,
    by: SpendBy,
    since: float | None,
    until: float | None,
    filters: Mapping[str, str] | None = None,
) -> list[SpendRow]:
    """The spend in ``config``'s database per group, most expensive first."""
    async with open_spend_store(config) as store:
        return await store.spend(by, since, until, filters)
