"""Payment card numbers and IBANs: a pattern finds candidates, check digits confirm them.

Card numbers are taken as one unbroken digit run or in the usual print groups (4-4-4-4[-3], Amex/Diners
4-6-5/4-6-4) with one consistent separator; a longer run of digits is never searched for a card inside it.
IBANs may be written in groups of four and in either case.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from keel.guards.pii.base import ContextCue, NumberRun, ScannedText
from keel.guards.pii.checksums import IBAN_LENGTHS, card_network, iban_valid, luhn_valid
from keel.guards.pii.entities import CREDIT_CARD, IBAN, PiiSpan

_CARD = re.compile(
    r"(?<![\w.,+-])(?<!\d[ -])"
    r"(?:\d{12,19}"
    r"|\d{4}(?P<sep>[ -])\d{4}(?P=sep)\d{4}(?P=sep)\d{1,4}(?:(?P=sep)\d{3})?"
    r"|\d{4}(?P<sep2>[ -])\d{6}(?P=sep2)\d{4,5})"
    r"(?![\w-]|[.,]\d| \d)",
    re.ASCII,
)
# (at least 13 digits) -> (context word nearby) -> score
_SCORES = {True: {True: 0.95, False: 0.85}, False: {True: 0.8, False: 0.4}}
_CARD_CUE = ContextCue(("card", "credit", "debit", "cc", "visa", "mastercard", "amex", "maestro", "payment", "pay"))

_IBAN = re.compile(r"[A-Za-z]{2}[0-9]{2}(?: ?[A-Za-z0-9]{4}){2,7}(?: ?[A-Za-z0-9]{1,3})?(?![^\W_])")
_IBAN_CUE = ContextCue(("iban", "account", "bank", "transfer", "wire"))


class CreditCardRecogniser:
    entities = frozenset({CREDIT_CARD})

    def find(self, scanned: ScannedText) -> Iterator[PiiSpan]:
        text = scanned.text
        for run in scanned.runs_with(12):
            yield from self._in_run(text, run)

    def _in_run(self, text: str, run: NumberRun) -> Iterator[PiiSpan]:
        # Two characters past the run let the pattern see what follows it.
        for match in _CARD.finditer(text, run.start, run.end + 2):
            digits = re.sub(r"\D", "", match.group())
            if card_network(digits) is None or not luhn_valid(digits):
                continue
            cued = _CARD_CUE.near(text, match.start())
            # Twelve digits is a Maestro length, but also a common reference-number length.
            score = _SCORES[len(digits) >= 13][cued]
            yield PiiSpan(CREDIT_CARD, match.start(), match.end(), score)


class IbanRecogniser:
    entities = frozenset({IBAN})

    def find(self, scanned: ScannedText) -> Iterator[PiiSpan]:
        text = scanned.text
        resume = 0
        for run in scanned.numbers:
            start = run.start - 2  # the country code comes right before the check digits
            if start < max(resume, 0) or not text[start : run.start].isalpha() or _letter_before(text, start):
                continue
            match = _IBAN.match(text, start)
            if match is None:
                continue
            end = _iban_end(match.group())
            if end is None:
                continue
            compact = match.group()[:end].replace(" ", "").upper()
            if not iban_valid(compact):
                continue
            score = 1.0 if _IBAN_CUE.near(text, start) else 0.95
            resume = start + end
            yield PiiSpan(IBAN, start, resume, score)


def _letter_before(text: str, index: int) -> bool:
    return index > 0 and (text[index - 1].isalnum() or text[index - 1] == "_")


def _iban_end(candidate: str) -> int | None:
    """Where the IBAN in ``candidate`` ends, given its country's length: a following word is not part of it."""
    expected = IBAN_LENGTHS.get(candidate[:2].upper())
    if expected is None:
        return None
    seen = 0
    for index, char in enumerate(candidate):
        if char != " ":
            seen += 1
            if seen == expected:
                following = candidate[index + 1 : index + 2]
                return index + 1 if following in ("", " ") else None
    return None
