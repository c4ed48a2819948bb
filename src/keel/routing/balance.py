"""Ordering a route's pool of deployments for one request, and the latency data that feeds it.

Every ordering returns all the names exactly once: the first is tried first, the rest are the failover
order. Randomness comes in as ``draws`` (uniform numbers in [0, 1), one per candidate) so that each
function is pure and can be tested and replayed.
"""

from __future__ import annotations

import hashlib
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Candidate:
    name: str
    weight: float = 1.0
    in_flight: int = 0
    latency_s: float | None = None
    """EWMA of observed latency; None while there is no data yet."""


def order_priority(cands: Sequence[Candidate]) -> list[str]:
    return [c.name for c in cands]


def order_weighted(cands: Sequence[Candidate], draws: Sequence[float]) -> list[str]:
    """A weighted random permutation: each position is filled with probability proportional to weight
    among the candidates not yet placed (Efraimidis-Spirakis)."""
    return [cands[i].name for i in _weighted_permutation(cands, draws)]


def order_least_busy(cands: Sequence[Candidate], draws: Sequence[float]) -> list[str]:
    """Fewest calls in flight first. Ties follow the weighted permutation, so a heavier deployment
    wins more of them and idle pools still spread by weight."""
    rank = _positions(_weighted_permutation(cands, draws))
    return [cands[i].name for i in sorted(range(len(cands)), key=lambda i: (cands[i].in_flight, rank[i]))]


def order_latency(cands: Sequence[Candidate], draws: Sequence[float]) -> list[str]:
    """Power of two choices on latency.

    The two sampled candidates are the first two of the weighted permutation for the same draws; the
    one with the lower latency goes first (no data counts as best, so a new deployment gets explored;
    a tie keeps the sampled order). The rest follow by ascending latency, ties by the permutation.
    Sampling two instead of taking the global best keeps a fast deployment from attracting every
    request at once.
    """
    perm = _weighted_permutation(cands, draws)
    if len(perm) < 2:
        return [cands[i].name for i in perm]
    a, b = perm[0], perm[1]
    first = b if _latency_rank(cands[b]) < _latency_rank(cands[a]) else a
    rank = _positions(perm)
    rest = sorted((i for i in perm if i != first), key=lambda i: (_latency_rank(cands[i]), rank[i]))
    return [cands[first].name, *(cands[i].name for i in rest)]


def order_sticky(cands: Sequence[Candidate], key: str) -> list[str]:
    """Weighted rendezvous hashing: deterministic for a key, keys spread in proportion to weight, and
    removing a candidate moves only the keys whose first choice it was.

    Each candidate scores ``-weight / ln(h)`` with ``h`` a stable hash of (key, name) in (0, 1): that is
    the inverse of an exponential draw with rate ``weight``, so the highest score wins with probability
    weight / total.
    """

    def score(c: Candidate) -> tuple[int, float, str]:
        if not _usable_weight(c.weight):
            return (0, 0.0, c.name)
        return (1, -c.weight / math.log(_unit_hash(key, c.name)), c.name)

    # The name as the final tie-break keeps the order independent of the pool's listing order.
    return [c.name for c in sorted(cands, key=score, reverse=True)]


def order(strategy: str, cands: Sequence[Candidate], draws: Sequence[float], sticky_key: str | None) -> list[str]:
    """Dispatch on the route's strategy; a sticky key overrides it, since keeping a user on one
    deployment (its cache, its conversation) is why stickiness was configured."""
    if sticky_key is not None:
        return order_sticky(cands, sticky_key)
    match strategy:
        case "priority":
            return order_priority(cands)
        case "weighted":
            return order_weighted(cands, draws)
        case "least_busy":
            return order_least_busy(cands, draws)
        case "latency":
            return order_latency(cands, draws)
    raise ValueError(f"unknown strategy {strategy!r}")


def _weighted_permutation(cands: Sequence[Candidate], draws: Sequence[float]) -> list[int]:
    """Indices in Efraimidis-Spirakis order: descending ``u ** (1 / w)``, compared as ``ln(u) / w``,
    which orders the same way without underflowing for small weights."""
    if len(draws) < len(cands):
        raise ValueError(f"need {len(cands)} draws, got {len(draws)}")

    def key(i: int) -> tuple[int, float]:
        u = draws[i]
        if not _usable_weight(cands[i].weight):
            # A weightless deployment should only be reached after all the others.
            return (0, u)
        return (1, math.log(u) / cands[i].weight if u > 0 else -math.inf)

    return sorted(range(len(cands)), key=key, reverse=True)


def _positions(perm: Sequence[int]) -> dict[int, int]:
    return {index: pos for pos, index in enumerate(perm)}


def _usable_weight(weight: float) -> bool:
    return weight > 0 and not math.isnan(weight)


def _latency_rank(c: Candidate) -> float:
    if c.latency_s is None or math.isnan(c.latency_s):
        return -math.inf
    return c.latency_s


def _unit_hash(key: str, name: str) -> float:
    """A stable hash of (key, name) mapped into the open interval (0, 1)."""
    k = key.encode()
    # The length prefix keeps ("ab", "c") and ("a", "bc") apart.
    digest = hashlib.blake2b(len(k).to_bytes(8, "big") + k + name.encode(), digest_size=8).digest()
    # 53 bits fit a float exactly; the half offset keeps the value off both 0 and 1.
    bits = int.from_bytes(digest, "big") >> 11
    return (bits + 0.5) / 2.0**53


@dataclass(slots=True)
class _Series:
    ewma: float
    count: int
    recent: deque[float]


class LatencyTracker:
    """Per-process latency per deployment: an EWMA for ordering, plus the most recent samples (a
    bounded window, so memory stays fixed and quantiles follow the current behaviour) for hedging."""

    def __init__(self, alpha: float = 0.2, reservoir: int = 256) -> None:
        if not 0 < alpha <= 1:
            raise ValueError("alpha must be in (0, 1]")
        if reservoir < 1:
            raise ValueError("reservoir must be at least 1")
        self._alpha = alpha
        self._reservoir = reservoir
        self._series: dict[str, _Series] = {}

    def observe(self, name: str, seconds: float) -> None:
        # A broken measurement (a clock jump, a NaN) must not poison the average for good.
        if not math.isfinite(seconds) or seconds < 0:
            return
        series = self._series.get(name)
        if series is None:
            self._series[name] = _Series(seconds, 1, deque([seconds], maxlen=self._reservoir))
            return
        series.ewma = self._alpha * seconds + (1 - self._alpha) * series.ewma
        series.count += 1
        series.recent.append(seconds)

    def ewma(self, name: str) -> float | None:
        series = self._series.get(name)
        return None if series is None else series.ewma

    def quantile(self, name: str, q: float) -> float | None:
        """The q-quantile of the recent samples, interpolating linearly between order statistics."""
        if not 0 <= q <= 1:
            raise ValueError("q must be in [0, 1]")
        series = self._series.get(name)
        if series is None:
            return None
        ordered = sorted(series.recent)
        pos = q * (len(ordered) - 1)
        lo = math.floor(pos)
        hi = min(lo + 1, len(ordered) - 1)
        return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)

    def samples(self, name: str) -> int:
        """All samples observed for ``name``, including those that have left the quantile window."""
        series = self._series.get(name)
        return 0 if series is None else series.count
