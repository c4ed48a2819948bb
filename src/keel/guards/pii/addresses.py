"""Street addresses, best effort: a house number and a street name with a street-type word.

Three shapes cover most written addresses:
- English: ``221B Baker Street``, ``1600 Pennsylvania Ave NW, Suite 4, Washington, DC 20500``;
- street type first (French, Italian, Spanish, Portuguese): ``29 Rue de Tanger``, ``Via Roma 12``;
- compound street names (German, Dutch, Nordic): ``Hauptstraße 5``, ``Passauer Strasse 33``, ``Koskikatu 25``.
A unit (``Apt. 4``), and a city with a state and ZIP code or a postcode, extend the span when present.
A bare city or a street named without a number ("on Baker Street") is not reported.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from keel.guards.pii.base import ScannedText
from keel.guards.pii.entities import STREET_ADDRESS, PiiSpan
from keel.guards.pii.letters import UPPERCASE_LETTERS as _U

_NUMBER = r"\d{1,6}[A-Za-z]?(?:[-/]\d{1,4}[A-Za-z]?)?"
_CAPWORD = rf"[{_U}][^\W\d_]*(?:['\u2019.-][^\W\d_]+)*\.?"
_NAME_WORD = rf"(?:{_CAPWORD}|\d{{1,3}}(?:st|nd|rd|th))"
_SUFFIXES = (
    "Street|St|Avenue|Ave|Av|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Place|Pl|Square|Sq|Terrace|Ter|Way|"
    "Parkway|Pkwy|Highway|Hwy|Circle|Cir|Trail|Trl|Crescent|Cres|Close|Alley|Row|Walk|Plaza|Loop|Path|Pike|Ridge|"
    "Hill|Park|Gardens|Grove|Mews|Crossing|Run|Point|Green|View|Heights|Expressway|Freeway|Turnpike|Causeway|"
    "Commons|Harbor|Harbour|Junction|Landing|Meadows?|Pass|Shores?|Springs|Summit|Valley|Village|Vista|Creek|"
    "Brook|Glen|Hollow|Manor|Oval|Quay|Wharf|Gate|Cove|Bend|Bypass|Route"
)
_UNIT = (
    r"(?:,?\s{0,3}(?:Apt|Apartment|Suite|Ste|Unit|Flat|Fl|Floor|Room|Rm|Bldg|Building|#)\.?[ \t]*#?[ \t]*"
    r"(?:\d[\w-]{0,5}|[A-Z])\b)"
)
_DIRECTION = r"(?:[ \t]+(?:N|S|E|W|NE|NW|SE|SW|North|South|East|West)\b\.?)"
_US_CITY_STATE_ZIP = rf"(?:,?\s*{_CAPWORD}(?:[ \t]+{_CAPWORD}){{0,2}},?[ \t]+[A-Z]{{2}}[ \t]+\d{{5}}(?:-\d{{4}})?)"
_UK_POSTCODE = rf"(?:,?\s*(?:{_CAPWORD}(?:[ \t]+{_CAPWORD}){{0,2}},?[ \t]+)?[A-Z]{{1,2}}\d[A-Z\d]?[ \t]?\d[A-Z]{{2}}\b)"
_POSTCODE_CITY = rf"(?:,?\s*\d{{4,5}}[ \t]+{_CAPWORD}(?:[ \t]+{_CAPWORD})?)"

_TYPE_FIRST = (
    "Rue|Avenue|Boulevard|Bd|Chemin|Allée|Impasse|Quai|Place|Route|Via|Viale|Piazza|Piazzale|Vicolo|Corso|Largo|"
    "Calle|Avenida|Carrer|Paseo|Camino|Rua|Travessa|Praça|Estrada|Ulica|ul\\.|Strada|Calea|Aleea"
)
_PARTICLE = r"(?:de|du|des|la|le|les|d'|del|della|delle|dei|di|da|do|dos|das|van|von|der|den|y|e)"
_TYPE_FIRST_STREET = rf"(?:{_TYPE_FIRST})[ \t]+(?:(?:{_CAPWORD}|{_PARTICLE})[ \t]+){{0,4}}{_CAPWORD}"
_COMPOUND_ENDINGS = (
    "straße|strasse|str\\.|weg|gasse|platz|allee|damm|ufer|chaussee|straat|laan|gracht|plein|kade|"
    "gatan|vägen|gata|vej|gade|veien|vegen|katu|utca"
)
_COMPOUND_STREET = (
    rf"(?:{_CAPWORD}[ \t]+){{0,2}}"
    rf"(?:[{_U}][^\W\d_]*?(?i:{_COMPOUND_ENDINGS})|(?:Straße|Strasse|Str\.|Weg|Gasse|Platz|Allee|u\.|út|utca|tér|körút))"
)
_TRAILING_NUMBER = rf"{_NUMBER}(?!\w){_UNIT}?{_POSTCODE_CITY}?"

# Shapes that start with the house number, tried where a number stands.
_NUMBER_FIRST = (
    re.compile(
        rf"{_NUMBER}[ \t]+(?:{_NAME_WORD}[ \t]+){{1,4}}(?:{_SUFFIXES})\b\.?{_DIRECTION}?{_UNIT}?"
        rf"(?:{_US_CITY_STATE_ZIP}|{_UK_POSTCODE})?"
    ),
    re.compile(rf"{_NUMBER},?[ \t]+{_TYPE_FIRST_STREET}(?:,?[ \t]+{_NUMBER}(?!\w))?{_UNIT}?{_POSTCODE_CITY}?"),
    re.compile(rf"{_NUMBER}[ \t]+{_COMPOUND_STREET}[ \t]+{_TRAILING_NUMBER}"),
)
# Shapes where the number follows the street: (street ending right before the number, what may follow, score).
# Any capitalised name will do as the street if a unit follows the number ("Koskikatu 25 Apt. 864").
_STREET_BEFORE_NUMBER = (
    (re.compile(rf"(?<![\w.,/-]){_TYPE_FIRST_STREET},?[ \t]+\Z"), re.compile(_TRAILING_NUMBER), 0.7),
    (re.compile(rf"(?<![\w.,/-]){_COMPOUND_STREET},?[ \t]+\Z"), re.compile(_TRAILING_NUMBER), 0.7),
    (
        re.compile(rf"(?<![\w.,/-])(?:{_CAPWORD}[ \t]+){{0,2}}{_CAPWORD},?[ \t]+\Z"),
        re.compile(rf"{_NUMBER}(?!\w){_UNIT}{_POSTCODE_CITY}?"),
        0.6,
    ),
)
_PO_BOX = re.compile(
    r"(?<!\w)(?:P\.?[ \t]?O\.?[ \t]+Box|Post(?:al)?[ \t]+Office[ \t]+Box|(?:PSC|CMR|Unit)[ \t]+\d{1,5},?[ \t]+Box)"
    r"[ \t]+\d{1,6}(?:,?\s+(?:APO|FPO|DPO)[ \t]+(?:AA|AE|AP)[ \t]+\d{5})?"
)
# An address written as a block goes on over short lines of capitalised words and postcodes (city, country).
_BLOCK_LINE = re.compile(
    rf"[ \t>,]*(?:(?:{_CAPWORD}|[0-9]{{3,6}}(?:-[0-9]{{3,4}})?|\([^()\n]{{1,30}}\))[ \t,]*){{1,5}}"
)
_SAME_LINE_PLACES = re.compile(rf"(?:,[ \t]*{_CAPWORD}(?:[ \t]+{_CAPWORD}){{0,2}}){{1,3}}(?:[ \t,]+[0-9]{{4,6}})?")
_LEADING_NUMBER = re.compile(rf"(?<![\w.,/-]){_NUMBER}[ \t]+\Z")
_MAX_BLOCK_LINES = 3
_MAX_BLOCK_LINE_LENGTH = 48
_LOOK_BACK = 80
_ABBREVIATION = re.compile(
    r"St|Ave|Av|Rd|Blvd|Ln|Dr|Ct|Pl|Sq|Ter|Pkwy|Hwy|Cir|Trl|Cres|Apt|Ste|Fl|Rm|Bldg|Bd|Str|[NSEW]|[NS][EW]"
)
_SCORES = (0.8, 0.7, 0.7)


class StreetAddressRecogniser:
    entities = frozenset({STREET_ADDRESS})

    def find(self, scanned: ScannedText) -> Iterator[PiiSpan]:
        text = scanned.text
        resume = 0
        for start in _digit_groups(text, scanned):
            if start < resume or (start > 0 and (text[start - 1].isalnum() or text[start - 1] in "_.,/-")):
                continue
            for span in self._at_number(text, start):
                extended = PiiSpan(STREET_ADDRESS, span.start, _extended_end(text, span.end), span.score)
                resume = max(resume, extended.end)
                yield extended
        if "Box" in text:
            for match in _PO_BOX.finditer(text):
                yield PiiSpan(STREET_ADDRESS, match.start(), _extended_end(text, match.end()), 0.7)

    def _at_number(self, text: str, start: int) -> Iterator[PiiSpan]:
        for shape, score in zip(_NUMBER_FIRST, _SCORES, strict=True):
            match = shape.match(text, start)
            if match is not None:
                yield PiiSpan(STREET_ADDRESS, start, _trimmed_end(match.group(), start), score)
        if not _capitalised_word_before(text, start):
            return  # the number-after shapes need a street name right before the number
        for street_shape, tail_shape, score in _STREET_BEFORE_NUMBER:
            street = street_shape.search(text, max(0, start - _LOOK_BACK), start)
            tail = tail_shape.match(text, start) if street is not None else None
            if street is not None and tail is not None:
                # A number before the street name is part of the address too ("233 Erzsébet tér 19").
                before = _LEADING_NUMBER.search(text, max(0, street.start() - 10), street.start())
                begin = street.start() if before is None else before.start()
                yield PiiSpan(STREET_ADDRESS, begin, _trimmed_end(tail.group(), start), score)
                return


def _digit_groups(text: str, scanned: ScannedText) -> Iterator[int]:
    """Where each group of digits starts: a run such as "1987 74" holds two candidate house numbers."""
    for run in scanned.numbers:
        yield run.start
        for index in range(run.start + 1, run.end):
            if text[index].isdigit() and not text[index - 1].isdigit():
                yield index


def _extended_end(text: str, end: int) -> int:
    """The end of the address with the places after it: ", Springfield, IL" or lines such as "Tallinn\nEstonia"."""
    same_line = _SAME_LINE_PLACES.match(text, end)
    if same_line is not None:
        end = _trimmed_end(same_line.group(), end)
    for _ in range(_MAX_BLOCK_LINES):
        if not text.startswith("\n", end):
            break
        after_blank = text.startswith("\n\n", end)
        line_start = end + 2 if after_blank else end + 1
        line_end = text.find("\n", line_start)
        line_end = len(text) if line_end == -1 else line_end
        if line_end - line_start > _MAX_BLOCK_LINE_LENGTH or _BLOCK_LINE.fullmatch(text, line_start, line_end) is None:
            break
        if after_blank and not any(char.isdigit() for char in text[line_start:line_end]):
            break  # past a blank line only a "Country 12345" line still belongs to the address
        end = _trimmed_end(text[line_start:line_end], line_start)
    return end


def _capitalised_word_before(text: str, index: int) -> bool:
    """Whether the word before ``index`` (past spaces and a comma) starts with a capital letter."""
    end = index
    while end > 0 and text[end - 1] in " \t,":
        end -= 1
    if end == index or end == 0:
        return False
    start = end
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    return text[start].isupper()


def _trimmed_end(matched: str, start: int) -> int:
    """The end of an address without trailing separators or a sentence's full stop (an abbreviation keeps its dot)."""
    stripped = matched.rstrip(" \t,.")
    last_word = stripped.rsplit(None, 1)[-1]
    if matched[len(stripped) : len(stripped) + 1] == "." and _ABBREVIATION.fullmatch(last_word):
        stripped += "."
    return start + len(stripped)
