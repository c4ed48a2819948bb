"""Reading JSON out of a model's answer, which may wrap it in a code fence or surround it with prose.

Assertions on an answer's JSON accept only the whole answer or a fenced block (``answer_json``): JSON
buried in prose is not what a JSON-mode caller receives. Reading a judge's grade is more lenient
(``embedded_json``), since only the grade matters there.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

_FENCE = re.compile(r"```[A-Za-z0-9_-]*[ \t]*\n(.*?)```", re.DOTALL)


class NotJson(ValueError):
    """The answer holds no JSON document."""


def answer_json(text: str) -> Any:
    """The JSON document the answer is: all of it, or the first fenced block that parses."""
    for value in _whole_or_fenced(text):
        return value
    raise NotJson("the answer is not JSON (neither the whole answer nor a fenced code block parses)")


def embedded_json(text: str) -> Iterator[Any]:
    """Every JSON value readable from ``text``: the whole, each fenced block, then each ``{...}`` in it."""
    yield from _whole_or_fenced(text)
    decoder = json.JSONDecoder()
    start = text.find("{")
    while start != -1:
        try:
            value, end = decoder.raw_decode(text, start)
        except ValueError:
            start = text.find("{", start + 1)
            continue
        yield value
        start = text.find("{", end)


def _whole_or_fenced(text: str) -> Iterator[Any]:
    for chunk in (text, *_FENCE.findall(text)):
        try:
            yield json.loads(chunk)
        except ValueError:
            continue
