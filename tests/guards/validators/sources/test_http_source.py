"""HTTP sources against a real aiohttp server on a free local port."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web
from pydantic import TypeAdapter

from keel.guards.validators.sources import DataSource, SourceConfig, SourceUnavailable, build_source
from tests.clocks import ManualClock
from tests.conftest import ServerThread

STOCK: dict[str, Any] = {"SKU-1": {"in_stock": True}, "SKU-2": {"in_stock": False}, "SKU-3": {"in_stock": 1}}
GATHER = 3
"""Requests to /gather/ are held until this many are in flight at once."""

_SOURCE: TypeAdapter[SourceConfig] = TypeAdapter(SourceConfig)


class StockService:
    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.raw_paths: list[str] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._gathered: asyncio.Event | None = None

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/stock/{sku}", self.stock)
        app.router.add_get("/private/{sku}", self.private)
        app.router.add_get("/slow/{sku}", self.slow)
        app.router.add_get("/broken/{sku}", self.broken)
        app.router.add_get("/text/{sku}", self.text)
        app.router.add_get("/gather/{sku}", self.gather)
        app.router.add_get("/paced/{sku}", self.paced)
        return app

    async def stock(self, request: web.Request) -> web.Response:
        sku = request.match_info["sku"]
        self.hits[sku] += 1
        self.raw_paths.append(request.raw_path)
        if sku not in STOCK:
            return web.json_response({"error": "unknown"}, status=404)
        return web.json_response(STOCK[sku])

    async def private(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != "Bearer stock-key":
            return web.json_response({"error": "unauthorised"}, status=401)
        return web.json_response({"in_stock": True})

    async def slow(self, request: web.Request) -> web.Response:
        await asyncio.sleep(1.0)
        return web.json_response({"in_stock": True})

    async def broken(self, request: web.Request) -> web.Response:
        return web.Response(status=500, text="boom")

    async def text(self, request: web.Request) -> web.Response:
        return web.Response(text="in stock")

    async def gather(self, request: web.Request) -> web.Response:
        self.in_flight += 1
        if self._gathered is None:
            self._gathered = asyncio.Event()
        if self.in_flight >= GATHER:
            self._gathered.set()
        try:
            await asyncio.wait_for(self._gathered.wait(), 5)
        except TimeoutError:
            return web.Response(status=503, text="requests did not overlap")
        return web.json_response({"in_stock": True})

    async def paced(self, request: web.Request) -> web.Response:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        await asyncio.sleep(0.02)
        self.in_flight -= 1
        return web.json_response({"in_stock": True})


@pytest.fixture
def service() -> Iterator[tuple[StockService, str]]:
    stock = StockService()
    with ServerThread(stock.app) as server:
        yield stock, server.url


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as shared:
        yield shared


def _source(session: aiohttp.ClientSession, clock: ManualClock | None = None, **config: Any) -> DataSource:
    parsed = _SOURCE.validate_json(orjson.dumps({"kind": "http", "cache_ttl_s": 0} | config))
    return build_source(parsed, base_dir=Path("."), session=session, engines=None, clock=clock or ManualClock())


JSON_CHECK = {"json_path": "$.in_stock", "equals": True}


async def test_present_and_absent(service: tuple[StockService, str], session: aiohttp.ClientSession) -> None:
    stock, url = service
    source = _source(session, url=f"{url}/stock/{{value}}", present_when=JSON_CHECK)
    answers = await source.contains(["SKU-1", "SKU-2", "SKU-3", "SKU-9", "SKU-1"])
    # SKU-3 has in_stock 1, which is not the JSON value true.
    assert answers == {"SKU-1": True, "SKU-2": False, "SKU-3": False, "SKU-9": False}
    assert stock.hits == Counter({"SKU-1": 1, "SKU-2": 1, "SKU-3": 1, "SKU-9": 1})
    assert source.description == f"http {url}"


async def test_status_alone_can_mean_present(service: tuple[StockService, str], session: aiohttp.ClientSession) -> None:
    source = _source(session, url=f"{service[1]}/stock/{{value}}")
    assert await source.contains(["SKU-2", "SKU-9"]) == {"SKU-2": True, "SKU-9": False}


async def test_the_value_is_percent_encoded(service: tuple[StockService, str], session: aiohttp.ClientSession) -> None:
    stock, url = service
    source = _source(session, url=f"{url}/stock/{{value}}", present_when=JSON_CHECK)
    assert await source.contains(["../private/x?y=1#z"]) == {"../private/x?y=1#z": False}
    assert stock.raw_paths == ["/stock/..%2Fprivate%2Fx%3Fy%3D1%23z"]


async def test_headers_are_sent(service: tuple[StockService, str], session: aiohttp.ClientSession) -> None:
    url = f"{service[1]}/private/{{value}}"
    assert await _source(session, url=url, headers={"Authorization": "Bearer stock-key"}).contains(["a"]) == {"a": True}
    with pytest.raises(SourceUnavailable, match="status 401 for 'a'"):
        await _source(session, url=url).contains(["a"])


async def test_a_timeout_is_unavailable(service: tuple[StockService, str], session: aiohttp.ClientSession) -> None:
    source = _source(session, url=f"{service[1]}/slow/{{value}}", timeout_s=0.2)
    with pytest.raises(SourceUnavailable, match=r"http .*: no answer within 0.2 s for 'SKU-1'"):
        await source.contains(["SKU-1"])


async def test_a_server_error_is_unavailable_not_absent(
    service: tuple[StockService, str], session: aiohttp.ClientSession
) -> None:
    with pytest.raises(SourceUnavailable, match="status 500"):
        await _source(session, url=f"{service[1]}/broken/{{value}}").contains(["SKU-1"])


async def test_a_body_that_is_not_json_is_unavailable(
    service: tuple[StockService, str], session: aiohttp.ClientSession
) -> None:
    source = _source(session, url=f"{service[1]}/text/{{value}}", present_when=JSON_CHECK)
    with pytest.raises(SourceUnavailable, match="is not JSON"):
        await source.contains(["SKU-1"])


async def test_nothing_listening_is_unavailable(session: aiohttp.ClientSession) -> None:
    source = _source(session, url="http://127.0.0.1:1/stock/{value}")
    with pytest.raises(SourceUnavailable, match=r"http http://127\.0\.0\.1:1: ClientConnectorError"):
        await source.contains(["SKU-1"])


async def test_values_are_looked_up_concurrently(
    service: tuple[StockService, str], session: aiohttp.ClientSession
) -> None:
    source = _source(session, url=f"{service[1]}/gather/{{value}}", max_concurrency=GATHER)
    values = [f"SKU-{n}" for n in range(GATHER)]
    assert await source.contains(values) == dict.fromkeys(values, True)


async def test_concurrency_is_bounded(service: tuple[StockService, str], session: aiohttp.ClientSession) -> None:
    stock, url = service
    source = _source(session, url=f"{url}/paced/{{value}}", max_concurrency=2)
    values = [f"SKU-{n}" for n in range(8)]
    assert await source.contains(values) == dict.fromkeys(values, True)
    assert 1 <= stock.max_in_flight <= 2


async def test_answers_are_cached(service: tuple[StockService, str], session: aiohttp.ClientSession) -> None:
    stock, url = service
    clock = ManualClock()
    source = _source(session, clock, url=f"{url}/stock/{{value}}", present_when=JSON_CHECK, cache_ttl_s=30)
    for _ in range(3):
        assert await source.contains(["SKU-1", "SKU-9"]) == {"SKU-1": True, "SKU-9": False}
    assert stock.hits == Counter({"SKU-1": 1, "SKU-9": 1})
    clock.advance(30.5)
    await source.contains(["SKU-1"])
    assert stock.hits == Counter({"SKU-1": 2, "SKU-9": 1})
