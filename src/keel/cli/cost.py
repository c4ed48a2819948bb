"""``keel cost``: what the request log says about cost to come and about what tiered routing saves.

``keel cost forecast`` projects a month at a chosen traffic, with the cache and tiers as observed or
switched off; ``keel cost tiers`` splits each tiered route's traffic and cost by tier. The tables show
micro-dollars; ``--json`` gives every amount as an exact string of nine decimals.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from typing import Annotated, cast

import typer
from rich.table import Table
from rich.text import Text

from keel.cli.chart import bar_chart
from keel.cli.common import ConfigOpt, config_path, fail, load, out, run
from keel.config.runtime import RuntimeConfig
from keel.cost.forecast import (
    DAY_S,
    DAYS_PER_MONTH,
    MIN_SPAN_S,
    MODES,
    Forecast,
    Mode,
    RouteForecast,
    Scenario,
    forecast,
    parse_hit_rate,
    parse_traffic,
    route_facts,
    route_label,
)
from keel.cost.money import nanos_to_usd
from keel.cost.tier_report import TierLine, TierReport, tier_report, tiered_routes
from keel.services.spend import parse_when
from keel.store.sql import open_database
from keel.store.sql_cost_history import CostSlice, SqlCostHistoryStore

cost_app = typer.Typer(no_args_is_help=True, help="Cost forecasts and tiered-routing savings from the request log.")

_SHOWN = Decimal("0.000001")  # the tables show micro-dollars; --json gives every nano-dollar
_CHART_WIDTH = 40
_EMPTY = "no requests in the window"

SinceOpt = Annotated[str, typer.Option(help="Start: 30d, 12h, 90m ago, or an ISO date (UTC)")]
UntilOpt = Annotated[str | None, typer.Option(help="End (exclusive), same forms as --since; default now")]
JsonOpt = Annotated[bool, typer.Option("--json", help="One JSON document; amounts as exact strings")]


def _window(since: str, until: str | None) -> tuple[float, float | None]:
    now = time.time()
    try:
        start = parse_when(since, now)
    except ValueError as error:
        fail(f"--since: {error}")
    try:
        end = None if until is None else parse_when(until, now)
    except ValueError as error:
        fail(f"--until: {error}")
    if end is not None and end <= start:
        fail("--until must be later than --since")
    return start, end


async def _slices(config: RuntimeConfig, since: float, until: float | None, route: str | None) -> list[CostSlice]:
    db = await open_database(config.raw.storage.database_url, schema=config.raw.storage.database_schema)
    try:
        return await SqlCostHistoryStore(db).slices(since, until, route)
    finally:
        await db.aclose()


def _fixed(value: Fraction, places: int) -> Decimal:
    """``value`` rounded half to even to ``places`` decimals, exactly."""
    return Decimal(round(value * 10**places)).scaleb(-places)


def _usd(nanos: int | Fraction) -> Decimal:
    """Nano-dollars as dollars, rounded half to even to the nano-dollar (nine decimals)."""
    return nanos_to_usd(round(nanos))


def _exact(nanos: int | Fraction) -> str:
    """All nine decimals, for JSON: a string, so that no JSON reader turns the amount into a float."""
    return format(_usd(nanos), "f")


def _shown(nanos: int | Fraction) -> Decimal:
    return _usd(nanos).quantize(_SHOWN, rounding=ROUND_HALF_EVEN)


def _percent(share: Fraction | None) -> str | None:
    """A share as a percentage with two decimals, for JSON; None when there is nothing to share."""
    return None if share is None else str(_fixed(share * 100, 2))


def _percent_shown(share: Fraction | None) -> str:
    percent = _percent(share)
    return "" if percent is None else f"{percent}%"


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def _number(value: Fraction, places: int = 6) -> str:
    """A multiplier, rate or span as people write it: 10, 0.5, 1.25 (at most ``places`` decimals)."""
    return format(_fixed(value, places).normalize(), "f")


def _say(text: str) -> None:
    """One line of plain text: names from the config or the log are never read as console markup."""
    out.print(text, markup=False, highlight=False)


def _right_aligned(*columns: str) -> Table:
    table = Table(*columns)
    for column in table.columns[1:]:
        column.justify = "right"
    table.columns[0].overflow = "fold"
    return table


# keel cost tiers


def _tier_json(report: TierReport, line: TierLine) -> dict[str, object]:
    return {
        "tier": line.tier,
        "requests": line.requests,
        "request_share_percent": _percent(report.request_share(line)),
        "cost_usd": _exact(line.cost_nanos),
        "cost_share_percent": _percent(report.cost_share(line)),
    }


def _report_json(report: TierReport) -> dict[str, object]:
    saving = report.saving_nanos
    return {
        "route": report.route,
        "requests": report.requests,
        "cost_usd": _exact(report.cost_nanos),
        "tiers": [_tier_json(report, line) for line in report.lines],
        "escalated_requests": report.escalated,
        "escalations": [{"reason": reason, "requests": count} for reason, count in report.escalations],
        "strongest_deployment": report.strong.deployment,
        "all_strong_cost_usd": None if report.all_strong_nanos is None else _exact(report.all_strong_nanos),
        "saving_usd": None if saving is None else _exact(saving),
        "saving_percent": _percent(report.saving_share),
    }


def _print_report(report: TierReport) -> None:
    if not report.requests:
        _say(f"{report.route}: {_EMPTY}")
        return
    out.print(Text(report.route, style="bold"))
    table = _right_aligned("tier", "requests", "share", "cost (USD)", "share of cost")
    for line in report.lines:
        table.add_row(
            Text("(no tier)" if line.tier is None else line.tier),
            f"{line.requests:,}",
            _percent_shown(report.request_share(line)),
            f"{_shown(line.cost_nanos):,f}",
            _percent_shown(report.cost_share(line)),
        )
    table.add_section()
    table.add_row("total", f"{report.requests:,}", "", f"{_shown(report.cost_nanos):,f}", "", style="bold")
    out.print(table)
    _say(f"escalated: {report.escalated:,} of {report.requests:,} requests")
    counts = [f"{count:,}" for _, count in report.escalations]
    reason_width = max((len(reason) for reason, _ in report.escalations), default=0)
    count_width = max((len(count) for count in counts), default=0)
    for (reason, _), count in zip(report.escalations, counts, strict=True):
        _say(f"  {reason:<{reason_width}}  {count:>{count_width}}")
    if report.all_strong_nanos is None or report.saving_nanos is None:
        _say(f"saving: unknown, {report.strong.deployment} (strongest tier) has no price")
        return
    _say(
        f"all on the strongest tier ({report.strong.deployment}): {_shown(report.all_strong_nanos):,f} USD; "
        f"saved {_shown(report.saving_nanos):,f} USD ({_percent_shown(report.saving_share) or 'n/a'})"
    )


@cost_app.command("tiers")
def tiers_command(
    route: Annotated[str | None, typer.Option(help="Only this tiered route")] = None,
    since: SinceOpt = "30d",
    until: UntilOpt = None,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Per tiered route: requests and cost by tier, escalations by reason, and the saving against all-strong."""
    start, end = _window(since, until)
    cfg = load(config_path(config))
    try:
        routes = tiered_routes(cfg, route)
    except ValueError as error:
        fail(f"--route: {error}")
    slices = run(_slices(cfg, start, end, route)) if routes else []
    reports = [tier_report(cfg, r, slices) for r in routes]
    if as_json:
        typer.echo(json.dumps([_report_json(report) for report in reports], indent=2))
        return
    if not reports:
        _say("no tiered routes in the config")
        return
    _say(f"request log from {_iso(start)} to {_iso(end or time.time())}")
    for report in reports:
        out.print()
        _print_report(report)
    out.print()
    _say(
        "The saving prices every request a tier answered at the strongest tier's first deployment, "
        "with the tokens it logged."
    )


# keel cost forecast


def _scenario_name(scenario: Scenario) -> str:
    parts: list[str] = []
    if scenario.cache != "as-is":
        parts.append(f"cache {scenario.cache}")
        if scenario.hit_rate is not None:
            parts[-1] += f" ({_number(scenario.hit_rate * 100)}% hits assumed where there is none)"
    if scenario.tiers != "as-is":
        parts.append(f"tiers {scenario.tiers}")
    return ", ".join(parts) or "as-is"


def _span_text(result: Forecast) -> str:
    span = result.span
    observed = f"requests from {_iso(span.first_ts)} to {_iso(span.last_ts)}"
    if span.last_ts - span.first_ts < MIN_SPAN_S:
        return f"span used: 1 hour, the shortest extrapolated ({observed})"
    if span.seconds < DAY_S:
        return f"span used: {_number(span.seconds / 3600, 3)} hours ({observed})"
    return f"span used: {_number(span.days, 3)} days ({observed})"


def _route_json(row: RouteForecast) -> dict[str, object]:
    return {
        "requests": row.requests,
        "requests_per_day": str(_fixed(row.requests_per_day, 6)),
        "cost_per_day_usd": _exact(row.cost_per_day),
        "baseline_monthly_usd": _exact(row.baseline_nanos),
        "scenario_monthly_usd": _exact(row.scenario_nanos),
        "difference_usd": _exact(row.difference_nanos),
    }


def _forecast_json(result: Forecast, since: float, until: float | None) -> dict[str, object]:
    scenario = result.scenario
    return {
        "window": {
            "since": _iso(since),
            "until": None if until is None else _iso(until),
            "first_request": _iso(result.span.first_ts),
            "last_request": _iso(result.span.last_ts),
            "span_seconds": str(_fixed(result.span.seconds, 6)),
        },
        "traffic": _number(result.traffic),
        "scenario": {
            "cache": scenario.cache,
            "tiers": scenario.tiers,
            "cache_hit_rate": None if scenario.hit_rate is None else _number(scenario.hit_rate),
        },
        "routes": [{"route": row.route, **_route_json(row)} for row in result.routes],
        "total": _route_json(result.total),
        "scenarios": {name: _exact(nanos) for name, nanos in result.comparison},
        "notes": list(result.notes),
        "scenario_notes": list(result.comparison_notes),
    }


def _print_forecast(result: Forecast, chart: bool) -> None:
    traffic = _number(result.traffic)
    name = _scenario_name(result.scenario)
    _say(_span_text(result))
    _say(f"a month is {DAYS_PER_MONTH} days at {traffic}x the observed traffic; amounts in USD")
    _say(f"scenario: {name}")
    table = _right_aligned("route", "req/day", "cost/day", "month as-is", "month scenario", "difference")

    def add(label: str, row: RouteForecast, style: str | None = None) -> None:
        table.add_row(
            Text(label),
            f"{_fixed(row.requests_per_day, 1):,f}",
            f"{_shown(row.cost_per_day):,f}",
            f"{_shown(row.baseline_nanos):,f}",
            f"{_shown(row.scenario_nanos):,f}",
            f"{_shown(row.difference_nanos):+,f}",
            style=style,
        )

    for row in result.routes:
        add(route_label(row.route), row)
    table.add_section()
    add("total", result.total, style="bold")
    out.print(table)
    notes = list(result.notes)
    if chart:
        _say(f"\na month at {traffic}x traffic, by scenario:")
        rows = [(label, _shown(nanos)) for label, nanos in result.comparison]
        _say(bar_chart(rows, _CHART_WIDTH))
        notes += [note for note in result.comparison_notes if note not in notes]
    for note in notes:
        _say(f"* {note}")


@cost_app.command("forecast")
def forecast_command(
    traffic: Annotated[str, typer.Option(help="Traffic multiplier: 10x, 10, 0.5x or 150%")] = "1x",
    since: SinceOpt = "30d",
    until: UntilOpt = None,
    route: Annotated[str | None, typer.Option(help="Only this route")] = None,
    cache: Annotated[str, typer.Option(help="The exact cache: on, off or as-is")] = "as-is",
    tiers: Annotated[str, typer.Option(help="Tiered routing: on, off (all on the strongest tier) or as-is")] = "as-is",
    cache_hit_rate: Annotated[
        str | None, typer.Option(help="With --cache on: hit rate to assume on routes without a cache (0.3 or 30%)")
    ] = None,
    as_json: JsonOpt = False,
    chart: Annotated[bool, typer.Option("--chart/--no-chart", help="Compare the four scenarios in a bar chart")] = True,
    config: ConfigOpt = None,
) -> None:
    """Project a month's cost from the request log, at a traffic multiplier, with or without cache and tiers."""
    try:
        multiplier = parse_traffic(traffic)
    except ValueError as error:
        fail(f"--traffic: {error}")
    for option, value in (("--cache", cache), ("--tiers", tiers)):
        if value not in MODES:
            fail(f"{option} must be one of {', '.join(MODES)}, not {value!r}")
    hit_rate = None
    if cache_hit_rate is not None:
        if cache != "on":
            fail("--cache-hit-rate needs --cache on")
        try:
            hit_rate = parse_hit_rate(cache_hit_rate)
        except ValueError as error:
            fail(f"--cache-hit-rate: {error}")
    start, end = _window(since, until)
    cfg = load(config_path(config))
    slices = run(_slices(cfg, start, end, route))
    scenario = Scenario(cache=cast(Mode, cache), tiers=cast(Mode, tiers), hit_rate=hit_rate)
    result = forecast(slices, route_facts(cfg), multiplier, scenario)
    if result is None:
        if as_json:
            typer.echo(json.dumps({"routes": [], "notes": [_EMPTY]}, indent=2))
        else:
            _say(_EMPTY)
        return
    if as_json:
        typer.echo(json.dumps(_forecast_json(result, start, end), indent=2))
        return
    _print_forecast(result, chart)
