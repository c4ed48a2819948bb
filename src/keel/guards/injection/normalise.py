"""Canonical text for injection scoring: undo the cheap disguises attackers put on instructions.

Every layer of the detector reads the output of :func:`normalise`, so the same attack written in
fullwidth letters, with zero-width joiners between its characters, with Cyrillic look-alikes or in
leetspeak reaches the rules and the models as plain lower-case Latin text. What was undone is reported,
because the disguise itself is evidence: ordinary prompts rarely hide characters inside words.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Invisible characters: zero-width spaces and joiners, bidi embeddings/overrides/isolates, word joiner and
# invisible operators, the byte-order mark, soft hyphen, Mongolian vowel separator, variation selectors.
_INVISIBLE = re.compile(
    "[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufe00-\ufe0f\ufeff"
    "\U000e0001\U000e007f\U000e0100-\U000e01ef]"
)
# Unicode tag characters mirror ASCII invisibly ("ASCII smuggling"); they are decoded, not dropped.
_TAGS = re.compile("[\U000e0020-\U000e007e]+")

# Cyrillic, Armenian, Greek and IPA letters that render like Latin ones (after case folding), written as
# escapes so the source shows which is which.
_CONFUSABLES = str.maketrans(
    "\u0430\u0432\u0435\u0451\u043a\u043c\u043d\u043e\u0440\u0441\u0442\u0443\u0445\u0456\u0457\u0458"
    "\u0455\u0501\u0261\u051b\u051d\u0578\u03b1\u03b2\u03b5\u03b7\u03b9\u03ba\u03bd\u03bf\u03c1\u03c4"
    "\u03c5\u03c7\u03c9\u0251\u0131",
    "abeekmhopctyxiijsdgqwnabenikvoptuxwai",
)
_CONFUSABLE = re.compile("[" + "".join(chr(c) for c in _CONFUSABLES) + "]")
_LATIN = re.compile("[a-z]")
_LETTER = re.compile(r"[^\W\d_]")
_LETTER_RUN = re.compile(r"[^\W\d_]+")
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i"})
# A run of letters, digits and @ $ (with ! only inside) holding at least one substitute; not an e-mail domain,
# and not starting with @ or $ (a mention, a variable or a price).
_LEET_TOKEN = re.compile(r"(?<![\w@$])[a-z0-9][a-z0-9@$]*[0134579@$][a-z0-9@$]*(?:![a-z0-9@$]+)*(?![\w@$]|\.[a-z])")
_VERSIONED = re.compile(r"[a-z]+[0-9]+")
_LEET_CHARS = re.compile(r"[0134579@$!]")


@dataclass(frozen=True, slots=True)
class Normalised:
    """Canonical text plus what had to be undone to reach it."""

    text: str
    obfuscations: tuple[str, ...]
    hidden_text: str
    """ASCII smuggled in Unicode tag characters, decoded; empty when there was none."""


def normalise(raw: str) -> Normalised:
    """NFKC, strip invisibles, fold look-alikes and leetspeak, case-fold, collapse whitespace."""
    found: list[str] = []
    text, hidden = raw, ""
    if not raw.isascii():  # plain ASCII has nothing to fold but leetspeak: skip the Unicode passes
        hidden = "".join(chr(ord(c) - 0xE0000) for run in _TAGS.findall(raw) for c in run)
        if hidden:
            found.append("unicode-tags")
            text = _TAGS.sub("", raw)
        folded = unicodedata.normalize("NFKC", text)
        if folded != text and _styled_letters(text) >= 3:
            found.append("styled-letters")
        text, hits = _INVISIBLE.subn("", folded)
        if hits and _hides_inside_words(folded):
            found.append("invisible-chars")
    text = text.casefold()
    if not text.isascii():
        text, homoglyphs = _fold_confusables(text)
        if homoglyphs:
            found.append("homoglyph")
    text, leet = _fold_leetspeak(text)
    if leet:
        found.append("leetspeak")
    text = "\n".join(" ".join(line.split()) for line in text.splitlines() if line and not line.isspace())
    return Normalised(text=text, obfuscations=tuple(found), hidden_text=hidden)


def _styled_letters(text: str) -> int:
    """How many letters NFKC turned into plain ASCII (fullwidth, mathematical alphabets, circled letters)."""
    return sum(1 for c in text if not c.isascii() and c.isalpha() and unicodedata.normalize("NFKC", c).isascii())


def _hides_inside_words(text: str) -> bool:
    """Invisible characters between two letters split words so rules miss them; at word edges they are noise."""
    return re.search(r"\w[\u200b-\u200d\u2060\u00ad\ufeff]+\w", text) is not None


def _fold_confusables(text: str) -> tuple[str, bool]:
    """Map look-alike letters to Latin inside words that mix scripts, or in text that is mostly Latin."""
    if _CONFUSABLE.search(text) is None:
        return text, False
    letters = len(_LETTER.findall(text))
    mostly_latin = letters > 0 and len(_LATIN.findall(text)) / letters > 0.6
    changed = False

    def fold(match: re.Match[str]) -> str:
        nonlocal changed
        word = match.group(0)
        if _CONFUSABLE.search(word) is None:
            return word
        if not (mostly_latin or _LATIN.search(word)):
            return word
        out = word.translate(_CONFUSABLES)
        changed = changed or out != word
        return out

    return _LETTER_RUN.sub(fold, text), changed


def _fold_leetspeak(text: str) -> tuple[str, bool]:
    """Rewrite tokens like ``1gn0re`` or ``pr0mpt``: letters mixed with digits or symbols that read as letters.

    Only tokens with at least two letters and at least as many letters as substitutions are touched, and
    not names with a trailing number ("python3", "covid19"), e-mail addresses or short codes ("x86", "h2o").
    """
    changed = False

    def fold(match: re.Match[str]) -> str:
        nonlocal changed
        token = match.group(0)
        subs = len(_LEET_CHARS.findall(token))
        if len(token) < 4 or subs > len(token) - subs or len(_LATIN.findall(token)) < 2 or _VERSIONED.fullmatch(token):
            return token
        changed = True
        return token.translate(_LEET)

    return _LEET_TOKEN.sub(fold, text), changed
