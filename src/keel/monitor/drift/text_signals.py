"""Cheap, offline reads of a text: its language (en, de, fr, es or other) and whether an answer is a refusal.

Both are guesses meant for distributions, not for single decisions: a shift in the share of German
prompts or of refusals is what drift monitoring needs, and a few percent of wrong guesses, as long as
they are wrong the same way in both windows, does not hide it.

Language, from the first 2,000 characters: text mostly in a non-Latin script is ``other``; otherwise
each language scores one point per word from its list of frequent function words and per letter only
it uses (ß, ñ, ç ...). The best score wins when it is at least 2 and beats the runner-up; anything else
is ``other``. Words shared by two of the languages (``la``, ``de``, ``que``, ``die``, ``was`` ...) are
left out of the lists, so each word points at one language. About 10 µs for a 100-word prompt.

Refusal: the answer starts with one of the usual English refusal openings ("I'm sorry, but I can't",
"I cannot help with", "As an AI" ...); sympathy ("I'm sorry to hear ...") is not one.
"""

from __future__ import annotations

import re
from collections import Counter

LANGUAGES = ("en", "de", "fr", "es")
OTHER_LANGUAGE = "other"


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_STOPWORDS: dict[str, frozenset[str]] = {
    "en": _words(
        "the and is are of to that it for with you this what how can my not have be do please i your from "
        "they would there which or if we"
    ),
    "de": _words(
        "der das und ist nicht ich ein eine zu mit sie auf für wie mein bitte kann den dem sind haben wir "
        "auch einen sich noch nach bei aus oder wenn aber"
    ),
    "fr": _words(
        "le les et est une pour pas je vous qui dans du ce sur avec mon ma comment bonjour merci au il elle "
        "sont mais ou être avoir nous très"
    ),
    "es": _words(
        "el los las y una por para con mi como qué cómo está hola gracias pero lo al del yo usted muy hay "
        "también puedo necesito"
    ),
}
_LANGUAGE_OF = {word: language for language, words in _STOPWORDS.items() for word in words}
_MARKS = {
    language: re.compile(f"[{marks}]")
    for language, marks in {"de": "äöüß", "fr": "èêëçàùœîôâ", "es": "ñ¿¡áíóú"}.items()
}
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")
_NON_LATIN = re.compile(r"[^\W\d_\u0000-\u024f]")  # a letter outside the Latin blocks
SCAN_CHARS = 2000  # the language of a long text shows in its first paragraphs

_REFUSAL = re.compile(
    r"""^\W*(?:
        (?:i'?m|i\s+am)\s+(?:very\s+|really\s+|so\s+)?sorry(?!\s+(?:to\s+hear|for\s+the|about|that\s+you))
      | sorry,?\s+(?:but\s+)?i
      | i\s+apologi[sz]e
      | unfortunately,?\s+i\s+(?:can(?:no|')t|am\s+unable|'m\s+unable|am\s+not\s+able)
      | i\s+(?:can(?:no|')t|won'?t|will\s+not)\s+(?:help|assist|provide|comply|do\s+that|answer|fulfil|share|support)
      | i(?:\s+am|'m)\s+(?:not\s+able|unable)\s+to
      | as\s+an\s+ai\b
    )""",
    re.IGNORECASE | re.VERBOSE,
)


def guess_language(text: str) -> str:
    head = text[:SCAN_CHARS].lower()
    words = _WORD.findall(head)
    letters = sum(map(len, words))
    if not letters or len(_NON_LATIN.findall(head)) * 2 > letters:
        return OTHER_LANGUAGE
    scores = Counter(_LANGUAGE_OF[word] for word in words if word in _LANGUAGE_OF)
    for language, marks in _MARKS.items():
        scores[language] += len(marks.findall(head))
    ranked = [*scores.most_common(2), ("", 0)]
    (best, top), (_, second) = ranked[0], ranked[1]
    return best if top >= 2 and top > second else OTHER_LANGUAGE


def is_refusal(answer: str) -> bool:
    return _REFUSAL.match(answer.replace("\u2019", "'")) is not None
