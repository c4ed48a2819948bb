"""Content-policy and context-window fallbacks, decided by the upstream's answer or before the call."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from tests.conftest import ADMIN_KEY, free_port, keel_process

CONFIG = """\
routes:
  strict:
    deployments: [prude]
    content_policy_fallback: lenient
  short:
    deployments: [tiny]
    context_window_fallback: roomy
  nofallback:
    deployments: [prude]
deployments:
  prude: {provider: simulator, model: "sim:fault=content_filter:1"}
  lenient: {provider: simulator, model: "sim:tokens=3"}
  tiny: {provider: simulator, model: "sim:tokens=3", context_window: 50}
  roomy: {provider: simulator, model: "sim:tokens=3", context_window: 100000}
"""


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    workdir = tmp_path_factory.mktemp("fallbacks")
    path = workdir / "keel.yaml"
    path.write_text(CONFIG)
    port = free_port()
    env = {"KEEL_ADMIN_KEY": ADMIN_KEY}
    with keel_process(
        ["serve", "--config", str(path), "--port", str(port)],
        cwd=Path(workdir),
        env=env,
        ready_url=f"http://127.0.0.1:{port}/readyz",
    ):
        yield f"http://127.0.0.1:{port}"


def attempts(url: str, request_id: str) -> list[tuple[str, str, str | None]]:
    with httpx.Client(base_url=url, headers={"authorization": f"Bearer {ADMIN_KEY}"}) as admin:
        for _ in range(100):
            for record in admin.get("/admin/requests", params={"limit": 50}).json()["data"]:
                if record["request_id"] == request_id:
                    return [(a["deployment"], a["kind"], a["error_class"]) for a in record["attempts"]]
            time.sleep(0.05)
    raise AssertionError("request not logged")


def test_content_refusal_goes_to_the_content_policy_fallback(url: str) -> None:
    client = openai.OpenAI(base_url=f"{url}/v1", api_key=ADMIN_KEY, max_retries=0)
    raw = client.chat.completions.with_raw_response.create(model="strict", messages=[{"role": "user", "content": "x"}])
    assert raw.headers["x-keel-deployment"] == "lenient"
    assert attempts(url, raw.headers["x-request-id"]) == [
        ("prude", "primary", "ContentPolicyViolation"),
        ("lenient", "fallback", None),
    ]
    with pytest.raises(openai.BadRequestError) as refused:  # without a fallback the refusal is the answer
        client.chat.completions.create(model="nofallback", messages=[{"role": "user", "content": "x"}])
    assert refused.value.code == "content_policy_violation"


def test_long_prompt_goes_to_the_larger_context_before_any_call(url: str) -> None:
    client = openai.OpenAI(base_url=f"{url}/v1", api_key=ADMIN_KEY, max_retries=0)
    short = client.chat.completions.with_raw_response.create(
        model="short", messages=[{"role": "user", "content": "hi"}]
    )
    assert short.headers["x-keel-deployment"] == "tiny"
    long_prompt = "word " * 400  # ~500 tokens, over tiny's window of 50
    raw = client.chat.completions.with_raw_response.create(
        model="short", messages=[{"role": "user", "content": long_prompt}]
    )
    assert raw.headers["x-keel-deployment"] == "roomy"
    assert attempts(url, raw.headers["x-request-id"]) == [("roomy", "fallback", None)]
