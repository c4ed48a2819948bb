"""People's names, best effort and offline: capitalised words judged by titles, cue phrases and name lists.

There is no language model here, so a name is inferred the way a careful reader skimming would:
- after a title ("Dr. Ada Lovelace", "Mrs. Okafor") or a cue ("my name is …", "Dear …", "named …");
- a known first name followed by more capitalised words ("Maria Keller"), or a known surname after an
  unknown capitalised word ("Krisztián Smith");
- a known first name on its own, unless it is also a common word ("Will", "May", "Grant");
- words introduced as a speaker or author ("says Liisa Lepistö", "written by …");
- two or three unknown capitalised words with letters beyond ASCII ("Miklós Hajdu"), at the threshold.
The name lists (``data/``) hold frequent US census names, so other names rely on the cues and shapes.
Capitalised runs next to place or organisation words ("Washington Street", "Lake Tahoe", "Smith Ltd")
are not names. Names written in lower case, and unfamiliar names with no cue, are missed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum, auto

from keel.guards.pii.base import ScannedText
from keel.guards.pii.entities import PERSON, PiiSpan
from keel.guards.pii.letters import UPPERCASE_LETTERS
from keel.guards.pii.lexicon import NameLexicon

_WORD = rf"[{UPPERCASE_LETTERS}][^\W\d_]*(?:['\u2019-][^\W\d_]+)*"
# A run of capitalised words on one line, each possibly ending in a full stop ("Mr.", "J.", "Smith.").
_RUN = re.compile(rf"{_WORD}\.?(?:[ \t]+{_WORD}\.?)*(?![\w@])")
# A run glued to what precedes it ("x.Smith", "@Ada", "abcDef") is not a name.
_GLUED = frozenset("'\u2019.@/#-_")
_POSSESSIVE = ("'s", "\u2019s")

_STRONG_CUE = re.compile(
    r"(?:\bnames?(?:'s|\s+is|\s+was|\s+are|\s*:|\s*\?)|\bnamed|\bcalled|\bcall\s+me|\bdear|\bhi|\bhello|\bhey|"
    r"\bsigned|\bsincerely|\bregards|\battn|\battention|\b(?:mr|mrs|ms|dr)\.?|"
    r"\b(?:directed|written|produced|signed|authored|composed|performed)\s+by)[\s,:]*$",
    re.IGNORECASE,
)
_WEAK_CUE = re.compile(
    r"(?:\bi\s+am|\bi'm|\bthis\s+is|\bit's|\bby|\bwith|\bfrom|\bto|\band|\bunder|\badd|\bpartner|\bkid|\bson|"
    r"\bdaughter|\bwife|\bhusband|\bmother|\bfather|\bbrother|\bsister|\bfriend|\bcontact|\bask\s+for|\bspeak\s+to|"
    r"\bfollow\s+up\s+with|\bguardian|\bbeneficiary)[\s,:]*$",
    re.IGNORECASE,
)
# Words that introduce a speaker or an author: "says Liisa Lepistö", "Producer Ana Ruiz explained".
_ATTRIBUTION_CUE = re.compile(
    r"\b(?:says|said|asked|replied|wrote|told|explained|producer|director|author|singer|speaker)[\s,:]*$",
    re.IGNORECASE,
)
_CUE_WINDOW = 32
_MAX_NAME_WORDS = 4


class _Kind(Enum):
    TITLE = auto()
    NOT_NAME = auto()
    PLACE = auto()
    INITIAL = auto()
    FIRST = auto()
    FIRST_AMBIGUOUS = auto()
    SURNAME = auto()
    SURNAME_AMBIGUOUS = auto()
    UNKNOWN = auto()


_BREAKS = frozenset({_Kind.TITLE, _Kind.NOT_NAME, _Kind.PLACE})
_KNOWN = frozenset({_Kind.FIRST, _Kind.FIRST_AMBIGUOUS, _Kind.SURNAME, _Kind.SURNAME_AMBIGUOUS})
_GIVEN_OR_SURNAME = frozenset({_Kind.FIRST, _Kind.SURNAME})


@dataclass(frozen=True, slots=True)
class _Token:
    start: int
    end: int
    kind: _Kind
    closes: bool  # a full stop or a possessive: no name goes on past this word
    non_ascii: bool


class PersonRecogniser:
    entities = frozenset({PERSON})

    def __init__(self, lexicon: NameLexicon) -> None:
        self._lexicon = lexicon

    def find(self, scanned: ScannedText) -> Iterator[PiiSpan]:
        text = scanned.text
        not_names = self._lexicon.not_names
        for run in _RUN.finditer(text):
            start, end = run.span()
            if start > 0 and (text[start - 1].isalnum() or text[start - 1] in _GLUED):
                continue
            if end - start < 2 or (" " not in run.group() and run.group().rstrip(".").casefold() in not_names):
                continue  # most capitalised words start a sentence: settle those at once
            yield from self._judge_run(text, self._tokens(text, start, end))

    def _tokens(self, text: str, start: int, end: int) -> list[_Token]:
        tokens = []
        for word in re.finditer(r"\S+", text[start:end]):
            token_start, token_end = start + word.start(), start + word.end()
            raw = word.group()
            closes = raw.endswith(".")
            if closes:
                raw = raw[:-1]
                token_end -= 1
            if raw.endswith(_POSSESSIVE):
                raw = raw[:-2]
                token_end -= 2
                closes = True
            kind = self._kind(raw)
            if kind in (_Kind.TITLE, _Kind.INITIAL):
                closes = False
            tokens.append(_Token(token_start, token_end, kind, closes, not raw.isascii()))
        return tokens

    def _kind(self, word: str) -> _Kind:
        folded = word.casefold()
        lexicon = self._lexicon
        if folded in lexicon.titles:
            return _Kind.TITLE
        if len(word) == 1:
            return _Kind.INITIAL
        if word.isupper() or folded in lexicon.not_names:
            return _Kind.NOT_NAME  # acronyms ("ATM", "USA") and function words
        if folded in lexicon.place_words:
            return _Kind.PLACE
        ambiguous = folded in lexicon.ambiguous
        if folded in lexicon.first_names:
            return _Kind.FIRST_AMBIGUOUS if ambiguous else _Kind.FIRST
        if folded in lexicon.surnames:
            return _Kind.SURNAME_AMBIGUOUS if ambiguous else _Kind.SURNAME
        return _Kind.UNKNOWN

    def _judge_run(self, text: str, tokens: list[_Token]) -> Iterator[PiiSpan]:
        """Split a run at titles, function words and place words, and judge each part."""
        segment: list[_Token] = []
        titled = after_place = False
        for token in tokens:
            if token.kind in _BREAKS:
                if segment and token.kind is not _Kind.PLACE and not after_place:
                    yield from self._judge(text, segment, titled)
                segment = []
                titled = token.kind is _Kind.TITLE
                after_place = token.kind is _Kind.PLACE
                continue
            segment.append(token)
            if token.closes:
                if not after_place:
                    yield from self._judge(text, segment, titled)
                segment = []
                titled = after_place = False
        if segment and not after_place:
            yield from self._judge(text, segment, titled)

    def _judge(self, text: str, segment: list[_Token], titled: bool) -> Iterator[PiiSpan]:
        # Initials belong inside a name, not at its edges.
        while segment and segment[-1].kind is _Kind.INITIAL:
            segment = segment[:-1]
        # "Producer James Sparks": a known first name after unknown words starts the name.
        if not titled and segment and segment[0].kind is _Kind.UNKNOWN:
            given = next((i for i, token in enumerate(segment) if token.kind is _Kind.FIRST), 0)
            segment = segment[given:]
        if not segment or len(segment) > _MAX_NAME_WORDS:
            return
        start, end = segment[0].start, segment[-1].end
        before = text[max(0, start - _CUE_WINDOW) : start]
        score = _score(segment, titled, before)
        if score is not None:
            yield PiiSpan(PERSON, start, end, score)


def _score(segment: list[_Token], titled: bool, before: str) -> float | None:
    """How sure we are that these words, after this text, are a person's name."""
    if titled:
        return 0.85
    if _STRONG_CUE.search(before):
        return 0.8
    kinds = [token.kind for token in segment]
    if len(kinds) <= 3 and _ATTRIBUTION_CUE.search(before):
        return 0.7
    first, last = kinds[0], kinds[-1]
    known = any(kind in _KNOWN for kind in kinds)
    weak_cue = _WEAK_CUE.search(before) is not None
    if len(kinds) == 1:
        if first is _Kind.FIRST:
            return 0.75 if weak_cue else 0.6
        return 0.6 if weak_cue and known else None
    if first is _Kind.FIRST:
        return 0.85 if last in _KNOWN else 0.7
    if first is _Kind.FIRST_AMBIGUOUS and last in _GIVEN_OR_SURNAME:
        return 0.7
    if last is _Kind.SURNAME and first is not _Kind.INITIAL:
        return 0.6
    if weak_cue and known:
        return 0.7
    if _Kind.INITIAL in kinds[1:-1]:
        return 0.55  # "Szabina J Gelencsér"
    if len(kinds) in (2, 3) and all(kind is _Kind.UNKNOWN for kind in kinds) and any(t.non_ascii for t in segment):
        return 0.5  # "Liisa Lepistö", "Miklós Hajdu": the shape of a European name not in the lists
    return None
