"""An HTTP endpoint as a data source: one GET per distinct value, on the process's shared session.

The value is percent-encoded into the URL's ``{value}`` placeholder, so an answer cannot steer the
request to another path or query. Requests for one answer's values run concurrently, at most
``max_concurrency`` at a time, each bounded by ``timeout_s``. Only the configured statuses are
answers; anything else (a 500, a 401 from a rotated key, a timeout) is ``SourceUnavailable``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp
import orjson
from yarl import URL

from keel.guards.validators.jsonpath import parse_json_path
from keel.guards.validators.result import excerpt
from keel.guards.validators.sources.base import SourceUnavailable
from keel.guards.validators.sources.config import HttpSourceConfig, JsonScalar

MAX_BODY_BYTES = 1024 * 1024
_CHUNK_BYTES = 64 * 1024


class HttpSource:
    def __init__(self, config: HttpSourceConfig, session: aiohttp.ClientSession) -> None:
        parts = urlsplit(config.url)
        port = f":{parts.port}" if parts.port is not None else ""
        self.description = f"http {parts.scheme}://{parts.hostname}{port}"  # no credentials, no path
        self._config = config
        self._session = session
        when = config.present_when
        self._present_path = parse_json_path(when.json_path) if when.json_path is not None else None
        self._timeout = aiohttp.ClientTimeout(total=config.timeout_s)
        self._slots = asyncio.Semaphore(config.max_concurrency)

    async def contains(self, values: Sequence[str]) -> dict[str, bool]:
        distinct = list(dict.fromkeys(values))
        try:
            async with asyncio.TaskGroup() as group:
                tasks = {value: group.create_task(self._lookup(value)) for value in distinct}
        except ExceptionGroup as failures:
            # The first failure is reported; TaskGroup has already cancelled the other look-ups.
            first = failures.exceptions[0]
            if isinstance(first, SourceUnavailable):
                raise first from None
            raise
        return {value: task.result() for value, task in tasks.items()}

    async def _lookup(self, value: str) -> bool:
        url = URL(self._config.url.replace("{value}", quote(value, safe="")), encoded=True)
        shown = excerpt(value, 40)
        async with self._slots:
            try:
                async with self._session.get(url, headers=self._config.headers, timeout=self._timeout) as response:
                    if response.status in self._config.absent_status:
                        return False
                    if response.status != self._config.present_when.status:
                        raise SourceUnavailable(f"{self.description}: status {response.status} for {shown!r}")
                    if self._present_path is None:
                        return True
                    body = await _read_limited(response, self.description)
            except TimeoutError:
                raise SourceUnavailable(
                    f"{self.description}: no answer within {self._config.timeout_s:g} s for {shown!r}"
                ) from None
            except aiohttp.ClientError as error:
                raise SourceUnavailable(f"{self.description}: {type(error).__name__} for {shown!r}") from None
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise SourceUnavailable(f"{self.description}: the response for {shown!r} is not JSON") from None
        expected = self._config.present_when.equals
        return any(_same_json(found, expected) for found in self._present_path.find(document))


async def _read_limited(response: aiohttp.ClientResponse, description: str) -> bytes:
    body = bytearray()
    async for chunk in response.content.iter_chunked(_CHUNK_BYTES):
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise SourceUnavailable(f"{description}: the response is larger than {MAX_BODY_BYTES} bytes")
    return bytes(body)


def _same_json(found: Any, expected: JsonScalar) -> bool:
    """JSON equality: ``true`` is not ``1`` (as it would be in Python), but ``1`` equals ``1.0``."""
    if isinstance(found, bool) or isinstance(expected, bool):
        return isinstance(found, bool) and isinstance(expected, bool) and found == expected
    return bool(found == expected)
