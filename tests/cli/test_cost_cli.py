"""``keel cost tiers`` and ``keel cost forecast`` over a SQLite request log, and the text bar chart.

The log and config are those of ``tests/cost/test_forecast.py`` (two days of traffic on a tiered and
cached route, a plain route and a tiered route whose strongest tier has no price); the figures below
are worked out there. Commands run in-process through the ``keel`` app, as registered.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from keel.cli.chart import bar_chart
from keel.cli.main import app
from keel.store.sql import open_database
from keel.store.sql_request_log import SqlRequestLogStore
from tests.cost.test_forecast import request_log, write_config

WINDOW = ("--since", "2024-03-01", "--until", "2024-03-05")


@pytest.fixture
async def config(tmp_path: Path) -> Path:
    url = f"sqlite:///{tmp_path}/keel.db"
    db = await open_database(url)
    try:
        await SqlRequestLogStore(db).write_batch(request_log())
    finally:
        await db.aclose()
    return write_config(tmp_path, url)


def keel_cost(config: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["cost", *args, "--config", str(config)])
    return result.exit_code, result.stdout, result.stderr


def ok(config: Path, *args: str) -> str:
    code, stdout, stderr = keel_cost(config, *args)
    assert code == 0, stderr
    return stdout


def table_rows(text: str) -> list[list[str]]:
    """The cells of every table row in ``text`` (header included)."""
    rows = []
    for line in text.splitlines():
        separator = "│" if "│" in line else "┃"
        if separator in line and any(ch.isalnum() for ch in line):
            rows.append([cell.strip() for cell in line.strip().strip("│┃").split(separator)])
    return rows


# keel cost tiers


def test_tiers_table(config: Path) -> None:
    stdout = ok(config, "tiers", *WINDOW)
    smart, house = stdout.split("\nhouse\n")
    assert table_rows(smart) == [
        ["tier", "requests", "share", "cost (USD)", "share of cost"],
        ["cheap", "6", "50.00%", "0.004800", "3.55%"],
        ["strong", "4", "33.33%", "0.130350", "96.45%"],
        ["(no tier)", "2", "16.67%", "0.000000", "0.00%"],
        ["total", "12", "", "0.135150", ""],
    ]
    assert "escalated: 3 of 12 requests\n  cheap: refusal     2\n  cheap: truncation  1\n" in smart
    assert "all on the strongest tier (big): 0.223000 USD; saved 0.087850 USD (39.39%)\n" in smart
    assert table_rows(house)[1:] == [
        ["cheap", "2", "100.00%", "0.002000", "100.00%"],
        ["strong", "0", "0.00%", "0.000000", "0.00%"],
        ["total", "2", "", "0.002000", ""],
    ]
    assert "escalated: 0 of 2 requests\nsaving: unknown, house-model (strongest tier) has no price\n" in house


def test_tiers_json_is_exact(config: Path) -> None:
    report = json.loads(ok(config, "tiers", *WINDOW, "--route", "smart", "--json"))
    assert report == [
        {
            "route": "smart",
            "requests": 12,
            "cost_usd": "0.135150000",
            "tiers": [
                {
                    "tier": "cheap",
                    "requests": 6,
                    "request_share_percent": "50.00",
                    "cost_usd": "0.004800000",
                    "cost_share_percent": "3.55",
                },
                {
                    "tier": "strong",
                    "requests": 4,
                    "request_share_percent": "33.33",
                    "cost_usd": "0.130350000",
                    "cost_share_percent": "96.45",
                },
                {
                    "tier": None,
                    "requests": 2,
                    "request_share_percent": "16.67",
                    "cost_usd": "0.000000000",
                    "cost_share_percent": "0.00",
                },
            ],
            "escalated_requests": 3,
            "escalations": [
                {"reason": "cheap: refusal", "requests": 2},
                {"reason": "cheap: truncation", "requests": 1},
            ],
            "strongest_deployment": "big",
            "all_strong_cost_usd": "0.223000000",
            "saving_usd": "0.087850000",
            "saving_percent": "39.39",
        }
    ]


def test_tiers_on_an_empty_window(config: Path) -> None:
    stdout = ok(config, "tiers", "--since", "2025-01-01", "--route", "smart")
    assert "smart: no requests in the window\n" in stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--route", "plain"], "error: --route: route 'plain' has no tiers\n"),
        (["--route", "nope"], "error: --route: no route named 'nope' in the config\n"),
        (["--since", "lately"], "error: --since: 'lately' is neither a duration (30d, 12h, 90m) nor an ISO date"),
        (["--since", "1h", "--until", "2h"], "error: --until must be later than --since\n"),
    ],
)
def test_tiers_bad_options_fail_in_one_line(config: Path, args: list[str], message: str) -> None:
    code, stdout, stderr = keel_cost(config, "tiers", *args)
    assert code == 1 and stdout == ""
    assert stderr.count("\n") == 1 and stderr.startswith(message)


# keel cost forecast


def test_forecast_table_and_chart(config: Path) -> None:
    stdout = ok(config, "forecast", *WINDOW, "--traffic", "10x")
    lines = stdout.splitlines()
    assert lines[:3] == [
        "span used: 2 days (requests from 2024-03-01T00:00:00+00:00 to 2024-03-03T00:00:00+00:00)",
        "a month is 30 days at 10x the observed traffic; amounts in USD",
        "scenario: as-is",
    ]
    assert table_rows(stdout) == [
        ["route", "req/day", "cost/day", "month as-is", "month scenario", "difference"],
        ["smart", "6.0", "0.067575", "20.272500", "20.272500", "+0.000000"],
        ["house", "1.0", "0.001000", "0.300000", "0.300000", "+0.000000"],
        ["plain", "2.5", "0.000800", "0.240000", "0.240000", "+0.000000"],
        ["(no route)", "0.5", "0.000000", "0.000000", "0.000000", "+0.000000"],
        ["total", "10.0", "0.069375", "20.812500", "20.812500", "+0.000000"],
    ]
    chart = lines[lines.index("a month at 10x traffic, by scenario:") + 1 :]
    # Bars to scale with the largest (40 cells): 20.8125 / 40.68 * 40 = 20.46 cells, 20 and a half.
    assert chart == [
        "    as-is " + ("█" * 20 + "▌").ljust(40) + " 20.812500",
        "cache off " + ("█" * 24 + "▌").ljust(40) + " 24.867000",
        "tiers off " + ("█" * 33 + "▍").ljust(40) + " 33.990000",
        " both off " + "█" * 40 + " 40.680000",
        "* house: house-model (strongest tier) has no price; tiers kept as observed",
    ]


def test_forecast_scenario_columns_and_no_chart(config: Path) -> None:
    stdout = ok(config, "forecast", *WINDOW, "--cache", "off", "--no-chart")
    assert "scenario: cache off\n" in stdout
    assert table_rows(stdout)[1] == ["smart", "6.0", "0.067575", "2.027250", "2.432700", "+0.405450"]
    assert table_rows(stdout)[-1] == ["total", "10.0", "0.069375", "2.081250", "2.486700", "+0.405450"]
    assert "by scenario" not in stdout and "█" not in stdout
    assert "*" not in stdout  # the unpriced strongest tier only matters to the chart's tiers-off bars


def test_forecast_cache_on_with_an_assumed_hit_rate(config: Path) -> None:
    stdout = ok(config, "forecast", *WINDOW, "--cache", "on", "--tiers", "on", "--cache-hit-rate", "30%", "--no-chart")
    assert "scenario: cache on (30% hits assumed where there is none), tiers on\n" in stdout
    assert table_rows(stdout)[2:4] == [
        ["house", "1.0", "0.001000", "0.030000", "0.021000", "-0.009000"],
        ["plain", "2.5", "0.000800", "0.024000", "0.016800", "-0.007200"],
    ]
    assert stdout.endswith("* plain: has no tiers to turn on; kept as observed\n")


def test_forecast_json_is_exact(config: Path) -> None:
    document = json.loads(
        ok(config, "forecast", *WINDOW, "--traffic", "150%", "--cache", "off", "--tiers", "off", "--json")
    )
    assert document["window"] == {
        "since": "2024-03-01T00:00:00+00:00",
        "until": "2024-03-05T00:00:00+00:00",
        "first_request": "2024-03-01T00:00:00+00:00",
        "last_request": "2024-03-03T00:00:00+00:00",
        "span_seconds": "172800.000000",
    }
    assert document["traffic"] == "1.5"
    assert document["scenario"] == {"cache": "off", "tiers": "off", "cache_hit_rate": None}
    # smart: 0.13515 * 15 * 1.5 as observed; 0.2676 * 15 * 1.5 with both off
    assert document["routes"][0] == {
        "route": "smart",
        "requests": 12,
        "requests_per_day": "6.000000",
        "cost_per_day_usd": "0.067575000",
        "baseline_monthly_usd": "3.040875000",
        "scenario_monthly_usd": "6.021000000",
        "difference_usd": "2.980125000",
    }
    assert [row["route"] for row in document["routes"]] == ["smart", "house", "plain", None]
    assert document["total"] == {
        "requests": 20,
        "requests_per_day": "10.000000",
        "cost_per_day_usd": "0.069375000",
        "baseline_monthly_usd": "3.121875000",
        "scenario_monthly_usd": "6.102000000",
        "difference_usd": "2.980125000",
    }
    assert document["scenarios"] == {
        "as-is": "3.121875000",
        "cache off": "3.730050000",
        "tiers off": "5.098500000",
        "both off": "6.102000000",
    }
    assert document["notes"] == ["house: house-model (strongest tier) has no price; tiers kept as observed"]


def test_forecast_of_a_burst_states_the_hour_it_assumes(config: Path) -> None:
    # Only the six cheap requests at midnight: 0.0048 in "an hour", 0.1152 a day, 3.456 a month.
    stdout = ok(config, "forecast", "--since", "2024-03-01T00:00", "--until", "2024-03-01T00:30", "--no-chart")
    assert stdout.startswith("span used: 1 hour, the shortest extrapolated (requests from 2024-03-01T00:00:00+00:00")
    assert table_rows(stdout)[1] == ["smart", "144.0", "0.115200", "3.456000", "3.456000", "+0.000000"]


def test_forecast_of_a_few_hours_uses_their_span(config: Path) -> None:
    stdout = ok(config, "forecast", "--since", "2024-03-01", "--until", "2024-03-01T06:30", "--no-chart")
    assert stdout.startswith("span used: 6 hours (requests from")
    # plain: four requests at 5 h and a failure at 6 h: 0.0016 in 6 hours, 0.0064 a day, 0.192 a month
    assert ["plain", "20.0", "0.006400", "0.192000", "0.192000", "+0.000000"] in table_rows(stdout)


def test_forecast_of_an_empty_window(config: Path) -> None:
    assert ok(config, "forecast", "--since", "2025-01-01") == "no requests in the window\n"
    assert json.loads(ok(config, "forecast", "--since", "2025-01-01", "--json")) == {
        "routes": [],
        "notes": ["no requests in the window"],
    }


@pytest.mark.parametrize("traffic", ["ten", "-2x", "0", "10xx", "1e3", "x10", "2 x"])
def test_bad_traffic_fails_in_one_line(config: Path, traffic: str) -> None:
    code, stdout, stderr = keel_cost(config, "forecast", "--traffic", traffic)
    assert code == 1 and stdout == ""
    assert stderr.count("\n") == 1 and stderr.startswith(f"error: --traffic: {traffic!r} ")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--cache", "maybe"], "error: --cache must be one of on, off, as-is, not 'maybe'\n"),
        (["--tiers", "some"], "error: --tiers must be one of on, off, as-is, not 'some'\n"),
        (["--cache-hit-rate", "0.3"], "error: --cache-hit-rate needs --cache on\n"),
        (["--cache", "on", "--cache-hit-rate", "2"], "error: --cache-hit-rate: '2' is more than every request\n"),
        (["--until", "soon"], "error: --until: 'soon' is neither a duration"),
    ],
)
def test_forecast_bad_options_fail_in_one_line(config: Path, args: list[str], message: str) -> None:
    code, stdout, stderr = keel_cost(config, "forecast", *args)
    assert code == 1 and stdout == ""
    assert stderr.count("\n") == 1 and stderr.startswith(message)


# The chart


def test_bars_are_to_scale_in_eighths() -> None:
    rows = [("a", Decimal(10)), ("bb", Decimal(5)), ("c", Decimal(0)), ("d", Decimal("0.3125")), ("e", Decimal(9))]
    assert bar_chart(rows, 8).splitlines() == [
        " a " + "████████" + " " + "    10",
        "bb " + "████    " + " " + "     5",
        " c " + "        " + " " + "     0",
        " d " + "▎       " + " " + "0.3125",  # 0.3125 / 10 * 64 = 2 eighths
        " e " + "███████▎" + " " + "     9",  # 9 / 10 * 64 = 57.6 -> 58 eighths: 7 cells and 2 eighths
    ]


def test_chart_lines_line_up() -> None:
    rows = [("as-is", Decimal("1234.5")), ("both off", Decimal("0.25"))]
    lines = bar_chart(rows, 20).splitlines()
    assert lines == ["   as-is " + "█" * 20 + " 1,234.5", "both off " + " " * 20 + "    0.25"]
    assert len({len(line) for line in lines}) == 1


def test_chart_of_nothing() -> None:
    assert bar_chart([("zero", Decimal(0))], 4) == "zero      0"
    assert bar_chart([], 4) == ""
    with pytest.raises(ValueError, match="width"):
        bar_chart([("a", Decimal(1))], 0)
    with pytest.raises(ValueError, match="negative"):
        bar_chart([("a", Decimal(-1))], 5)
