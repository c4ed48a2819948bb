"""``POST /v1/feedback`` for applications, and ``GET /admin/feedback`` for the summary per route, deployment or day."""

from __future__ import annotations

import time
from functools import cache
from typing import cast

import orjson
from aiohttp import web
from pydantic import ValidationError

from keel.core.errors import InvalidRequest
from keel.feedback.model import Feedback, FeedbackRequest
from keel.guards.pii.detector import PiiDetector
from keel.guards.pii.redact import redact
from keel.server.caller import admin_runtime, caller
from keel.server.responses import json_response
from keel.services.runtime import Runtime
from keel.services.spend import parse_when
from keel.store.sql_feedback import FEEDBACK_BY, FeedbackBy, SqlFeedbackStore


@cache
def _detector() -> PiiDetector:
    return PiiDetector()


def _scrub(text: str | None) -> str | None:
    """Comments are free text typed by users: their personal data is redacted before it is stored."""
    if not text:
        return text
    spans = _detector().detect(text)
    return redact(text, spans).text if spans else text


def add_feedback_routes(app: web.Application, key: web.AppKey[Runtime]) -> None:
    async def post_feedback(request: web.Request) -> web.Response:
        runtime = request.app[key]
        identity = caller(request, runtime)
        try:
            data = orjson.loads(await request.read())
        except orjson.JSONDecodeError as error:
            raise InvalidRequest(f"the body is not valid JSON: {error}") from None
        try:
            item = FeedbackRequest.model_validate(data)
        except ValidationError as error:
            first = error.errors()[0]
            param = ".".join(str(p) for p in first["loc"]) or None
            raise InvalidRequest(f"{param + ': ' if param else ''}{first['msg']}", param=param) from None
        stored = Feedback(item.request_id, item.score, item.label, _scrub(item.comment), identity.key_id)
        await SqlFeedbackStore(runtime.db).add(stored)
        return json_response({"object": "feedback", "id": stored.feedback_id, "request_id": stored.request_id})

    async def summary(request: web.Request) -> web.Response:
        runtime = admin_runtime(request, key)
        query = request.query
        by = query.get("by", "route")
        if by not in FEEDBACK_BY:
            raise InvalidRequest(f"'by' must be one of {', '.join(FEEDBACK_BY)}", param="by")
        now = time.time()
        try:
            since = parse_when(query.get("since", "30d"), now)
            until = parse_when(query["until"], now) if "until" in query else None
        except ValueError as error:
            raise InvalidRequest(str(error), param="since") from None
        rows = await SqlFeedbackStore(runtime.db).summary(cast(FeedbackBy, by), since, until, query.get("route"))
        data = [
            {"group": r.group, "count": r.count, "scored": r.scored, "mean_score": r.mean_score, "labels": r.labels}
            for r in rows
        ]
        return json_response({"by": by, "since": since, "until": until, "data": data})

    app.router.add_post("/v1/feedback", post_feedback)
    app.router.add_post("/feedback", post_feedback)
    app.router.add_get("/admin/feedback", summary)
