"""The word lists behind the PERSON recogniser, read once from the package's ``data/`` folder.

Words are compared case-folded; a data line may hold one word or several separated by spaces, and lines
starting with ``#`` are comments. A name that is also an ordinary English word ("Will", "May", "Brown")
is listed in ``name_words.txt``: it only counts as a name next to stronger evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources


def _read(name: str) -> frozenset[str]:
    text = (resources.files("keel.guards.pii") / "data" / name).read_text(encoding="utf-8")
    return frozenset(word.casefold() for line in text.splitlines() if not line.startswith("#") for word in line.split())


@dataclass(frozen=True, slots=True)
class NameLexicon:
    first_names: frozenset[str]
    surnames: frozenset[str]
    ambiguous: frozenset[str]
    titles: frozenset[str]
    not_names: frozenset[str]
    place_words: frozenset[str]

    @classmethod
    def load(cls) -> NameLexicon:
        return cls(
            first_names=_read("first_names.txt"),
            surnames=_read("surnames.txt"),
            ambiguous=_read("name_words.txt"),
            titles=_read("titles.txt"),
            not_names=_read("not_names.txt"),
            place_words=_read("place_words.txt"),
        )
