"""The caller's W3C Trace Context (``traceparent``), so a request's spans join the caller's trace.

Only the ``traceparent`` header is read (``tracestate`` carries vendor data Keel has no use for). A
value that breaks the format — wrong lengths, upper-case hex, an all-zero id, version ``ff``, or
version ``00`` with trailing fields — is ignored, as the specification asks: the request is then
traced as a root of its own.
"""

from __future__ import annotations

import re
from typing import NamedTuple

TRACE_ID = re.compile(r"[0-9a-f]{32}")
"""A trace id as ``traceparent`` carries it: 32 lower-case hex digits."""
_TRACEPARENT = re.compile(rf"([0-9a-f]{{2}})-({TRACE_ID.pattern})-([0-9a-f]{{16}})-([0-9a-f]{{2}})(-.*)?")
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16


class TraceParent(NamedTuple):
    trace_id: int
    span_id: int
    sampled: bool


def valid_traceparent(value: str | None) -> str | None:
    """``value`` as version ``00`` (``00-<trace id>-<parent id>-<flags>``) when it is valid, else None."""
    if not value:
        return None
    match = _TRACEPARENT.fullmatch(value.strip())
    if match is None:
        return None
    version, trace_id, span_id, flags, rest = match.groups()
    if version == "ff" or (version == "00" and rest is not None) or trace_id == _ZERO_TRACE or span_id == _ZERO_SPAN:
        return None
    return f"00-{trace_id}-{span_id}-{flags}"


def parse_traceparent(value: str) -> TraceParent:
    """The parts of a value ``valid_traceparent`` returned."""
    _, trace_id, span_id, flags = value.split("-")
    return TraceParent(int(trace_id, 16), int(span_id, 16), bool(int(flags, 16) & 1))
