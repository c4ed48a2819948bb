"""A `keel serve` on a config of the test's own, reached with the admin key, and its request log."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.conftest import ADMIN_KEY, free_port, keel_process


@contextmanager
def serve(workdir: Path, config: str | Path) -> Iterator[httpx.Client]:
    """Serve ``config`` (YAML text written to workdir/keel.yaml, or a path) from ``workdir``."""
    if isinstance(config, str):
        (workdir / "keel.yaml").write_text(config)
        config = Path("keel.yaml")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with (
        keel_process(
            ["serve", "--config", str(config), "--port", str(port)],
            cwd=workdir,
            env={"KEEL_ADMIN_KEY": ADMIN_KEY},
            ready_url=f"{url}/readyz",
        ),
        httpx.Client(base_url=url, headers={"authorization": f"Bearer {ADMIN_KEY}"}, timeout=10) as client,
    ):
        yield client


def logged(client: httpx.Client, request_id: str) -> dict[str, object]:
    """The request's record, once the background writer has stored it."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for record in client.get("/admin/requests", params={"limit": 100}).json()["data"]:
            if record["request_id"] == request_id:
                return dict(record)
        time.sleep(0.05)
    raise AssertionError(f"{request_id} never reached the request log")
