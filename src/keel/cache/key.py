"""Cache keys for exact-match answers, and which requests may be answered from the cache at all."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import orjson

from keel.cache.config import CacheConfig

# Fields that change how or to whom an answer is delivered, or how it is logged, but not its content.
IGNORED_FIELDS = frozenset({"stream", "stream_options", "user", "metadata", "store", "service_tier"})
# Bumped whenever the key's recipe changes, so old entries become unreachable instead of wrong.
_KEY_VERSION = "keel-cache-v1"
# OpenAI samples at temperature 1 when the request does not say.
_DEFAULT_TEMPERATURE = 1.0


def cache_key(route: str, deployment_model: str | None, body: Mapping[str, Any]) -> str:
    """A hex SHA-256 naming the answer to ``body`` on ``route``, independent of key order in the JSON."""
    relevant = {name: value for name, value in body.items() if name not in IGNORED_FIELDS}
    # One JSON array keeps the parts unambiguous: no separator can be forged by a route or model name.
    canonical = orjson.dumps([_KEY_VERSION, route, deployment_model, relevant], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


def cacheable(body: Mapping[str, Any], config: CacheConfig) -> bool:
    """Whether an answer to ``body`` may be served from, and stored in, the cache of a route with ``config``."""
    if not config.enabled:
        return False
    n = body.get("n", 1)
    if n is not None and (not _is_number(n) or n > 1):
        # Several choices are requested to get different ones; one stored set would defeat that.
        return False
    if config.only_deterministic:
        temperature = body.get("temperature", _DEFAULT_TEMPERATURE)
        if temperature is None:
            temperature = _DEFAULT_TEMPERATURE
        if not _is_number(temperature) or temperature > 0:
            return False
    return True


def _is_number(value: object) -> bool:
    # bool is an int subclass, but `"n": true` is a malformed request, not a count.
    return isinstance(value, int | float) and not isinstance(value, bool)
