"""A gateway runtime started in-process on simulated deployments, and a way to send it one request.

The live deployment answers at once; the candidates answer slowly, differently, or not at all. Every
prompt and reply is a few plain words, so token counts (the simulator counts words) and costs can be
worked out by hand.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from keel.config.loader import load_runtime_config
from keel.core.context import Reply, RequestContext
from keel.services.runtime import Runtime
from keel.shadow.store import SqlShadowStore

ADMIN_KEY = "sk-admin-shadow-tests"
LIVE_REPLY = "Paris is the capital"
QUESTION = "what is the capital of France"  # 6 prompt words

CONFIG = """\
version: 1
storage: {data_dir: DIR/data, database_url: "sqlite:///DIR/keel.db", log_flush_interval_s: 0.05}
auth: {anonymous: {routes: ["*"]}}
routes:
  support:
    deployments: [live]
    shadow: {candidate: slow, share: 1.0}
  broken:
    deployments: [live]
    shadow: {candidate: failing, share: 1.0}
  sampled:
    deployments: [live]
    shadow: {candidate: other, share: 0.3, max_in_flight: 64}  # every sampled request is mirrored
  busy:
    deployments: [live]
    shadow: {candidate: slower, share: 1.0, max_in_flight: 2}
  cached:
    deployments: [live]
    cache: {enabled: true}
    shadow: {candidate: other, share: 1.0}
  guarded:
    deployments: [live]
    guards:
      output:
        - contains: {text: Paris, on_fail: block}
    shadow: {candidate: other, share: 1.0}
  semantic:
    deployments: [live]
    shadow: {candidate: slow, share: 1.0, compare: {semantic: true}}
  plain:
    deployments: [live]
deployments:
  live:
    provider: simulator
    model: "sim:reply=Paris%20is%20the%20capital"
    price: {input_per_mtok: 1, output_per_mtok: 2}
  slow:
    provider: simulator
    model: "sim:ttft=300,reply=The%20capital%20is%20Paris"
    price: {input_per_mtok: 10, output_per_mtok: 30}
  slower:
    provider: simulator
    model: "sim:ttft=1000,reply=The%20capital%20is%20Paris"
  other:
    provider: simulator
    model: "sim:reply=Lyon"
    price: {input_per_mtok: 10, output_per_mtok: 30}
  failing:
    provider: simulator
    model: "sim:fault=server_error:1"
"""


@dataclass
class Sent:
    ctx: RequestContext
    reply: Reply
    text: str
    """The answer's text as the client read it (a stream's deltas joined)."""


Send = Callable[..., Awaitable[Sent]]


@pytest.fixture
async def runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Runtime]:
    monkeypatch.setenv("KEEL_ADMIN_KEY", ADMIN_KEY)
    path = tmp_path / "keel.yaml"
    path.write_text(CONFIG.replace("DIR", str(tmp_path)))
    started = Runtime(load_runtime_config(path), path)
    await started.start()
    try:
        yield started
    finally:
        await started.aclose()


@pytest.fixture
def store(runtime: Runtime) -> SqlShadowStore:
    return SqlShadowStore(runtime.db)


@pytest.fixture
def send(runtime: Runtime) -> Send:
    async def send(model: str, content: str = QUESTION, *, stream: bool = False) -> Sent:
        body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": content}]}
        if stream:
            body["stream"] = True
        ctx = RequestContext(
            request_id=runtime.request_ids.new(),
            endpoint="chat.completions",
            config=runtime.snapshot.config,
            ts=time.time(),
            started=time.perf_counter(),
            raw_body=orjson.dumps(body),
        )
        reply = await runtime.snapshot.pipeline(ctx)
        if reply.stream is None:
            assert reply.body is not None
            return Sent(ctx, reply, reply.body["choices"][0]["message"]["content"] or "")
        frames = b"".join([frame async for frame in reply.stream])
        return Sent(ctx, reply, _stream_text(frames))

    return send


def _stream_text(frames: bytes) -> str:
    text = []
    for line in frames.decode().splitlines():
        if line.startswith("data: ") and line != "data: [DONE]":
            for choice in orjson.loads(line[6:]).get("choices") or ():
                text.append(choice["delta"].get("content") or "")
    return "".join(text)
