"""What the response cache stores, the interface every backend offers, and what backends share.

A cached answer is either a whole ``chat.completion`` body or the ``chat.completion.chunk`` list of a
stream as it was sent; ``as_chunks`` and ``as_body`` convert between the two so either form can answer
either kind of request. Backends store answers as orjson bytes, so every hit hands out fresh objects
that a caller may modify without touching the cache.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from keel.cache.replay import as_body, as_chunks

__all__ = [
    "CachedAnswer",
    "OutageLog",
    "ResponseCache",
    "as_body",
    "as_chunks",
    "decode_answer",
    "encode_answer",
]

log = logging.getLogger("keel.cache")


@dataclass(frozen=True)
class CachedAnswer:
    body: dict[str, Any] | None
    chunks: list[dict[str, Any]] | None
    created_at: float
    model: str | None

    def __post_init__(self) -> None:
        if (self.body is None) == (self.chunks is None):
            raise ValueError("a cached answer holds exactly one of body and chunks")


class ResponseCache(Protocol):
    """An exact-match answer store. Failures never reach the caller: a broken cache is a cache miss."""

    async def get(self, key: str) -> CachedAnswer | None: ...

    async def put(self, key: str, answer: CachedAnswer, ttl_s: float, *, max_bytes: int | None = None) -> None:
        """Store ``answer`` for ``ttl_s`` seconds; an answer larger than ``max_bytes`` encoded is not stored."""
        ...

    async def aclose(self) -> None: ...


def encode_answer(answer: CachedAnswer, max_bytes: int | None = None) -> bytes | None:
    """The stored form of ``answer``, or None when it is larger than ``max_bytes``."""
    raw = orjson.dumps(
        {"body": answer.body, "chunks": answer.chunks, "created_at": answer.created_at, "model": answer.model}
    )
    if max_bytes is not None and len(raw) > max_bytes:
        return None
    return raw


def decode_answer(raw: bytes | str) -> CachedAnswer:
    """The answer stored as ``raw``; raises ValueError when it is not a well-formed entry."""
    data = orjson.loads(raw)
    if not isinstance(data, dict):
        raise ValueError("cache entry is not an object")
    body, chunks, created_at, model = data.get("body"), data.get("chunks"), data.get("created_at"), data.get("model")
    if body is not None and not isinstance(body, dict):
        raise ValueError("cache entry body is not an object")
    if chunks is not None and not (isinstance(chunks, list) and all(isinstance(c, dict) for c in chunks)):
        raise ValueError("cache entry chunks are not a list of objects")
    if not isinstance(created_at, int | float) or isinstance(created_at, bool):
        raise ValueError("cache entry has no creation time")
    if model is not None and not isinstance(model, str):
        raise ValueError("cache entry model is not a string")
    return CachedAnswer(body=body, chunks=chunks, created_at=float(created_at), model=model)


class OutageLog:
    """Reports a backend going down once, and coming back once, rather than on every request in between."""

    def __init__(self, backend: str) -> None:
        self._backend = backend
        self._down = False

    @property
    def down(self) -> bool:
        return self._down

    def failed(self, operation: str, error: BaseException) -> None:
        if self._down:
            return
        self._down = True
        log.warning(
            "response cache (%s) unavailable, serving without it: %s failed with %r", self._backend, operation, error
        )

    def ok(self) -> None:
        if self._down:
            self._down = False
            log.info("response cache (%s) available again", self._backend)


class ExternalCache(ABC):
    """A cache kept outside the process (a file, Redis): entries travel as bytes, and any failure is
    a miss or a skipped store, reported once per outage. Backends only read and write bytes."""

    def __init__(self, backend: str) -> None:
        self._outage = OutageLog(backend)

    async def get(self, key: str) -> CachedAnswer | None:
        try:
            raw = await self._read(key)
            answer = None if raw is None else decode_answer(raw)
        except Exception as error:
            self._outage.failed("get", error)
            return None
        self._outage.ok()
        return answer

    async def put(self, key: str, answer: CachedAnswer, ttl_s: float, *, max_bytes: int | None = None) -> None:
        if ttl_s <= 0:
            return
        try:
            raw = encode_answer(answer, max_bytes)
            if raw is None:
                return
            await self._write(key, raw, ttl_s)
        except Exception as error:
            self._outage.failed("put", error)
            return
        self._outage.ok()

    @abstractmethod
    async def _read(self, key: str) -> bytes | None: ...

    @abstractmethod
    async def _write(self, key: str, raw: bytes, ttl_s: float) -> None: ...
