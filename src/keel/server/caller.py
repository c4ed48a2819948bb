"""Authenticate a request outside the pipeline: model listing and the admin API."""

from __future__ import annotations

from aiohttp import web

from keel.core.context import RequestContext
from keel.core.identity import Identity
from keel.pipeline.auth import Authenticate
from keel.services.runtime import Runtime


def caller(request: web.Request, runtime: Runtime) -> Identity:
    ctx = RequestContext(
        request_id="",
        endpoint="admin",
        config=runtime.snapshot.config,
        ts=0.0,
        started=0.0,
        headers=request.headers,
    )
    return Authenticate(runtime.keyring).identify(ctx)
