"""Secrets: API keys, access tokens, JWTs, private keys and passwords written into text.

Two kinds of evidence. Vendor formats with a fixed prefix (``sk-``, ``ghp_``, ``AKIA``, ``xoxb-`` …) are
unambiguous and are reported on sight. Anything else must sit right after a word such as key, token,
secret or password and an ``=``/``:``/"is", and, unless the word was password, look random: long, mixing
letters and digits, with high Shannon entropy per character. A git hash or a UUID on its own is
therefore not a secret; ``api_key = "9f8e…"`` is.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterator

from keel.guards.pii.base import ScannedText
from keel.guards.pii.entities import SECRET, PiiSpan

# Well-known token formats: (literal prefixes, pattern). A pattern runs only if one of its prefixes occurs.
_KNOWN_FORMATS: tuple[tuple[tuple[str, ...], re.Pattern[str]], ...] = tuple(
    (prefixes, re.compile(rf"(?<![\w-])(?:{pattern})(?![\w-])"))
    for prefixes, pattern in (
        (("sk-ant-",), r"sk-ant-[A-Za-z0-9]{2,8}-[A-Za-z0-9_-]{20,}"),  # Anthropic
        (("sk-",), r"sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}"),  # OpenAI
        (("sk_live_", "sk_test_", "rk_live_", "rk_test_"), r"(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}"),  # Stripe
        (("ghp_", "gho_", "ghu_", "ghs_", "ghr_"), r"gh[pousr]_[A-Za-z0-9]{36,}"),  # GitHub tokens
        (("github_pat_",), r"github_pat_[A-Za-z0-9_]{40,}"),  # GitHub fine-grained tokens
        (("glpat-",), r"glpat-[A-Za-z0-9_-]{20,}"),  # GitLab
        (("AKIA", "ASIA", "ABIA", "ACCA"), r"(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}"),  # AWS access key ids
        (("xoxb-", "xoxa-", "xoxp-", "xoxr-", "xoxs-"), r"xox[baprs]-[A-Za-z0-9-]{10,}"),  # Slack
        (("AIza",), r"AIza[A-Za-z0-9_-]{35}"),  # Google API keys
        (("hf_",), r"hf_[A-Za-z0-9]{30,}"),  # Hugging Face
        (("npm_",), r"npm_[A-Za-z0-9]{36}"),  # npm
        (("eyJ",), r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}"),  # JWT: header.payload.signature
    )
)

_PRIVATE_KEY = re.compile(
    r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
    r"(?:.*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|[A-Za-z0-9+/=\s:,-]*)",
    re.DOTALL,
)

# A key word, a short gap ("_id", '"', " is"), then the value.
# Matched against the lower-cased text (case-insensitive matching is several times slower).
_ASSIGNED = re.compile(
    r"(?<![^\W\d_])(?P<word>api[\s_-]?key|access[\s_-]?key|secret(?:[\s_-]?key)?|client[\s_-]?secret|"
    r"private[\s_-]?key|auth[\s_-]?token|access[\s_-]?token|refresh[\s_-]?token|token|bearer|credentials?|"
    r"passwords?|passwd|pwd|passphrase|pass[\s_-]?code|key)"
    r"[\w-]{0,12}[\"']?\s*(?::|=>?|\s(?:is|was)\s|\s)\s*[\"'`]?"
    r"(?P<value>[^\s\"'`,;<>]{6,200})"
)
_KEY_WORDS = ("key", "token", "secret", "pass", "pwd", "bearer", "credential")
# How far before a key word its longer form may start ("client_secret").
_WORD_PREFIX = 8
_PASSWORD_WORDS = ("pass", "pwd")
_MIN_RANDOM_LENGTH = 16
_MIN_BITS_PER_CHAR = 3.0


class SecretRecogniser:
    entities = frozenset({SECRET})

    def find(self, scanned: ScannedText) -> Iterator[PiiSpan]:
        text = scanned.text
        for prefixes, pattern in _KNOWN_FORMATS:
            if any(prefix in text for prefix in prefixes):
                for match in pattern.finditer(text):
                    yield PiiSpan(SECRET, match.start(), match.end(), 0.95)
        if "-----BEGIN" in text:
            for match in _PRIVATE_KEY.finditer(text):
                yield PiiSpan(SECRET, match.start(), match.end(), 1.0)
        yield from _assigned_secrets(text)


def _assigned_secrets(text: str) -> Iterator[PiiSpan]:
    """Values given to a key word: ``api_key = "…"``, ``password: …``, ``token is …``."""
    lowered = text.lower()
    if len(lowered) != len(text):
        return  # (a few characters change length when lower-cased; then offsets would not line up)
    seen: set[int] = set()
    for position in _key_word_positions(lowered):
        match = _ASSIGNED.match(lowered, _word_start(lowered, position)) or _ASSIGNED.match(lowered, position)
        if match is None or match.start("value") in seen:
            continue
        start = match.start("value")
        seen.add(start)
        value = text[start : match.end("value")].rstrip(".)]}")
        is_password = match.group("word").startswith(_PASSWORD_WORDS)
        if is_password and _looks_like_password(value):
            yield PiiSpan(SECRET, start, start + len(value), 0.75)
        elif looks_random(value):
            yield PiiSpan(SECRET, start, start + len(value), 0.8)


def _word_start(lowered: str, position: int) -> int:
    """The start of the word around a key word: "api_key" is matched from "api"."""
    start = position
    while start > max(0, position - _WORD_PREFIX) and (lowered[start - 1].isalpha() or lowered[start - 1] in "_-"):
        start -= 1
    return start


def _key_word_positions(lowered: str) -> Iterator[int]:
    """Where a key word occurs (``str.find`` is much cheaper than a regex over the whole text)."""
    for word in _KEY_WORDS:
        position = lowered.find(word)
        while position != -1:
            yield position
            position = lowered.find(word, position + 1)


def looks_random(value: str) -> bool:
    """Long, letters mixed with digits, and at least ``_MIN_BITS_PER_CHAR`` bits of entropy per character."""
    if len(value) < _MIN_RANDOM_LENGTH:
        return False
    if not (any(char.isdigit() for char in value) and any(char.isalpha() for char in value)):
        return False
    return shannon_entropy(value) >= _MIN_BITS_PER_CHAR


def shannon_entropy(value: str) -> float:
    """Bits per character of ``value``'s own character distribution."""
    counts = Counter(value)
    length = len(value)
    return -sum(count / length * math.log2(count / length) for count in counts.values())


def _looks_like_password(value: str) -> bool:
    """Not a plain word: a password someone typed mixes character classes ("hunter2", "Tr0ub4dor&3")."""
    classes = (str.isdigit, str.isupper, str.islower)
    kinds = sum(any(test(char) for char in value) for test in classes)
    symbols = any(not char.isalnum() for char in value)
    return kinds + symbols >= 2
