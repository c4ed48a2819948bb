"""The one automatic re-ask: show the model its answer and what was wrong, ask for corrected JSON.

The conversation is replayed as the client sent it, followed by the model's own bad answer (as an
assistant turn, so the model sees it as something it said) and a user turn listing the problems.
The schema, when there is one, is repeated in full: the model may have been given it only as a
``response_format`` parameter, which the user turn cannot point to.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson


def reask_messages(
    request_messages: Sequence[Mapping[str, Any]],
    answer_text: str,
    problems: Sequence[str],
    schema: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The messages of the re-ask request; the originals are copied, never changed."""
    lines = ["Your previous answer was not valid:"]
    lines += [f"- {problem}" for problem in problems]
    if schema is not None:
        lines += ["", "The answer must be JSON valid against this JSON Schema:", orjson.dumps(schema).decode()]
    lines += [
        "",
        "Reply again with the corrected JSON only: no explanation, no Markdown and no code fence.",
    ]
    return [
        *(dict(message) for message in request_messages),
        {"role": "assistant", "content": answer_text},
        {"role": "user", "content": "\n".join(lines)},
    ]
