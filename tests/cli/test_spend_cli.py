"""``keel spend`` against a SQLite database filled through the request-log store.

The main paths run in a real process, as users run them; the many variations of windows, filters and
bad options run in-process (a Keel process takes seconds to start on a small machine).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from keel.cli.spend import spend_command
from keel.services.spend import parse_when
from keel.store.records import RequestRecord
from keel.store.sql import open_database
from keel.store.sql_request_log import SqlRequestLogStore

HOUR = 3600.0
# Through `keel spend` once the command is registered; until then, the same function as a one-command app.
_STANDALONE = (
    "import typer; from keel.cli.spend import spend_command; app = typer.Typer(); app.command()(spend_command); app()"
)


def _spend_argv() -> list[str]:
    from keel.cli.main import app

    if any(command.callback is spend_command for command in app.registered_commands):
        return [sys.executable, "-m", "keel.cli", "spend"]
    return [sys.executable, "-c", _STANDALONE]


def keel_spend(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*_spend_argv(), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "120"},
    )


@pytest.fixture
async def config(tmp_path: Path) -> Path:
    now = time.time()

    def rec(n: int, hours_ago: float, cost: float | None, team: str | None = None, route: str = "bot") -> RequestRecord:
        return RequestRecord(
            request_id=f"req-{n}",
            ts=now - hours_ago * HOUR,
            endpoint="chat.completions",
            status=200,
            config_hash="cfg",
            prompt_tokens=1000,
            completion_tokens=100,
            cost_usd=cost,
            team=team,
            route=route,
        )

    records = [
        rec(1, 1, 0.0125, team="search", route="bot"),
        rec(2, 2, 0.0125, team="search", route="bot"),
        rec(3, 3, 0.5, team="support", route="faq"),
        rec(4, 30, 0.000000123),  # no team, more than a day ago
        rec(5, 24 * 40, 9.0, team="search", route="bot"),  # outside the default 30 days
    ]
    db = await open_database(f"sqlite:///{tmp_path}/keel.db")
    try:
        await SqlRequestLogStore(db).write_batch(records)
    finally:
        await db.aclose()
    path = tmp_path / "keel.yaml"
    path.write_text(
        "routes:\n  bot: {deployments: [sim]}\n  faq: {deployments: [sim]}\n"
        "deployments:\n  sim: {provider: simulator}\n"
        f"storage: {{data_dir: {tmp_path}/data, database_url: 'sqlite:///{tmp_path}/keel.db'}}\n"
    )
    return path


def test_table_is_sorted_by_cost_with_a_total(config: Path) -> None:
    result = keel_spend("--by", "team", "--config", str(config), cwd=config.parent)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if any(ch.isalnum() for ch in line)]
    cells = [[cell.strip() for cell in line.strip("│┃ ").split("│" if "│" in line else "┃")] for line in lines]
    assert cells[0] == ["team", "requests", "prompt tokens", "completion tokens", "cost (USD)"]
    assert cells[1:] == [
        ["support", "1", "1,000", "100", "0.500000"],
        ["search", "2", "2,000", "200", "0.025000"],
        ["(none)", "1", "1,000", "100", "0.000000"],
        ["total", "4", "4,000", "400", "0.525000"],
    ]


def test_json_is_one_document_with_exact_costs(config: Path) -> None:
    result = keel_spend("--by", "route", "--since", "60d", "--json", "--config", str(config), cwd=config.parent)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [
        {"group": "bot", "requests": 4, "prompt_tokens": 4000, "completion_tokens": 400, "cost_usd": "9.025000123"},
        {"group": "faq", "requests": 1, "prompt_tokens": 1000, "completion_tokens": 100, "cost_usd": "0.500000000"},
    ]


def in_process(*args: str) -> tuple[int, str, str]:
    app = typer.Typer()
    app.command()(spend_command)
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_bad_duration_fails_in_one_line(config: Path) -> None:
    result = keel_spend("--since", "yesterday", "--config", str(config), cwd=config.parent)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        "error: --since: 'yesterday' is neither a duration (30d, 12h, 90m) nor an ISO date (2025-06-01)\n"
    )


def test_window_and_filters(config: Path) -> None:
    def report(*args: str) -> list[dict[str, object]]:
        code, stdout, stderr = in_process("--json", "--config", str(config), *args)
        assert code == 0, stderr
        rows: list[dict[str, object]] = json.loads(stdout)
        return rows

    assert [row["requests"] for row in report("--by", "team", "--since", "150m")] == [2]
    assert [row["group"] for row in report("--by", "team", "--since", "12h", "--until", "90m")] == ["support", "search"]
    assert report("--by", "route", "--team", "support") == [
        {"group": "faq", "requests": 1, "prompt_tokens": 1000, "completion_tokens": 100, "cost_usd": "0.500000000"}
    ]
    assert [row["group"] for row in report("--by", "team", "--route", "bot")] == ["search", None]
    assert report("--by", "day", "--since", "2000-01-01", "--until", "2000-02-01") == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "last week"], "error: --since: 'last week' is neither a duration (30d, 12h, 90m) nor an ISO date"),
        (["--until", "5x"], "error: --until: '5x' is neither a duration (30d, 12h, 90m) nor an ISO date"),
        (["--by", "colour"], "error: --by must be one of key, team, route, feature, model, deployment, day"),
        (["--since", "1h", "--until", "2h"], "error: --until must be later than --since"),
    ],
)
def test_bad_options_fail_in_one_line(config: Path, args: list[str], message: str) -> None:
    code, stdout, stderr = in_process(*args, "--config", str(config))
    assert code == 1 and stdout == ""
    assert stderr.count("\n") == 1
    assert stderr.startswith(message)


def test_parse_when() -> None:
    now = 1_750_000_000.0
    assert parse_when("30d", now) == now - 30 * 86_400
    assert parse_when("12h", now) == now - 12 * 3_600
    assert parse_when(" 90m ", now) == now - 90 * 60
    assert parse_when("2025-06-01", now) == datetime(2025, 6, 1, tzinfo=UTC).timestamp()
    assert parse_when("2025-06-01T12:00:00+02:00", now) == datetime(2025, 6, 1, 10, tzinfo=UTC).timestamp()
    for bad in ("", "d", "-3d", "1.5h", "3w", "2025-13-01"):
        with pytest.raises(ValueError):
            parse_when(bad, now)
