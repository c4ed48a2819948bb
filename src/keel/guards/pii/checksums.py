"""Check digits and issuer tables for payment identifiers.

A 16-digit run is far more often an order number, a timestamp or an account reference than a card, so a
card is only reported when its issuer prefix (IIN) belongs to a known network at a length that network
issues, and its Luhn check digit is right. An IBAN must have its country's registered length (ISO 13616)
and pass the mod-97 check, which catches every single-character error and nearly all others.
"""

from __future__ import annotations

from dataclasses import dataclass


def luhn_valid(digits: str) -> bool:
    """True if the digit string ends in a correct Luhn (mod 10) check digit."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


@dataclass(frozen=True, slots=True)
class _IssuerRange:
    network: str
    low: int
    high: int
    prefix_digits: int
    lengths: frozenset[int]


def _ranges(network: str, spans: str, lengths: range | tuple[int, ...]) -> tuple[_IssuerRange, ...]:
    """Issuer ranges from a compact ``"51-55 2221-2720"`` notation."""
    found = []
    for item in spans.split():
        low, _, high = item.partition("-")
        found.append(_IssuerRange(network, int(low), int(high or low), len(low), frozenset(lengths)))
    return tuple(found)


# Public issuer identification ranges of the major networks. Maestro is the only one issuing 12-digit cards.
_ISSUERS: tuple[_IssuerRange, ...] = (
    *_ranges("visa", "4", (13, 16, 19)),
    *_ranges("mastercard", "51-55 2221-2720", (16,)),
    *_ranges("amex", "34 37", (15,)),
    *_ranges("diners", "300-305 3095 36 38-39", (14, 16, 17, 18, 19)),
    *_ranges("discover", "6011 644-649 65 622126-622925", range(16, 20)),
    *_ranges("jcb", "3528-3589", range(16, 20)),
    *_ranges("jcb", "1800 2131", (15,)),
    *_ranges("unionpay", "62 81", range(16, 20)),
    *_ranges("mir", "2200-2204", range(16, 20)),
    *_ranges("maestro", "50 56-69", range(12, 20)),
)


def card_network(digits: str) -> str | None:
    """The card network whose issuer range and length fit ``digits``, or None."""
    length = len(digits)
    for issuer in _ISSUERS:
        if length in issuer.lengths and issuer.low <= int(digits[: issuer.prefix_digits]) <= issuer.high:
            return issuer.network
    return None


# Registered IBAN lengths per country (ISO 13616 registry).
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BI": 27,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27,
    "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25,
    "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18,
    "NO": 15, "OM": 23, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33,
    "SA": 24, "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28,
    "TL": 23, "TN": 24, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}  # fmt: skip


def iban_valid(compact: str) -> bool:
    """True for an upper-case IBAN without spaces of the right length for its country and mod-97 == 1."""
    if IBAN_LENGTHS.get(compact[:2]) != len(compact) or not compact[2:4].isdigit():
        return False
    if not (compact.isascii() and compact.isalnum()):
        return False
    rearranged = compact[4:] + compact[:4]
    # Letters count as two-digit numbers: A=10 … Z=35.
    number = "".join(str(int(char, 36)) for char in rearranged)
    return int(number) % 97 == 1
