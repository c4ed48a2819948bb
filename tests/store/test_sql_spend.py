"""SqlSpendStore on SQLite and PostgreSQL: grouping, windows, filters and sums exact to the nano-dollar."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from keel.store.records import RequestRecord
from keel.store.sql import Database
from keel.store.sql_request_log import SqlRequestLogStore
from keel.store.sql_spend import SPEND_BY, SpendRow, SqlSpendStore
from tests.store.conftest import make_record

T0 = 1_700_000_000.0


def spent(n: int, cost: float | None, **fields: Any) -> RequestRecord:
    return make_record(n, cost_usd=cost, prompt_tokens=10 * n, completion_tokens=n, **fields)


async def fill(db: Database, records: list[RequestRecord]) -> SqlSpendStore:
    await SqlRequestLogStore(db).write_batch(records)
    return SqlSpendStore(db)


async def test_groups_by_team_most_expensive_first(db: Database) -> None:
    store = await fill(
        db,
        [
            spent(1, 0.25, team="search"),
            spent(2, 0.5, team="support"),
            spent(3, 0.5, team="support"),
            spent(4, 0.125),  # no team
            spent(5, None, team="search"),  # no recorded cost: counted, costs nothing
        ],
    )
    rows = await store.spend("team", None, None)
    assert rows == [
        SpendRow("support", requests=2, prompt_tokens=50, completion_tokens=5, cost_usd=Decimal("1")),
        SpendRow("search", requests=2, prompt_tokens=60, completion_tokens=6, cost_usd=Decimal("0.25")),
        SpendRow(None, requests=1, prompt_tokens=40, completion_tokens=4, cost_usd=Decimal("0.125")),
    ]


@pytest.mark.parametrize("by", [b for b in SPEND_BY if b != "day"])
async def test_every_dimension_groups(db: Database, by: str) -> None:
    column = {"key": "key_id"}.get(by, by)
    store = await fill(db, [spent(n, 0.001, **{column: f"v{n % 2}"}) for n in range(1, 6)])
    rows = await store.spend(by, None, None)  # type: ignore[arg-type]
    assert [(row.group, row.requests, row.cost_usd) for row in rows] == [
        ("v1", 3, Decimal("0.003")),
        ("v0", 2, Decimal("0.002")),
    ]


async def test_window_includes_since_and_excludes_until(db: Database) -> None:
    store = await fill(db, [spent(n, 0.01, route="bot") for n in range(10)])  # ts = T0 + n
    [row] = await store.spend("route", T0 + 2, T0 + 5)
    assert row.requests == 3 and row.cost_usd == Decimal("0.03")
    [row] = await store.spend("route", T0 + 8, None)
    assert row.requests == 2
    [row] = await store.spend("route", None, T0 + 1)
    assert row.requests == 1
    assert await store.spend("route", T0 + 100, None) == []


async def test_filters_narrow_every_group(db: Database) -> None:
    store = await fill(
        db,
        [
            spent(1, 0.1, route="bot", team="a", key_id="k1"),
            spent(2, 0.2, route="bot", team="b", key_id="k1"),
            spent(3, 0.4, route="faq", team="a", key_id="k2"),
        ],
    )
    rows = await store.spend("team", None, None, {"route": "bot"})
    assert [(row.group, row.cost_usd) for row in rows] == [("b", Decimal("0.2")), ("a", Decimal("0.1"))]
    rows = await store.spend("route", None, None, {"team": "a", "key": "k2"})
    assert [(row.group, row.cost_usd) for row in rows] == [("faq", Decimal("0.4"))]
    with pytest.raises(ValueError, match="cannot filter spend by 'colour'"):
        await store.spend("team", None, None, {"colour": "red"})
    with pytest.raises(ValueError, match="cannot group spend by 'colour'"):
        await store.spend("colour", None, None)  # type: ignore[arg-type]


async def test_days_are_utc_calendar_days(db: Database) -> None:
    def at(text: str) -> float:
        return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()

    store = await fill(
        db,
        [
            make_record(1, ts=at("2024-03-10T23:59:59.999"), cost_usd=0.1),
            make_record(2, ts=at("2024-03-11T00:00:00"), cost_usd=0.2),
            make_record(3, ts=at("2024-03-11T23:00:00"), cost_usd=0.3),
            make_record(4, ts=at("2024-12-31T12:00:00"), cost_usd=0.05),
        ],
    )
    rows = await store.spend("day", None, None)
    assert [(row.group, row.requests, row.cost_usd) for row in rows] == [
        ("2024-03-11", 2, Decimal("0.5")),
        ("2024-03-10", 1, Decimal("0.1")),
        ("2024-12-31", 1, Decimal("0.05")),
    ]


async def test_many_small_costs_sum_exactly(db: Database) -> None:
    # Added as floats, these would come to 0.001230000000000115.
    store = await fill(db, [spent(n, 0.000000123, team="t") for n in range(10_000)])
    [row] = await store.spend("team", None, None)
    assert row.requests == 10_000
    assert row.cost_usd == Decimal("0.00123")


async def test_mixed_costs_sum_to_the_nano(db: Database) -> None:
    costs = [0.1] * 10 + [0.000000001] * 7 + [123.456789012, 0.3333333333]  # the last keeps nine decimals
    store = await fill(db, [spent(n, cost, team="t") for n, cost in enumerate(costs)])
    [row] = await store.spend("team", None, None)
    assert row.cost_usd == Decimal("1") + Decimal("0.000000007") + Decimal("123.456789012") + Decimal("0.333333333")
