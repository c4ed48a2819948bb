"""The incremental SSE parser: events split anywhere across reads come out whole and in order."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from keel.providers.base import SseEvent
from keel.providers.sse import SseParser

STREAM = (
    b'event: message_start\ndata: {"a": 1}\n\n'
    b": a comment\n\n"
    b'data: {"b": 2}\n\n'
    b"data: line one\ndata: line two\n\n"
    b"data: [DONE]\n\n"
)
EXPECTED = [
    SseEvent(b'{"a": 1}', "message_start"),
    SseEvent(b'{"b": 2}'),
    SseEvent(b"line one\nline two"),
    SseEvent(b"[DONE]"),
]


@given(st.booleans(), st.lists(st.integers(0, len(STREAM) * 2), max_size=12).map(sorted))
def test_any_split_of_the_bytes_gives_the_same_events(crlf: bool, cuts: list[int]) -> None:
    stream = STREAM.replace(b"\n", b"\r\n") if crlf else STREAM
    cuts = [min(c, len(stream)) for c in cuts]
    parser = SseParser()
    pieces = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    events = [event for piece in pieces for event in parser.feed(piece)]
    assert events + parser.close() == EXPECTED


def test_crlf_line_endings_and_an_unterminated_last_event() -> None:
    parser = SseParser()
    events = parser.feed(b"data: 1\r\n\r\ndata: 2")
    assert events == [SseEvent(b"1")]
    assert parser.close() == [SseEvent(b"2")]
