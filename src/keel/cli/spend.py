"""``keel spend``: what the request log says was spent, grouped by one dimension, over a time window."""

from __future__ import annotations

import json
import time
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Annotated, cast

import typer
from rich.table import Table

from keel.cli.common import ConfigOpt, config_path, fail, load, out, run
from keel.services.spend import parse_when, spend_report, total_of
from keel.store.sql_spend import SPEND_BY, SpendBy, SpendRow

_SHOWN = Decimal("0.000001")  # the table shows micro-dollars; --json gives every digit


def _when(option: str, text: str | None, now: float) -> float | None:
    if text is None:
        return None
    try:
        return parse_when(text, now)
    except ValueError as error:
        fail(f"{option}: {error}")


def _row_json(row: SpendRow) -> dict[str, object]:
    return {
        "group": row.group,
        "requests": row.requests,
        "prompt_tokens": row.prompt_tokens,
        "completion_tokens": row.completion_tokens,
        # A string, so that no JSON reader turns the exact amount into a float.
        "cost_usd": format(row.cost_usd.quantize(Decimal("1e-9")), "f"),
    }


def _print_table(by: str, rows: list[SpendRow]) -> None:
    table = Table(by, "requests", "prompt tokens", "completion tokens", "cost (USD)")
    for column in table.columns[1:]:
        column.justify = "right"
    table.columns[0].overflow = "fold"

    def add(label: str, row: SpendRow, style: str | None = None) -> None:
        cost = format(row.cost_usd.quantize(_SHOWN, rounding=ROUND_HALF_EVEN), "f")
        table.add_row(
            label,
            f"{row.requests:,}",
            f"{row.prompt_tokens:,}",
            f"{row.completion_tokens:,}",
            cost,
            style=style,
        )

    for row in rows:
        add("(none)" if row.group is None else row.group, row)
    table.add_section()
    add("total", total_of(rows), style="bold")
    out.print(table)


def spend_command(
    by: Annotated[str, typer.Option("--by", help=f"Group by one of: {', '.join(SPEND_BY)}")] = "route",
    since: Annotated[str, typer.Option(help="Start: 30d, 12h, 90m ago, or an ISO date (UTC)")] = "30d",
    until: Annotated[str | None, typer.Option(help="End (exclusive), same forms as --since; default now")] = None,
    route: Annotated[str | None, typer.Option(help="Only this route")] = None,
    team: Annotated[str | None, typer.Option(help="Only this team")] = None,
    key: Annotated[str | None, typer.Option(help="Only this key id")] = None,
    feature: Annotated[str | None, typer.Option(help="Only this feature")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON list of rows; costs as exact strings")] = False,
    config: ConfigOpt = None,
) -> None:
    """Spend from the request log, most expensive first, with a total."""
    if by not in SPEND_BY:
        fail(f"--by must be one of {', '.join(SPEND_BY)}, not {by!r}")
    now = time.time()
    start, end = _when("--since", since, now), _when("--until", until, now)
    if start is not None and end is not None and end <= start:
        fail("--until must be later than --since")
    filters = {
        name: value
        for name, value in (("route", route), ("team", team), ("key", key), ("feature", feature))
        if value is not None
    }
    cfg = load(config_path(config))
    rows = run(spend_report(cfg, cast(SpendBy, by), start, end, filters))
    if as_json:
        typer.echo(json.dumps([_row_json(row) for row in rows], indent=2))
        return
    _print_table(by, rows)
