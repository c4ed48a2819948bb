"""The cost of one request from its token usage and a price.

Each component (uncached prompt tokens, cached prompt tokens, completion tokens) is priced on its own
with exact decimal arithmetic: tokens * the price per million, taken as the decimal written in the
catalogue, gives dollars; that is rounded once, half to even, to whole nano-dollars. The total is the
sum of the three rounded components, so it always equals the parts shown beside it, and it differs
from the unrounded total by at most 1.5 nano-dollars. Prices with at most three decimals (every list
price today) give whole nano-dollars per token, so no rounding happens at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from keel.cost.money import NANOS_PER_USD, decimal_of, nanos_to_usd, round_half_even
from keel.cost.prices import Price

# USD per million tokens is nano-dollars per thousand tokens: tokens * price * 1000 is nano-dollars.
_NANOS_PER_MTOK_UNIT = Decimal(NANOS_PER_USD) / Decimal(1_000_000)


@dataclass(frozen=True, slots=True)
class Cost:
    """What a request cost, in nano-dollars (10⁻⁹ USD)."""

    prompt_nanos: int  # prompt tokens not served from the cache
    completion_nanos: int
    cached_nanos: int  # prompt tokens served from the cache
    total_nanos: int
    estimated: bool  # token counts were estimated: the upstream reported no usage

    @property
    def usd(self) -> float:
        """The total as a float, for the request record and response headers.

        Exact to the nano-dollar when read back at nine decimals (as the database does) for any total
        below about four million dollars, where a float's precision runs out.
        """
        return self.total_nanos / NANOS_PER_USD

    @property
    def usd_decimal(self) -> Decimal:
        """The total as an exact decimal amount of dollars."""
        return nanos_to_usd(self.total_nanos)


def component_nanos(tokens: int, usd_per_mtok: float) -> int:
    """``tokens`` at ``usd_per_mtok``, in nano-dollars rounded half to even."""
    return round_half_even(Decimal(tokens) * decimal_of(usd_per_mtok) * _NANOS_PER_MTOK_UNIT)


def _count(value: Any) -> int:
    # Usage comes from upstreams; a missing, negative or non-integer count is treated as none.
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def cost_of(
    price: Price, usage: Mapping[str, Any] | None, fallback_prompt_tokens: int, fallback_completion_tokens: int
) -> Cost:
    """The cost of a request from its OpenAI-shaped ``usage``, or from estimated counts without one.

    ``prompt_tokens`` includes any ``prompt_tokens_details.cached_tokens``; those are billed at the
    price's cached rate when it has one, else at the input rate. Completion tokens include reasoning
    tokens, as vendors bill them. ``usage`` of None (not an empty dict) means the upstream reported
    none, and the fallback counts are used with ``estimated=True``.
    """
    if usage is None:
        prompt, completion, cached, estimated = fallback_prompt_tokens, fallback_completion_tokens, 0, True
    else:
        prompt = _count(usage.get("prompt_tokens"))
        completion = _count(usage.get("completion_tokens"))
        details = usage.get("prompt_tokens_details")
        cached = min(prompt, _count(details.get("cached_tokens"))) if isinstance(details, Mapping) else 0
        estimated = False
    prompt, completion = max(0, prompt), max(0, completion)
    cached_rate = price.input_per_mtok if price.cached_input_per_mtok is None else price.cached_input_per_mtok
    prompt_nanos = component_nanos(prompt - cached, price.input_per_mtok)
    cached_nanos = component_nanos(cached, cached_rate)
    completion_nanos = component_nanos(completion, price.output_per_mtok)
    return Cost(
        prompt_nanos=prompt_nanos,
        completion_nanos=completion_nanos,
        cached_nanos=cached_nanos,
        total_nanos=prompt_nanos + completion_nanos + cached_nanos,
        estimated=estimated,
    )
