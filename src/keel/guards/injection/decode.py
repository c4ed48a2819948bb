"""Find instructions hidden in encodings (base64, hex, URL escapes, rot13) and decode them for scoring.

An attacker who writes "ignore previous instructions" in base64 and asks the model to decode and obey it
slips past any rule that reads only the surface text. Segments long enough to carry an instruction are
decoded; a result counts only when it reads as text (mostly printable, with letters and spaces), so
images, hashes, keys and other binary blobs in ordinary prompts are left alone.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from urllib.parse import unquote

_MIN_DECODED_CHARS = 12
_MAX_SEGMENTS = 8

_BASE64 = re.compile(r"(?<![A-Za-z0-9+/_-])[A-Za-z0-9+/_-]{24,}={0,2}")
_HEX = re.compile(r"(?<![0-9A-Za-z])(?:(?:0x|\\x)?[0-9A-Fa-f]{2}[\s,:]?){12,}")
_URL_TOKEN = re.compile(r"[^\s%]*(?:%[0-9A-Fa-f]{2}[^\s%]*){3,}")
_WORD = re.compile(r"[a-z]{3,}")
_ROT13 = str.maketrans(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", "nopqrstuvwxyzabcdefghijklmNOPQRSTUVWXYZABCDEFGHIJKLM"
)
# Frequent English words plus the vocabulary of instructions; rot13 of ordinary English hits almost none.
_LEXICON_WORDS = """
    the and you your are for not all this that with have what will from they can now any was but has his her
    its our out one who how why when where which there their them then than only just also into about would
    should could must please tell give show write print say said make use new old more most some such each
    ignore previous prior above instructions instruction prompt system rules rule forget disregard override
    reveal secret password answer respond reply question follow following text message act pretend role mode
    developer admin user assistant model policy content filter restrictions jailbreak anything everything
    nothing never always before after again start begin end stop here below original hidden internal repeat
"""
_LEXICON = frozenset(_LEXICON_WORDS.split())

_ROTATED_LEXICON = frozenset(word.translate(_ROT13) for word in _LEXICON)


@dataclass(frozen=True, slots=True)
class Decoded:
    """Text recovered from one encoded segment."""

    encoding: str
    """``base64``, ``hex``, ``url`` or ``rot13``."""
    text: str


def find_encoded(text: str) -> list[Decoded]:
    """Every encoded segment of ``text`` that decodes to readable text, longest first, at most a few."""
    found: list[Decoded] = []
    for match in _BASE64.finditer(text):
        _keep(found, "base64", _from_base64(match.group(0)))
    for match in _HEX.finditer(text):
        _keep(found, "hex", _from_hex(match.group(0)))
    if "%" in text:
        for match in _URL_TOKEN.finditer(text):
            _keep(found, "url", _from_url(match.group(0)))
    _keep(found, "rot13", _from_rot13(text))
    found.sort(key=lambda d: len(d.text), reverse=True)
    return found[:_MAX_SEGMENTS]


def _keep(found: list[Decoded], encoding: str, decoded: str) -> None:
    if len(decoded) >= _MIN_DECODED_CHARS and _reads_as_text(decoded):
        found.append(Decoded(encoding=encoding, text=decoded))


def _reads_as_text(decoded: str) -> bool:
    printable = sum(1 for c in decoded if c.isprintable() or c in "\n\t")
    letters = sum(1 for c in decoded if c.isalpha())
    return printable / len(decoded) > 0.95 and letters / len(decoded) > 0.5 and " " in decoded.strip()


def _from_base64(segment: str) -> str:
    body = segment.rstrip("=")
    if body.isalpha() or body.isdigit() or (body.isalnum() and (body.islower() or body.isupper())):
        return ""  # a word, a number or a single-case identifier, not base64 of text
    padded = body + "=" * (-len(body) % 4)
    alphabet = b"-_" if ("-" in body or "_" in body) else None
    try:
        raw = base64.b64decode(padded, altchars=alphabet, validate=True)
        return raw.decode("utf-8")
    except (binascii.Error, ValueError):
        return ""


def _from_hex(segment: str) -> str:
    digits = re.sub(r"0x|\\x|[\s,:]", "", segment)
    if len(digits) % 2:
        digits = digits[:-1]
    try:
        return bytes.fromhex(digits).decode("utf-8")
    except ValueError:
        return ""


def _from_url(segment: str) -> str:
    try:
        return unquote(segment, errors="strict")
    except UnicodeDecodeError:
        return ""


def _from_rot13(text: str) -> str:
    """The rot13 reading of the stretches of lines that make far more sense rotated than as written."""
    if len(_ROTATED_LEXICON.intersection(_WORD.findall(text.lower()))) < 2:
        return ""
    stretches: list[str] = []
    for line in text.splitlines():
        words = list(_WORD.finditer(line.lower()))
        if len(words) < 3:
            continue
        rotated = [w for w in words if w.group(0) in _ROTATED_LEXICON]
        plain = sum(1 for w in words if w.group(0) in _LEXICON)
        if len(rotated) >= 3 and len(rotated) >= 0.4 * len(words) and len(rotated) > 2 * plain:
            stretches.append(line[rotated[0].start() : rotated[-1].end()].translate(_ROT13))
    return "\n".join(stretches)
