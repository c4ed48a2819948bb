"""The ``anthropic`` codec: OpenAI Chat Completions ⇄ Anthropic Messages API (``POST /v1/messages``).

Translation lives in focused modules: ``anthropic_request`` (request bodies), ``anthropic_response``
(answers), ``anthropic_stream`` (SSE streams) and ``anthropic_errors`` (failures).
"""

from __future__ import annotations

from collections.abc import Mapping

import orjson

from keel.core.clock import Clock, SystemClock
from keel.core.errors import InvalidRequest, KeelError
from keel.providers.anthropic_errors import classify_error
from keel.providers.anthropic_request import encode_chat_request
from keel.providers.anthropic_response import decode_message
from keel.providers.anthropic_stream import AnthropicStreamDecoder
from keel.providers.base import HttpCall, Json, Target

DEFAULT_ANTHROPIC_VERSION = "2023-06-01"

__all__ = ["DEFAULT_ANTHROPIC_VERSION", "AnthropicCodec", "AnthropicStreamDecoder"]


class AnthropicCodec:
    name = "anthropic"

    def __init__(self, clock: Clock | None = None) -> None:
        self._clock = clock or SystemClock()

    def chat_request(self, body: Json, target: Target, *, stream: bool) -> HttpCall:
        # The upstream model is the deployment's; the client's model name is a Keel route alias.
        payload = encode_chat_request(body, target.model, stream=stream)
        return HttpCall(
            method="POST",
            url=messages_url(target.api_base),
            headers=request_headers(target),
            body=orjson.dumps(payload),
        )

    def chat_response(self, payload: bytes, target: Target) -> Json:
        return decode_message(payload, created=self._now())

    def stream_decoder(self, body: Json, target: Target) -> AnthropicStreamDecoder:
        options = body.get("stream_options")
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
        return AnthropicStreamDecoder(include_usage=include_usage, created=self._now())

    def embeddings_request(self, body: Json, target: Target) -> HttpCall:
        raise _no_embeddings()

    def embeddings_response(self, payload: bytes, target: Target) -> Json:
        raise _no_embeddings()

    def classify_error(self, status: int, headers: Mapping[str, str], payload: bytes) -> KeelError:
        return classify_error(status, headers, payload)

    def _now(self) -> int:
        return int(self._clock.now())


def messages_url(api_base: str) -> str:
    base = api_base.rstrip("/")
    # Configurations write the base either as the host or with the version segment included.
    if not base.endswith("/v1"):
        base += "/v1"
    return base + "/messages"


def request_headers(target: Target) -> dict[str, str]:
    """Headers for a Messages call; names lower-cased so configured headers override, never duplicate."""
    headers = {"content-type": "application/json", "anthropic-version": DEFAULT_ANTHROPIC_VERSION}
    headers.update({key.lower(): value for key, value in target.headers.items()})
    if target.api_key:
        if target.auth_header == "x-api-key":
            headers["x-api-key"] = target.api_key
        elif target.auth_header == "authorization":
            headers["authorization"] = f"Bearer {target.api_key}"
        elif target.auth_header:
            headers[target.auth_header.lower()] = target.api_key
    return headers


def _no_embeddings() -> InvalidRequest:
    return InvalidRequest(
        "anthropic deployments do not offer embeddings; route embeddings to another provider",
        code="unsupported_endpoint",
    )
