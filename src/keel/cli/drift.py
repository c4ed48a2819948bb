"""``keel drift report`` and ``keel drift reset``: a route's drift, over every replica's window."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from keel.cli.common import ConfigOpt, config_path, fail, load, out, run
from keel.config.runtime import RuntimeConfig
from keel.monitor.drift import DriftReport, render_table, report_to_json
from keel.monitor.drift_service import merged_report
from keel.store.sql import open_database
from keel.store.sql_drift import SqlDriftStore

drift_app = typer.Typer(help="Drift of a route's inputs and outputs against its baseline.", no_args_is_help=True)

RouteOpt = Annotated[str, typer.Option("--route", help="The route (it must have `drift:` in its config)")]


def _drift_route(cfg: RuntimeConfig, route: str) -> None:
    found = cfg.routes.get(route)
    if found is None:
        fail(f"no route named {route!r}")
    if found.config.drift is None:
        fail(f"route {route!r} has no drift monitoring; add `drift: {{}}` to it")


@drift_app.command("report")
def report(
    route: RouteOpt,
    as_json: Annotated[bool, typer.Option("--json", help="The report as JSON")] = False,
    config: ConfigOpt = None,
) -> None:
    """Each feature's test, statistic, p-value, PSI and verdict."""
    cfg = load(config_path(config))
    _drift_route(cfg, route)
    drift = cfg.routes[route].config.drift
    assert drift is not None

    async def build() -> tuple[DriftReport | None, str]:
        db = await open_database(cfg.raw.storage.database_url, schema=cfg.raw.storage.database_schema)
        try:
            return await merged_report(SqlDriftStore(db), route, drift)
        finally:
            await db.aclose()

    found, why = run(build())
    if found is None:
        out.print(why, highlight=False)
        return
    if as_json:
        typer.echo(json.dumps(report_to_json(found), indent=2))
        return
    typer.echo(render_table(found))


@drift_app.command("reset")
def reset(route: RouteOpt, config: ConfigOpt = None) -> None:
    """Forget the route's baseline and windows: a new baseline is collected from now on."""
    cfg = load(config_path(config))
    _drift_route(cfg, route)

    async def clear() -> None:
        db = await open_database(cfg.raw.storage.database_url, schema=cfg.raw.storage.database_schema)
        try:
            await SqlDriftStore(db).reset(route)
        finally:
            await db.aclose()

    run(clear())
    out.print(
        f"drift baseline of {route} cleared; running gateways start a new one at their next sync", highlight=False
    )
