"""Alerts out: a JSON POST to every configured webhook, off the request path.

Each alert is also logged. Delivery is best effort with one retry; a slow or failing webhook never
delays a request. Plain webhooks get the whole event as JSON (``kind``, ``text`` and its fields);
Slack webhooks get Slack's incoming-webhook shape, the text with a marker for firing or resolved.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any

import aiohttp
import orjson

log = logging.getLogger("keel.alerts")


class WebhookNotifier:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        webhooks: Callable[[], Sequence[str]],
        slack_webhooks: Callable[[], Sequence[str]] = lambda: (),
    ) -> None:
        self._session = session
        self._webhooks = webhooks
        self._slack = slack_webhooks
        self._tasks: set[asyncio.Task[None]] = set()

    def notify(self, kind: str, text: str, **fields: Any) -> None:
        log.warning("alert %s: %s", kind, text)
        body = orjson.dumps({"kind": kind, "text": text, **fields})
        marker = ":white_check_mark:" if kind.endswith("resolved") else ":rotating_light:"
        slack = orjson.dumps({"text": f"{marker} {text}"})
        for url, payload in [(u, body) for u in self._webhooks()] + [(u, slack) for u in self._slack()]:
            task = asyncio.create_task(self._post(url, payload))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def aclose(self) -> None:
        """Give alerts in flight a moment to go out."""
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)

    async def _post(self, url: str, body: bytes) -> None:
        for attempt in range(2):
            try:
                timeout = aiohttp.ClientTimeout(total=5)
                headers = {"content-type": "application/json"}
                async with self._session.post(url, data=body, headers=headers, timeout=timeout) as resp:
                    if resp.status < 300:
                        return
                    problem = f"HTTP {resp.status}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                problem = type(exc).__name__
            if attempt == 0:
                await asyncio.sleep(1)
        log.warning("alert webhook %s failed: %s", url, problem)
