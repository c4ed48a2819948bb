"""Upper-case letters as a regex character class, for patterns that look for capitalised words.

Python's ``re`` has no ``\\p{Lu}``; this class covers the Latin, Greek and Cyrillic blocks, so "Łukasz",
"Ólafur" and "Дмитрий" start a capitalised word just as "John" does.
"""

from __future__ import annotations


def _uppercase_class() -> str:
    """A regex character class body of the upper-case letters of the Latin, Greek and Cyrillic blocks."""
    points = [code for code in range(0x41, 0x530) if chr(code).isupper()]
    parts: list[str] = []
    run_start = previous = points[0]
    for code in [*points[1:], -1]:
        if code != previous + 1:
            parts.append(chr(run_start) if run_start == previous else f"{chr(run_start)}-{chr(previous)}")
            run_start = code
        previous = code
    return "".join(parts)


UPPERCASE_LETTERS = _uppercase_class()
