"""The ``faq`` provider: Keel's static safe mode, answering from a question-and-answer file.

No model is called. The last user message is matched against every entry's question and alternate
phrasings with fuzzy string similarity, and the nearest entry's answer is returned as an ordinary
OpenAI chat completion. The match is reported in a top-level ``keel`` key next to the OpenAI fields::

    "keel": {"confidence": 0.8123, "fallback": false, "faq": {"id": "refunds", "question": "..."}}

Confidence is lexical similarity in [0, 1], not understanding: paraphrases that share words score
high, synonyms with no shared words do not. Give entries ``alternates`` for the phrasings users
actually type, and set ``min_confidence`` so that weak matches get the fallback answer instead.
Usage counts whitespace-separated words, like the simulator.
"""

from __future__ import annotations

import csv
import itertools
import re
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from rapidfuzz import fuzz, process
from rapidfuzz.utils import default_process

from keel.core.chat_input import read_chat_input
from keel.core.errors import InvalidRequest
from keel.providers.base import Json

MODEL_NAME = "faq"
DEFAULT_FALLBACK = "I don't have an answer to that; a person will follow up."
_KEYS = ("question", "answer", "id", "alternates")
# Words that carry no topic: without them "how do I change my password" and "how do I close my
# account" stop looking alike, and the words that matter decide the match.
_STOPWORD_TEXT = """
a an the i im me my we our us you your to of in on at for from and or is are am was be been
do does did how what whats when where which who why can cant could should would will with
it its this that there please
"""
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())
_SHORTLIST = 16
_FRAGMENT = re.compile(r"\s*\S+")


@dataclass(frozen=True, slots=True)
class FaqEntry:
    question: str
    answer: str
    id: str | None = None
    alternates: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FaqMatch:
    entry: FaqEntry | None
    """The nearest entry; ``None`` only when there is nothing to compare."""
    confidence: float


def normalise(text: str) -> str:
    """Lower case, punctuation to spaces, stopwords out (unless nothing else is left)."""
    processed: str = default_process(text)
    words = [word for word in processed.split() if word not in _STOPWORDS]
    return " ".join(words) if words else " ".join(processed.split())


class FaqProvider:
    def __init__(
        self,
        entries: Sequence[FaqEntry],
        min_confidence: float = 0.0,
        fallback_answer: str | None = None,
    ) -> None:
        if not 0.0 <= min_confidence <= 1.0:
            raise ValueError("min_confidence must be between 0 and 1")
        self._entries = tuple(entries)
        self._min_confidence = min_confidence
        self._fallback = fallback_answer if fallback_answer is not None else DEFAULT_FALLBACK
        self._phrasings: list[str] = []
        self._owners: list[int] = []
        for index, entry in enumerate(self._entries):
            for text in (entry.question, *entry.alternates):
                phrasing = normalise(text)
                if phrasing:
                    self._phrasings.append(phrasing)
                    self._owners.append(index)
        self._ids = itertools.count(1)

    def match(self, text: str) -> FaqMatch:
        """The nearest entry to ``text`` over all phrasings, and how near it is."""
        query = normalise(text)
        if not query or not self._phrasings:
            return FaqMatch(None, 0.0)
        # Token-set similarity shortlists the candidates; the other two scorers only refine those, so a
        # large FAQ costs one cheap pass over every phrasing rather than three.
        best_total, best = -1.0, 0
        shortlist = process.extract(
            query, self._phrasings, scorer=fuzz.token_set_ratio, processor=None, limit=_SHORTLIST
        )
        for phrasing, score, index in shortlist:
            total = score + fuzz.token_sort_ratio(query, phrasing) + fuzz.WRatio(query, phrasing)
            if total > best_total or (total == best_total and index < best):
                best_total, best = total, index
        confidence = min(best_total / 300.0, 1.0)
        return FaqMatch(self._entries[self._owners[best]], confidence)

    async def chat(self, body: Json) -> Json:
        answer, extra, n, prompt_tokens = self._answer(body)
        completion_tokens = len(answer.split()) * n
        return {
            "id": f"chatcmpl-faq{next(self._ids):x}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": MODEL_NAME,
            "choices": [
                {
                    "index": index,
                    "message": {"role": "assistant", "content": answer},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
                for index in range(n)
            ],
            "usage": _usage(prompt_tokens, completion_tokens),
            "keel": extra,
        }

    async def chat_stream(self, body: Json) -> AsyncIterator[list[Json]]:
        """The whole answer is known at once, so it goes out as one batch."""
        yield list(self._chunks(body))

    def _chunks(self, body: Json) -> Iterator[Json]:
        answer, extra, n, prompt_tokens = self._answer(body)
        head = {
            "id": f"chatcmpl-faq{next(self._ids):x}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": MODEL_NAME,
        }
        options = body.get("stream_options")
        with_usage = isinstance(options, dict) and options.get("include_usage") is True

        def chunk(index: int, delta: Json, finish: str | None = None) -> Json:
            out: Json = {
                **head,
                "choices": [{"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}],
            }
            if with_usage:
                out["usage"] = None
            return out

        first = chunk(0, {"role": "assistant", "content": ""})
        first["keel"] = extra
        yield first
        for index in range(1, n):
            yield chunk(index, {"role": "assistant", "content": ""})
        for fragment in _FRAGMENT.findall(answer):
            for index in range(n):
                yield chunk(index, {"content": fragment})
        for index in range(n):
            yield chunk(index, {}, "stop")
        if with_usage:
            yield {**head, "choices": [], "usage": _usage(prompt_tokens, len(answer.split()) * n)}

    async def embeddings(self, body: Json) -> Json:
        raise InvalidRequest("The faq provider does not support embeddings.", code="unsupported_operation")

    async def aclose(self) -> None:
        return None

    def _answer(self, body: Json) -> tuple[str, Json, int, int]:
        """The answer text, the ``keel`` extra, the choice count and the prompt's word count."""
        chat = read_chat_input(body)
        n, prompt_tokens, question = chat.n, chat.prompt_words, chat.last_user
        found = self.match(question)
        entry = found.entry
        fallback = entry is None or found.confidence < self._min_confidence
        extra: Json = {
            "confidence": round(found.confidence, 4),
            "fallback": fallback,
            "faq": None if entry is None else {"id": entry.id, "question": entry.question},
        }
        answer = self._fallback if fallback or entry is None else entry.answer
        return answer, extra, n, prompt_tokens


def _usage(prompt_tokens: int, completion_tokens: int) -> Json:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def load_faq(path: str | Path) -> list[FaqEntry]:
    """Read a FAQ from YAML (``entries: [...]`` or a bare list) or CSV (``question,answer[,id]``).

    A CSV may also have an ``alternates`` column with phrasings separated by ``|``.

    Every problem is a ``ValueError`` naming the file and the entry (1-based) or CSV line.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix in (".yaml", ".yml"):
            entries = _load_yaml(path)
        elif suffix == ".csv":
            entries = _load_csv(path)
        else:
            raise ValueError(f"{path}: unsupported FAQ file type {suffix!r}; use .yaml, .yml or .csv")
    except OSError as exc:
        raise ValueError(f"{path}: cannot read FAQ file: {exc.strerror or exc}") from exc
    if not entries:
        raise ValueError(f"{path}: the FAQ has no entries")
    seen: dict[str, int] = {}
    for number, entry in enumerate(entries, start=1):
        if entry.id is None:
            continue
        if entry.id in seen:
            raise ValueError(f"{path}: entry {number}: id {entry.id!r} is already used by entry {seen[entry.id]}")
        seen[entry.id] = number
    return entries


def _load_yaml(path: Path) -> list[FaqEntry]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML:\n{exc}") from exc
    if isinstance(raw, dict):
        if set(raw) != {"entries"}:
            raise ValueError(f"{path}: the top level must have exactly one key, 'entries' (or be a list)")
        raw = raw["entries"]
    if not isinstance(raw, list):
        raise ValueError(f"{path}: expected a list of entries, under 'entries' or at the top level")
    return [_entry(path, f"entry {number}", item) for number, item in enumerate(raw, start=1)]


def _entry(path: Path, where: str, item: object) -> FaqEntry:
    if not isinstance(item, dict):
        raise ValueError(f"{path}: {where}: expected a mapping with 'question' and 'answer'")
    unknown = sorted(str(key) for key in item if key not in _KEYS)
    if unknown:
        raise ValueError(f"{path}: {where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(_KEYS)}")
    alternates = item.get("alternates") or []
    if not isinstance(alternates, list) or not all(isinstance(a, str) and a.strip() for a in alternates):
        raise ValueError(f"{path}: {where}: 'alternates' must be a list of non-empty strings")
    return FaqEntry(
        question=_required(path, where, item, "question"),
        answer=_required(path, where, item, "answer"),
        id=_identifier(path, where, item.get("id")),
        alternates=tuple(a.strip() for a in alternates),
    )


def _required(path: Path, where: str, item: dict[Any, Any], key: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{path}: {where}: {key!r} must be a non-empty string")
    return value.strip()


def _identifier(path: Path, where: str, value: object) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # ids like 7 in YAML or a spreadsheet are fine as text
    raise ValueError(f"{path}: {where}: 'id' must be a string or an integer")


def _load_csv(path: Path) -> list[FaqEntry]:
    entries: list[FaqEntry] = []
    # utf-8-sig: spreadsheets often save a byte order mark that would otherwise join the first header.
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        try:
            header = next(reader, None)
            if not header:
                raise ValueError(f"{path}: empty CSV; expected a header row question,answer[,id]")
            columns = [name.strip().lower() for name in header]
            unknown = sorted(set(columns) - set(_KEYS))
            if unknown:
                raise ValueError(f"{path}: line 1: unknown column(s) {', '.join(unknown)}; allowed: {', '.join(_KEYS)}")
            missing = [name for name in ("question", "answer") if name not in columns]
            if missing:
                raise ValueError(f"{path}: line 1: missing column(s) {', '.join(missing)}")
            for row in reader:
                if not any(cell.strip() for cell in row):
                    continue
                where = f"line {reader.line_num}"
                if len(row) > len(columns):
                    raise ValueError(f"{path}: {where}: {len(row)} fields but {len(columns)} columns")
                item: dict[Any, Any] = dict(zip(columns, row, strict=False))
                if "alternates" in item:
                    item["alternates"] = [a for a in item["alternates"].split("|") if a.strip()]
                entries.append(_entry(path, where, item))
        except csv.Error as exc:
            raise ValueError(f"{path}: line {reader.line_num}: malformed CSV: {exc}") from exc
    return entries
