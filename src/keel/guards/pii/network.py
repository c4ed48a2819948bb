"""E-mail addresses and IP addresses: a pattern finds candidates, a parser has the last word.

IP candidates are validated with the standard library's ``ipaddress``, so ``999.1.1.1`` and octets with
leading zeros are rejected. Dotted runs with more than four parts (``10.0.0.1.2``, a version string) are
never cut down to an address, and a run that follows ``v``/``version`` counts for little.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator

from keel.guards.pii.base import ContextCue, NumberRun, ScannedText
from keel.guards.pii.entities import EMAIL, IP_ADDRESS, PiiSpan

# E-mails are found from their "@": the domain is matched forwards, the local part collected backwards.
_DOMAIN = re.compile(r"(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+[^\W\d_]{2,63}(?![\w-]|\.[^\W_])")
_LOCAL_PUNCTUATION = frozenset("._%+-")
_MAX_LOCAL = 64

_IPV4 = re.compile(r"(?<![\w.:-])(?:\d{1,3}\.){3}\d{1,3}(?![\w-]|\.\d)")
# Hex groups joined by colons, at least three groups or a "::"; the parser decides.
_IPV6 = re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|(?:\d{1,3}\.){3}\d{1,3})?(?![\w:]|\.\d)")
_VERSION = ContextCue(("version", "ver", "release", "build", "firmware"), before=16)


class EmailRecogniser:
    entities = frozenset({EMAIL})

    def find(self, scanned: ScannedText) -> Iterator[PiiSpan]:
        text = scanned.text
        at = text.find("@")
        while at != -1:
            domain = _DOMAIN.match(text, at + 1)
            start = _local_part_start(text, at)
            if domain is not None and start is not None:
                yield PiiSpan(EMAIL, start, domain.end(), 0.95)
            at = text.find("@", at + 1)


def _local_part_start(text: str, at: int) -> int | None:
    """Where the local part ending just before ``at`` starts, or None if it is empty or malformed."""
    start = at
    while start > max(0, at - _MAX_LOCAL) and (text[start - 1].isalnum() or text[start - 1] in _LOCAL_PUNCTUATION):
        start -= 1
    while start < at and text[start] == ".":
        start += 1
    local = text[start:at]
    if not local or local.endswith(".") or ".." in local:
        return None
    return start


class IpAddressRecogniser:
    entities = frozenset({IP_ADDRESS})

    def find(self, scanned: ScannedText) -> Iterator[PiiSpan]:
        text = scanned.text
        for run in scanned.runs_with(4):
            if "." in text[run.start : run.end]:
                yield from self._v4(text, run)
        if "::" in text or text.count(":") >= 7:
            yield from self._v6(text)

    def _v4(self, text: str, run: NumberRun) -> Iterator[PiiSpan]:
        for match in _IPV4.finditer(text, run.start, run.end + 2):
            try:
                ipaddress.IPv4Address(match.group())
            except ValueError:
                continue
            score = 0.3 if _VERSION.near(text, match.start()) else 0.8
            yield PiiSpan(IP_ADDRESS, match.start(), match.end(), score)

    def _v6(self, text: str) -> Iterator[PiiSpan]:
        for match in _IPV6.finditer(text):
            candidate = match.group()
            if not any(char.isdigit() for char in candidate):
                continue  # "add::face" and the like: words, not addresses
            try:
                ipaddress.IPv6Address(candidate)
            except ValueError:
                continue
            yield PiiSpan(IP_ADDRESS, match.start(), match.end(), 0.8)
