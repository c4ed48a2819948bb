"""``keel drift report`` and ``keel drift reset`` against the database a gateway shares its windows in."""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path

from typer.testing import CliRunner

from keel.cli.main import app
from keel.monitor.drift_route import RouteDriftConfig
from keel.monitor.drift_service import DriftService
from keel.store.sql import open_database
from keel.store.sql_drift import SqlDriftStore
from tests.clocks import ManualClock
from tests.monitor.test_drift_service import feed

CONFIG = """\
storage: {database_url: "sqlite:///DB"}
routes:
  bot: {deployments: [sim], drift: {baseline_requests: 200, min_samples: 100}}
  plain: {deployments: [sim]}
deployments:
  sim: {provider: simulator}
"""


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


async def gateway_traffic(url: str) -> None:
    """What a running gateway does: observe a baseline, then shifted traffic, sharing windows at each sync."""
    db = await open_database(url)
    try:
        config = RouteDriftConfig(baseline_requests=200, min_samples=100)
        service = DriftService(SqlDriftStore(db), lambda: {"bot": config}, ManualClock())
        rng = random.Random(3)
        await feed(service, rng, 250)
        await service.sync()
        await feed(service, rng, 300, scale=1.6)
        await service.sync()
    finally:
        await db.aclose()


def test_report_and_reset(tmp_path: Path) -> None:
    path = tmp_path / "keel.yaml"
    path.write_text(CONFIG.replace("DB", f"{tmp_path}/keel.db"))
    code, output = invoke("drift", "report", "--route", "bot", "--config", str(path))
    assert code == 0 and "collecting the baseline: 0 of 200 requests" in output, output
    asyncio.run(gateway_traffic(f"sqlite:///{tmp_path}/keel.db"))
    code, output = invoke("drift", "report", "--route", "bot", "--config", str(path))
    assert code == 0 and "prompt_chars" in output
    code, output = invoke("drift", "report", "--route", "bot", "--json", "--config", str(path))
    assert code == 0 and "prompt_chars" in json.loads(output)["drifted"]
    assert invoke("drift", "reset", "--route", "bot", "--config", str(path))[0] == 0
    assert "collecting the baseline: 0 of 200" in invoke("drift", "report", "--route", "bot", "--config", str(path))[1]


def test_routes_without_drift_are_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "keel.yaml"
    path.write_text(CONFIG.replace("DB", f"{tmp_path}/keel.db"))
    code, output = invoke("drift", "report", "--route", "plain", "--config", str(path))
    assert code == 1 and "has no drift monitoring" in output
    code, output = invoke("drift", "report", "--route", "nope", "--config", str(path))
    assert code == 1 and "no route named 'nope'" in output
