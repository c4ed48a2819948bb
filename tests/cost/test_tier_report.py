"""The tiered-routing report over the request log of ``test_forecast``, on SQLite and PostgreSQL."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from keel.cost.money import usd_to_nanos
from keel.cost.prices import Price
from keel.cost.tier_report import (
    TierLine,
    all_strong_nanos,
    escalation_reasons,
    strongest_price,
    tier_report,
    tiered_routes,
)
from keel.store.sql import Database
from keel.store.sql_cost_history import CostSlice
from tests.cost.test_forecast import T0, load, logged
from tests.store import conftest as store_fixtures

# A fresh database per test, on SQLite and on PostgreSQL (a schema of its own).
db_target = store_fixtures.db_target
db = store_fixtures.db


async def test_smart_route_by_tier_with_its_saving(db: Database, tmp_path: Path) -> None:
    cfg = load(tmp_path)
    report = tier_report(cfg, cfg.routes["smart"], await logged(db))
    assert report.lines == (
        TierLine("cheap", 6, usd_to_nanos("0.0048")),
        TierLine("strong", 4, usd_to_nanos("0.13035")),  # 0.0336 + 0.03675 + 0.06
        TierLine(None, 2, 0),  # the cache hits
    )
    assert (report.requests, report.cost_nanos) == (12, usd_to_nanos("0.13515"))
    assert [report.request_share(line) for line in report.lines] == [Fraction(1, 2), Fraction(1, 3), Fraction(1, 6)]
    assert [report.cost_share(line) for line in report.lines] == [
        Fraction(4_800, 135_150),
        Fraction(130_350, 135_150),
        0,
    ]
    assert report.escalated == 3
    assert report.escalations == (("cheap: refusal", 2), ("cheap: truncation", 1))
    # 13,000 prompt tokens * 10 + 3,100 completion tokens * 30 per million, at the first strong deployment
    assert report.strong.deployment == "big"
    assert report.all_strong_nanos == usd_to_nanos("0.223")
    assert report.saving_nanos == usd_to_nanos("0.08785")
    assert report.saving_share == Fraction(8_785, 22_300)


async def test_unpriced_strongest_tier_leaves_the_saving_unknown(db: Database, tmp_path: Path) -> None:
    cfg = load(tmp_path)
    report = tier_report(cfg, cfg.routes["house"], await logged(db))
    assert report.lines == (TierLine("cheap", 2, usd_to_nanos("0.002")), TierLine("strong", 0, 0))
    assert (report.escalated, report.escalations) == (0, ())
    assert report.strong.deployment == "house-model" and report.strong.price is None
    assert (report.all_strong_nanos, report.saving_nanos, report.saving_share) == (None, None, None)


def test_empty_window_gives_zero_rows_and_no_shares(tmp_path: Path) -> None:
    cfg = load(tmp_path)
    report = tier_report(cfg, cfg.routes["smart"], [])
    assert report.lines == (TierLine("cheap", 0, 0), TierLine("strong", 0, 0))
    assert report.request_share(report.lines[0]) is None and report.cost_share(report.lines[0]) is None
    assert (report.all_strong_nanos, report.saving_nanos, report.saving_share) == (0, 0, None)


def test_tiers_the_config_no_longer_names_come_after_the_configured_ones(tmp_path: Path) -> None:
    cfg = load(tmp_path)

    def served(tier: str | None, requests: int) -> CostSlice:
        return CostSlice("smart", tier, None, None, requests, 0, 0, 1_000 * requests, T0, T0)

    other_route = CostSlice("plain", "cheap", None, None, 9, 0, 0, 9, T0, T0)
    report = tier_report(
        cfg, cfg.routes["smart"], [served("legacy", 3), served(None, 1), served("cheap", 2), other_route]
    )
    assert [(line.tier, line.requests) for line in report.lines] == [
        ("cheap", 2),
        ("strong", 0),
        ("legacy", 3),
        (None, 1),
    ]


def test_a_request_that_climbed_two_tiers_counts_under_both_reasons(tmp_path: Path) -> None:
    cfg = load(tmp_path)

    def escalated(reason: str | None, requests: int) -> CostSlice:
        return CostSlice("smart", "strong", "miss", reason, requests, 0, 0, 0, T0, T0)

    slices = [escalated("cheap: refusal; mid: empty", 2), escalated("cheap: empty", 1), escalated(None, 4)]
    report = tier_report(cfg, cfg.routes["smart"], slices)
    assert report.escalated == 3
    assert report.escalations == (("cheap: refusal", 2), ("mid: empty", 2), ("cheap: empty", 1))
    assert escalation_reasons(None) == [] and escalation_reasons("cheap: refusal") == ["cheap: refusal"]


def test_tokens_are_summed_before_they_are_priced() -> None:
    # Half a nano-dollar a token: priced one request at a time, each would round to nothing.
    price = Price(input_per_mtok=0.0005, output_per_mtok=0)
    one_token = CostSlice("r", "cheap", "miss", None, 1, 1, 0, 0, T0, T0)
    hit = CostSlice("r", "cheap", "hit", None, 5, 500, 500, 7, T0, T0)  # a hit keeps its own cost
    assert all_strong_nanos([one_token, one_token, hit], price) == 1 + 7


def test_strongest_price_is_the_first_strong_deployment(tmp_path: Path) -> None:
    cfg = load(tmp_path)
    tiering = cfg.routes["smart"].config.tiering
    assert tiering is not None
    strong = strongest_price(cfg, tiering)
    assert strong.deployment == "big"
    assert strong.price == Price(input_per_mtok=10, output_per_mtok=30)


def test_tiered_routes(tmp_path: Path) -> None:
    cfg = load(tmp_path)
    assert [route.name for route in tiered_routes(cfg, None)] == ["smart", "house"]
    assert [route.name for route in tiered_routes(cfg, "house")] == ["house"]
    with pytest.raises(ValueError, match="route 'plain' has no tiers"):
        tiered_routes(cfg, "plain")
    with pytest.raises(ValueError, match="no route named 'nope' in the config"):
        tiered_routes(cfg, "nope")
    with pytest.raises(ValueError, match="route 'plain' has no tiers"):
        tier_report(cfg, cfg.routes["plain"], [])
