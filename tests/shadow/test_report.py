"""The summary through the admin API and ``keel shadow report``."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer
from typer.testing import CliRunner

from keel.cli.main import app as cli
from keel.server.app import build_app
from keel.services.runtime import Runtime
from keel.shadow.store import ShadowResult, SqlShadowStore
from keel.store.sql import open_database
from tests.shadow.conftest import ADMIN_KEY


def _results(now: float) -> list[ShadowResult]:
    base = {"route": "support", "live_deployment": "live", "candidate": "slow"}
    return [
        ShadowResult(
            request_id="r1", ts=now - 60, live_latency_ms=100.0, shadow_latency_ms=300.0,
            live_cost_usd=0.000014, shadow_cost_usd=0.00018, similarity=1.0, lexical_similarity=1.0,
            live_guard_actions=("contains=allow",), shadow_guard_actions=("contains=block",), **base,
        ),
        ShadowResult(
            request_id="r2", ts=now - 30, live_latency_ms=200.0, shadow_latency_ms=500.0,
            live_cost_usd=0.000014, shadow_cost_usd=0.00018, similarity=0.5, lexical_similarity=0.5,
            json_equal=True, **base,
        ),
        ShadowResult(
            request_id="r3", ts=now - 10, live_latency_ms=150.0, shadow_latency_ms=30000.0,
            live_cost_usd=0.000014, shadow_cost_usd=None, error="UpstreamTimeout (shadow_timeout)", **base,
        ),
        ShadowResult(
            request_id="old", ts=now - 7200, live_latency_ms=1.0, shadow_latency_ms=1.0,
            live_cost_usd=1.0, shadow_cost_usd=1.0, similarity=0.0, **base,
        ),
    ]  # fmt: skip


async def test_the_admin_api_sums_up_a_route(runtime: Runtime) -> None:
    await SqlShadowStore(runtime.db).record(_results(time.time()))
    async with TestClient(TestServer(build_app(runtime))) as client:
        admin = {"authorization": f"Bearer {ADMIN_KEY}"}
        response = await client.get("/admin/shadow/support", params={"since": "1h"}, headers=admin)
        assert response.status == 200
        found = await response.json()
        assert (found["route"], found["candidates"], found["mirrored"], found["errors"]) == ("support", ["slow"], 3, 1)
        assert found["similarity"] == {
            "compared": 2, "mean": 0.75, "p50": 0.5, "similar_at": 0.8, "similar": 1, "similar_share": 0.5,
        }  # fmt: skip
        assert found["latency_ms"] == {"live": {"p50": 100.0, "p99": 200.0}, "candidate": {"p50": 300.0, "p99": 500.0}}
        assert found["cost_usd"] == {
            "priced": 2, "live": "0.000028000", "candidate": "0.000360000", "difference": "0.000332000",
        }  # fmt: skip
        assert found["guards"] == {"checked": 1, "disagreements": {"allow→block": 1}}
        assert found["json"] == {"compared": 1, "equal": 1}
        assert (await client.get("/admin/shadow/support")).status == 403
        bad = await client.get("/admin/shadow/support", params={"since": "soon"}, headers=admin)
        assert bad.status == 400


def test_the_cli_report_as_json_and_as_text(tmp_path: Path) -> None:
    config = tmp_path / "keel.yaml"
    config.write_text(
        f'storage: {{data_dir: {tmp_path}/data, database_url: "sqlite:///{tmp_path}/keel.db"}}\n'
        "routes:\n  support: {deployments: [live], shadow: {candidate: slow, share: 0.5, compare: {similar_at: 0.4}}}\n"
        "deployments:\n  live: {provider: simulator}\n  slow: {provider: simulator}\n"
    )

    async def seed() -> None:
        db = await open_database(f"sqlite:///{tmp_path}/keel.db")
        try:
            await SqlShadowStore(db).record(_results(time.time()))
        finally:
            await db.aclose()

    asyncio.run(seed())
    runner = CliRunner()
    as_json = runner.invoke(cli, ["shadow", "report", "support", "--config", str(config), "--json", "--since", "1h"])
    assert as_json.exit_code == 0, as_json.output
    found = json.loads(as_json.output)
    assert found["mirrored"] == 3 and found["similarity"]["similar_at"] == 0.4 and found["similarity"]["similar"] == 2
    text = runner.invoke(cli, ["shadow", "report", "support", "--config", str(config), "--since", "3h"])
    assert text.exit_code == 0, text.output
    assert "mirrored 4 of 0 answered requests (n/a); the candidate failed 1 (25.0%)" in text.output
    assert "latency p50 (ms)" in text.output and "guard outcomes: 1 of 1 differ (allow→block 1)" in text.output
    refused = runner.invoke(cli, ["shadow", "report", "support", "--config", str(config), "--since", "later"])
    assert refused.exit_code == 1 and "--since" in refused.output
