"""Reading an answer as JSON: the whole answer, optionally inside one Markdown code fence.

Models asked for JSON often wrap it in a fence (three backticks, optionally tagged ``json``). Whether
that is acceptable is the route's choice (``fences`` in the config); either way the answer is parsed
from inside the fence, so the problems are about the JSON and not only about the wrapping. Prose
around the JSON is never accepted: a client that parses the answer would fail on it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson

_FENCED = re.compile(r"\A\s*```[ \t]*(?:json)?[ \t]*\r?\n(?P<body>.*?)\r?\n?[ \t]*```\s*\Z", re.DOTALL | re.IGNORECASE)

FENCE_PROBLEM = "the JSON is wrapped in a ``` code fence; the answer must be bare JSON"


@dataclass(frozen=True, slots=True)
class JsonAnswer:
    """The parsed document, or the reason there is none."""

    document: Any
    fenced: bool
    error: str | None = None
    """Why the answer is not JSON; ``document`` is None then."""

    @property
    def ok(self) -> bool:
        return self.error is None


def strip_fence(text: str) -> tuple[str, bool]:
    """The text inside a code fence that spans the whole answer, and whether there was one."""
    match = _FENCED.match(text)
    if match is None:
        return text, False
    return match["body"], True


def parse_json_answer(text: str) -> JsonAnswer:
    body, fenced = strip_fence(text)
    if not body.strip():
        return JsonAnswer(None, fenced, "the answer is empty; expected JSON")
    try:
        return JsonAnswer(orjson.loads(body), fenced)
    except orjson.JSONDecodeError as error:
        return JsonAnswer(None, fenced, f"the answer is not valid JSON: {error}")
