"""Cost forecasts from a request log written through the SQL store, on SQLite and PostgreSQL.

The log below is shared with the tier-report and CLI tests. Every expected figure is worked out by
hand in the comments: the log spans exactly two days, so a month at 1x is 15 times its cost.
"""

from __future__ import annotations

from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from keel.config.loader import load_runtime_config
from keel.config.runtime import RuntimeConfig
from keel.cost.forecast import (
    Forecast,
    RouteFacts,
    Scenario,
    Span,
    forecast,
    parse_hit_rate,
    parse_traffic,
    route_facts,
)
from keel.cost.money import usd_to_nanos
from keel.store.records import RequestRecord
from keel.store.sql import Database
from keel.store.sql_cost_history import CostSlice, SqlCostHistoryStore
from keel.store.sql_request_log import SqlRequestLogStore
from tests.store import conftest as store_fixtures

# A fresh database per test, on SQLite and on PostgreSQL (a schema of its own).
db_target = store_fixtures.db_target
db = store_fixtures.db

T0 = datetime(2024, 3, 1, tzinfo=UTC).timestamp()
HOUR = 3600.0

# smart: tiers cheap (0.5 / 1.5 USD per million tokens) and strong (10 / 30), with the cache on.
# plain: one deployment, no cache. house: tiered, but the strongest tier has no price.
CONFIG = """\
routes:
  smart:
    tiering:
      tiers:
        - {name: cheap, deployments: [small]}
        - {name: strong, deployments: [big, big-backup]}
    cache: {enabled: true}
  plain:
    deployments: [small]
  house:
    tiering:
      tiers:
        - {name: cheap, deployments: [small]}
        - {name: strong, deployments: [house-model]}
deployments:
  small: {provider: simulator, price: {input_per_mtok: 0.5, output_per_mtok: 1.5}}
  big: {provider: simulator, price: {input_per_mtok: 10, output_per_mtok: 30}}
  big-backup: {provider: simulator, price: {input_per_mtok: 99, output_per_mtok: 99}}
  house-model: {provider: openai-compatible, api_base: "http://127.0.0.1:1/v1", model: house-model}
"""


def write_config(directory: Path, database_url: str = "sqlite:///unused.db") -> Path:
    path = directory / "keel.yaml"
    path.write_text(CONFIG + f"storage: {{data_dir: '{directory}/data', database_url: '{database_url}'}}\n")
    return path


def load(directory: Path) -> RuntimeConfig:
    return load_runtime_config(write_config(directory))


def request(
    n: int, hours: float, route: str | None, cost: float | None, tokens: tuple[int, int] | None, **fields: Any
) -> RequestRecord:
    prompt, completion = tokens if tokens is not None else (None, None)
    return RequestRecord(
        request_id=f"req-{n:03d}",
        ts=T0 + hours * HOUR,
        endpoint="chat.completions",
        status=fields.pop("status", 200),
        config_hash="cfg",
        route=route,
        cost_usd=cost,
        prompt_tokens=prompt,
        completion_tokens=completion,
        **fields,
    )


def request_log() -> list[RequestRecord]:
    """Twenty requests from 2024-03-01T00:00Z to 2024-03-03T00:00Z."""
    return [
        # smart, cheap tier: 1000 * 0.5 + 200 * 1.5 = 800 micro-dollars each; 6 -> 0.0048
        *(request(n, 0, "smart", 0.0008, (1000, 200), tier="cheap", cache="miss") for n in range(6)),
        # smart, escalated to strong after a refusal: the cheap try (0.0008) + 1000 * 10 + 200 * 30 (0.016)
        *(
            request(n, 1, "smart", 0.0168, (1000, 200), tier="strong", cache="miss", escalation="cheap: refusal")
            for n in (6, 7)
        ),
        # smart, escalated after truncation: 0.00175 + 2000 * 10 + 500 * 30 (0.035)
        request(8, 2, "smart", 0.03675, (2000, 500), tier="strong", cache="miss", escalation="cheap: truncation"),
        # smart, sent straight to strong: 3000 * 10 + 1000 * 30 = 0.06
        request(9, 3, "smart", 0.06, (3000, 1000), tier="strong", cache="miss"),
        # smart, answered by the cache: free
        *(request(n, 4, "smart", 0.0, (1000, 200), cache="hit") for n in (10, 11)),
        # plain: 500 * 0.5 + 100 * 1.5 = 0.0004 each, and one failure without a cost
        *(request(n, 5, "plain", 0.0004, (500, 100)) for n in range(12, 16)),
        request(16, 6, "plain", None, None, status=502),
        # house: cheap tier only, 0.001 each
        *(request(n, 7, "house", 0.001, (1000, 100), tier="cheap") for n in (17, 18)),
        # turned away before a route was chosen, two days after the first request
        request(19, 48, None, None, None, status=400),
    ]


async def logged(db: Database, records: list[RequestRecord] | None = None) -> list[CostSlice]:
    await SqlRequestLogStore(db).write_batch(request_log() if records is None else records)
    return await SqlCostHistoryStore(db).slices(T0, T0 + 4 * 24 * HOUR)


def usd(text: str) -> int:
    return usd_to_nanos(text)


def monthly(result: Forecast) -> dict[str | None, tuple[int, int]]:
    """Each route's (baseline, scenario) monthly figures."""
    return {row.route: (row.baseline_nanos, row.scenario_nanos) for row in result.routes}


# The store


async def test_slices_split_by_route_tier_cache_and_reason(db: Database) -> None:
    slices = await logged(db)
    assert [(s.route, s.tier, s.cache, s.escalation, s.requests) for s in slices] == [
        ("house", "cheap", None, None, 2),
        ("plain", None, None, None, 5),
        ("smart", "cheap", "miss", None, 6),
        ("smart", "strong", "miss", "cheap: refusal", 2),
        ("smart", "strong", "miss", "cheap: truncation", 1),
        ("smart", "strong", "miss", None, 1),
        ("smart", None, "hit", None, 2),
        (None, None, None, None, 1),
    ]
    refusals = slices[3]
    assert (refusals.prompt_tokens, refusals.completion_tokens, refusals.cost_nanos) == (2000, 400, usd("0.0336"))
    assert (refusals.first_ts, refusals.last_ts) == (T0 + HOUR, T0 + HOUR)
    plain = slices[1]
    assert (plain.prompt_tokens, plain.completion_tokens, plain.cost_nanos) == (2000, 400, usd("0.0016"))
    assert (plain.first_ts, plain.last_ts) == (T0 + 5 * HOUR, T0 + 6 * HOUR)


async def test_slices_keep_to_the_window_and_the_route(db: Database) -> None:
    await logged(db)
    store = SqlCostHistoryStore(db)
    only_smart = await store.slices(T0, None, "smart")
    assert {s.route for s in only_smart} == {"smart"} and sum(s.requests for s in only_smart) == 12
    # since is included, until is not
    early = await store.slices(T0 + HOUR, T0 + 5 * HOUR)
    assert sum(s.requests for s in early) == 2 + 1 + 1 + 2
    assert await store.slices(T0 + 49 * HOUR, None) == []


async def test_small_costs_sum_to_the_nano(db: Database) -> None:
    records = [request(n, n / 100, "plain", 0.000000123, (1, 1)) for n in range(1000)]
    [row] = await logged(db, records)
    assert row.cost_nanos == 123_000


# Projections


async def test_as_observed_at_ten_times_the_traffic(db: Database, tmp_path: Path) -> None:
    cfg = load(tmp_path)
    result = forecast(await logged(db), route_facts(cfg), Fraction(10), Scenario())
    assert result is not None
    assert result.span.seconds == 2 * 24 * 3600
    # smart cost 0.13515 in two days: 0.067575 a day, 0.13515 * 15 * 10 = 20.2725 a month
    assert [(r.route, r.requests, r.requests_per_day, r.cost_per_day) for r in result.routes] == [
        ("smart", 12, 6, usd("0.067575")),
        ("house", 2, 1, usd("0.001")),
        ("plain", 5, Fraction(5, 2), usd("0.0008")),
        (None, 1, Fraction(1, 2), 0),
    ]
    assert monthly(result) == {
        "smart": (usd("20.2725"), usd("20.2725")),
        "house": (usd("0.3"), usd("0.3")),
        "plain": (usd("0.24"), usd("0.24")),
        None: (0, 0),
    }
    assert result.total.baseline_nanos == usd("20.8125")
    assert result.total.requests_per_day == 10
    assert result.notes == ()
    assert result.comparison == (
        ("as-is", usd("20.8125")),
        ("cache off", usd("24.867")),
        ("tiers off", usd("33.99")),
        ("both off", usd("40.68")),
    )
    assert result.comparison_notes == ("house: house-model (strongest tier) has no price; tiers kept as observed",)


async def test_cache_off_prices_each_hit_as_an_average_miss(db: Database, tmp_path: Path) -> None:
    result = forecast(await logged(db), route_facts(load(tmp_path)), Fraction(1), Scenario(cache="off"))
    assert result is not None
    # smart: 10 misses cost 0.13515, 0.013515 each; the 2 hits add 0.02703 -> 0.16218 * 15
    assert monthly(result) == {
        "smart": (usd("2.02725"), usd("2.4327")),
        "house": (usd("0.03"), usd("0.03")),
        "plain": (usd("0.024"), usd("0.024")),
        None: (0, 0),
    }
    assert result.total.difference_nanos == usd("0.40545")
    assert result.notes == ()


async def test_tiers_off_prices_every_tiered_request_at_the_strongest(db: Database, tmp_path: Path) -> None:
    result = forecast(await logged(db), route_facts(load(tmp_path)), Fraction(1), Scenario(tiers="off"))
    assert result is not None
    # smart: 13,000 prompt and 3,100 completion tokens at 10 / 30 = 0.223; the hits stay free
    assert monthly(result)["smart"] == (usd("2.02725"), usd("3.345"))
    assert monthly(result)["house"] == (usd("0.03"), usd("0.03"))
    assert result.notes == ("house: house-model (strongest tier) has no price; tiers kept as observed",)


async def test_both_off_prices_hits_at_the_strong_average(db: Database, tmp_path: Path) -> None:
    result = forecast(await logged(db), route_facts(load(tmp_path)), Fraction(1), Scenario(cache="off", tiers="off"))
    assert result is not None
    # smart: 0.223 for 10 misses, 0.0223 each, + 2 hits = 0.2676 * 15
    assert monthly(result)["smart"] == (usd("2.02725"), usd("4.014"))
    assert result.total.scenario_nanos == dict(result.comparison)["both off"]


async def test_cache_on_needs_an_assumed_rate_for_routes_without_one(db: Database, tmp_path: Path) -> None:
    slices, facts = await logged(db), route_facts(load(tmp_path))
    result = forecast(slices, facts, Fraction(1), Scenario(cache="on"))
    assert result is not None
    assert all(baseline == scenario for baseline, scenario in monthly(result).values())
    assert result.notes == (
        "house: has no cache and no hit rate was assumed for it; kept as observed",
        "plain: has no cache and no hit rate was assumed for it; kept as observed",
    )
    assumed = forecast(slices, facts, Fraction(1), Scenario(cache="on", hit_rate=Fraction(3, 10)))
    assert assumed is not None
    # plain: 5 requests at 0.0016 / 5 each, 70% of them paid: 0.00112 * 15; house: 0.002 * 0.7 * 15
    # smart has a cache and keeps its observed hit rate.
    assert monthly(assumed) == {
        "smart": (usd("2.02725"), usd("2.02725")),
        "house": (usd("0.03"), usd("0.021")),
        "plain": (usd("0.024"), usd("0.0168")),
        None: (0, 0),
    }
    assert assumed.notes == ()


async def test_tiers_on_cannot_give_a_route_tiers(db: Database, tmp_path: Path) -> None:
    result = forecast(await logged(db), route_facts(load(tmp_path)), Fraction(1), Scenario(tiers="on"))
    assert result is not None
    assert all(baseline == scenario for baseline, scenario in monthly(result).values())
    assert result.notes == ("plain: has no tiers to turn on; kept as observed",)


def slice_(route: str, cost: int, first: float, last: float, requests: int = 1, cache: str | None = None) -> CostSlice:
    return CostSlice(route, None, cache, None, requests, 0, 0, cost, first, last)


def test_a_burst_is_spread_over_an_hour_at_least() -> None:
    # 3 requests in ten minutes costing 3,000 nano-dollars: as if over an hour, 24 * 3,000 a day
    burst = [slice_("r", 3_000, T0, T0 + 600, requests=3)]
    result = forecast(burst, {}, Fraction(1), Scenario())
    assert result is not None
    assert result.span == Span(T0, T0 + 600) and result.span.seconds == 3600
    assert result.routes[0].requests_per_day == 72
    assert result.routes[0].baseline_nanos == 3_000 * 24 * 30


def test_a_span_under_a_day_is_extrapolated_from_itself() -> None:
    six_hours = [slice_("r", 20_000, T0, T0 + 6 * HOUR, requests=2)]
    result = forecast(six_hours, {}, Fraction(1, 2), Scenario())
    assert result is not None
    assert result.span.days == Fraction(1, 4)
    assert result.routes[0].cost_per_day == 80_000
    assert result.routes[0].baseline_nanos == 80_000 * 30 // 2


def test_each_route_is_rounded_once_and_totals_add_the_rounded_figures() -> None:
    # One nano-dollar a week is 30/7 = 4.29 a month: three routes show 4 each, and the total 12, not 13.
    week = [slice_(name, 1, T0, T0 + 7 * 24 * HOUR) for name in ("a", "b", "c")]
    result = forecast(week, {}, Fraction(1), Scenario())
    assert result is not None
    assert [row.baseline_nanos for row in result.routes] == [4, 4, 4]
    assert result.total.baseline_nanos == 12
    # Ties go to even: at 7/60 of the traffic a month is half the week's cost: 0.5 -> 0 and 1.5 -> 2.
    half = forecast([slice_("a", 1, T0, T0 + 7 * 24 * HOUR), slice_("b", 3, T0, T0)], {}, Fraction(7, 60), Scenario())
    assert half is not None
    assert monthly(half) == {"a": (0, 0), "b": (2, 2)}


def test_a_route_served_only_from_the_cache_keeps_its_cost() -> None:
    hits = [slice_("r", 0, T0, T0 + 24 * HOUR, requests=4, cache="hit")]
    result = forecast(hits, {"r": RouteFacts(cached=True)}, Fraction(1), Scenario(cache="off"))
    assert result is not None
    assert monthly(result) == {"r": (0, 0)}
    assert result.notes == ("r: every request was a cache hit, leaving nothing to price a miss by; kept as observed",)


def test_no_requests_no_forecast() -> None:
    assert forecast([], {}, Fraction(10), Scenario()) is None


@pytest.mark.parametrize(
    ("text", "multiplier"),
    [
        ("10x", 10),
        ("10", 10),
        ("0.5x", Fraction(1, 2)),
        ("150%", Fraction(3, 2)),
        (" 2X ", 2),
        ("1.25", Fraction(5, 4)),
    ],
)
def test_traffic_multipliers(text: str, multiplier: Fraction) -> None:
    assert parse_traffic(text) == multiplier


@pytest.mark.parametrize("text", ["", "x", "ten", "-2x", "10xx", "1e3", "0", "0%", "0x", "1,5x", "10 x", "x10", ".5x"])
def test_bad_traffic_multipliers(text: str) -> None:
    with pytest.raises(ValueError):
        parse_traffic(text)


def test_hit_rates() -> None:
    assert parse_hit_rate("0.3") == Fraction(3, 10)
    assert parse_hit_rate("30%") == Fraction(3, 10)
    assert parse_hit_rate("0") == 0 and parse_hit_rate("1") == 1
    for bad in ("1.5", "150%", "-0.1", "a third", "0.3x"):
        with pytest.raises(ValueError):
            parse_hit_rate(bad)
