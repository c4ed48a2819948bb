"""Fixtures for the canary tests: a local judge server and the client that asks it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from tests.canary.judge_server import REQUESTS, JudgeServer, judge_app


@pytest.fixture
async def judge() -> AsyncIterator[JudgeServer]:
    app = judge_app()
    server = TestServer(app)
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as session:
            yield JudgeServer(session, str(server.make_url("")).rstrip("/"), app[REQUESTS])
    finally:
        await server.close()
