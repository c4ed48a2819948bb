"""A streaming client that leaves before its answer starts: its slot is freed and its request recorded.

The pipeline waits for the upstream's first chunk before it answers, so a client that hangs up during
that wait is gone when the gateway sends the response headers. Every stage's clean-up (the load-shedding
slot, limits and budgets, the request record) must still run.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import orjson

from tests.server.served import serve

CONFIG = """\
auth:
  anonymous: {routes: ["*"]}
routes:
  slow: {deployments: [sim]}
deployments:
  sim: {provider: simulator, model: "sim:ttft=600"}
"""


async def _hang_up_early(port: int) -> None:
    body = orjson.dumps({"model": "slow", "stream": True, "messages": [{"role": "user", "content": "hi"}]})
    _reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
        + f"content-length: {len(body)}\r\n\r\n".encode()
        + body
    )
    await writer.drain()
    await asyncio.sleep(0.2)  # inside the gateway, waiting on the upstream's first chunk
    writer.transport.abort()  # gone, as a client that timed out


def test_a_client_gone_before_the_stream_starts_frees_its_slot_and_is_recorded(tmp_path: Path) -> None:
    with serve(tmp_path, CONFIG) as admin:
        port = int(str(admin.base_url).rsplit(":", 1)[1].rstrip("/"))
        for _ in range(3):
            asyncio.run(_hang_up_early(port))
        deadline = time.monotonic() + 10
        while True:
            metrics = admin.get("/metrics").text
            records = admin.get("/admin/requests", params={"route": "slow"}).json()["data"]
            if "keel_requests_in_flight 0.0" in metrics and len(records) == 3:
                break
            assert time.monotonic() < deadline, (metrics.count("in_flight"), [r["status"] for r in records])
            time.sleep(0.1)
        assert {(r["status"], r["error_class"]) for r in records} == {(499, "ClientClosed")}
        # And the next caller who stays is answered in full.
        body = {"model": "slow", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
        with admin.stream("POST", "/v1/chat/completions", json=body) as answer:
            assert answer.status_code == 200 and "data: [DONE]" in answer.read().decode()
