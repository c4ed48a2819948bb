"""``keel``: serve the gateway, check configs, manage keys, run the simulated upstream."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from keel import __version__
from keel.cli.canary import canary_app
from keel.cli.common import ConfigOpt, config_path, fail, folding_table, load, out, run
from keel.cli.cost import cost_app
from keel.cli.drift import drift_app
from keel.cli.kill import kill_app, unkill_app
from keel.cli.prune import prune_command
from keel.cli.review import review_app
from keel.cli.rollout import rollout_app
from keel.cli.shadow import shadow_app
from keel.cli.spend import spend_command
from keel.server.admin import key_json
from keel.store.protocols import KeyRecord

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Keel: the production layer for AI features.")
config_app = typer.Typer(no_args_is_help=True, help="Validate configuration files.")
keys_app = typer.Typer(no_args_is_help=True, help="Create, list and revoke virtual API keys.")
app.add_typer(config_app, name="config")
app.add_typer(keys_app, name="keys")
app.add_typer(kill_app, name="kill")
app.add_typer(unkill_app, name="unkill")
app.add_typer(cost_app, name="cost")
app.add_typer(drift_app, name="drift")
app.add_typer(canary_app, name="canary")
app.add_typer(review_app, name="review")
app.add_typer(rollout_app, name="rollout")
app.add_typer(shadow_app, name="shadow")
app.command("spend")(spend_command)
app.command("prune")(prune_command)


@app.command()
def version() -> None:
    """Print Keel's version."""
    out.print(f"keel {__version__}", highlight=False)


@app.command()
def serve(
    config: ConfigOpt = None,
    host: Annotated[str | None, typer.Option(help="Address to bind (default: server.host)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: server.port)")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes (default: server.workers)")] = None,
) -> None:
    """Run the gateway and admin API in one process (or --workers processes)."""
    from keel.server.run import StartupError
    from keel.server.run import serve as run

    path = config_path(config)
    runtime_config = load(path)
    server = runtime_config.raw.server
    if workers is not None and workers < 1:
        fail("--workers must be at least 1")
    try:
        run(
            runtime_config,
            path,
            host or server.host,
            port if port is not None else server.port,
            workers or server.workers,
        )
    except StartupError as error:
        fail(str(error))


@config_app.command("check")
def config_check(file: Annotated[Path, typer.Argument(help="The config file to validate")]) -> None:
    """Validate a config; print every problem with its file, line and field path."""
    cfg = load(file)
    disabled = [d for d in cfg.deployments.values() if d.disabled]
    out.print(
        f"{file}: ok (hash {cfg.hash}; {len(cfg.routes)} routes, {len(cfg.deployments)} deployments)",
        highlight=False,
    )
    for dep in disabled:
        out.print(f"  note: {dep.disabled}", highlight=False)


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="A name for people to recognise the key by")],
    allow: Annotated[list[str], typer.Option("--allow", help="Route or model the key may use (repeat; '*' for all)")],
    team: Annotated[str | None, typer.Option()] = None,
    feature: Annotated[str | None, typer.Option()] = None,
    owner: Annotated[str | None, typer.Option()] = None,
    config: ConfigOpt = None,
) -> None:
    """Create a virtual key. The key is printed once and stored only as a keyed hash."""
    cfg = load(config_path(config))
    known = set(cfg.model_names())
    unknown = [a for a in allow if a != "*" and a not in known]
    if unknown:
        fail(f"--allow names no route or public model: {', '.join(unknown)}")

    async def create() -> None:
        from keel.services.keys import open_keyring

        async with open_keyring(cfg) as keyring:
            record, key = await keyring.create(name, tuple(allow), team, feature, owner)
        out.print(f"created {record.key_id} ({record.name}); the key is shown only this once:", highlight=False)
        out.print(key, highlight=False, soft_wrap=True)

    run(create())


@keys_app.command("list")
def keys_list(
    config: ConfigOpt = None,
    revoked: Annotated[bool, typer.Option("--revoked", help="Include revoked keys")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per key")] = False,
) -> None:
    """List virtual keys (never the keys themselves)."""
    cfg = load(config_path(config))

    async def fetch() -> list[KeyRecord]:
        from keel.services.keys import open_keyring

        async with open_keyring(cfg) as keyring:
            return await keyring.list(include_revoked=revoked)

    keys = run(fetch())
    if as_json:
        for k in keys:
            out.print_json(data=key_json(k))
        return
    table = folding_table("id", "hint", "name", "allowed", "team", "feature", "owner", "status")
    for k in keys:
        status = "revoked" if k.revoked_at else "active"
        table.add_row(
            k.key_id, k.hint, k.name, ",".join(k.allowed), k.team or "", k.feature or "", k.owner or "", status
        )
    out.print(table)


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id, e.g. key_3f9a1c2b")], config: ConfigOpt = None
) -> None:
    """Revoke a key; running gateways stop accepting it within auth.key_refresh_s."""
    cfg = load(config_path(config))

    async def revoke() -> bool:
        from keel.services.keys import open_keyring

        async with open_keyring(cfg) as keyring:
            return await keyring.revoke(key_id)

    if not run(revoke()):
        fail(f"no active key {key_id!r}")
    out.print(f"revoked {key_id}", highlight=False)


@app.command()
def simulate(
    config: Annotated[Path | None, typer.Option("--config", "-c", help="Simulator YAML (models and default)")] = None,
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 9090,
) -> None:
    """Run the built-in simulated OpenAI-compatible upstream as its own server."""
    from keel.simulator.config import SimulatorConfig, load_simulator_config
    from keel.simulator.engine import SimulatorEngine
    from keel.simulator.server import serve as run

    try:
        sim = load_simulator_config(config) if config else SimulatorConfig()
    except (ValueError, OSError) as exc:
        fail(str(exc))
    run(host, port, SimulatorEngine(sim.models, sim.default))


def main() -> None:
    app()
