"""Starting on the embedded default, reloading config live, refusing broken config, PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import openai
import pytest

from tests.conftest import ADMIN_KEY, free_port, keel_process

PG_DSN = "postgresql://postgres@127.0.0.1:5432/test"

CONFIG = """\
auth:
  anonymous: {routes: ["*"]}
routes:
  first: {deployments: [sim]}
deployments:
  sim: {provider: simulator}
"""


def models(url: str) -> set[str]:
    return {m["id"] for m in httpx.get(url + "/v1/models").json()["data"]}


def wait_for(predicate: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def test_embedded_default_serves_with_no_config_and_no_keys(tmp_path: Path) -> None:
    port = free_port()
    env = {"OPENAI_API_KEY": "", "ANTHROPIC_API_KEY": "", "KEEL_CONFIG": ""}
    with keel_process(
        ["serve", "--port", str(port)], cwd=tmp_path, env=env, ready_url=f"http://127.0.0.1:{port}/readyz"
    ):
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="anything")
        assert {"support-bot", "assistant", "faq", "embed"} <= {m.id for m in client.models.list()}
        answer = client.chat.completions.with_raw_response.create(
            model="faq", messages=[{"role": "user", "content": "How can I reset my password?"}]
        )
        assert float(answer.headers["x-keel-confidence"]) > 0.5
        fell_back = client.chat.completions.with_raw_response.create(
            model="assistant", messages=[{"role": "user", "content": "hi"}]
        )
        assert fell_back.headers["x-keel-deployment"] == "sim-chat"  # no vendor keys: the simulator serves
    assert (tmp_path / ".keel" / "keel.db").is_file()
    assert (tmp_path / ".keel" / "secret").stat().st_mode & 0o077 == 0


@pytest.fixture
def live_config(tmp_path: Path) -> Iterator[tuple[Path, str, int]]:
    path = tmp_path / "keel.yaml"
    path.write_text(CONFIG)
    port = free_port()
    with keel_process(
        ["serve", "--config", str(path), "--port", str(port)],
        cwd=tmp_path,
        env={},
        ready_url=f"http://127.0.0.1:{port}/readyz",
    ) as proc:
        yield path, f"http://127.0.0.1:{port}", proc.pid


def test_file_change_reloads_and_broken_file_is_refused(live_config: tuple[Path, str, int]) -> None:
    path, url, _ = live_config
    old_hash = httpx.get(url + "/readyz").json()["config_hash"]
    path.write_text(
        CONFIG.replace("first: {deployments: [sim]}", "first: {deployments: [sim]}\n  second: {deployments: [sim]}")
    )
    wait_for(lambda: "second" in models(url))
    new_hash = httpx.get(url + "/readyz").json()["config_hash"]
    assert new_hash != old_hash

    path.write_text(CONFIG + "  bogus: {provider: nope}\n")
    time.sleep(2.5)  # the watcher polls every second
    assert models(url) == {"first", "second"}
    assert httpx.get(url + "/readyz").json()["config_hash"] == new_hash
    metrics = httpx.get(url + "/metrics").text
    assert 'keel_config_reloads_total{result="error"}' in metrics


def test_sighup_reloads_without_dropping_requests_in_flight(live_config: tuple[Path, str, int]) -> None:
    path, url, pid = live_config
    path.write_text(
        CONFIG.replace("sim: {provider: simulator}", "sim: {provider: simulator, simulator: {ttft: {ms: 800}}}")
    )
    wait_for(lambda: httpx.get(url + "/readyz").json()["config_hash"] != "")

    async def slow_requests() -> list[int]:
        async with httpx.AsyncClient(timeout=10) as client:
            body = {"model": "first", "messages": [{"role": "user", "content": "x"}]}
            tasks = [client.post(url + "/v1/chat/completions", json=body) for _ in range(5)]
            pending = asyncio.gather(*tasks)
            # Reload only once all five are inside the gateway (they wait 800 ms on the upstream there).
            deadline = time.monotonic() + 5
            while "keel_requests_in_flight 5.0" not in (await client.get(url + "/metrics")).text:
                assert time.monotonic() < deadline, "the requests never reached the gateway"
                await asyncio.sleep(0.02)
            path.write_text(CONFIG.replace("first:", "renamed:"))
            os.kill(pid, signal.SIGHUP)
            return [r.status_code for r in await pending]

    time.sleep(1.5)
    assert asyncio.run(slow_requests()) == [200] * 5
    wait_for(lambda: models(url) == {"renamed"})


def test_config_check_cli_reports_lines(tmp_path: Path) -> None:
    import subprocess
    import sys

    bad = tmp_path / "bad.yaml"
    bad.write_text("routes:\n  r: {deployments: [x], colour: red}\n")
    result = subprocess.run(
        [sys.executable, "-m", "keel.cli", "config", "check", str(bad)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 1
    assert f"{bad}:2: routes.r.colour: unknown key" in result.stderr
    assert "Traceback" not in result.stderr
    good = tmp_path / "good.yaml"
    good.write_text(CONFIG)
    result = subprocess.run(
        [sys.executable, "-m", "keel.cli", "config", "check", str(good)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0 and "ok (hash" in result.stdout


@pytest.fixture
def pg_database() -> Iterator[str]:
    name = f"keel_e2e_{uuid.uuid4().hex[:8]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(PG_DSN)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_request_log_and_keys_on_postgresql(tmp_path: Path, pg_database: str) -> None:
    path = tmp_path / "keel.yaml"
    path.write_text(
        CONFIG.replace('auth:\n  anonymous: {routes: ["*"]}\n', "") + f"storage:\n  database_url: {pg_database}\n"
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {"KEEL_ADMIN_KEY": ADMIN_KEY, "KEEL_SECRET": "pg-secret"}
    with keel_process(
        ["serve", "--config", str(path), "--port", str(port)], cwd=tmp_path, env=env, ready_url=f"{url}/readyz"
    ):
        admin = httpx.Client(base_url=url, headers={"authorization": f"Bearer {ADMIN_KEY}"})
        key = admin.post("/admin/keys", json={"name": "pg", "allowed": ["first"], "team": "t"}).json()["key"]
        client = openai.OpenAI(base_url=f"{url}/v1", api_key=key)
        ids = [
            client.chat.completions.with_raw_response.create(
                model="first", messages=[{"role": "user", "content": "x"}]
            ).headers["x-request-id"]
            for _ in range(3)
        ]

    async def rows() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(pg_database)
        try:
            return await conn.fetch("SELECT request_id, team, status FROM request_log ORDER BY ts")
        finally:
            await conn.close()

    stored = asyncio.run(rows())  # the shutdown flushed every record
    assert [r["request_id"] for r in stored] == ids
    assert {(r["team"], r["status"]) for r in stored} == {("t", 200)}
