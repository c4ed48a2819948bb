"""The rollout admin API: list rollouts, read one route's, and start, pause, resume or abort it. Admin key only.

    GET  /admin/rollouts                   rollouts, newest first (``?limit=``, ``?route=``)
    GET  /admin/rollouts/{route}           the route's latest rollout with its history
    POST /admin/rollouts/{route}/start     a new rollout of the candidate the route's config names
    POST /admin/rollouts/{route}/pause     body ``{"reason": "..."}`` (optional)
    POST /admin/rollouts/{route}/resume
    POST /admin/rollouts/{route}/abort     body ``{"reason": "..."}`` (optional)

A transition the rollout's phase refuses, or a change that raced another, is a 409 ``rollout_conflict``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

from keel.core.errors import ClientError, InvalidRequest, NotFound
from keel.rollout.machine import RolloutError, RolloutState
from keel.rollout.service import RolloutService
from keel.rollout.store import SqlRolloutStore
from keel.server.caller import admin_runtime
from keel.server.responses import json_response, query_limit
from keel.services.runtime import Runtime


class RolloutRefused(ClientError):
    """The rollout cannot make this transition now (its phase, the route's config, or a concurrent change)."""

    status = 409
    default_code = "rollout_conflict"


def add_rollout_routes(app: web.Application, key: web.AppKey[Runtime]) -> None:
    def runtime_of(request: web.Request) -> Runtime:
        return admin_runtime(request, key)

    async def list_rollouts(request: web.Request) -> web.Response:
        runtime = runtime_of(request)
        found = await SqlRolloutStore(runtime.db).list(query_limit(request.query, 100), request.query.get("route"))
        return json_response({"object": "list", "data": [rollout_json(s) for s in found]})

    async def get_rollout(request: web.Request) -> web.Response:
        runtime = runtime_of(request)
        route = request.match_info["route"]
        found = await SqlRolloutStore(runtime.db).list(1, route)
        if not found:
            raise NotFound(f"route {route!r} has no rollout")
        return json_response(rollout_json(found[0]))

    def action(name: str) -> Callable[[web.Request], Awaitable[web.Response]]:
        act = ACTIONS[name]

        async def handle(request: web.Request) -> web.Response:
            runtime = runtime_of(request)
            reason = _reason(await request.read())
            try:
                state = await act(runtime.rollouts, request.match_info["route"], reason)
            except RolloutError as error:  # RolloutConflict included
                raise RolloutRefused(str(error)) from None
            return json_response(rollout_json(state), status=201 if name == "start" else 200)

        return handle

    app.router.add_get("/admin/rollouts", list_rollouts)
    # A route's name may hold slashes.
    app.router.add_get("/admin/rollouts/{route:.+}", get_rollout)
    for name in ACTIONS:
        app.router.add_post(f"/admin/rollouts/{{route:.+}}/{name}", action(name))


Action = Callable[[RolloutService, str, str], Awaitable[RolloutState]]
"""``(service, route, reason)``: one operator action."""
ACTIONS: dict[str, Action] = {
    "start": lambda rollouts, route, reason: rollouts.start_rollout(route),
    "pause": lambda rollouts, route, reason: rollouts.pause(route, reason),
    "resume": lambda rollouts, route, reason: rollouts.resume(route),
    "abort": lambda rollouts, route, reason: rollouts.abort(route, reason),
}


def rollout_json(state: RolloutState) -> dict[str, Any]:
    return {
        "id": state.rollout_id,
        "route": state.route,
        "live": state.live,
        "candidate": state.candidate,
        "phase": state.phase,
        "step_index": state.step_index,
        "weight": state.weight,
        "step_started_at": state.step_started_at,
        "failed_checks": state.failed_checks,
        "started_at": state.started_at,
        "updated_at": state.history[-1].ts,
        "version": state.version,
        "history": [{"ts": e.ts, "kind": e.kind, "detail": e.detail} for e in state.history],
    }


def _reason(raw: bytes) -> str:
    """The optional ``reason`` of a JSON body; an empty body has none."""
    try:
        body = orjson.loads(raw or b"{}")
    except orjson.JSONDecodeError as error:
        raise InvalidRequest(f"the request body is not valid JSON: {error}", param="body") from None
    if not isinstance(body, dict):
        raise InvalidRequest("the request body must be a JSON object", param="body")
    reason = body.get("reason") or ""
    if not isinstance(reason, str):
        raise InvalidRequest("'reason' must be a string", param="reason")
    return reason
