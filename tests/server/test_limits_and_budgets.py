"""Rate limits and budgets through a running gateway, on the in-process store and on Redis."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from aiohttp import web

from tests.conftest import ADMIN_KEY, ServerThread, free_port, keel_process

CONFIG = """\
hot_store: {backend: BACKEND, key_prefix: PREFIX}
rate_limits:
  teams: {capped: {rpm: 3}}
alerts: {webhooks: ["WEBHOOK"]}
budgets:
  - {name: tiny, scope: team, target: spenders, period: day, limit_usd: 0.0001, alert_at: [0.5, 0.8]}
routes:
  bot: {deployments: [sim]}
deployments:
  sim:
    provider: simulator
    model: "sim:tokens=10"
    price: {input_per_mtok: 1.0, output_per_mtok: 2.0}
"""


@pytest.fixture(params=["memory", "redis"])
def gateway(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, list[dict[str, object]]]]:
    received: list[dict[str, object]] = []

    async def hook(req: web.Request) -> web.Response:
        received.append(await req.json())
        return web.json_response({})

    def app() -> web.Application:
        application = web.Application()
        application.router.add_post("/hook", hook)
        return application

    with ServerThread(app) as webhook:
        config = (
            CONFIG.replace("BACKEND", request.param)
            .replace("PREFIX", f"t{secrets.token_hex(4)}")
            .replace("WEBHOOK", f"{webhook.url}/hook")
        )
        path = tmp_path / "keel.yaml"
        path.write_text(config)
        port = free_port()
        with keel_process(
            ["serve", "--config", str(path), "--port", str(port)],
            cwd=tmp_path,
            env={"KEEL_ADMIN_KEY": ADMIN_KEY},
            ready_url=f"http://127.0.0.1:{port}/readyz",
        ):
            yield f"http://127.0.0.1:{port}", received


def key_for(url: str, team: str) -> openai.OpenAI:
    import httpx

    with httpx.Client(base_url=url, headers={"authorization": f"Bearer {ADMIN_KEY}"}) as admin:
        key = admin.post("/admin/keys", json={"name": team, "allowed": ["bot"], "team": team}).json()["key"]
    return openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0)


HELLO = [{"role": "user", "content": "hello"}]


def test_team_rate_limit_refuses_with_openai_headers(gateway: tuple[str, list[dict[str, object]]]) -> None:
    url, _ = gateway
    client = key_for(url, "capped")
    first = client.chat.completions.with_raw_response.create(model="bot", messages=HELLO)  # type: ignore[arg-type]
    assert first.headers["x-ratelimit-limit-requests"] == "3"
    assert first.headers["x-ratelimit-remaining-requests"] == "2"
    for _ in range(2):
        client.chat.completions.create(model="bot", messages=HELLO)  # type: ignore[arg-type]
    with pytest.raises(openai.RateLimitError) as limited:
        client.chat.completions.create(model="bot", messages=HELLO)  # type: ignore[arg-type]
    assert "team 'capped'" in limited.value.message
    assert int(limited.value.response.headers["retry-after"]) >= 1
    other = key_for(url, "uncapped")  # other teams are not affected
    other.chat.completions.create(model="bot", messages=HELLO)  # type: ignore[arg-type]


def test_budget_alerts_then_hard_stop(gateway: tuple[str, list[dict[str, object]]]) -> None:
    url, received = gateway
    client = key_for(url, "spenders")
    spent = 0
    with pytest.raises(openai.RateLimitError) as stopped:
        for _ in range(50):
            # A completion limit keeps the reserved estimate near the real cost ($0.000021 a request).
            client.chat.completions.create(model="bot", messages=HELLO, max_tokens=10)  # type: ignore[arg-type]
            spent += 1
    assert stopped.value.code == "insufficient_quota"
    assert "budget 'tiny'" in stopped.value.message
    assert 2 <= spent <= 5
    deadline = time.monotonic() + 5
    while len(received) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    crossed = [alert for alert in received if alert["kind"] == "budget_threshold"]
    assert sorted(float(str(alert["threshold"])) for alert in crossed) == [0.5, 0.8]
    exhausted = [alert for alert in received if alert["kind"] == "budget_exhausted"]
    assert len(exhausted) == 1 and "now refuses requests" in str(exhausted[0]["text"])
    assert all(alert["budget"] == "tiny" for alert in received)
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="bot", messages=HELLO, max_tokens=10)  # type: ignore[arg-type]
    time.sleep(0.2)
    assert len([alert for alert in received if alert["kind"] == "budget_exhausted"]) == 1, "once per period"
