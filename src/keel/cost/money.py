"""Exact money: whole nano-dollars (10⁻⁹ USD).

A request to a cheap model costs a few millionths of a dollar, and spend reports add up millions of
them. Binary floats cannot hold most such amounts exactly, so sums drift; integer nano-dollars can,
and they are exactly what the database's ``Numeric(18, 9)`` column stores.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

NANOS_PER_USD = 1_000_000_000
_ONE = Decimal(1)


def decimal_of(value: float | int | str | Decimal) -> Decimal:
    """A number as the decimal it was written as: ``0.1`` is 0.1, not the binary float's 0.1000000000000000055…"""
    if isinstance(value, float):
        # repr() is the shortest decimal that reads back as the same float.
        return Decimal(repr(value))
    return Decimal(value)


def round_half_even(value: Decimal) -> int:
    """The nearest integer, ties to even (no bias when many halves are rounded)."""
    return int(value.quantize(_ONE, rounding=ROUND_HALF_EVEN))


def nanos_to_usd(nanos: int) -> Decimal:
    """Nano-dollars as an exact decimal amount of dollars (nine decimal places)."""
    return Decimal(nanos).scaleb(-9)


def usd_to_nanos(usd: float | int | str | Decimal) -> int:
    """Dollars as nano-dollars, rounded half to even at the ninth decimal place."""
    return round_half_even(decimal_of(usd).scaleb(9))
