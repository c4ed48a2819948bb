"""Which chat requests the semantic cache may answer, the text it embeds, and the partition it must match.

A semantic hit replaces an exact key by "a stored question close enough to this one". Only the part of
the request whose wording may vary without changing the answer is compared by meaning; everything else
must be identical, so it goes into a partition key and two requests can only match inside one partition.

The embedded text is the **last user turn only**. Everything before it (system and developer prompts,
earlier user and assistant turns) goes into the partition by exact hash, with the route, the deployment
model and every request parameter that shapes the answer (temperature, response_format, seed, max_tokens,
stop, logprobs, ...). Reasons for this choice over embedding the whole conversation:

- The system prompt and the sampling parameters change the answer while barely moving an embedding, so
  they must match exactly, not approximately.
- A follow-up such as "and the blue one?" means something different in every conversation; it is only
  safe to reuse its answer after the very same earlier turns.
- Embedding models read a bounded window (256 word pieces for MiniLM); in a long conversation the
  question that matters would be the part cut off.

A single-turn question, the case where semantic caching pays, therefore matches by meaning; a follow-up
matches only after an identical history.

Words that contain a digit in the last turn ("30", "X200", "3.12", "2fa") also go into the partition.
Sentence embeddings barely move when a number changes, yet "returns within 30 days" and "within 60 days",
or the X200 and the X300 blender, are different questions; keeping them apart costs a few paraphrases that
spell a number out, and rules out a whole class of wrong answers.

A request is not a candidate (``semantic_key`` returns None) when:

- it declares ``tools`` or ``functions``: a tool call's arguments are copied from the exact wording
  ("weather in Oslo" and "weather in Bergen" embed close together and need different calls);
- it asks for several choices (``n`` > 1), which are requested to differ;
- it asks for audio output (``modalities`` other than text, or ``audio``);
- its last message is not a user turn, or that turn carries anything but text (an image or a file
  changes the answer without changing the embedded words), or it has no text at all.

Whether the route caches at all, and at which temperatures, is the exact cache's rule
(``keel.cache.key.cacheable``) and is checked by the caller first.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from keel.cache.key import IGNORED_FIELDS

__all__ = ["SemanticKey", "prompt_text", "semantic_key", "semantic_partition"]

# Bumped whenever the partition recipe changes, so entries under an old recipe can no longer match.
_PARTITION_VERSION = "keel-semantic-v1"
_TOOL_FIELDS = ("tools", "functions")
# Parts of a user message that are words the embedder reads; any other part type disqualifies the request.
_TEXT_PART = "text"
# A word with a digit in it: a quantity, a version, a model or order number. "3.12" stays one word.
_NUMBER_WORD = re.compile(r"\w*\d[\w.,]*\w|\w*\d")


@dataclass(frozen=True)
class SemanticKey:
    """Where a request may be looked up (``partition``) and what is compared by meaning (``text``)."""

    partition: str
    text: str


def semantic_key(route: str, deployment_model: str | None, body: Mapping[str, Any]) -> SemanticKey | None:
    """The partition and text of ``body`` on ``route``, or None when it may not be answered by meaning."""
    if not _is_candidate(body):
        return None
    text = prompt_text(body)
    if text is None:
        return None
    return SemanticKey(partition=semantic_partition(route, deployment_model, body), text=text)


def prompt_text(body: Mapping[str, Any]) -> str | None:
    """The text of the last user turn, or None when there is none or it carries more than text."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return None
    last = messages[-1]
    if not isinstance(last, Mapping) or last.get("role") != "user":
        return None
    text = _message_text(last.get("content"))
    if text is None:
        return None
    text = text.strip()
    return text or None


def semantic_partition(route: str, deployment_model: str | None, body: Mapping[str, Any]) -> str:
    """A hex SHA-256 of everything in ``body`` that must match exactly: all but the last turn's wording."""
    parameters = {name: value for name, value in body.items() if name not in IGNORED_FIELDS and name != "messages"}
    messages = body.get("messages")
    history: list[Any] = []
    last_turn: dict[str, Any] = {}
    if isinstance(messages, list) and messages:
        history = messages[:-1]
        if isinstance(messages[-1], Mapping):
            # The speaker's role and name stay exact; only the words are compared by meaning.
            last_turn = {name: value for name, value in messages[-1].items() if name != "content"}
    text = prompt_text(body)
    numbers = sorted(set(_NUMBER_WORD.findall(text.casefold()))) if text is not None else []
    canonical = orjson.dumps(
        [_PARTITION_VERSION, route, deployment_model, parameters, history, last_turn, numbers],
        option=orjson.OPT_SORT_KEYS,
    )
    return hashlib.sha256(canonical).hexdigest()


def _is_candidate(body: Mapping[str, Any]) -> bool:
    if any(body.get(name) for name in _TOOL_FIELDS):
        return False
    n = body.get("n", 1)
    if n is not None and (isinstance(n, bool) or not isinstance(n, int | float) or n > 1):
        return False
    if body.get("audio") is not None:
        return False
    modalities = body.get("modalities")
    return modalities is None or (isinstance(modalities, list) and all(m == "text" for m in modalities))


def _message_text(content: object) -> str | None:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return None
    texts: list[str] = []
    for part in content:
        if not isinstance(part, Mapping) or part.get("type") != _TEXT_PART:
            return None
        text = part.get("text")
        if not isinstance(text, str):
            return None
        texts.append(text)
    return "\n".join(texts)
