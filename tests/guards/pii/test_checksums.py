from __future__ import annotations

import pytest

from keel.guards.pii.checksums import card_network, iban_valid, luhn_valid


@pytest.mark.parametrize("number", ["4111111111111111", "5555555555554444", "378282246310005", "79927398713"])
def test_luhn_accepts_valid_numbers(number: str) -> None:
    assert luhn_valid(number)


@pytest.mark.parametrize("number", ["4111111111111112", "5555555555554440", "79927398710"])
def test_luhn_rejects_a_wrong_check_digit(number: str) -> None:
    assert not luhn_valid(number)


@pytest.mark.parametrize(
    ("number", "network"),
    [
        ("4111111111111111", "visa"),
        ("4222222222222", "visa"),
        ("5555555555554444", "mastercard"),
        ("2223003122003222", "mastercard"),
        ("378282246310005", "amex"),
        ("30569309025904", "diners"),
        ("6011111111111117", "discover"),
        ("3530111333300000", "jcb"),
        ("501864667909", "maestro"),
    ],
)
def test_card_network_by_issuer_range_and_length(number: str, network: str) -> None:
    assert card_network(number) == network


@pytest.mark.parametrize("number", ["1234567812345670", "9999999999999995", "41111111111111", "378282246310"])
def test_card_network_none_for_unknown_prefix_or_wrong_length(number: str) -> None:
    assert card_network(number) is None


@pytest.mark.parametrize(
    "iban", ["GB82WEST12345698765432", "DE89370400440532013000", "FR1420041010050500013M02606", "NO9386011117947"]
)
def test_iban_valid(iban: str) -> None:
    assert iban_valid(iban)


@pytest.mark.parametrize(
    "iban",
    [
        "GB82WEST12345698765433",  # check digits do not match
        "GB82WEST1234569876543",  # one character short for GB
        "XX82WEST12345698765432",  # no such country
        "DE89370400440532013001",  # one digit changed
    ],
)
def test_iban_invalid(iban: str) -> None:
    assert not iban_valid(iban)
