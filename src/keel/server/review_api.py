"""The review admin API: the human review queue and its decisions. Admin key only.

    GET  /admin/reviews                    the queue, oldest first (``?route=``, ``?status=pending|…|all``, ``?limit=``)
    GET  /admin/reviews/{id}               one review
    POST /admin/reviews/{id}/approve       body ``{"reviewer": "...", "note": "..."}`` (both optional)
    POST /admin/reviews/{id}/reject        the same
    POST /admin/reviews/{id}/correct       body ``{"answer": "...", "reviewer": "...", "note": "..."}``

Deciding a review that was decided before is a 409 ``review_decided``. The JSON shape is shared with
``keel review … --json``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, cast

import orjson
from aiohttp import web

from keel.core.errors import ClientError, InvalidRequest, NotFound
from keel.review.store import (
    DECISIONS,
    STATUSES,
    Decision,
    Review,
    ReviewDecided,
    ReviewNotFound,
    SqlReviewStore,
    Status,
)
from keel.server.caller import admin_runtime
from keel.server.responses import json_response
from keel.services.runtime import Runtime

MAX_LIMIT = 1000


class ReviewConflict(ClientError):
    """The review was decided already; a decision is final."""

    status = 409
    default_code = "review_decided"


def add_review_routes(app: web.Application, key: web.AppKey[Runtime]) -> None:
    def store_of(request: web.Request) -> SqlReviewStore:
        return SqlReviewStore(admin_runtime(request, key).db)

    async def list_reviews(request: web.Request) -> web.Response:
        store = store_of(request)
        query = request.query
        status = query.get("status", "pending")
        if status != "all" and status not in STATUSES:
            raise InvalidRequest(f"'status' must be one of {', '.join(STATUSES)} or all", param="status")
        try:
            limit = int(query.get("limit", "50"))
        except ValueError:
            raise InvalidRequest("'limit' must be an integer", param="limit") from None
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidRequest(f"'limit' must be from 1 to {MAX_LIMIT}", param="limit")
        wanted = None if status == "all" else cast(Status, status)
        found = await store.list(query.get("route"), wanted, limit)
        return json_response({"object": "list", "data": [review_json(r) for r in found]})

    async def get_review(request: web.Request) -> web.Response:
        store = store_of(request)
        review_id = request.match_info["review_id"]
        found = await store.get(review_id)
        if found is None:
            raise NotFound(f"no review {review_id!r}", code="review_not_found")
        return json_response(review_json(found))

    def decide(decision: Decision) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            store = store_of(request)
            body = _json_object(await request.read())
            try:
                review = await store.decide(
                    request.match_info["review_id"],
                    decision,
                    _text(body, "reviewer") or "admin-api",
                    _text(body, "note"),
                    _text(body, "answer"),
                )
            except ValueError as error:  # a correction without its answer, or an answer without one
                raise InvalidRequest(str(error), param="answer") from None
            except ReviewNotFound as error:
                raise NotFound(str(error), code="review_not_found") from None
            except ReviewDecided as error:
                raise ReviewConflict(str(error)) from None
            return json_response(review_json(review))

        return handle

    app.router.add_get("/admin/reviews", list_reviews)
    app.router.add_get("/admin/reviews/{review_id}", get_review)
    for decision in DECISIONS:
        app.router.add_post(f"/admin/reviews/{{review_id}}/{decision}", decide(cast(Decision, decision)))


def review_json(review: Review) -> dict[str, Any]:
    return {
        "id": review.review_id,
        "object": "review",
        "request_id": review.request_id,
        "queued_at": review.ts,
        "route": review.route,
        "deployment": review.deployment,
        "reason": review.reason,
        "confidence": review.confidence,
        "parts": review.parts,
        "messages": review.messages,
        "answer": review.answer,
        "status": review.status,
        "reviewer": review.reviewer,
        "note": review.note,
        "corrected_answer": review.corrected_answer,
        "decided_at": review.decided_at,
    }


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        body = orjson.loads(raw or b"{}")
    except orjson.JSONDecodeError as error:
        raise InvalidRequest(f"the request body is not valid JSON: {error}", param="body") from None
    if not isinstance(body, dict):
        raise InvalidRequest("the request body must be a JSON object", param="body")
    return body


def _text(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise InvalidRequest(f"'{name}' must be a string", param=name)
    return value
