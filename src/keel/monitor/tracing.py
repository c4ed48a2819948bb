"""OpenTelemetry traces of served requests, exported over OTLP/HTTP.

Spans are made after the fact from the request record, with the record's own timestamps: nothing
runs on the request path but a hash for sampling and a few span objects handed to the SDK's batch
processor, whose bounded queue drops spans rather than grow when the collector cannot keep up.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import ALWAYS_ON
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from pydantic import Field, field_validator

from keel import __version__
from keel.config.base import StrictModel
from keel.monitor.trace_context import TraceParent, parse_traceparent
from keel.monitor.trace_spans import (
    attempt_attributes,
    attempt_failed,
    attempt_span_name,
    attempt_windows,
    content_attributes,
    ms_to_ns,
    request_attributes,
    request_span_name,
    to_ns,
)
from keel.store.records import RequestRecord

if TYPE_CHECKING:
    from keel.config.runtime import Deployment

log = logging.getLogger("keel.tracing")

OTLP_LOGGER = "opentelemetry.exporter.otlp.proto.http.trace_exporter"
"""The OTLP exporter logs every retry and failed batch here; during an outage only the first is kept."""

MAX_QUEUE_SIZE = 2048
"""Spans waiting for export; past this the oldest are dropped (a slow collector never slows requests)."""
MAX_EXPORT_BATCH_SIZE = 512
SCHEDULE_DELAY_MS = 2000
EXPORT_TIMEOUT_S = 5.0


class TracingConfig(StrictModel):
    """``tracing:``: a span per request (and per upstream attempt), sent to an OTLP/HTTP collector."""

    enabled: bool = False
    otlp_endpoint: str = "http://127.0.0.1:4318/v1/traces"
    """The collector's full traces URL, path included."""
    headers: dict[str, str] = Field(default_factory=dict)
    """Sent with every export, e.g. a vendor's API key (``${ENV}`` values are substituted)."""
    service_name: str = Field(default="keel", min_length=1)
    sample_ratio: float = Field(default=1.0, ge=0.0, le=1.0)
    """Share of requests traced, chosen by a hash of the request id: the same id is always in or out.
    A request that comes with the caller's ``traceparent`` follows the caller's sampled flag instead."""
    capture_content: bool = False
    """Put prompts and answers on spans (only for routes that log bodies). Off: traces carry no content."""

    @field_validator("otlp_endpoint")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("otlp_endpoint must be an http:// or https:// URL (OTLP over HTTP)")
        return value


def sampled(request_id: str, ratio: float) -> bool:
    """Whether a request is traced: its id's 64-bit hash falls in the lowest ``ratio`` of the range."""
    digest = hashlib.blake2b(request_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") < int(ratio * 2.0**64)


class RequestTracer:
    """Turns request records into spans and exports them in the background."""

    def __init__(
        self,
        config: TracingConfig,
        *,
        exporter: SpanExporter | None = None,
        deployments: Callable[[], Mapping[str, Deployment]] | None = None,
    ) -> None:
        """``exporter`` replaces the OTLP/HTTP one; ``deployments`` (the current config's) lets attempt
        spans name the upstream model and server."""
        self._config = config
        self._deployments = deployments
        self._exporter = _WatchedExporter(exporter or _otlp_exporter(config), config.otlp_endpoint)
        self._quiet = _OutageFilter(self._exporter)
        logging.getLogger(OTLP_LOGGER).addFilter(self._quiet)
        self._provider = TracerProvider(
            sampler=ALWAYS_ON,  # sampled() has already chosen, by request id
            resource=Resource.create({"service.name": config.service_name, "service.version": __version__}),
            shutdown_on_exit=False,
        )
        self._provider.add_span_processor(
            BatchSpanProcessor(
                self._exporter,
                max_queue_size=MAX_QUEUE_SIZE,
                schedule_delay_millis=SCHEDULE_DELAY_MS,
                max_export_batch_size=MAX_EXPORT_BATCH_SIZE,
            )
        )
        self._tracer = self._provider.get_tracer("keel", __version__)
        self._closed = False
        self._trouble_logged = False

    def record(self, record: RequestRecord) -> None:
        """Trace one served request. Never raises: a record that cannot be traced is skipped."""
        if self._closed:
            return
        try:
            parent = parse_traceparent(record.traceparent) if record.traceparent else None
            # A caller's trace keeps the caller's sampling decision; Keel's own roots are sampled by id.
            if parent.sampled if parent is not None else sampled(record.request_id, self._config.sample_ratio):
                self._emit(record, parent)
        except Exception:
            if not self._trouble_logged:
                self._trouble_logged = True
                log.exception("could not trace request %s; later failures are not logged", record.request_id)

    def wrap(self, submit: Callable[[RequestRecord], None]) -> Callable[[RequestRecord], None]:
        """``submit`` (the request log), then a trace of the same record."""

        def submit_and_trace(record: RequestRecord) -> None:
            submit(record)
            self.record(record)

        return submit_and_trace

    async def aclose(self) -> None:
        """Export what is queued, then stop; a collector already failing is not waited for."""
        if self._closed:
            return
        self._closed = True
        self._exporter.closing = True
        await asyncio.to_thread(self._provider.shutdown)
        logging.getLogger(OTLP_LOGGER).removeFilter(self._quiet)

    def _emit(self, record: RequestRecord, caller: TraceParent | None) -> None:
        start = to_ns(record.ts)
        attributes = request_attributes(record)
        if self._config.capture_content:
            attributes.update(content_attributes(record))
        # The caller's span, or an empty context: never whatever happens to be current in this task.
        span = self._tracer.start_span(
            request_span_name(record), _context_of(caller), SpanKind.SERVER, attributes, start_time=start
        )
        # HTTP server conventions: only 5xx is the server's failure; a 4xx is the client's.
        if record.status >= 500:
            span.set_status(Status(StatusCode.ERROR, record.error_class))
        if record.attempts:
            parent = trace.set_span_in_context(span)
            deployments = self._deployments() if self._deployments is not None else {}
            for attempt, (begin, end) in zip(record.attempts, attempt_windows(record), strict=True):
                attrs = attempt_attributes(record, attempt, deployments.get(attempt.deployment))
                child = self._tracer.start_span(
                    attempt_span_name(record, attempt), parent, SpanKind.CLIENT, attrs, start_time=begin
                )
                if attempt_failed(attempt):
                    child.set_status(Status(StatusCode.ERROR, attempt.error_class))
                child.end(end_time=end)
        span.end(end_time=start + ms_to_ns(record.latency_ms))


def _context_of(caller: TraceParent | None) -> Context:
    """A context whose current span is the caller's (remote, sampled), or an empty one."""
    if caller is None:
        return Context()
    remote = SpanContext(caller.trace_id, caller.span_id, is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED))
    return trace.set_span_in_context(NonRecordingSpan(remote), Context())


class _WatchedExporter(SpanExporter):
    """Logs when exports start failing and when they recover, rather than every failed batch.

    Once closing, batches bound for a collector that is failing are dropped at once, so shutting down
    does not wait out the exporter's retries.
    """

    def __init__(self, inner: SpanExporter, endpoint: str) -> None:
        self._inner = inner
        self._endpoint = endpoint
        self.failing = False
        self.closing = False

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self.closing and self.failing:
            return SpanExportResult.FAILURE
        try:
            result = self._inner.export(spans)
        except Exception:
            log.debug("trace exporter raised", exc_info=True)
            result = SpanExportResult.FAILURE
        if result is SpanExportResult.FAILURE and not self.failing:
            self.failing = True
            log.warning("trace export to %s failed; spans are dropped until it recovers", self._endpoint)
        elif result is SpanExportResult.SUCCESS and self.failing:
            self.failing = False
            log.info("trace export to %s recovered", self._endpoint)
        return result

    def shutdown(self) -> None:
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)


class _OutageFilter(logging.Filter):
    """Lets the exporter's own log through until an export has failed, and again once one succeeds:
    the first failure of an outage is logged with its cause, the repeats are not."""

    def __init__(self, exporter: _WatchedExporter) -> None:
        super().__init__()
        self._exporter = exporter

    def filter(self, record: logging.LogRecord) -> bool:
        return not self._exporter.failing


def _otlp_exporter(config: TracingConfig) -> SpanExporter:
    # Imported here: the exporter pulls in protobuf and requests, which only a tracing gateway needs.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter(endpoint=config.otlp_endpoint, headers=config.headers, timeout=EXPORT_TIMEOUT_S)
