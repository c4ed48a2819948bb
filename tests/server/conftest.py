"""A running gateway on tests/data/gateway.yaml, with its simulated and fake upstreams."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import ADMIN_KEY, DATA, ServerThread, free_port, keel_process
from tests.fakes.anthropic_upstream import AnthropicUpstream


@dataclass
class Gateway:
    url: str
    workdir: Path
    anthropic: AnthropicUpstream

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def admin(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"authorization": f"Bearer {ADMIN_KEY}"}, timeout=10)

    def create_key(self, allowed: list[str], **meta: str) -> str:
        with self.admin() as client:
            resp = client.post("/admin/keys", json={"name": "test", "allowed": allowed, **meta})
            resp.raise_for_status()
            return str(resp.json()["key"])


@pytest.fixture(scope="session")
def anthropic_upstream() -> Iterator[tuple[AnthropicUpstream, str]]:
    upstream = AnthropicUpstream(api_key="test-anthropic-key")
    with ServerThread(lambda: upstream.app) as server:
        yield upstream, server.url


@pytest.fixture(scope="session")
def gateway(
    simulator_url: str,
    anthropic_upstream: tuple[AnthropicUpstream, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Gateway]:
    port = free_port()
    workdir = tmp_path_factory.mktemp("gateway")
    upstream, anthropic_url = anthropic_upstream
    env = {
        "SIM_BASE": simulator_url,
        "ANTHROPIC_BASE": anthropic_url,
        "KEEL_ADMIN_KEY": ADMIN_KEY,
        "KEEL_SECRET": "secret-for-tests",
    }
    with keel_process(
        ["serve", "--config", str(DATA / "gateway.yaml"), "--port", str(port)],
        cwd=workdir,
        env=env,
        ready_url=f"http://127.0.0.1:{port}/readyz",
    ):
        yield Gateway(f"http://127.0.0.1:{port}", workdir, upstream)
