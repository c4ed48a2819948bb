"""``keel kill …`` and ``keel unkill …``: set and clear kill switches, recorded with who and why.

They write to the database the gateways share; running gateways apply them within
``server.kill_switch_refresh_s`` (one second by default).
"""

from __future__ import annotations

import getpass
import time
from typing import Annotated

import typer

from keel.cli.common import ConfigOpt, config_path, fail, folding_table, load, out, run
from keel.control.kill_switches import KillSwitch, Scope, new_switch
from keel.server.admin import switch_json
from keel.services.control import open_kill_switch_store

kill_app = typer.Typer(no_args_is_help=True, help="Switch off a route, deployment, provider, key or everything.")
unkill_app = typer.Typer(no_args_is_help=True, help="Clear a kill switch.")

Reason = Annotated[str, typer.Option("--reason", help="Why (recorded with the switch)")]
Actor = Annotated[str | None, typer.Option("--actor", help="Who (default: the current user)")]
SafeMode = Annotated[bool, typer.Option("--safe-mode", help="Answer from the route's safe mode instead of refusing")]
Message = Annotated[str | None, typer.Option("--message", help="What refused callers are told")]
Name = Annotated[str, typer.Argument(help="The route, deployment or provider name, or the key id")]


def _set(
    scope: Scope, target: str, reason: str, actor: str | None, safe_mode: bool, message: str | None, config: ConfigOpt
) -> None:
    cfg = load(config_path(config))
    if scope in ("route", "deployment") and target not in (cfg.routes if scope == "route" else cfg.deployments):
        fail(f"no {scope} named {target!r} in {cfg.source}")
    switch = new_switch(
        scope, target, "safe_mode" if safe_mode else "refuse", reason, actor or getpass.getuser(), message
    )

    async def add() -> None:
        async with open_kill_switch_store(cfg) as store:
            await store.add(switch)

    run(add())
    out.print(f"set {switch.switch_id}: {switch.describe()} ({switch.action})", highlight=False)


def _clear(scope: Scope, target: str, reason: str, actor: str | None, config: ConfigOpt) -> None:
    cfg = load(config_path(config))

    async def clear() -> int:
        async with open_kill_switch_store(cfg) as store:
            return await store.clear(
                scope, "*" if scope == "global" else target, actor or getpass.getuser(), reason, time.time()
            )

    if not run(clear()):
        fail(f"no active kill switch on {scope} {target!r}")
    out.print(f"cleared the kill switch on {scope} {target!r}", highlight=False)


def _register(scope: Scope, noun: str) -> None:
    @kill_app.command(noun, help=f"Switch off a {noun}.")
    def kill(
        name: Name,
        reason: Reason,
        actor: Actor = None,
        safe_mode: SafeMode = False,
        message: Message = None,
        config: ConfigOpt = None,
    ) -> None:
        _set(scope, name, reason, actor, safe_mode, message, config)

    @unkill_app.command(noun, help=f"Clear the kill switch on a {noun}.")
    def unkill(
        name: Name,
        reason: Reason,
        actor: Actor = None,
        config: ConfigOpt = None,
    ) -> None:
        _clear(scope, name, reason, actor, config)


for _scope, _noun in (("route", "route"), ("deployment", "deployment"), ("provider", "provider"), ("key", "key")):
    _register(_scope, _noun)  # type: ignore[arg-type]


@kill_app.command("all", help="Switch off everything.")
def kill_all(
    reason: Reason, actor: Actor = None, safe_mode: SafeMode = False, message: Message = None, config: ConfigOpt = None
) -> None:
    _set("global", "*", reason, actor, safe_mode, message, config)


@unkill_app.command("all", help="Clear the kill switch on everything.")
def unkill_all(reason: Reason, actor: Actor = None, config: ConfigOpt = None) -> None:
    _clear("global", "*", reason, actor, config)


@kill_app.command("list", help="Active kill switches (--history for all, cleared ones too).")
def kill_list(
    history: Annotated[bool, typer.Option("--history")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per switch")] = False,
    config: ConfigOpt = None,
) -> None:
    cfg = load(config_path(config))

    async def fetch() -> list[KillSwitch]:
        async with open_kill_switch_store(cfg) as store:
            return await (store.history() if history else store.active())

    switches = run(fetch())
    if as_json:
        for switch in switches:
            out.print_json(data=switch_json(switch))
        return
    table = folding_table("id", "scope", "target", "action", "reason", "actor", "set at", "cleared")
    for s in switches:
        cleared = f"{s.cleared_by}: {s.cleared_reason}" if s.cleared_at else ""
        table.add_row(
            s.switch_id,
            s.scope,
            s.target,
            s.action,
            s.reason,
            s.actor,
            time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(s.created_at)),
            cleared,
        )
    out.print(table)
