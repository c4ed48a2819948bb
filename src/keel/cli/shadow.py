"""``keel shadow report ROUTE``: how a route's shadow candidate did against the live answers."""

from __future__ import annotations

import json
import time
from typing import Annotated

import typer

from keel.cli.common import ConfigOpt, config_path, fail, load, out, run
from keel.config.runtime import RuntimeConfig
from keel.services.spend import parse_when
from keel.shadow.report import print_summary, similar_at, summary_json
from keel.shadow.store import ShadowSummary, SqlShadowStore
from keel.store.sql import open_database

shadow_app = typer.Typer(
    no_args_is_help=True, help="Shadow traffic: a candidate deployment tried on mirrored requests."
)


async def _summary(config: RuntimeConfig, route: str, since: float, until: float | None) -> ShadowSummary:
    storage = config.raw.storage
    db = await open_database(storage.database_url, schema=storage.database_schema)
    try:
        return await SqlShadowStore(db).summary(route, since, until, similar_at(config, route))
    finally:
        await db.aclose()


@shadow_app.command("report")
def report_command(
    route: Annotated[str, typer.Argument(help="The route whose shadow results to sum up")],
    since: Annotated[str, typer.Option(help="Start: 24h, 30d, 90m ago, or an ISO date (UTC)")] = "24h",
    until: Annotated[str | None, typer.Option(help="End (exclusive), same forms as --since; default now")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document; amounts as exact strings")] = False,
    config: ConfigOpt = None,
) -> None:
    """Latency, cost, similarity and guard outcomes of the candidate against the live answers."""
    now = time.time()
    try:
        start = parse_when(since, now)
        end = parse_when(until, now) if until is not None else None
    except ValueError as error:
        fail(f"--since/--until: {error}")
    if end is not None and end <= start:
        fail("--until must be later than --since")
    cfg = load(config_path(config))
    summary = run(_summary(cfg, route, start, end))
    if as_json:
        typer.echo(json.dumps(summary_json(summary), indent=2))
        return
    print_summary(summary, out)
