"""Horizontal bar charts drawn with text, so a terminal (or a CI log) can compare amounts at a glance.

Bars are to scale with the largest value, which fills the width; block characters split a cell into
eighths, so two values differing by an eighth of a cell still draw differently.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction

_FULL = "█"
_PARTIAL = ("", "▏", "▎", "▍", "▌", "▋", "▊", "▉")  # one to seven eighths of a cell


def bar(value: Decimal, largest: Decimal, width: int) -> str:
    """``value`` as a bar of blocks, where ``largest`` is ``width`` cells; rounded to the nearest eighth."""
    if not largest:
        return ""
    eighths = round(Fraction(value) / Fraction(largest) * width * 8)
    full, rest = divmod(eighths, 8)
    return _FULL * full + _PARTIAL[rest]


def bar_chart(rows: Sequence[tuple[str, Decimal]], width: int) -> str:
    """One line per row: the label and the amount right-aligned, a bar between them ``width`` cells at most."""
    if width < 1:
        raise ValueError(f"a chart needs a width of at least one cell, not {width}")
    if any(value < 0 for _, value in rows):
        raise ValueError("a bar chart cannot draw negative amounts")
    largest = max((value for _, value in rows), default=Decimal(0))
    amounts = [f"{value:,f}" for _, value in rows]
    label_width = max((len(label) for label, _ in rows), default=0)
    amount_width = max((len(amount) for amount in amounts), default=0)
    return "\n".join(
        f"{label:>{label_width}} {bar(value, largest, width):<{width}} {amount:>{amount_width}}"
        for (label, value), amount in zip(rows, amounts, strict=True)
    )
