"""The admin API: virtual keys, the running config, recent requests. Admin key only."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from typing import Any

import orjson
from aiohttp import web

from keel.control.kill_switches import ACTIONS, SCOPES, KillSwitch, Scope, new_switch
from keel.core.errors import InvalidRequest, NotFound
from keel.monitor.drift import report_to_json
from keel.monitor.drift_service import merged_report
from keel.monitor.trace_context import TRACE_ID
from keel.server.caller import admin_runtime
from keel.server.responses import json_response, query_limit
from keel.services.runtime import Runtime
from keel.services.spend import parse_when
from keel.store.protocols import KeyRecord
from keel.store.records import record_to_dict
from keel.store.sql_drift import SqlDriftStore
from keel.store.sql_incidents import SqlIncidentStore
from keel.store.sql_kill_switches import SqlKillSwitchStore
from keel.store.sql_spend import SPEND_BY, SqlSpendStore


def add_admin_routes(app: web.Application, key: web.AppKey[Runtime]) -> None:
    def runtime_of(request: web.Request) -> Runtime:
        return admin_runtime(request, key)

    async def list_keys(request: web.Request) -> web.Response:
        runtime = runtime_of(request)
        include_revoked = request.query.get("include_revoked", "false").lower() in ("1", "true", "yes")
        keys = await runtime.keyring.list(include_revoked=include_revoked)
        return json_response({"object": "list", "data": [key_json(k) for k in keys]})

    async def create_key(request: web.Request) -> web.Response:
        runtime = runtime_of(request)
        body = _json_object(await request.read())
        name = _field(body, "name", str, required=True)
        allowed = _field(body, "allowed", list, required=True)
        if not allowed or not all(isinstance(a, str) and a for a in allowed):
            raise InvalidRequest("'allowed' must be a non-empty list of route or model names", param="allowed")
        record, secret = await runtime.keyring.create(
            name=name,
            allowed=tuple(allowed),
            team=_field(body, "team", str),
            feature=_field(body, "feature", str),
            owner=_field(body, "owner", str),
        )
        return json_response({**key_json(record), "key": secret}, status=201)

    async def revoke_key(request: web.Request) -> web.Response:
        runtime = runtime_of(request)
        key_id = request.match_info["key_id"]
        if not await runtime.keyring.revoke(key_id):
            raise NotFound(f"no active key {key_id!r}")
        return json_response({"id": key_id, "revoked": True})

    async def config(request: web.Request) -> web.Response:
        runtime = runtime_of(request)
        cfg = runtime.snapshot.config
        return json_response(
            {
                "hash": cfg.hash,
                "source": cfg.source,
                "routes": {n: list(r.deployments) for n, r in cfg.routes.items()},
                "deployments": {
                    n: {"provider": d.provider, "model": d.model, "public": d.public, "disabled": d.disabled}
                    for n, d in cfg.deployments.items()
                },
            }
        )

    async def recent_requests(request: web.Request) -> web.Response:
        runtime = runtime_of(request)
        records = await runtime.request_log.query(**request_filters(request.query, time.time()))
        return json_response({"object": "list", "data": [record_to_dict(r) for r in records]})

    async def one_request(request: web.Request) -> web.Response:
        runtime = runtime_of(request)
        request_id = request.match_info["request_id"]
        record = await runtime.request_log.get(request_id)
        if record is None:
            raise NotFound(f"no request {request_id!r} in the request log", param="request_id")
        return json_response(record_to_dict(record))

    async def spend(request: web.Request) -> web.Response:
        runtime = runtime_of(request)
        query = request.query
        by = query.get("by", "route")
        if by not in SPEND_BY:
            raise InvalidRequest(f"'by' must be one of {', '.join(SPEND_BY)}", param="by")
        now = time.time()
        try:
            since = parse_when(query.get("since", "30d"), now)
            until = parse_when(query["until"], now) if "until" in query else None
        except ValueError as exc:
            raise InvalidRequest(str(exc), param="since") from None
        filters = {k: v for k, v in query.items() if k in ("key", "team", "route", "feature", "model", "deployment")}
        rows = await SqlSpendStore(runtime.db).spend(by, since, until, filters)  # type: ignore[arg-type]
        return json_response(
            {
                "by": by,
                "since": since,
                "until": until,
                "data": [
                    {
                        "group": r.group,
                        "requests": r.requests,
                        "prompt_tokens": r.prompt_tokens,
                        "completion_tokens": r.completion_tokens,
                        "cost_usd": str(r.cost_usd),
                    }
                    for r in rows
                ],
            }
        )

    async def incidents(request: web.Request) -> web.Response:
        runtime = runtime_of(request)
        events = await SqlIncidentStore(runtime.db).recent(query_limit(request.query, 100))
        return json_response({"object": "list", "data": [dataclasses.asdict(e) for e in events]})

    app.router.add_get("/admin/spend", spend)

    async def drift(request: web.Request) -> web.Response:
        runtime = runtime_of(request)
        name = request.match_info["route"]
        route = runtime.snapshot.config.routes.get(name)
        if route is None or route.config.drift is None:
            raise NotFound(f"route {name!r} does not exist or has no drift monitoring", code="not_found")
        found, why = await merged_report(SqlDriftStore(runtime.db), name, route.config.drift)
        if found is None:
            return json_response({"route": name, "frozen": False, "detail": why})
        return json_response(report_to_json(found))

    app.router.add_get("/admin/incidents", incidents)
    app.router.add_get("/admin/drift/{route}", drift)
    app.router.add_get("/admin/keys", list_keys)
    app.router.add_post("/admin/keys", create_key)
    app.router.add_delete("/admin/keys/{key_id}", revoke_key)
    app.router.add_get("/admin/config", config)
    app.router.add_get("/admin/requests", recent_requests)
    app.router.add_get("/admin/requests/{request_id}", one_request)


def key_json(k: KeyRecord) -> dict[str, Any]:
    return {
        "id": k.key_id,
        "hint": k.hint,
        "name": k.name,
        "allowed": list(k.allowed),
        "team": k.team,
        "feature": k.feature,
        "owner": k.owner,
        "created_at": k.created_at,
        "revoked_at": k.revoked_at,
    }


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        body = orjson.loads(raw or b"{}")
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"the request body is not valid JSON: {exc}", param="body") from None
    if not isinstance(body, dict):
        raise InvalidRequest("the request body must be a JSON object", param="body")
    return body


def _field(body: dict[str, Any], name: str, kind: type, *, required: bool = False) -> Any:
    value = body.get(name)
    if value is None:
        if required:
            raise InvalidRequest(f"'{name}' is required", param=name)
        return None
    if not isinstance(value, kind):
        raise InvalidRequest(f"'{name}' must be a {kind.__name__}", param=name)
    return value


def add_kill_switch_routes(app: web.Application, key: web.AppKey[Runtime]) -> None:
    def runtime_of(request: web.Request) -> Runtime:
        return admin_runtime(request, key)

    async def list_switches(request: web.Request) -> web.Response:
        runtime = runtime_of(request)
        history = await SqlKillSwitchStore(runtime.db).history(limit=100)
        return json_response(
            {
                "active": [switch_json(s) for s in runtime.kill_board.active()],
                "history": [switch_json(s) for s in history],
            }
        )

    async def set_switch(request: web.Request) -> web.Response:
        runtime = runtime_of(request)
        body = _json_object(await request.read())
        scope, target = _scope_and_target(body)
        action = _field(body, "action", str) or "refuse"
        if action not in ACTIONS:
            raise InvalidRequest(f"'action' must be one of {', '.join(ACTIONS)}", param="action")
        reason = _field(body, "reason", str, required=True)
        switch = new_switch(
            scope, target, action, reason, _field(body, "actor", str) or "admin-api", _field(body, "message", str)
        )
        await runtime.kill_board.set(switch)
        return json_response(switch_json(switch), status=201)

    async def clear_switch(request: web.Request) -> web.Response:
        runtime = runtime_of(request)
        body = _json_object(await request.read())
        scope, target = _scope_and_target(body)
        reason = _field(body, "reason", str, required=True)
        cleared = await runtime.kill_board.clear(scope, target, _field(body, "actor", str) or "admin-api", reason)
        if not cleared:
            raise NotFound(f"no active kill switch on {scope} {target!r}")
        return json_response({"scope": scope, "target": target, "cleared": cleared})

    app.router.add_get("/admin/kill-switches", list_switches)
    app.router.add_post("/admin/kill-switches", set_switch)
    app.router.add_post("/admin/kill-switches/clear", clear_switch)


def _scope_and_target(body: dict[str, Any]) -> tuple[Scope, str]:
    scope = _field(body, "scope", str, required=True)
    if scope not in SCOPES:
        raise InvalidRequest(f"'scope' must be one of {', '.join(SCOPES)}", param="scope")
    target = _field(body, "target", str) or ""
    if scope != "global" and not target:
        raise InvalidRequest(f"a {scope} kill switch needs a 'target'", param="target")
    return scope, ("*" if scope == "global" else target)


def switch_json(s: KillSwitch) -> dict[str, Any]:
    return {
        "id": s.switch_id,
        "scope": s.scope,
        "target": s.target,
        "action": s.action,
        "message": s.message,
        "reason": s.reason,
        "actor": s.actor,
        "created_at": s.created_at,
        "cleared_at": s.cleared_at,
        "cleared_by": s.cleared_by,
        "cleared_reason": s.cleared_reason,
    }


def request_filters(query: Mapping[str, str], now: float) -> dict[str, Any]:
    """``GET /admin/requests`` parameters as request-log query arguments; a bad one is a 400 naming it."""
    unknown = sorted(set(query) - {"limit", "since", "until", "route", "key", "team", "status", "trace_id"})
    if unknown:
        raise InvalidRequest(f"unknown parameter {unknown[0]!r}", param=unknown[0])
    filters: dict[str, Any] = {
        "route": query.get("route"),
        "key_id": query.get("key"),
        "team": query.get("team"),
        "limit": query_limit(query, 50),
    }
    for name in ("since", "until"):
        if name in query:
            try:
                filters[name] = parse_when(query[name], now)
            except ValueError as exc:
                raise InvalidRequest(str(exc), param=name) from None
    if "status" in query:
        text = query["status"]
        if not (text.isdigit() and 100 <= int(text) <= 599):
            raise InvalidRequest("'status' must be an HTTP status code, e.g. 429", param="status")
        filters["status"] = int(text)
    if "trace_id" in query:
        if not TRACE_ID.fullmatch(query["trace_id"]):
            raise InvalidRequest("'trace_id' must be 32 lower-case hex digits (W3C trace id)", param="trace_id")
        filters["trace_id"] = query["trace_id"]
    return filters
