"""Authenticate a request outside the pipeline: model listing and the admin API."""

from __future__ import annotations

from aiohttp import web

from keel.core.context import RequestContext
from keel.core.errors import PermissionDenied
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


def admin_runtime(request: web.Request, key: web.AppKey[Runtime]) -> Runtime:
    """The app's runtime, for a caller presenting the admin key; a 403 in OpenAI's shape for anyone else."""
    runtime = request.app[key]
    if not caller(request, runtime).is_admin:
        raise PermissionDenied("the admin API needs the admin key (KEEL_ADMIN_KEY)", code="admin_only")
    return runtime
