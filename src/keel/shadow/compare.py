"""Setting the candidate's answer beside the live one: how alike their texts are, and how the guards judged each.

The texts compared are an answer's message contents and tool-call arguments. When both answers are
JSON documents (an object or an array), they are compared in a canonical form (keys sorted, no
whitespace), so formatting alone never counts as a difference, and ``json_equal`` says whether the
documents are identical.

* lexical similarity: rapidfuzz's ``token_set_ratio`` / 100 — word overlap, insensitive to order,
  case and punctuation;
* semantic similarity: the cosine of the two texts' embeddings, when an embedding function is given;
* the headline ``similarity`` is the semantic one when measured, else the lexical one;
* ``length_ratio``: the candidate's text length over the live one's.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
from rapidfuzz import fuzz
from rapidfuzz.utils import default_process

from keel.guards.texts import answer_texts
from keel.routing.tiering.examples import Embed

log = logging.getLogger("keel.shadow")

Json = dict[str, Any]

# Guard actions from least to most severe: a pair of answers is judged alike when their worst agree.
SEVERITY = ("allow", "flag", "redact", "retry", "fallback", "block")
_RANK = {action: rank for rank, action in enumerate(SEVERITY)}


@dataclass(frozen=True, slots=True)
class Comparison:
    similarity: float
    lexical: float
    semantic: float | None
    json_equal: bool | None
    """None unless both answers are JSON documents."""
    length_ratio: float | None
    """None when the live answer has no text and the candidate's has some."""


def answer_text(answer: Json) -> str:
    return "\n".join(answer_texts(answer))


def json_document(text: str) -> Any:
    """The JSON object or array ``text`` is, or None (plain text, or a bare number or string)."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict | list) else None


def lexical_similarity(a: str, b: str) -> float:
    if not a and not b:
        return 1.0
    return float(fuzz.token_set_ratio(a, b, processor=default_process)) / 100


def cosine(u: Sequence[float] | np.ndarray[Any, Any], v: Sequence[float] | np.ndarray[Any, Any]) -> float | None:
    """The cosine of two vectors, or None when either is all zeros."""
    a, b = np.asarray(u, dtype=np.float64), np.asarray(v, dtype=np.float64)
    norms = float(np.linalg.norm(a) * np.linalg.norm(b))
    if norms == 0.0:
        return None
    return float(np.clip(np.dot(a, b) / norms, -1.0, 1.0))


async def compare_answers(live: Json, shadow: Json, embed: Embed | None = None) -> Comparison:
    live_text, shadow_text = answer_text(live), answer_text(shadow)
    json_equal = None
    live_doc, shadow_doc = json_document(live_text), json_document(shadow_text)
    if live_doc is not None and shadow_doc is not None:
        live_text, shadow_text = _canonical(live_doc), _canonical(shadow_doc)
        json_equal = live_text == shadow_text
    lexical = lexical_similarity(live_text, shadow_text)
    semantic = await _semantic(live_text, shadow_text, embed) if embed is not None else None
    return Comparison(
        similarity=semantic if semantic is not None else lexical,
        lexical=lexical,
        semantic=semantic,
        json_equal=json_equal,
        length_ratio=_length_ratio(len(live_text), len(shadow_text)),
    )


def worst_action(actions: Sequence[str]) -> str | None:
    """The most severe action among ``guard=action`` entries; None for no entries."""
    worst: str | None = None
    for entry in actions:
        action = entry.rpartition("=")[2]
        if worst is None or _RANK.get(action, len(SEVERITY)) > _RANK.get(worst, len(SEVERITY)):
            worst = action
    return worst


def _canonical(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def _length_ratio(live: int, shadow: int) -> float | None:
    if live == 0:
        return 1.0 if shadow == 0 else None
    return shadow / live


async def _semantic(a: str, b: str, embed: Embed) -> float | None:
    if not a or not b:
        return None
    try:
        rows = await embed([a, b])
    except Exception as error:  # an embedding outage costs the semantic score, not the result
        log.warning("shadow comparison: embedding failed (%s: %s)", type(error).__name__, error)
        return None
    return cosine(rows[0], rows[1])
