"""Request traces: span shapes, GenAI attributes, timing, status, sampling, and a real OTLP/HTTP export."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace

import pytest
from aiohttp import web
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span as ProtoSpan
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from pydantic import ValidationError

from keel.config.runtime import Deployment
from keel.config.schema import DeploymentConfig
from keel.monitor.trace_context import valid_traceparent
from keel.monitor.tracing import OTLP_LOGGER, RequestTracer, TracingConfig, sampled
from keel.providers.base import Target
from keel.store.records import AttemptRecord, RequestRecord
from tests.conftest import free_port

TS = 1_700_000_000.5
START_NS = 1_700_000_000_500_000_000
MS = 1_000_000

SUCCESS = RequestRecord(
    request_id="req_success",
    ts=TS,
    endpoint="chat.completions",
    status=200,
    config_hash="cfg123",
    key_id="key_1",
    team="search",
    feature="answers",
    route="support",
    deployment="openai-mini",
    provider="openai",
    model="gpt-4o-mini-2024-07-18",
    latency_ms=820.0,
    overhead_ms=20.0,
    prompt_tokens=12,
    completion_tokens=30,
    total_tokens=42,
    cost_usd=0.0000198,
    cache="miss",
    guard_verdicts=[
        {"guard": "pii", "stage": "input", "action": "redact", "findings": [{"kind": "EMAIL", "count": 1}]},
        {"guard": "injection", "stage": "input", "action": "allow", "findings": []},
    ],
    attempts=[AttemptRecord("openai-mini", "openai", 200, None, 800.0, "primary")],
    request_body={"model": "support", "messages": [{"role": "user", "content": "Where is my order?"}]},
    response_body={"choices": [{"message": {"role": "assistant", "content": "On its way."}, "finish_reason": "stop"}]},
    tier="small",
    rollout_id="ro_7",
    rollout_side="candidate",
)

DEPLOYMENTS = {
    "openai-mini": Deployment(
        name="openai-mini",
        provider="openai",
        kind="http",
        codec="openai",
        model="gpt-4o-mini",
        target=Target(api_base="https://api.openai.com/v1", model="gpt-4o-mini"),
        public=False,
        config=DeploymentConfig(provider="openai", model="gpt-4o-mini"),
    ),
    "azure-east": Deployment(
        name="azure-east",
        provider="azure",
        kind="http",
        codec="openai",
        model="mini-east",
        target=Target(api_base="https://east.openai.azure.com:8443", model="mini-east"),
        public=False,
        config=DeploymentConfig(provider="azure", model="mini-east"),
    ),
}


async def trace(*records: RequestRecord, config: TracingConfig | None = None) -> list[ReadableSpan]:
    exporter = InMemorySpanExporter()
    tracer = RequestTracer(config or TracingConfig(enabled=True), exporter=exporter, deployments=lambda: DEPLOYMENTS)
    for record in records:
        tracer.record(record)
    await tracer.aclose()
    return list(exporter.get_finished_spans())


def split(spans: Sequence[ReadableSpan]) -> tuple[ReadableSpan, list[ReadableSpan]]:
    (server,) = [s for s in spans if s.kind is SpanKind.SERVER]
    clients = sorted((s for s in spans if s.kind is SpanKind.CLIENT), key=lambda s: s.start_time or 0)
    assert len(clients) == len(spans) - 1
    for client in clients:
        assert client.parent is not None and client.parent.span_id == server.context.span_id
        assert client.context.trace_id == server.context.trace_id
    assert server.parent is None
    return server, clients


async def test_a_plain_success_is_a_server_span_with_one_client_span() -> None:
    server, (client,) = split(await trace(SUCCESS))

    assert server.name == "chat gpt-4o-mini-2024-07-18"
    assert (server.start_time, server.end_time) == (START_NS, START_NS + 820 * MS)
    assert server.status.status_code is StatusCode.UNSET
    assert dict(server.attributes or {}) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.system": "openai",
        "gen_ai.request.model": "support",
        "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
        "gen_ai.request.stream": False,
        "gen_ai.usage.input_tokens": 12,
        "gen_ai.usage.output_tokens": 30,
        "gen_ai.response.finish_reasons": ("stop",),
        "http.response.status_code": 200,
        "keel.request_id": "req_success",
        "keel.config_hash": "cfg123",
        "keel.route": "support",
        "keel.deployment": "openai-mini",
        "keel.cache": "miss",
        "keel.cost_usd": 0.0000198,
        "keel.overhead_ms": 20.0,
        "keel.tier": "small",
        "keel.rollout.id": "ro_7",
        "keel.rollout.side": "candidate",
        "keel.guard.verdicts": "pii=redact;injection=allow",
        "keel.key_id": "key_1",
        "keel.team": "search",
        "keel.feature": "answers",
    }
    assert server.resource.attributes["service.name"] == "keel"

    assert client.name == "chat openai-mini"
    assert (client.start_time, client.end_time) == (START_NS + 20 * MS, START_NS + 820 * MS)
    assert client.status.status_code is StatusCode.UNSET
    assert dict(client.attributes or {}) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.system": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
        "server.address": "api.openai.com",
        "server.port": 443,
        "http.response.status_code": 200,
        "keel.deployment": "openai-mini",
        "keel.attempt.kind": "primary",
        "keel.request_id": "req_success",
    }


async def test_a_failover_lays_out_both_attempts_in_order_after_the_overhead() -> None:
    record = replace(
        SUCCESS,
        request_id="req_failover",
        latency_ms=850.0,
        overhead_ms=50.0,
        attempts=[
            AttemptRecord("azure-east", "azure", 503, "UpstreamUnavailable", 300.0, "primary"),
            AttemptRecord("openai-mini", "openai", 200, None, 500.0, "failover"),
        ],
    )
    server, (failed, answered) = split(await trace(record))

    assert server.status.status_code is StatusCode.UNSET
    assert "error.type" not in (server.attributes or {})
    assert (failed.start_time, failed.end_time) == (START_NS + 50 * MS, START_NS + 350 * MS)
    assert (answered.start_time, answered.end_time) == (START_NS + 350 * MS, START_NS + 850 * MS)

    assert failed.name == "chat azure-east"
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.status.description == "UpstreamUnavailable"
    attrs = failed.attributes or {}
    assert attrs["error.type"] == "UpstreamUnavailable"
    assert attrs["http.response.status_code"] == 503
    assert attrs["gen_ai.provider.name"] == "azure.ai.openai"
    assert attrs["gen_ai.system"] == "az.ai.openai"
    assert attrs["gen_ai.request.model"] == "mini-east"
    assert (attrs["server.address"], attrs["server.port"]) == ("east.openai.azure.com", 8443)
    assert "gen_ai.response.model" not in attrs  # this deployment did not answer

    assert answered.status.status_code is StatusCode.UNSET
    assert (answered.attributes or {})["keel.attempt.kind"] == "failover"


async def test_a_cache_hit_has_no_attempt_spans() -> None:
    record = replace(SUCCESS, request_id="req_hit", cache="hit", latency_ms=3.0, overhead_ms=3.0, attempts=[])
    (server,) = await trace(record)

    assert server.kind is SpanKind.SERVER
    assert (server.attributes or {})["keel.cache"] == "hit"
    assert server.end_time == START_NS + 3 * MS


async def test_a_429_sets_error_type_but_leaves_the_server_span_unset() -> None:
    record = replace(
        SUCCESS,
        request_id="req_429",
        status=429,
        error_class="RateLimited",
        error_code="rate_limit_exceeded",
        model=None,
        prompt_tokens=None,
        completion_tokens=None,
        cost_usd=None,
        response_body=None,
        attempts=[AttemptRecord("openai-mini", "openai", 429, "RateLimited", 120.0, "primary")],
    )
    server, (client,) = split(await trace(record))

    assert server.name == "chat support"  # no model answered: the route the client asked for
    assert server.status.status_code is StatusCode.UNSET
    attrs = server.attributes or {}
    assert attrs["error.type"] == "RateLimited"
    assert attrs["keel.error_code"] == "rate_limit_exceeded"
    assert attrs["http.response.status_code"] == 429
    assert "gen_ai.response.model" not in attrs and "gen_ai.usage.input_tokens" not in attrs
    # Client spans follow the HTTP client conventions: any error status fails the call.
    assert client.status.status_code is StatusCode.ERROR
    assert (client.attributes or {})["error.type"] == "RateLimited"


async def test_a_502_marks_the_server_span_as_an_error() -> None:
    record = replace(
        SUCCESS,
        request_id="req_502",
        status=502,
        error_class="UpstreamConnectionError",
        model=None,
        response_body=None,
        attempts=[AttemptRecord("openai-mini", "openai", 502, "UpstreamConnectionError", 700.0, "primary")],
    )
    server, (client,) = split(await trace(record))

    assert server.status.status_code is StatusCode.ERROR
    assert server.status.description == "UpstreamConnectionError"
    assert (server.attributes or {})["error.type"] == "UpstreamConnectionError"
    assert client.status.status_code is StatusCode.ERROR


async def test_a_hedge_that_lost_its_race_is_cancelled_not_failed() -> None:
    record = replace(
        SUCCESS,
        request_id="req_hedge",
        attempts=[
            AttemptRecord("openai-mini", "openai", 200, None, 400.0, "hedge"),
            AttemptRecord("azure-east", "azure", 0, "Cancelled", 400.0, "primary"),
        ],
    )
    _, (_, cancelled) = split(await trace(record))

    attrs = cancelled.attributes or {}
    assert cancelled.status.status_code is StatusCode.UNSET
    assert attrs["keel.attempt.cancelled"] is True
    assert "error.type" not in attrs and "http.response.status_code" not in attrs


async def test_attempts_are_never_drawn_past_the_end_of_the_request() -> None:
    record = replace(
        SUCCESS,
        latency_ms=500.0,
        overhead_ms=100.0,
        attempts=[AttemptRecord("openai-mini", "openai", 200, None, 450.0, "primary")],
    )
    _, (client,) = split(await trace(record))

    assert (client.start_time, client.end_time) == (START_NS + 100 * MS, START_NS + 500 * MS)


async def test_a_stream_reports_its_time_to_first_chunk_in_seconds() -> None:
    record = replace(SUCCESS, stream=True, ttft_ms=250.0, response_body=None)
    server, _ = split(await trace(record))

    attrs = server.attributes or {}
    assert attrs["gen_ai.request.stream"] is True
    assert attrs["gen_ai.response.time_to_first_chunk"] == 0.25
    assert attrs["keel.ttft_ms"] == 250.0


async def test_embeddings_are_their_own_operation() -> None:
    record = replace(SUCCESS, endpoint="embeddings", model="text-embedding-3-small", response_body=None)
    server, (client,) = split(await trace(record))

    assert server.name == "embeddings text-embedding-3-small"
    assert (server.attributes or {})["gen_ai.operation.name"] == "embeddings"
    assert (client.attributes or {})["gen_ai.operation.name"] == "embeddings"


async def test_content_stays_off_spans_unless_capture_is_on() -> None:
    (server, _) = split(await trace(SUCCESS))
    assert not any(key in (server.attributes or {}) for key in ("gen_ai.input.messages", "gen_ai.output.messages"))

    tool_turn = {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "track", "arguments": '{"n":1}'}}],
    }
    record = replace(
        SUCCESS,
        request_body={
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": [{"type": "text", "text": "Where?"}, {"type": "image_url"}]},
                tool_turn,
                {"role": "tool", "tool_call_id": "call_1", "content": "in transit"},
            ]
        },
    )
    (server, _) = split(await trace(record, config=TracingConfig(enabled=True, capture_content=True)))
    attrs = server.attributes or {}
    assert json.loads(str(attrs["gen_ai.input.messages"])) == [
        {"role": "system", "parts": [{"type": "text", "content": "Be brief."}]},
        {"role": "user", "parts": [{"type": "text", "content": "Where?"}, {"type": "image_url"}]},
        {
            "role": "assistant",
            "parts": [{"type": "tool_call", "id": "call_1", "name": "track", "arguments": '{"n":1}'}],
        },
        {"role": "tool", "parts": [{"type": "tool_call_response", "id": "call_1", "response": "in transit"}]},
    ]
    assert json.loads(str(attrs["gen_ai.output.messages"])) == [
        {"role": "assistant", "parts": [{"type": "text", "content": "On its way."}], "finish_reason": "stop"}
    ]


IDS = [f"req_{n:06x}" for n in range(2000)]


async def test_sampling_ratio_zero_traces_nothing_and_one_traces_everything() -> None:
    records = [replace(SUCCESS, request_id=i, attempts=[]) for i in IDS[:50]]

    assert await trace(*records, config=TracingConfig(enabled=True, sample_ratio=0.0)) == []
    traced = await trace(*records, config=TracingConfig(enabled=True, sample_ratio=1.0))
    assert len(traced) == 50
    assert {(s.attributes or {})["keel.request_id"] for s in traced} == set(IDS[:50])


async def test_sampling_is_decided_by_the_request_id() -> None:
    records = [replace(SUCCESS, request_id=i, attempts=[]) for i in IDS[:200]]
    config = TracingConfig(enabled=True, sample_ratio=0.3)

    first = {(s.attributes or {})["keel.request_id"] for s in await trace(*records, config=config)}
    second = {(s.attributes or {})["keel.request_id"] for s in await trace(*reversed(records), config=config)}
    assert first == second == {i for i in IDS[:200] if sampled(i, 0.3)}
    assert 0 < len(first) < 200


def test_the_sampled_share_matches_the_ratio() -> None:
    for ratio in (0.01, 0.1, 0.5, 0.9):
        share = sum(sampled(i, ratio) for i in IDS) / len(IDS)
        assert abs(share - ratio) < 0.04, (ratio, share)


@given(st.text(min_size=1, max_size=40), st.floats(0, 1), st.floats(0, 1))
def test_a_request_sampled_at_one_ratio_is_sampled_at_every_higher_one(request_id: str, a: float, b: float) -> None:
    low, high = sorted((a, b))
    assert not sampled(request_id, low) or sampled(request_id, high)
    assert sampled(request_id, 1.0) and not sampled(request_id, 0.0)


CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


async def test_a_callers_traceparent_makes_the_request_a_child_in_the_callers_trace() -> None:
    record = replace(SUCCESS, traceparent=f"00-{CALLER_TRACE}-{CALLER_SPAN}-01")
    # The caller's sampled flag wins over a ratio that would have left this request out.
    spans = await trace(record, config=TracingConfig(enabled=True, sample_ratio=0.0))
    [server] = [s for s in spans if s.kind is SpanKind.SERVER]
    [client] = [s for s in spans if s.kind is SpanKind.CLIENT]

    assert server.context.trace_id == client.context.trace_id == int(CALLER_TRACE, 16)
    assert server.parent is not None and server.parent.is_remote
    assert server.parent.span_id == int(CALLER_SPAN, 16)
    assert client.parent is not None and client.parent.span_id == server.context.span_id


async def test_a_caller_that_does_not_sample_is_not_traced_here_either() -> None:
    record = replace(SUCCESS, traceparent=f"00-{CALLER_TRACE}-{CALLER_SPAN}-00")
    assert await trace(record, config=TracingConfig(enabled=True, sample_ratio=1.0)) == []


@pytest.mark.parametrize(
    ("header", "kept"),
    [
        (f"00-{CALLER_TRACE}-{CALLER_SPAN}-01", f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"),
        (f" 00-{CALLER_TRACE}-{CALLER_SPAN}-03 ", f"00-{CALLER_TRACE}-{CALLER_SPAN}-03"),
        # A later version may add fields: the four known ones are read, as version 00.
        (f"01-{CALLER_TRACE}-{CALLER_SPAN}-01-extra", f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"),
        (f"00-{CALLER_TRACE}-{CALLER_SPAN}-01-extra", None),  # version 00 has exactly four
        (f"ff-{CALLER_TRACE}-{CALLER_SPAN}-01", None),
        (f"00-{CALLER_TRACE.upper()}-{CALLER_SPAN}-01", None),
        (f"00-{'0' * 32}-{CALLER_SPAN}-01", None),
        (f"00-{CALLER_TRACE}-{'0' * 16}-01", None),
        (f"00-{CALLER_TRACE[:-1]}-{CALLER_SPAN}-01", None),
        ("garbage", None),
        ("", None),
        (None, None),
    ],
)
def test_only_a_valid_traceparent_is_kept(header: str | None, kept: str | None) -> None:
    assert valid_traceparent(header) == kept


def test_the_config_is_strict() -> None:
    assert TracingConfig().enabled is False and TracingConfig().capture_content is False
    with pytest.raises(ValidationError):
        TracingConfig(sample_ratio=1.5)
    with pytest.raises(ValidationError):
        TracingConfig(otlp_endpoint="127.0.0.1:4317")
    with pytest.raises(ValidationError):
        TracingConfig.model_validate({"enabled": True, "exporter": "grpc"})


async def test_record_never_raises_and_logs_its_trouble_once(caplog: pytest.LogCaptureFixture) -> None:
    def broken() -> dict[str, Deployment]:
        raise RuntimeError("config gone")

    exporter = InMemorySpanExporter()
    tracer = RequestTracer(TracingConfig(enabled=True), exporter=exporter, deployments=broken)
    with caplog.at_level(logging.ERROR, logger="keel.tracing"):
        tracer.record(SUCCESS)
        tracer.record(replace(SUCCESS, request_id="req_again"))
    await tracer.aclose()

    assert [r.getMessage() for r in caplog.records] == [
        "could not trace request req_success; later failures are not logged"
    ]
    tracer.record(SUCCESS)  # after close: ignored


async def test_a_wrapped_submit_logs_the_record_then_traces_it() -> None:
    logged: list[RequestRecord] = []
    exporter = InMemorySpanExporter()
    tracer = RequestTracer(TracingConfig(enabled=True), exporter=exporter)
    tracer.wrap(logged.append)(SUCCESS)
    await tracer.aclose()

    assert logged == [SUCCESS]
    assert len(exporter.get_finished_spans()) == 2


class FailingExporter(SpanExporter):
    def __init__(self) -> None:
        self.calls = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.calls += 1
        return SpanExportResult.FAILURE


async def test_a_failing_collector_is_logged_once_and_not_waited_for_at_close(
    caplog: pytest.LogCaptureFixture,
) -> None:
    exporter = FailingExporter()
    tracer = RequestTracer(TracingConfig(enabled=True), exporter=exporter)
    with caplog.at_level(logging.WARNING, logger="keel.tracing"):
        for n in range(400):  # 800 spans: more than one export batch
            tracer.record(replace(SUCCESS, request_id=f"req_{n}"))
        await tracer.aclose()

    assert exporter.calls == 1  # the batches after the first failure were dropped at close
    warnings = [r.getMessage() for r in caplog.records if r.name == "keel.tracing"]
    assert warnings == ["trace export to http://127.0.0.1:4318/v1/traces failed; spans are dropped until it recovers"]


@asynccontextmanager
async def collector(handle: Callable[[web.Request], Awaitable[web.Response]]) -> AsyncIterator[str]:
    """A local OTLP/HTTP endpoint answering with ``handle``; yields its traces URL."""
    app = web.Application()
    app.router.add_post("/v1/traces", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}/v1/traces"
    finally:
        await runner.cleanup()


async def test_spans_reach_an_otlp_http_collector() -> None:
    received: list[tuple[dict[str, str], ExportTraceServiceRequest]] = []

    async def collect(request: web.Request) -> web.Response:
        body = ExportTraceServiceRequest()
        body.ParseFromString(await request.read())
        received.append((dict(request.headers), body))
        reply = ExportTraceServiceResponse().SerializeToString()
        return web.Response(body=reply, content_type="application/x-protobuf")

    async with collector(collect) as url:
        config = TracingConfig(
            enabled=True, otlp_endpoint=url, headers={"x-collector-key": "k-123"}, service_name="keel-edge"
        )
        tracer = RequestTracer(config, deployments=lambda: DEPLOYMENTS)
        tracer.record(SUCCESS)
        await tracer.aclose()

    assert len(received) == 1
    headers, request = received[0]
    assert headers["x-collector-key"] == "k-123"
    assert headers["Content-Type"] == "application/x-protobuf"
    (resource_spans,) = request.resource_spans
    resource = {kv.key: _plain(kv.value) for kv in resource_spans.resource.attributes}
    assert resource["service.name"] == "keel-edge"
    spans = [span for scope in resource_spans.scope_spans for span in scope.spans]
    (server,) = [s for s in spans if s.kind == ProtoSpan.SPAN_KIND_SERVER]
    (client,) = [s for s in spans if s.kind == ProtoSpan.SPAN_KIND_CLIENT]
    assert server.name == "chat gpt-4o-mini-2024-07-18"
    assert (server.start_time_unix_nano, server.end_time_unix_nano) == (START_NS, START_NS + 820 * MS)
    assert client.parent_span_id == server.span_id and client.trace_id == server.trace_id
    attrs = {kv.key: _plain(kv.value) for kv in server.attributes}
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.request.model"] == "support"
    assert attrs["gen_ai.usage.input_tokens"] == 12
    assert attrs["gen_ai.usage.output_tokens"] == 30
    assert attrs["gen_ai.response.finish_reasons"] == ["stop"]
    assert attrs["keel.request_id"] == "req_success"
    assert attrs["keel.guard.verdicts"] == "pii=redact;injection=allow"
    assert {kv.key: _plain(kv.value) for kv in client.attributes}["server.address"] == "api.openai.com"


async def test_a_rejecting_collector_is_reported_once_per_outage(caplog: pytest.LogCaptureFixture) -> None:
    rejected = 0

    async def reject(request: web.Request) -> web.Response:
        nonlocal rejected
        await request.read()
        rejected += 1
        return web.Response(status=400, text="unknown tenant")

    async with collector(reject) as url:
        tracer = RequestTracer(TracingConfig(enabled=True, otlp_endpoint=url))
        with caplog.at_level(logging.WARNING):
            for round_ in range(2):
                for n in range(300):  # 600 spans: a full batch, which the exporter sends at once
                    tracer.record(replace(SUCCESS, request_id=f"req_{round_}_{n}"))
                await until(lambda: rejected > round_)  # noqa: B023 (awaited before the loop moves on)
            await tracer.aclose()

    assert rejected >= 2
    exporter_logs = [r.getMessage() for r in caplog.records if r.name == OTLP_LOGGER]
    assert len(exporter_logs) == 1 and "400" in exporter_logs[0]
    assert [r.getMessage() for r in caplog.records if r.name == "keel.tracing"] == [
        f"trace export to {url} failed; spans are dropped until it recovers"
    ]


async def until(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.01)


def _plain(value: AnyValue) -> object:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_plain(v) for v in value.array_value.values]
    return getattr(value, kind) if kind else None
