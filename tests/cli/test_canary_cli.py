"""``keel canary run`` and ``keel canary history`` on a temporary config whose upstreams are simulated.

Each ``run`` starts the gateway in-process on the config, as the command does for users; history is
also seeded straight into the store where a flaky test has to be made on purpose.
"""

from __future__ import annotations

import asyncio
import json
import logging
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from keel.canary.assertions import AssertionOutcome
from keel.canary.runner import SuiteRun, Trial
from keel.canary.store import SqlCanaryStore
from keel.canary.suite import Target
from keel.cli.canary import canary_app
from keel.store.spool import Spool
from keel.store.sql import open_database

PASSING = """\
name: refunds
target: {route: bot}
repeat: 2
tests:
  - id: window
    prompt: What is your refund policy?
    assert: [{contains: "30 days"}, {regex: "(?i)refundable"}]
"""

FAILING = """\
name: tone
target: {route: bot}
alert_below: 0.5
tests:
  - id: window
    prompt: What is your refund policy?
    assert: [{contains: "30 days"}]
  - id: greeting
    prompt: Say hello.
    assert: [{contains: "30 days"}, {contains: "hello", ignore_case: true}]
  - id: presence
    messages: [{role: user, content: "Anyone there?"}]
    assert: [{contains: "yes"}]
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    suites = tmp_path / "suites"
    suites.mkdir()
    (suites / "refunds.yaml").write_text(PASSING, encoding="utf-8")
    (suites / "tone.yaml").write_text(FAILING, encoding="utf-8")
    path = tmp_path / "keel.yaml"
    path.write_text(
        textwrap.dedent(
            f"""\
            version: 1
            storage:
              data_dir: {tmp_path}/data
              database_url: sqlite:///{tmp_path}/data/keel.db
            routes:
              bot: {{deployments: [good]}}
            deployments:
              good: {{provider: simulator, model: "sim:reply=Unused credit is refundable within 30 days."}}
            canaries:
              suites: [suites/refunds.yaml, suites/tone.yaml]
            """
        ),
        encoding="utf-8",
    )
    return path


def keel_canary(config: Path, *args: str) -> Result:
    return CliRunner(env={"COLUMNS": "200"}).invoke(canary_app, [*args, "--config", str(config)])


def test_a_passing_suite_prints_its_table_and_exits_0(config: Path) -> None:
    result = keel_canary(config, "run", "refunds")
    assert result.exit_code == 0, result.stderr
    assert "│ window │ 2/2 (100%) │" in result.stdout
    assert "canary suite refunds (route bot): 2/2 passed (100.0%, alert below 100%)" in result.stdout


def test_a_suite_below_its_bar_shows_the_first_failure_and_exits_1(
    config: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="keel.alerts"):
        result = keel_canary(config, "run", "tone")
    assert result.exit_code == 1, result.stderr
    assert caplog.records == []  # the terminal has the news: no alert goes out
    rows = {line.split("│")[1].strip(): line for line in result.stdout.splitlines() if line.startswith("│")}
    assert "0/1 (0%)" in rows["greeting"] and "contains: '30 days' is not in the answer" not in rows["greeting"]
    assert "contains: 'hello' is not in the answer" in rows["greeting"]
    assert "contains: 'yes' is not in the answer" in rows["presence"]
    assert "1/1 (100%)" in rows["window"]
    assert "1/3 passed (33.3%, alert below 50%); failing: greeting 0/1, presence 0/1" in result.stdout


def test_json_output_is_the_admin_api_run(config: Path) -> None:
    result = keel_canary(config, "run", "tone", "--json")
    assert result.exit_code == 1
    run = json.loads(result.stdout)
    assert [run[k] for k in ("object", "suite", "trigger", "passed", "total")] == ["canary.run", "tone", "cli", 1, 3]
    assert [t["deployment"] for t in run["trials"]] == ["good", "good", "good"]
    assert [t["id"] for t in run["tests"]] == ["window", "greeting", "presence"]


def test_a_suite_file_outside_the_config_runs_too(config: Path, tmp_path: Path) -> None:
    other = tmp_path / "elsewhere.yaml"
    other.write_text(PASSING.replace("name: refunds", "name: adhoc"), encoding="utf-8")
    result = keel_canary(config, "run", str(other), "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["suite"] == "adhoc"
    history = json.loads(keel_canary(config, "history", "adhoc", "--json").stdout)
    assert [run["trigger"] for run in history["runs"]] == ["cli"]


def test_suite_problems_exit_2_with_one_line_each(config: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        PASSING.replace("{route: bot}", "{route: nowhere}").replace("repeat: 2", "repeat: 99"), encoding="utf-8"
    )
    result = keel_canary(config, "run", str(broken))
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"{broken}: repeat: Input should be less than or equal to 20",
        "error: 1 problem(s) in the canary suites",
    ]
    broken.write_text(PASSING.replace("{route: bot}", "{route: nowhere}"), encoding="utf-8")
    result = keel_canary(config, "run", str(broken))
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == f"{broken}: target.route: no route named 'nowhere' in {config}"


def test_an_unknown_suite_name_exits_2(config: Path) -> None:
    result = keel_canary(config, "run", "nope")
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: no canary suite named 'nope' (configured: refunds, tone)"


def test_a_gateway_holding_the_data_directory_is_named(config: Path, tmp_path: Path) -> None:
    with Spool(tmp_path / "data" / "spool"):
        result = keel_canary(config, "run", "refunds")
    assert result.exit_code == 1
    assert "a gateway is running on this data directory" in result.stderr
    assert "POST /admin/canaries/refunds/run" in result.stderr


def test_history_lists_runs_newest_first(config: Path) -> None:
    assert keel_canary(config, "run", "refunds").exit_code == 0
    assert keel_canary(config, "run", "tone").exit_code == 1
    assert keel_canary(config, "run", "tone").exit_code == 1
    result = keel_canary(config, "history", "tone", "--limit", "1")
    assert result.exit_code == 0, result.stderr
    runs = [line for line in result.stdout.splitlines() if "│ cli" in line]
    assert len(runs) == 1 and "1/3" in runs[0] and "ALERT" in runs[0]
    history = json.loads(keel_canary(config, "history", "tone", "--json").stdout)
    assert [run["passed"] for run in history["runs"]] == [1, 1]
    assert [(t["id"], t["verdicts"], t["flaky"]) for t in history["tests"]] == [
        ("window", ["pass", "pass"], False),
        ("greeting", ["fail", "fail"], False),
        ("presence", ["fail", "fail"], False),
    ]


def seed(config: Path, passes: list[tuple[bool, ...]]) -> None:
    """Runs of suite ``mood`` whose one test passed (or not) in each repeat, oldest first."""

    async def record() -> None:
        db = await open_database(f"sqlite:///{config.parent}/data/keel.db")
        try:
            for n, outcomes in enumerate(passes):
                trials = tuple(
                    Trial("greet", r, ok, 10.0, outcomes=(AssertionOutcome(ok, "checked", "contains"),))
                    for r, ok in enumerate(outcomes)
                )
                started = 1e9 + n
                run = SuiteRun(
                    f"canary_{n}", "mood", Target(route="bot"), "d", "schedule", started, started, 1.0, trials
                )
                await SqlCanaryStore(db).record(run)
        finally:
            await db.aclose()

    asyncio.run(record())


def test_history_names_flaky_tests(config: Path) -> None:
    seed(config, [(True, True), (False, False), (True, True), (True, False)])
    result = keel_canary(config, "history", "mood")
    assert result.exit_code == 0, result.stderr
    [row] = [line for line in result.stdout.splitlines() if line.startswith("│ greet ")]
    assert "✓✗✓~" in row and "5/8 (62%)" in row and "FLAKY" in row
    history = json.loads(keel_canary(config, "history", "mood", "--json", "--limit", "2").stdout)
    [test] = history["tests"]
    assert (test["verdicts"], test["flips"], test["flaky"]) == (["pass", "mixed"], 0, True)


def test_history_of_a_suite_never_run(config: Path) -> None:
    result = keel_canary(config, "history", "refunds")
    assert result.exit_code == 0 and result.stdout.strip() == "no recorded runs of canary suite 'refunds'"
    assert json.loads(keel_canary(config, "history", "refunds", "--json").stdout)["runs"] == []
