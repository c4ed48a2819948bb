"""Fault injection against real processes: one ``keel simulate`` per session, a gateway per test module.

A module describes its gateway as routes and deployments; upstreams point at ``${SIM_BASE}``, which
the gateway reads from its environment, so configs are plain constants.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import yaml

from tests.conftest import ADMIN_KEY, ROOT, free_port, keel_process

Record = dict[str, Any]
StartGateway = Callable[[dict[str, Any]], AbstractContextManager["Gateway"]]

CLIENT_TIMEOUT_S = 60.0
"""The SDK's own timeout: far beyond every deadline configured here, so a hang shows up as a hang."""


@dataclass
class Gateway:
    url: str
    workdir: Path

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def client(self) -> openai.OpenAI:
        # max_retries=0: every retry the tests observe is Keel's, none is the SDK's.
        return openai.OpenAI(base_url=self.base_url, api_key=ADMIN_KEY, max_retries=0, timeout=CLIENT_TIMEOUT_S)

    def async_client(self) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(base_url=self.base_url, api_key=ADMIN_KEY, max_retries=0, timeout=CLIENT_TIMEOUT_S)

    def admin(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"authorization": f"Bearer {ADMIN_KEY}"}, timeout=10)

    def records(self, request_ids: Iterable[str | None], timeout: float = 20.0) -> list[Record]:
        """The request-log records of these requests, in the same order (written off the request path,
        so they may take a moment to appear)."""
        wanted = [i for i in request_ids if i is not None]
        found: dict[str, Record] = {}
        deadline = time.monotonic() + timeout
        with self.admin() as admin:
            while True:
                for record in admin.get("/admin/requests", params={"limit": 1000}).json()["data"]:
                    if record["request_id"] in wanted:
                        found[record["request_id"]] = record
                if len(found) == len(set(wanted)) or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
        missing = [i for i in wanted if i not in found]
        assert not missing, f"{len(missing)} requests never reached the request log, e.g. {missing[0]}"
        return [found[i] for i in wanted]

    def record(self, request_id: str | None) -> Record:
        return self.records([request_id])[0]

    def set_kill_switch(self, route: str, action: str, reason: str) -> None:
        with self.admin() as admin:
            body = {"scope": "route", "target": route, "action": action, "reason": reason}
            admin.post("/admin/kill-switches", json=body).raise_for_status()
            self._until_switched(admin, route, action)

    def clear_kill_switch(self, route: str, reason: str) -> None:
        with self.admin() as admin:
            body = {"scope": "route", "target": route, "reason": reason}
            admin.post("/admin/kill-switches/clear", json=body).raise_for_status()
            self._until_switched(admin, route, None)

    @staticmethod
    def _until_switched(admin: httpx.Client, route: str, action: str | None, timeout: float = 10.0) -> None:
        """Until the gateway's board shows the change: a periodic refresh in flight may briefly undo it
        (see test_kill_board.py)."""
        deadline = time.monotonic() + timeout
        while True:
            active = admin.get("/admin/kill-switches").json()["active"]
            actions = [s["action"] for s in active if (s["scope"], s["target"]) == ("route", route)]
            if actions == ([action] if action else []) or time.monotonic() > deadline:
                return
            time.sleep(0.05)


@pytest.fixture(scope="session")
def sim_base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The simulated upstream; every behaviour comes from the scripted model names in the configs."""
    port = free_port()
    with keel_process(
        ["simulate", "--port", str(port)],
        cwd=tmp_path_factory.mktemp("resilience-sim"),
        env={},
        ready_url=f"http://127.0.0.1:{port}/healthz",
    ):
        yield f"http://127.0.0.1:{port}/v1"


@pytest.fixture(scope="session")
def start_gateway(sim_base: str, tmp_path_factory: pytest.TempPathFactory) -> StartGateway:
    @contextmanager
    def start(sections: dict[str, Any]) -> Iterator[Gateway]:
        workdir = tmp_path_factory.mktemp("resilience-gateway")
        config = {
            "version": 1,
            "storage": {"log_flush_interval_s": 0.05},
            **sections,
        }
        path = workdir / "keel.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        with gateway_process(path, workdir, sim_base) as gateway:
            yield gateway

    return start


@contextmanager
def gateway_process(config: Path, workdir: Path, sim_base: str) -> Iterator[Gateway]:
    port = free_port()
    env = {"SIM_BASE": sim_base, "KEEL_ADMIN_KEY": ADMIN_KEY, "KEEL_SECRET": "secret-for-tests"}
    with keel_process(
        ["serve", "--config", str(config), "--port", str(port)],
        cwd=workdir,
        env=env,
        ready_url=f"http://127.0.0.1:{port}/readyz",
    ):
        yield Gateway(f"http://127.0.0.1:{port}", workdir)


FAQ_FILE = str(ROOT / "src" / "keel" / "defaults" / "faq.yaml")
