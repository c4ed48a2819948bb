"""Authenticate the caller from ``Authorization: Bearer``, ``api-key`` or ``x-api-key``."""

from __future__ import annotations

from collections.abc import Mapping

from keel.auth.keyring import KeyRing
from keel.core.context import Reply, RequestContext
from keel.core.errors import AuthenticationFailed
from keel.core.identity import Identity
from keel.pipeline.chain import Handler


def presented_token(headers: Mapping[str, str]) -> str | None:
    value = headers.get("authorization")
    if value:
        scheme, _, token = value.partition(" ")
        return token.strip() if scheme.lower() == "bearer" else None
    return headers.get("api-key") or headers.get("x-api-key")


class Authenticate:
    def __init__(self, keyring: KeyRing) -> None:
        self._keyring = keyring

    async def __call__(self, ctx: RequestContext, call_next: Handler) -> Reply:
        # In-process callers (canary suites) arrive with their identity; requests from the network never do.
        if ctx.identity is None:
            ctx.identity = self.identify(ctx)
        return await call_next(ctx)

    def identify(self, ctx: RequestContext) -> Identity:
        token = presented_token(ctx.headers)
        anonymous = ctx.config.raw.auth.anonymous
        if token:
            identity = self._keyring.identify(token)
            if identity is not None:
                return identity
            if anonymous is None or KeyRing.looks_like_keel_key(token):
                raise AuthenticationFailed("Incorrect API key provided (it is unknown or revoked)")
        elif anonymous is None:
            raise AuthenticationFailed("Missing API key: send 'Authorization: Bearer <key>' with a Keel virtual key")
        assert anonymous is not None
        return Identity(key_id=None, allowed=frozenset(anonymous.routes))
