"""Cards, IBANs, SSNs, IP addresses and phone numbers: what is found, and what must not be."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from keel.guards.pii import PiiDetector

Found = Callable[[str], list[tuple[str, str]]]


@pytest.mark.parametrize(
    "card",
    ["4111111111111111", "4111 1111 1111 1111", "4111-1111-1111-1111", "3782 822463 10005", "6011000990139424"],
)
def test_card_numbers_in_their_printed_forms(found: Found, card: str) -> None:
    assert found(f"Please charge card {card} today.") == [("CREDIT_CARD", card)]


@pytest.mark.parametrize(
    "text",
    [
        "Order 4111111111111112 has shipped.",  # Luhn-invalid
        "Reference 1234567812345670 is closed.",  # Luhn-valid, no issuer starts with 12
        "ISBN 978-3-16-148410-0 is on the cover.",
        "The event happened at 1700000000000 ms since the epoch.",
        "Account 41111111111111110000 is longer than any card.",
        "Mixed separators 4111 1111-1111 1111 are not a printed card.",
    ],
)
def test_not_card_numbers(found: Found, text: str) -> None:
    assert [entity for entity, _ in found(text) if entity == "CREDIT_CARD"] == []


def test_twelve_digit_maestro_needs_a_card_word(found: Found) -> None:
    assert found("Ticket 501864667909 was printed.") == []
    assert found("My debit card 501864667909 was declined.") == [("CREDIT_CARD", "501864667909")]


@pytest.mark.parametrize(
    "iban",
    ["GB82 WEST 1234 5698 7654 32", "GB82WEST12345698765432", "gb82west12345698765432", "DE89370400440532013000"],
)
def test_iban(found: Found, iban: str) -> None:
    assert found(f"Wire it to {iban} please.") == [("IBAN", iban)]


def test_iban_stops_at_its_country_length(found: Found) -> None:
    text = "IBAN GB82 WEST 1234 5698 7654 32 TEST was used."
    assert found(text) == [("IBAN", "GB82 WEST 1234 5698 7654 32")]


def test_iban_with_bad_checksum_is_not_reported(found: Found) -> None:
    assert found("IBAN GB82 WEST 1234 5698 7654 33 was used.") == []


def test_ssn_with_dashes(found: Found) -> None:
    assert found("His number is 536-90-4399 on file.") == [("US_SSN", "536-90-4399")]


def test_ssn_context_raises_the_score(detector: PiiDetector) -> None:
    plain = detector.detect("Reference 536 90 4399 noted.")
    cued = detector.detect("My SSN is 536 90 4399.")
    assert plain == []  # spaced and without context it stays below the default threshold
    assert [(s.entity, s.score) for s in cued] == [("US_SSN", 0.85)]


@pytest.mark.parametrize(
    "ssn", ["000-12-3456", "666-12-3456", "912-12-3456", "536-00-4399", "536-90-0000", "123-45-6789"]
)
def test_impossible_or_published_ssns_are_rejected(found: Found, ssn: str) -> None:
    assert [entity for entity, _ in found(f"SSN: {ssn}") if entity == "US_SSN"] == []


@pytest.mark.parametrize("address", ["192.168.1.10", "8.8.8.8", "2001:db8::8a2e:370:7334", "fe80::1ff:fe23:4567:890a"])
def test_ip_addresses(found: Found, address: str) -> None:
    assert found(f"The request came from {address}.") == [("IP_ADDRESS", address)]


@pytest.mark.parametrize(
    "text",
    [
        "Upgrade to 10.0.0.1.2 tonight.",
        "Upgrade to version 1.2.3.4 tonight.",
        "Octets 256.1.1.1 do not exist.",
        "Leading zeros as in 010.001.001.001 are ambiguous and rejected.",
        "The MAC is 00:1A:2B:3C:4D:5E and the time 12:30:45.",
        "C++ code such as std::vector is not an address.",
    ],
)
def test_not_ip_addresses(found: Found, text: str) -> None:
    assert [entity for entity, _ in found(text) if entity == "IP_ADDRESS"] == []


@pytest.mark.parametrize(
    "phone",
    ["+1 (415) 555-2671", "(415) 555-2671", "020 7946 0958", "+44 20 7946 0958", "030 12345678", "01 42 68 53 00"],
)
def test_phone_numbers_of_the_default_regions(found: Found, phone: str) -> None:
    assert found(f"Call me at {phone} tomorrow.") == [("PHONE_NUMBER", phone)]


def test_international_number_from_another_region(found: Found) -> None:
    assert found("Our Zurich desk: +41 44 668 18 00.") == [("PHONE_NUMBER", "+41 44 668 18 00")]


@pytest.mark.parametrize(
    "text",
    [
        "It ran from 2019-2023 in 12 cities.",
        "Released on 2024-05-17 at 12:30.",
        "Build 1234567 passed.",
        "Pi is 3.1415926.",
    ],
)
def test_not_phone_numbers(found: Found, text: str) -> None:
    assert [entity for entity, _ in found(text) if entity == "PHONE_NUMBER"] == []


def test_unknown_phone_region_is_rejected() -> None:
    with pytest.raises(ValueError, match="phone regions"):
        PiiDetector(phone_regions=("XX",))
