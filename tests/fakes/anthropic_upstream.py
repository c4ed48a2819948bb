"""A scriptable fake of Anthropic's ``POST /v1/messages``, speaking the real wire format.

Response bodies and stream events are built from the official ``anthropic`` SDK's pydantic types and
dumped, so their shape is the SDK's. Requests are checked against the SDK's request types (plus the
rules the real API enforces beyond the schema) and rejected with a 400 ``invalid_request_error`` as
the real API would.

    upstream = AnthropicUpstream(api_key="sk-test")
    upstream.reply_text("Hello!")                       # next call: JSON or SSE, as requested
    upstream.fail(529, "overloaded_error", "Overloaded")
    upstream.enqueue(Reply(content=[...], cut_after=4))  # a stream that stops early
    server = TestServer(upstream.app)
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from anthropic.types import (
    APIErrorObject,
    AuthenticationErrorObject,
    BillingErrorObject,
    ErrorResponse,
    GatewayTimeoutErrorObject,
    InputJSONDelta,
    InvalidRequestErrorObject,
    Message,
    MessageDeltaUsage,
    NotFoundErrorObject,
    OverloadedErrorObject,
    PermissionErrorObject,
    RateLimitErrorObject,
    RawContentBlockDeltaEvent,
    RawContentBlockStartEvent,
    RawContentBlockStopEvent,
    RawMessageDeltaEvent,
    RawMessageStartEvent,
    RawMessageStopEvent,
    StopReason,
    TextBlock,
    TextDelta,
    ToolUseBlock,
    Usage,
)
from anthropic.types.message_create_params import (
    MessageCreateParamsNonStreaming,
    MessageCreateParamsStreaming,
)
from anthropic.types.raw_message_delta_event import Delta
from pydantic import BaseModel, TypeAdapter, ValidationError

Json = dict[str, Any]

PING: Json = {"type": "ping"}

_ERROR_OBJECTS: dict[str, type[BaseModel]] = {
    "invalid_request_error": InvalidRequestErrorObject,
    "authentication_error": AuthenticationErrorObject,
    "billing_error": BillingErrorObject,
    "permission_error": PermissionErrorObject,
    "not_found_error": NotFoundErrorObject,
    "rate_limit_error": RateLimitErrorObject,
    "timeout_error": GatewayTimeoutErrorObject,
    "api_error": APIErrorObject,
    "overloaded_error": OverloadedErrorObject,
}

# The SDK's request types follow its own default API version (2026-10-21), which no longer lists the
# sampling parameters; requests pinned to version 2023-06-01 still take them, so they are checked here.
_SAMPLING = frozenset({"temperature", "top_p", "top_k"})

_NON_STREAMING: TypeAdapter[Any] = TypeAdapter(MessageCreateParamsNonStreaming)
_STREAMING: TypeAdapter[Any] = TypeAdapter(MessageCreateParamsStreaming)


# --------------------------------------------------------------------------- script entries


@dataclass
class Reply:
    """A successful answer, served as a JSON Message or as an SSE stream, whichever was requested."""

    content: list[TextBlock | ToolUseBlock]
    stop_reason: StopReason = "end_turn"
    stop_sequence: str | None = None
    usage: Usage = field(default_factory=lambda: Usage(input_tokens=12, output_tokens=7))
    model: str | None = None  # None: echo the requested model
    message_id: str | None = None
    text_chunk: int = 3  # characters per text_delta
    json_chunk: int = 5  # characters per input_json_delta
    cut_after: int | None = None  # streams: stop after this many events, without message_stop
    abort: bool = False  # with cut_after: drop the connection instead of ending the body cleanly
    error_after: int | None = None  # streams: send `error` as an error event after this many events
    error: Failure | None = None
    delay_s: float = 0.0


@dataclass
class Failure:
    """A non-2xx answer with Anthropic's error body."""

    status: int
    error_type: str
    message: str
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


@dataclass
class Raw:
    """Any bytes at all, for garbage and proxy-error answers."""

    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Received:
    headers: dict[str, str]
    body: Any


# --------------------------------------------------------------------------- wire shapes


def build_message(reply: Reply, model: str) -> Message:
    return Message(
        id=reply.message_id or f"msg_{uuid.uuid4().hex[:24]}",
        type="message",
        role="assistant",
        model=reply.model or model,
        content=list(reply.content),
        stop_reason=reply.stop_reason,
        stop_sequence=reply.stop_sequence,
        usage=reply.usage,
    )


def stream_events(message: Message, *, text_chunk: int = 3, json_chunk: int = 5) -> list[Json]:
    """The event sequence the real API streams for ``message``, as JSON objects."""
    usage = message.usage
    start = message.model_copy(
        update={
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage.model_copy(update={"output_tokens": 1}),
        }
    )
    events: list[BaseModel | Json] = [RawMessageStartEvent(type="message_start", message=start)]
    for index, block in enumerate(message.content):
        deltas: list[TextDelta | InputJSONDelta]
        if isinstance(block, TextBlock):
            opening: TextBlock | ToolUseBlock = TextBlock(type="text", text="")
            deltas = [TextDelta(type="text_delta", text=p) for p in _pieces(block.text, text_chunk)]
        elif isinstance(block, ToolUseBlock):
            opening = block.model_copy(update={"input": {}})
            arguments = json.dumps(block.input)
            deltas = [InputJSONDelta(type="input_json_delta", partial_json="")]
            deltas += [InputJSONDelta(type="input_json_delta", partial_json=p) for p in _pieces(arguments, json_chunk)]
        else:
            raise TypeError(f"the fake cannot stream {type(block).__name__}")
        events.append(RawContentBlockStartEvent(type="content_block_start", index=index, content_block=opening))
        if index == 0:
            events.append(PING)
        events += [RawContentBlockDeltaEvent(type="content_block_delta", index=index, delta=d) for d in deltas]
        events.append(RawContentBlockStopEvent(type="content_block_stop", index=index))
    if not message.content:
        events.append(PING)
    events.append(
        RawMessageDeltaEvent(
            type="message_delta",
            delta=Delta(stop_reason=message.stop_reason, stop_sequence=message.stop_sequence),
            usage=MessageDeltaUsage(
                output_tokens=usage.output_tokens,
                input_tokens=usage.input_tokens,
                cache_creation_input_tokens=usage.cache_creation_input_tokens,
                cache_read_input_tokens=usage.cache_read_input_tokens,
            ),
        )
    )
    events.append(RawMessageStopEvent(type="message_stop"))
    return [e if isinstance(e, dict) else e.model_dump(mode="json") for e in events]


def error_body(error_type: str, message: str) -> Json:
    """Anthropic's error body; through the SDK's ErrorResponse when the SDK knows the type."""
    error_cls = _ERROR_OBJECTS.get(error_type)
    request_id = f"req_{uuid.uuid4().hex[:24]}"
    if error_cls is None:  # e.g. request_too_large, which the SDK has no object type for
        return {"type": "error", "error": {"type": error_type, "message": message}, "request_id": request_id}
    error = error_cls.model_validate({"type": error_type, "message": message})
    return ErrorResponse.model_validate({"type": "error", "error": error, "request_id": request_id}).model_dump(
        mode="json"
    )


def sse(event: Json) -> bytes:
    return f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()


def request_problems(body: Any) -> list[str]:
    """Why the real API would reject ``body`` with a 400; empty when it is acceptable."""
    if not isinstance(body, dict):
        return ["body must be a JSON object"]
    problems = _sampling_problems(body)
    body = {key: value for key, value in body.items() if key not in _SAMPLING}
    adapter = _STREAMING if body.get("stream") is True else _NON_STREAMING
    try:
        # The SDK's request types validate lists lazily; materialising them runs the validation.
        validated = _materialise(adapter.validate_python(body))
    except ValidationError as exc:
        return [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
    # Validation drops unknown fields silently; the real API rejects them ("Extra inputs are not
    # permitted"), so anything lost or coerced on the way is a problem.
    problems += _differences(body, validated, "")
    problems += _content_rules(body["messages"])
    return problems


def _sampling_problems(body: Json) -> list[str]:
    problems = []
    for key in ("temperature", "top_p"):
        value = body.get(key)
        if key in body and (not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= 1):
            problems.append(f"{key}: must be a number between 0 and 1")
    top_k = body.get("top_k")
    if "top_k" in body and (not isinstance(top_k, int) or isinstance(top_k, bool) or top_k < 0):
        problems.append("top_k: must be a non-negative integer")
    return problems


def _content_rules(messages: list[Json]) -> list[str]:
    problems: list[str] = []
    for i, message in enumerate(messages):
        content = message["content"]
        blocks = content if isinstance(content, list) else [{"type": "text", "text": content}]
        for j, block in enumerate(blocks):
            if block.get("type") == "text" and not block.get("text") and i != len(messages) - 1:
                problems.append(f"messages.{i}.content.{j}: text content blocks must be non-empty")
        # Every tool_use must be answered by a tool_result at the start of the next (user) turn.
        if message["role"] == "assistant" and i + 1 < len(messages):
            uses = {b["id"] for b in blocks if b.get("type") == "tool_use"}
            following = messages[i + 1]["content"]
            answered = {
                b["tool_use_id"]
                for b in (following if isinstance(following, list) else [])
                if b.get("type") == "tool_result"
            }
            if uses - answered:
                problems.append(f"messages.{i + 1}: tool_use ids without tool_result blocks: {sorted(uses - answered)}")
        if message["role"] == "user" and isinstance(content, list):
            results = [j for j, b in enumerate(content) if b.get("type") == "tool_result"]
            others = [j for j, b in enumerate(content) if b.get("type") != "tool_result"]
            if results and others and others[0] < results[-1]:
                problems.append(f"messages.{i}: tool_result blocks must come before any other content")
    return problems


def _materialise(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(exclude_unset=True)
    if isinstance(value, dict):
        return {k: _materialise(v) for k, v in value.items()}
    if isinstance(value, list | tuple) or (hasattr(value, "__next__") and not isinstance(value, str | bytes)):
        return [_materialise(v) for v in value]
    return value


def _differences(sent: Any, kept: Any, path: str) -> list[str]:
    if isinstance(sent, dict) and isinstance(kept, dict):
        problems = [f"{path}{key}: extra inputs are not permitted" for key in sent.keys() - kept.keys()]
        for key in sent.keys() & kept.keys():
            problems += _differences(sent[key], kept[key], f"{path}{key}.")
        return problems
    if isinstance(sent, list) and isinstance(kept, list) and len(sent) == len(kept):
        return [p for i, (a, b) in enumerate(zip(sent, kept, strict=True)) for p in _differences(a, b, f"{path}{i}.")]
    return [] if sent == kept else [f"{path.rstrip('.')}: invalid value {sent!r}"]


def _pieces(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), max(1, size))]


# --------------------------------------------------------------------------- the server


class AnthropicUpstream:
    """The fake server. Script entries are consumed one per request; an empty script says hello."""

    def __init__(
        self,
        *,
        api_key: str | None = None,
        default_text: str = "Hello from the fake Anthropic upstream.",
        validate: bool = True,
    ) -> None:
        self.api_key = api_key
        self.default_text = default_text
        self.validate = validate
        self.requests: list[Received] = []
        self._script: deque[Reply | Failure | Raw] = deque()
        self.app = web.Application()
        self.app.router.add_post("/v1/messages", self._handle)

    def enqueue(self, *entries: Reply | Failure | Raw) -> None:
        self._script.extend(entries)

    def reply_text(self, text: str, **options: Any) -> None:
        self.enqueue(Reply(content=[TextBlock(type="text", text=text)], **options))

    def fail(
        self, status: int, error_type: str, message: str, *, retry_after: int | None = None, **options: Any
    ) -> None:
        headers = {"retry-after": str(retry_after)} if retry_after is not None else {}
        self.enqueue(Failure(status, error_type, message, headers=headers, **options))

    def raw(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.enqueue(Raw(status, body, content_type))

    @property
    def pending(self) -> int:
        return len(self._script)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
        except ValueError:
            return _error_response(Failure(400, "invalid_request_error", "request body is not valid JSON"))
        self.requests.append(Received(dict(request.headers), body))
        if self.api_key is not None and self.api_key not in _presented_keys(request):
            return _error_response(Failure(401, "authentication_error", "invalid x-api-key"))
        if "anthropic-version" not in request.headers:
            return _error_response(Failure(400, "invalid_request_error", "anthropic-version: header is required"))
        if self.validate and (problems := request_problems(body)):
            return _error_response(Failure(400, "invalid_request_error", "; ".join(problems)))

        entry = self._script.popleft() if self._script else Reply([TextBlock(type="text", text=self.default_text)])
        if isinstance(entry, Raw):
            return web.Response(
                status=entry.status, body=entry.body, content_type=entry.content_type, headers=entry.headers
            )
        await asyncio.sleep(entry.delay_s)
        if isinstance(entry, Failure):
            return _error_response(entry)
        message = build_message(entry, body["model"])
        if body.get("stream") is True:
            return await _stream(request, message, entry)
        return web.json_response(message.model_dump(mode="json"), headers=_request_id())


def _error_response(failure: Failure) -> web.Response:
    return web.json_response(
        error_body(failure.error_type, failure.message),
        status=failure.status,
        headers={**_request_id(), **failure.headers},
    )


async def _stream(request: web.Request, message: Message, reply: Reply) -> web.StreamResponse:
    response = web.StreamResponse(headers={"content-type": "text/event-stream; charset=utf-8", **_request_id()})
    await response.prepare(request)
    events = stream_events(message, text_chunk=reply.text_chunk, json_chunk=reply.json_chunk)
    if reply.error_after is not None and reply.error is not None:
        events = events[: reply.error_after] + [error_body(reply.error.error_type, reply.error.message)]
    if reply.cut_after is not None:
        events = events[: reply.cut_after]
    for event in events:
        await response.write(sse(event))
    if reply.cut_after is not None and reply.abort and request.transport is not None:
        # Dropping the socket mid-body leaves the chunked encoding unterminated, as a crash would.
        request.transport.abort()
        return response
    await response.write_eof()
    return response


def _presented_keys(request: web.Request) -> set[str]:
    # The API takes the key as x-api-key; newer SDK releases send it as a bearer token instead.
    keys = {request.headers.get("x-api-key", "")}
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        keys.add(token)
    return keys


def _request_id() -> dict[str, str]:
    return {"request-id": f"req_{uuid.uuid4().hex[:24]}"}
