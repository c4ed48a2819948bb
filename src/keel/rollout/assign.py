"""Which side of a rollout a request goes to: a pure function of a sticky hash, called per request.

A caller's key hashes (with the rollout id) to a fixed bucket in 0..9999; the candidate gets the
buckets below ``weight * 100``. The bucket never changes during a rollout, so as the weight grows the
candidate's share only gains callers: whoever moved to the candidate at 5% is still there at 25%.
A new rollout has a new id and so draws a fresh set of callers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Literal

from keel.rollout.config import RolloutConfig
from keel.rollout.machine import RolloutState

BUCKETS = 10_000
"""Assignment resolution: one bucket is 0.01% of traffic."""


def bucket(rollout_id: str, key: str) -> int:
    """A stable bucket in [0, BUCKETS) for this key in this rollout, the same in every process."""
    # surrogatepass: a header or user id is never refused, even one that is not valid UTF-8.
    digest = hashlib.blake2b(f"{rollout_id}\0{key}".encode("utf-8", "surrogatepass"), digest_size=8).digest()
    # 2**64 is so much larger than BUCKETS that the modulo's bias is below one part in 10**15.
    return int.from_bytes(digest, "big") % BUCKETS


def assign(state: RolloutState, sticky_key: str | None, request_id: str) -> Literal["live", "candidate"]:
    """The side for one request; without a sticky key the request id is drawn on its own."""
    threshold = round(state.weight * BUCKETS / 100)
    if threshold <= 0:
        return "live"
    if threshold >= BUCKETS:
        return "candidate"
    return "candidate" if bucket(state.rollout_id, sticky_key or request_id) < threshold else "live"


def sticky_key(config: RolloutConfig, user: object, headers: Mapping[str, str]) -> str | None:
    """The request's sticky key as the rollout config names it, or None when it has none.

    ``user`` is the body's ``user`` field (any JSON value; only a non-empty string counts);
    ``headers`` must look names up case-insensitively, as the server's request headers do.
    """
    if config.sticky == "none":
        return None
    header = config.sticky_header
    if header is None:
        return user if isinstance(user, str) and user else None
    return headers.get(header) or None
