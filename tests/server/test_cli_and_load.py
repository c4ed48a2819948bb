"""The keys CLI against the store a gateway uses, several workers, and no lost records under load."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import openai

from tests.conftest import ADMIN_KEY, free_port, keel_process
from tests.server.conftest import Gateway

CONFIG = """\
routes:
  bot: {deployments: [sim]}
  other: {deployments: [sim]}
deployments:
  sim: {provider: simulator}
"""


def keel(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "keel.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin", "KEEL_SECRET": "cli-secret"},
    )


def test_keys_cli_creates_lists_and_revokes_keys_a_gateway_accepts(tmp_path: Path) -> None:
    config = tmp_path / "keel.yaml"
    config.write_text(CONFIG + "auth: {key_refresh_s: 0.1}\n")
    created = keel(
        "keys", "create", "--name", "web", "--allow", "bot", "--team", "t1", "--config", str(config), cwd=tmp_path
    )
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]
    key_id = created.stdout.split()[1]
    assert key.startswith("sk-keel-") and key_id.startswith("key_")
    listed = keel("keys", "list", "--json", "--config", str(config), cwd=tmp_path)
    assert key not in listed.stdout
    entry = json.loads(listed.stdout)
    assert entry["id"] == key_id and entry["team"] == "t1" and entry["allowed"] == ["bot"]

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with keel_process(
        ["serve", "--config", str(config), "--port", str(port)],
        cwd=tmp_path,
        env={"KEEL_SECRET": "cli-secret"},
        ready_url=f"{url}/readyz",
    ):
        client = openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0)
        client.chat.completions.create(model="bot", messages=[{"role": "user", "content": "x"}])
        revoked = keel("keys", "revoke", key_id, "--config", str(config), cwd=tmp_path)
        assert revoked.returncode == 0 and f"revoked {key_id}" in revoked.stdout
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # other processes see a revocation within key_refresh_s
            try:
                client.chat.completions.create(model="bot", messages=[{"role": "user", "content": "x"}])
            except openai.AuthenticationError:
                break
            time.sleep(0.05)
        else:
            raise AssertionError("revoked key still accepted")
    again = keel("keys", "revoke", key_id, "--config", str(config), cwd=tmp_path)
    assert again.returncode == 1 and "no active key" in again.stderr


def test_keys_cli_refuses_unknown_routes_in_one_line(tmp_path: Path) -> None:
    config = tmp_path / "keel.yaml"
    config.write_text(CONFIG)
    result = keel("keys", "create", "--name", "x", "--allow", "nope", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == "error: --allow names no route or public model: nope"


def test_several_workers_share_the_port(tmp_path: Path) -> None:
    config = tmp_path / "keel.yaml"
    config.write_text(CONFIG + "auth: {anonymous: {routes: ['*']}}\n")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with keel_process(
        ["serve", "--config", str(config), "--port", str(port), "--workers", "2"],
        cwd=tmp_path,
        env={},
        ready_url=f"{url}/readyz",
    ):
        statuses = set()
        for _ in range(40):
            with httpx.Client() as client:  # a new connection each time, to reach both workers
                statuses.add(
                    client.post(
                        f"{url}/v1/chat/completions",
                        json={"model": "bot", "messages": [{"role": "user", "content": "x"}]},
                    ).status_code
                )
        assert statuses == {200}


def test_no_record_is_dropped_under_load(gateway: Gateway) -> None:
    body = {"model": "chat", "messages": [{"role": "user", "content": "load"}]}

    async def burst() -> list[str]:
        limits = httpx.Limits(max_connections=64)
        async with httpx.AsyncClient(
            base_url=gateway.url, limits=limits, timeout=30, headers={"authorization": f"Bearer {ADMIN_KEY}"}
        ) as client:
            responses = await asyncio.gather(*(client.post("/v1/chat/completions", json=body) for _ in range(600)))
        assert {r.status_code for r in responses} == {200}
        return [r.headers["x-request-id"] for r in responses]

    ids = set(asyncio.run(burst()))
    deadline = time.monotonic() + 10
    with gateway.admin() as admin:
        while time.monotonic() < deadline:
            stored = {r["request_id"] for r in admin.get("/admin/requests", params={"limit": 1000}).json()["data"]}
            if ids <= stored:
                break
            time.sleep(0.1)
    assert ids <= stored


def test_kill_and_unkill_from_the_cli_reach_a_running_gateway(tmp_path: Path) -> None:
    config = tmp_path / "keel.yaml"
    config.write_text(
        CONFIG.replace("  other: {deployments: [sim]}", "  other: {deployments: [sim], safe_mode: {message: 'Busy.'}}")
        + "server: {kill_switch_refresh_s: 0.1}\nauth: {anonymous: {routes: ['*']}}\n"
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with keel_process(
        ["serve", "--config", str(config), "--port", str(port)],
        cwd=tmp_path,
        env={"KEEL_SECRET": "cli-secret"},
        ready_url=f"{url}/readyz",
    ):
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="x", max_retries=0)
        hello = [{"role": "user", "content": "x"}]
        killed = keel(
            "kill",
            "route",
            "bot",
            "--reason",
            "bad answers",
            "--message",
            "Paused by ops",
            "--actor",
            "ana",
            "--config",
            str(config),
            cwd=tmp_path,
        )
        assert killed.returncode == 0, killed.stderr
        safe = keel("kill", "route", "other", "--reason", "drill", "--safe-mode", "--config", str(config), cwd=tmp_path)
        assert safe.returncode == 0, safe.stderr

        def refused() -> bool:
            try:
                client.chat.completions.create(model="bot", messages=hello)  # type: ignore[arg-type]
            except openai.InternalServerError as exc:
                assert exc.status_code == 503 and "Paused by ops" in exc.message and "ana" in exc.message
                return True
            return False

        deadline = time.monotonic() + 5
        while not refused():
            assert time.monotonic() < deadline, "the kill switch never applied"
            time.sleep(0.05)
        answer = client.chat.completions.with_raw_response.create(model="other", messages=hello)  # type: ignore[arg-type]
        assert answer.headers["x-keel-safe-mode"] == "kill_switch"
        assert answer.parse().choices[0].message.content == "Busy."

        listed = keel("kill", "list", "--json", "--config", str(config), cwd=tmp_path)
        assert '"reason": "bad answers"' in listed.stdout and '"reason": "drill"' in listed.stdout
        cleared = keel("unkill", "route", "bot", "--reason", "fixed", "--config", str(config), cwd=tmp_path)
        assert cleared.returncode == 0, cleared.stderr
        deadline = time.monotonic() + 5
        while refused():
            assert time.monotonic() < deadline, "the cleared kill switch still applies"
            time.sleep(0.05)
    again = keel("unkill", "route", "bot", "--reason", "x", "--config", str(config), cwd=tmp_path)
    assert again.returncode == 1 and "no active kill switch" in again.stderr
    unknown = keel("kill", "route", "nope", "--reason", "x", "--config", str(config), cwd=tmp_path)
    assert unknown.returncode == 1 and "no route named 'nope'" in unknown.stderr


def test_a_second_gateway_on_the_same_data_dir_or_port_fails_in_one_line(tmp_path: Path) -> None:
    config = tmp_path / "keel.yaml"
    config.write_text(CONFIG)
    port = free_port()
    with keel_process(
        ["serve", "--config", str(config), "--port", str(port)],
        cwd=tmp_path,
        env={"KEEL_SECRET": "cli-secret"},
        ready_url=f"http://127.0.0.1:{port}/readyz",
    ):
        same_dir = keel("serve", "--config", str(config), "--port", str(free_port()), cwd=tmp_path)
        other = tmp_path / "other"
        other.mkdir()
        same_port = keel("serve", "--config", str(config), "--port", str(port), cwd=other)
    assert same_dir.returncode == 1 and "Traceback" not in same_dir.stderr
    assert same_dir.stderr.strip().splitlines()[-1].startswith("error: spool directory")
    assert "another Keel process uses this data directory" in same_dir.stderr
    assert same_port.returncode == 1 and "Traceback" not in same_port.stderr
    assert same_port.stderr.strip().splitlines()[-1].startswith(f"error: cannot listen on 127.0.0.1:{port}")
