"""``keel canary run`` and ``keel canary history``: a golden suite run now, and what its runs have shown.

``run`` starts the gateway in this process (no HTTP server, no scheduler), asks the suite's questions
through it exactly as the gateway would, records the run and prints it. It exits 1 when the pass rate is
below the suite's ``alert_below`` and 2 when the suite cannot be used, so it fits in a deploy script.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from keel.canary.config import load_suite_file, load_suites
from keel.canary.flaky import Verdict
from keel.canary.runner import SuiteRun, Trial
from keel.canary.service import CanaryService, SuiteHistory, gateway_host, suite_history
from keel.canary.store import SqlCanaryStore
from keel.canary.suite import Suite
from keel.cli.common import ConfigOpt, config_path, err, fail, folding_table, load, out, run
from keel.config.errors import ConfigError
from keel.config.runtime import RuntimeConfig
from keel.server.canary_api import history_json, run_json
from keel.services.runtime import Runtime
from keel.store.spool import SpoolLockedError
from keel.store.sql import open_database

SUITE_ERROR = 2
_MARKS: dict[Verdict, str] = {"pass": "✓", "fail": "✗", "mixed": "~"}

canary_app = typer.Typer(no_args_is_help=True, help="Run golden canary suites and read their history.")

SuiteArg = Annotated[str, typer.Argument(help="A suite name from canaries.suites in the config, or a suite file")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON (the admin API's shape) instead of tables")]


@canary_app.command("run")
def run_command(suite: SuiteArg, as_json: JsonOpt = False, config: ConfigOpt = None) -> None:
    """Run a suite now against the configured routes and deployments, record it and print the results."""
    path = config_path(config)
    cfg = load(path)
    chosen = _suite(suite, cfg)
    result = run(_run_once(cfg, path, chosen))
    if as_json:
        typer.echo(json.dumps(run_json(result), indent=2, ensure_ascii=False))
    else:
        _print_run(result)
    if result.alert:
        raise typer.Exit(1)


@canary_app.command("history")
def history_command(
    suite: Annotated[str, typer.Argument(help="The suite's name")],
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="How many of the latest runs")] = 20,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """A suite's latest runs with their pass rates, and each test's pass rate and flakiness over them."""
    cfg = load(config_path(config))
    history = run(_read_history(cfg, suite, limit))
    if as_json:
        typer.echo(json.dumps(history_json(history), indent=2, ensure_ascii=False))
    elif not history.runs:
        out.print(f"no recorded runs of canary suite {suite!r}", highlight=False)
    else:
        _print_history(history)


def _suite(argument: str, cfg: RuntimeConfig) -> Suite:
    """The suite file ``argument`` names, else the configured suite of that name."""
    try:
        if Path(argument).is_file():
            return load_suite_file(Path(argument), cfg)
        suites = load_suites(cfg)
    except ConfigError as error:
        _suite_error(error)
    if argument not in suites:
        known = ", ".join(sorted(suites)) or f"none; list suite files under canaries.suites in {cfg.source}"
        fail(f"no canary suite named {argument!r} (configured: {known})", SUITE_ERROR)
    return suites[argument]


def _suite_error(error: ConfigError) -> NoReturn:
    for issue in error.issues:
        err.print(str(issue), highlight=False, soft_wrap=True)
    fail(f"{len(error.issues)} problem(s) in the canary suites", SUITE_ERROR)


async def _run_once(cfg: RuntimeConfig, path: Path | None, suite: Suite) -> SuiteRun:
    # A one-off run: the runtime's own scheduler must not start scheduled suites while it is up.
    quiet = cfg.raw.model_copy(update={"canaries": cfg.raw.canaries.model_copy(update={"enabled": False})})
    runtime = Runtime(dataclasses.replace(cfg, raw=quiet), path)
    try:
        await runtime.start()
    except SpoolLockedError as error:
        fail(
            f"{error}: a gateway is running on this data directory; run the suite through it "
            f"(POST /admin/canaries/{suite.name}/run) or give this command its own storage.data_dir"
        )
    try:
        # The terminal shows the result and the exit code says it: nobody else needs an alert.
        return await CanaryService(gateway_host(runtime)).execute(suite, "cli", alert=False)
    finally:
        await runtime.aclose()


async def _read_history(cfg: RuntimeConfig, name: str, limit: int) -> SuiteHistory:
    storage = cfg.raw.storage
    db = await open_database(storage.database_url, schema=storage.database_schema)
    try:
        return await suite_history(SqlCanaryStore(db), name, limit)
    finally:
        await db.aclose()


def _print_run(result: SuiteRun) -> None:
    table = folding_table("test", "passed", "latency ms (median)", "first failure")
    for column in table.columns[1:3]:
        column.justify = "right"
    for test in result.tests:
        trials = [trial for trial in result.trials if trial.test_id == test.test_id]
        style = None if test.passed == test.trials else "red"
        latency = statistics.median(trial.latency_ms for trial in trials)
        passed = f"{test.passed}/{test.trials} ({test.pass_rate:.0%})"
        table.add_row(test.test_id, passed, f"{latency:,.0f}", _first_failure(trials), style=style)
    out.print(table)
    colour = "red" if result.alert else "green"
    out.print(f"[{colour}]{result.describe()}[/{colour}]", highlight=False)


def _first_failure(trials: list[Trial]) -> str:
    for trial in trials:
        if trial.error is not None:
            return trial.error
        for outcome in trial.outcomes:
            if not outcome.passed:
                return f"{outcome.kind}: {outcome.detail}"
    return ""


def _print_history(history: SuiteHistory) -> None:
    runs = folding_table("started (UTC)", "trigger", "target", "passed", "pass rate", "alert", "run")
    for past in history.runs:
        started = datetime.fromtimestamp(past.started_at, UTC).strftime("%Y-%m-%d %H:%M:%S")
        runs.add_row(
            started,
            past.trigger,
            str(past.target),
            f"{past.passed}/{len(past.trials)}",
            f"{past.pass_rate:.1%}",
            "ALERT" if past.alert else "",
            past.run_id,
            style="red" if past.alert else None,
        )
    out.print(runs)
    tests = folding_table("test", "verdicts (oldest first)", "pass rate", "flips", "flaky")
    for test in history.tests:
        tests.add_row(
            test.test_id,
            "".join(_MARKS[verdict] for verdict in test.verdicts),
            f"{test.passed}/{test.trials} ({test.pass_rate:.0%})",
            str(test.flips),
            "FLAKY" if test.flaky else "",
            style="yellow" if test.flaky else None,
        )
    out.print(tests)
