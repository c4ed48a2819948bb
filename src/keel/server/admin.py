"""The admin API: virtual keys, the running config, recent requests. Admin key only."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from keel.core.errors import InvalidRequest, NotFound, PermissionDenied
from keel.server.caller import caller
from keel.server.responses import json_response
from keel.services.runtime import Runtime
from keel.store.protocols import KeyRecord
from keel.store.records import record_to_dict


def add_admin_routes(app: web.Application, key: web.AppKey[Runtime]) -> None:
    def runtime_of(request: web.Request) -> Runtime:
        runtime = request.app[key]
        if not caller(request, runtime).is_admin:
            raise PermissionDenied("the admin API needs the admin key (KEEL_ADMIN_KEY)", code="admin_only")
        return runtime

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
        try:
            limit = min(1000, max(1, int(request.query.get("limit", "50"))))
        except ValueError:
            raise InvalidRequest("'limit' must be an integer", param="limit") from None
        records = await runtime.request_log.recent(limit)
        return json_response({"object": "list", "data": [record_to_dict(r) for r in records]})

    app.router.add_get("/admin/keys", list_keys)
    app.router.add_post("/admin/keys", create_key)
    app.router.add_delete("/admin/keys/{key_id}", revoke_key)
    app.router.add_get("/admin/config", config)
    app.router.add_get("/admin/requests", recent_requests)


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
