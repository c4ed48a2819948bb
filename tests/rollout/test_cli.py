"""``keel rollout …`` on a SQLite database: an operator's whole session, the one-line errors and their
exit codes, and a running gateway's board picking a command's change up."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from keel.cli.rollout import CONFLICT, REFUSED, rollout_app
from keel.rollout.board import RolloutBoard
from keel.rollout.store import SqlRolloutStore
from keel.services.runtime import load_config
from keel.store.sql import open_database
from tests.rollout.test_stage import ROUTE, raw_config


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "keel.yaml"
    path.write_bytes(orjson.dumps(raw_config(tmp_path)))
    return path


def keel_rollout(config: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(rollout_app, [*args, "--config", str(config)], env={"COLUMNS": "200"})
    return result.exit_code, result.stdout, result.stderr


def test_an_operator_starts_watches_pauses_resumes_and_aborts_a_rollout(config: Path) -> None:
    code, started, _ = keel_rollout(config, "start", ROUTE)
    assert code == 0
    rollout_id = started.split()[1].rstrip(":")
    assert started == (
        f"started {rollout_id}: rollout of cand on route {ROUTE} created; live is live; steps 10%, 50%, 100%\n"
    )
    code, _, error = keel_rollout(config, "start", ROUTE)
    assert code == CONFLICT and error.startswith("error: ") and "already has an active rollout" in error
    assert error.count("\n") == 1

    code, table, _ = keel_rollout(config, "status")
    assert code == 0 and ROUTE in table and "pending" in table
    code, as_json, _ = keel_rollout(config, "status", ROUTE, "--json")
    assert code == 0
    assert {k: json.loads(as_json)[k] for k in ("id", "phase", "weight")} == {
        "id": rollout_id,
        "phase": "pending",
        "weight": 0,
    }

    assert keel_rollout(config, "pause", ROUTE, "--reason", "waiting for the release")[1] == (
        f"paused {rollout_id}: paused at 0%: waiting for the release\n"
    )
    code, _, error = keel_rollout(config, "pause", ROUTE)
    assert (code, error) == (REFUSED, f"error: rollout {rollout_id} is already paused\n")
    assert keel_rollout(config, "resume", ROUTE)[1] == f"resumed {rollout_id}: resumed at 0%\n"
    assert keel_rollout(config, "abort", ROUTE, "--reason", "not this week")[0] == 0
    code, _, error = keel_rollout(config, "resume", ROUTE)
    assert (code, error) == (REFUSED, f"error: route {ROUTE!r} has no active rollout\n")

    code, history, _ = keel_rollout(config, "history", ROUTE)
    assert code == 0
    lines = history.splitlines()
    assert lines[0] == f"{rollout_id}: cand on {ROUTE} (aborted)"
    assert [line.split()[2] for line in lines[1:]] == ["created", "paused", "resumed", "aborted"]
    assert lines[-1].endswith("aborted at 0%: not this week; all traffic to live live")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("start", "plain"), "route 'plain' declares no rollout in"),
        (("start", "nope"), "no route named 'nope' in"),
        (("pause", ROUTE), f"route {ROUTE!r} has no active rollout"),
        (("status", ROUTE), f"route {ROUTE!r} has no rollout"),
        (("history", ROUTE), f"route {ROUTE!r} has no rollout"),
    ],
)
def test_a_refusal_is_one_line_and_exits_1(config: Path, args: tuple[str, ...], message: str) -> None:
    code, out, error = keel_rollout(config, *args)
    assert (code, out) == (REFUSED, "")
    assert error.startswith(f"error: {message}") and error.count("\n") == 1


async def test_a_running_gateway_sees_a_commands_change_at_its_next_refresh(config: Path) -> None:
    runtime_config = load_config(config)
    db = await open_database(runtime_config.raw.storage.database_url)
    try:
        board = RolloutBoard(SqlRolloutStore(db), lambda: runtime_config)
        await board.refresh()
        assert board.for_route(ROUTE) is None
        for args in (("start", ROUTE), ("pause", ROUTE, "--reason", "hold")):
            assert (await asyncio.to_thread(keel_rollout, config, *args))[0] == 0
        await board.refresh()
        state = board.for_route(ROUTE)
        assert state is not None and state.phase == "paused"
    finally:
        await db.aclose()
