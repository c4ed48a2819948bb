"""Putting originals back into a model's answer, for the caller whose prompt was redacted.

Models echo placeholders imperfectly, so ``restore`` accepts, case-insensitively, the canonical form
``<EMAIL_1>`` and these variants of it: without brackets (``EMAIL_1``), with square or curly brackets,
HTML-escaped (``&lt;EMAIL_1&gt;``), Markdown-escaped (``\\<EMAIL\\_1\\>``), with a space or hyphen instead
of an underscore (``PHONE NUMBER 2``, ``EMAIL-1``) or with no separator (``EMAIL1``). A placeholder must
stand on its own: ``EMAIL_12`` is not ``EMAIL_1``, ``XEMAIL_1`` is nothing. Placeholders that are not in
the mapping (the model made one up) are left as they are.

A streamed answer can split a placeholder across chunks; ``StreamRestorer`` holds back just the tail of
the text received so far that could still grow into one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from keel.guards.pii.redact import placeholder

_OPEN = r"(?:<\s*|&lt;|\\<|\[\s*|\{\s*)?"
_CLOSE = r"(?:\s*>|&gt;|\\>|\s*\]|\s*\})?"
_SEPARATOR = r"(?:\\?_|[ -])"
_PARTIAL_TAIL = re.compile(r"(?:(?:<|&(?:l(?:t;?)?)?|\\<?|\[|\{)\s?)?([A-Za-z_\\ -]*)(\d*)")


def _entity_types(mapping: Mapping[str, str]) -> list[str]:
    return sorted({name.strip("<>").rsplit("_", 1)[0] for name in mapping}, key=len, reverse=True)


def _pattern(types: Iterable[str]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(entity).replace("_", _SEPARATOR) for entity in types)
    # re.compile keeps recent patterns cached, so the same entity set compiles once.
    return re.compile(
        rf"{_OPEN}(?<![A-Za-z0-9])(?P<entity>{alternatives}){_SEPARATOR}?(?P<number>\d+)(?!\d){_CLOSE}",
        re.IGNORECASE,
    )


def restore(text: str, mapping: Mapping[str, str]) -> str:
    """``text`` with every placeholder of ``mapping`` (in any accepted form) replaced by its original."""
    if not mapping:
        return text
    canonical = {name.upper(): value for name, value in mapping.items()}

    def original(match: re.Match[str]) -> str:
        entity = re.sub(r"\\?_|[ -]", "_", match.group("entity")).upper()
        name = placeholder(entity, int(match.group("number")))
        return canonical.get(name, match.group())

    return _pattern(_entity_types(mapping)).sub(original, text)


class StreamRestorer:
    """``restore`` for text that arrives in pieces: ``feed`` each chunk, then ``flush`` at the end."""

    def __init__(self, mapping: Mapping[str, str]) -> None:
        self._mapping = mapping
        self._types = _entity_types(mapping)
        self._longest = max((len(entity) for entity in self._types), default=0) + 16
        self._pending = ""

    def feed(self, chunk: str) -> str:
        """The restored text that is safe to send now; a possible partial placeholder is kept back."""
        self._pending += chunk
        cut = self._safe_cut(self._pending)
        ready, self._pending = self._pending[:cut], self._pending[cut:]
        return restore(ready, self._mapping)

    def flush(self) -> str:
        """Whatever is still held back, restored."""
        ready, self._pending = self._pending, ""
        return restore(ready, self._mapping)

    def _safe_cut(self, text: str) -> int:
        if not self._types:
            return len(text)
        for start in range(max(0, len(text) - self._longest), len(text)):
            if start > 0 and text[start - 1].isalnum():
                continue
            if self._could_grow_into_placeholder(text[start:]):
                return start
        return len(text)

    def _could_grow_into_placeholder(self, tail: str) -> bool:
        match = _PARTIAL_TAIL.fullmatch(tail)
        if match is None:
            return False
        word = re.sub(r"\\?_|[ -]", "_", match.group(1).replace("\\_", "_")).upper()
        has_number = bool(match.group(2))
        for entity in self._types:
            if has_number:
                if word in (entity, entity + "_"):
                    return True
            elif (entity + "_").startswith(word):
                return True
        return False
