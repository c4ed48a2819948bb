"""``GET /admin/shadow/{route}``: the summary of a route's shadow results over a window. Admin key only."""

from __future__ import annotations

import time

from aiohttp import web

from keel.core.errors import InvalidRequest
from keel.server.caller import admin_runtime
from keel.server.responses import json_response
from keel.services.runtime import Runtime
from keel.services.spend import parse_when
from keel.shadow.report import similar_at, summary_json
from keel.shadow.store import SqlShadowStore


def add_shadow_routes(app: web.Application, key: web.AppKey[Runtime]) -> None:
    async def summary(request: web.Request) -> web.Response:
        runtime = admin_runtime(request, key)
        route = request.match_info["route"]
        query = request.query
        now = time.time()
        try:
            since = parse_when(query.get("since", "24h"), now)
            until = parse_when(query["until"], now) if "until" in query else None
        except ValueError as error:
            raise InvalidRequest(str(error), param="since") from None
        threshold = similar_at(runtime.snapshot.config, route)
        found = await SqlShadowStore(runtime.db).summary(route, since, until, threshold)
        return json_response(summary_json(found))

    app.router.add_get("/admin/shadow/{route:.+}", summary)
