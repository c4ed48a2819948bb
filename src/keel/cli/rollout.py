"""``keel rollout …``: start, watch, pause, resume and abort a route's canary rollout.

The commands work on the database the gateways share; running gateways pick a change up within a
second, and their analysis loops carry the rollout on from there. Exit codes: 0 done, 1 refused (no
such route or rollout, or a transition the rollout's phase does not allow), 3 conflict (the route
already has an active rollout, or the rollout changed meanwhile: look at its status and try again).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated, TypeVar

import typer

from keel.cli.common import ConfigOpt, config_path, fail, folding_table, load, out, run
from keel.config.runtime import RuntimeConfig
from keel.rollout.machine import RolloutError, RolloutState
from keel.rollout.observe import SqlObserver
from keel.rollout.service import RolloutService
from keel.rollout.store import RolloutConflict, SqlRolloutStore
from keel.server.rollout_api import rollout_json
from keel.store.sql import open_database

T = TypeVar("T")
REFUSED = 1
CONFLICT = 3

rollout_app = typer.Typer(no_args_is_help=True, help="Canary rollouts: start, watch, pause, resume, abort.")

Route = Annotated[str, typer.Argument(help="The route whose rollout to act on")]
Reason = Annotated[str, typer.Option("--reason", help="Why (recorded in the rollout's history)")]
AsJson = Annotated[bool, typer.Option("--json", help="One JSON object per rollout")]


@asynccontextmanager
async def _service(cfg: RuntimeConfig) -> AsyncIterator[tuple[RolloutService, SqlRolloutStore]]:
    db = await open_database(cfg.raw.storage.database_url, schema=cfg.raw.storage.database_schema)
    try:
        store = SqlRolloutStore(db)
        yield RolloutService(store, SqlObserver(db), lambda: cfg), store
    finally:
        await db.aclose()


def _with_service(config: ConfigOpt, use: Callable[[RolloutService, SqlRolloutStore], Awaitable[T]]) -> T:
    cfg = load(config_path(config))

    async def go() -> T:
        async with _service(cfg) as (service, store):
            return await use(service, store)

    try:
        return run(go())
    except RolloutConflict as error:
        fail(str(error), CONFLICT)
    except RolloutError as error:
        fail(str(error), REFUSED)


def _act(config: ConfigOpt, verb: str, act: Callable[[RolloutService], Awaitable[RolloutState]]) -> None:
    state = _with_service(config, lambda service, store: act(service))
    out.print(f"{verb} {state.rollout_id}: {state.history[-1].detail}", highlight=False)


@rollout_app.command("start")
def start(route: Route, config: ConfigOpt = None) -> None:
    """Start rolling out the candidate the route's config names; traffic moves at the first analysis."""
    _act(config, "started", lambda service: service.start_rollout(route))


@rollout_app.command("pause")
def pause(route: Route, reason: Reason = "", config: ConfigOpt = None) -> None:
    """Freeze the rollout at its current weight; analyses are ignored until it is resumed."""
    _act(config, "paused", lambda service: service.pause(route, reason))


@rollout_app.command("resume")
def resume(route: Route, config: ConfigOpt = None) -> None:
    """Let a paused rollout go on."""
    _act(config, "resumed", lambda service: service.resume(route))


@rollout_app.command("abort")
def abort(route: Route, reason: Reason = "", config: ConfigOpt = None) -> None:
    """Stop the rollout for good; all traffic goes back to the live deployment."""
    _act(config, "aborted", lambda service: service.abort(route, reason))


@rollout_app.command("status")
def status(
    route: Annotated[str | None, typer.Argument(help="Only this route (default: every route)")] = None,
    as_json: AsJson = False,
    config: ConfigOpt = None,
) -> None:
    """The latest rollout of each route (or of one), with its phase, weight and last event."""

    async def latest(service: RolloutService, store: SqlRolloutStore) -> list[RolloutState]:
        found = await store.list(limit=1 if route is not None else 1000, route=route)
        newest: dict[str, RolloutState] = {}
        for state in found:
            newest.setdefault(state.route, state)
        return sorted(newest.values(), key=lambda s: s.route)

    states = _with_service(config, latest)
    if route is not None and not states:
        fail(f"route {route!r} has no rollout", REFUSED)
    if as_json:
        for state in states:
            out.print_json(data=rollout_json(state))
        return
    table = folding_table("route", "id", "candidate", "phase", "weight", "failed checks", "last event")
    for s in states:
        last = s.history[-1]
        table.add_row(
            s.route,
            s.rollout_id,
            s.candidate,
            s.phase.replace("_", " "),
            f"{s.weight:g}%",
            str(s.failed_checks),
            f"{_when(last.ts)} {last.detail}",
        )
    out.print(table)


@rollout_app.command("history")
def history(
    route: Route,
    limit: Annotated[int, typer.Option("--limit", min=1, help="How many of the route's rollouts")] = 5,
    config: ConfigOpt = None,
) -> None:
    """Every event of the route's rollouts, newest rollout first."""
    states = _with_service(config, lambda service, store: store.list(limit=limit, route=route))
    if not states:
        fail(f"route {route!r} has no rollout", REFUSED)
    for i, state in enumerate(states):
        if i:
            out.print()
        out.print(f"{state.rollout_id}: {state.candidate} on {state.route} ({state.phase})", highlight=False)
        for event in state.history:
            out.print(f"  {_when(event.ts)}  {event.kind:<13} {event.detail}", highlight=False)


def _when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts))
