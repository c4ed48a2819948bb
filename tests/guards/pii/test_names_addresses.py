"""People's names and street addresses: heuristic, so the tests pin the intended behaviour on clear cases."""

from __future__ import annotations

from collections.abc import Callable

import pytest

Found = Callable[[str], list[tuple[str, str]]]


def persons(found: Found, text: str) -> list[str]:
    return [value for entity, value in found(text) if entity == "PERSON"]


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Please ask Dr. Ada Lovelace to review it.", "Ada Lovelace"),
        ("Thank you, Mrs. Okafor, for the update.", "Okafor"),
        ("Hi, my name is Zbigniew.", "Zbigniew"),
        ("Dear Kowalczyk, your parcel is late.", "Kowalczyk"),
        ("I met Jennifer Walsh at the conference.", "Jennifer Walsh"),
        ("Yesterday Patricia called again.", "Patricia"),
        ("The report by Maria Keller is due.", "Maria Keller"),
        ("Producer James Sparks explained the idea.", "James Sparks"),
        ("It was written by Szabina J Gelencsér last year.", "Szabina J Gelencsér"),
        ("That is Robert's car.", "Robert"),
        ("Directed By: Johannes Varvio", "Johannes Varvio"),
    ],
)
def test_names(found: Found, text: str, name: str) -> None:
    assert persons(found, text) == [name]


@pytest.mark.parametrize(
    "text",
    [
        "Will you come in May or in June?",
        "The Quarterly Review covers Data Engineering.",
        "We walked along Washington Street to Lake Tahoe.",
        "Capitalized words like Wisdom and Discipline are often mistaken for names.",
        "The ATM at the USA office is broken.",
        "Grant Park is closed on Monday.",
    ],
)
def test_not_names(found: Found, text: str) -> None:
    assert persons(found, text) == []


def test_unicode_name_offsets(found: Found) -> None:
    text = "📦 Paket für Frau Müller-Lüdenscheidt, bitte."
    assert persons(found, text) == ["Müller-Lüdenscheidt"]


def addresses(found: Found, text: str) -> list[str]:
    return [value for entity, value in found(text) if entity == "STREET_ADDRESS"]


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("Send it to 221B Baker Street please.", "221B Baker Street"),
        (
            "Ship to 1600 Pennsylvania Ave NW, Washington, DC 20500 today.",
            "1600 Pennsylvania Ave NW, Washington, DC 20500",
        ),
        ("We live at 42 Elm Rd. Apt. 3 now.", "42 Elm Rd. Apt. 3"),
        ("Bitte an Hauptstraße 5, 10115 Berlin schicken.", "Hauptstraße 5, 10115 Berlin"),
        ("Il habite 29 Rue de Tanger depuis mai.", "29 Rue de Tanger"),
        ("Spedire a Via Roma 12 entro lunedì.", "Via Roma 12"),
        ("Write to P.O. Box 287 in Tallinn.", "P.O. Box 287"),
        (
            "Address:\n74 Diakou Street\nSuite 680\nKissousa\nCyprus 36903\n\nThanks",
            "74 Diakou Street\nSuite 680\nKissousa\nCyprus 36903",
        ),
    ],
)
def test_addresses(found: Found, text: str, address: str) -> None:
    assert addresses(found, text) == [address]


@pytest.mark.parametrize(
    "text",
    [
        "She lives on Baker Street.",
        "We shipped 3 Main features and 12 Big improvements.",
        "Windows 10 and Python 3 are installed.",
        "It costs 25 dollars at the Spring 2024 sale.",
    ],
)
def test_not_addresses(found: Found, text: str) -> None:
    assert addresses(found, text) == []
