"""The semantic response cache: answer from the most similar stored prompt of the same partition.

``lookup`` embeds the prompt, searches the partition's vectors in this process and returns the nearest
entry if it is at least ``threshold`` similar and not expired. ``put`` stores an answer in the local index
and appends it to the shared entry store, which a background task polls so that entries stored by other
replicas reach this one within ``poll_interval_s``.

A request is embedded once: ``embed`` returns a ``PromptVector`` that both ``lookup`` and ``put`` accept
in place of the text, so storing the answer after a miss does not embed the prompt again.

Nothing here raises into the request path: an embedder or store failure is a miss or a skipped store,
logged once per outage. Expiry uses the wall clock, since entries travel between machines.

Searches of small partitions run inline (a couple of milliseconds at most). Searches of partitions above
``_INLINE_ROWS`` rows run in a worker thread, and lookups that arrive meanwhile are answered together by
the next pass over the rows; changes to the index wait for a running search, so it never reads a row
being moved.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from keel.cache.semantic.embedders import Embedder, normalise_rows
from keel.cache.semantic.index import Match, SemanticIndex
from keel.cache.semantic.shared import START, SemanticEntry, SemanticEntryStore
from keel.cache.store import CachedAnswer, OutageLog, decode_answer, encode_answer
from keel.core.clock import Clock, SystemClock

__all__ = ["PromptVector", "SemanticCache", "SemanticHit"]

log = logging.getLogger("keel.cache")

# Partitions up to this many rows are searched on the event loop: about 2 ms at 384 dimensions.
_INLINE_ROWS = 16_384


@dataclass(frozen=True)
class PromptVector:
    """A prompt embedded once, reusable for the lookup and the store of the same request."""

    embedder: str
    vector: npt.NDArray[np.float32]


@dataclass(frozen=True)
class SemanticHit:
    answer: CachedAnswer
    similarity: float
    entry_id: str


@dataclass(frozen=True)
class _Stored:
    answer: bytes
    expires_at: float


@dataclass(frozen=True)
class _Query:
    partition: str
    vector: npt.NDArray[np.float32]
    threshold: float
    result: asyncio.Future[Match | None]


class SemanticCache:
    """Owns its entry store: ``aclose`` closes it."""

    def __init__(
        self,
        embedder: Embedder,
        store: SemanticEntryStore,
        *,
        capacity: int = 10_000,
        poll_interval_s: float = 1.0,
        clock: Clock | None = None,
    ) -> None:
        if poll_interval_s <= 0:
            raise ValueError("poll_interval_s must be positive")
        self.embedder = embedder
        self._store = store
        self._poll_interval_s = poll_interval_s
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._index = SemanticIndex(embedder.dimensions, capacity)
        self._entries: dict[str, _Stored] = {}
        # (expiry, entry id), soonest first; ids already evicted are skipped when they surface.
        self._expiries: list[tuple[float, str]] = []
        self._cursor = START
        # Held by a search running in a worker thread and by every change to the index.
        self._lock = asyncio.Lock()
        self._queries: list[_Query] = []
        self._searcher: asyncio.Task[None] | None = None
        self._poller: asyncio.Task[None] | None = None
        self._embedder_outage = OutageLog(f"semantic embedder {embedder.name}")
        self._entry_outage = OutageLog("semantic entries")

    def __len__(self) -> int:
        return len(self._entries)

    async def start(self) -> None:
        """Load the entries already shared, then keep polling for new ones until ``aclose``."""
        await self.sync()
        if self._poller is None:
            self._poller = asyncio.get_running_loop().create_task(self._poll())

    async def aclose(self) -> None:
        for task in (self._poller, self._searcher):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        self._poller = self._searcher = None
        await self._store.aclose()

    async def embed(self, text: str) -> PromptVector | None:
        """``text`` embedded, or None when it cannot be (embedder failure, or nothing the embedder can read)."""
        try:
            rows = await self.embedder.embed([text])
        except Exception as error:
            self._embedder_outage.failed("embed", error)
            return None
        self._embedder_outage.ok()
        vector = rows[0]
        return PromptVector(self.embedder.name, vector) if vector.any() else None

    async def lookup(self, partition: str, prompt: str | PromptVector, threshold: float) -> SemanticHit | None:
        """The live entry of ``partition`` most similar to ``prompt``, if at least ``threshold`` similar."""
        if not 0 < threshold <= 1:
            raise ValueError("threshold must be in (0, 1]")
        query = await self._vector(prompt)
        if query is None:
            return None
        if not self._lock.locked():
            # No search is reading the rows in a worker thread, so expired entries can go now.
            self._purge_expired()
        index = self._index.partition(partition)
        if index is None:
            return None
        if len(index) <= _INLINE_ROWS:
            match = index.search(query.vector, threshold)
        else:
            match = await self._search_in_worker(partition, query.vector, threshold)
        return None if match is None else self._hit(match)

    async def put(
        self,
        partition: str,
        prompt: str | PromptVector,
        answer: CachedAnswer,
        ttl_s: float,
        max_bytes: int | None = None,
    ) -> None:
        """Store ``answer`` for ``ttl_s`` seconds, unless it encodes to more than ``max_bytes``."""
        if ttl_s <= 0:
            return
        try:
            raw = encode_answer(answer, max_bytes)
        except (TypeError, ValueError) as error:
            self._entry_outage.failed("encode", error)
            return
        if raw is None:
            return
        query = await self._vector(prompt)
        if query is None:
            return
        entry = SemanticEntry(
            entry_id=uuid.uuid4().hex,
            partition=partition,
            embedder=self.embedder.name,
            vector=query.vector,
            answer=raw,
            expires_at=self._clock.now() + ttl_s,
        )
        async with self._lock:
            self._add(entry)
            self._purge_expired()
        await self._store.append(entry)

    async def sync(self) -> int:
        """Add the entries other replicas stored since the last sync; returns how many were added."""
        added = 0
        while True:
            previous = self._cursor
            entries, self._cursor = await self._store.since(previous)
            if not entries or self._cursor == previous:
                break
            async with self._lock:
                now = self._clock.now()
                for entry in entries:
                    if entry.entry_id in self._entries or entry.expires_at <= now:
                        continue
                    if entry.embedder != self.embedder.name or entry.vector.shape != (self.embedder.dimensions,):
                        continue
                    vector = normalise_rows(entry.vector)[0]
                    if not np.isfinite(vector).all() or not vector.any():
                        continue
                    self._add(entry, vector)
                    added += 1
        async with self._lock:
            self._purge_expired()
        return added

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self._poll_interval_s)
            try:
                await self.sync()
            except Exception as error:
                self._entry_outage.failed("sync", error)
            else:
                self._entry_outage.ok()

    async def _vector(self, prompt: str | PromptVector) -> PromptVector | None:
        if isinstance(prompt, str):
            return await self.embed(prompt)
        if prompt.embedder != self.embedder.name:
            raise ValueError(f"prompt embedded by {prompt.embedder!r}, this cache embeds with {self.embedder.name!r}")
        return prompt if prompt.vector.any() else None

    def _hit(self, match: Match) -> SemanticHit | None:
        stored = self._entries.get(match.entry_id)
        if stored is None or stored.expires_at <= self._clock.now():
            return None
        try:
            answer = decode_answer(stored.answer)
        except ValueError as error:
            self._entry_outage.failed("decode", error)
            # Never answers again; the index forgets it with the next purge of expired entries.
            self._entries[match.entry_id] = _Stored(stored.answer, expires_at=float("-inf"))
            return None
        self._entry_outage.ok()
        return SemanticHit(answer=answer, similarity=match.similarity, entry_id=match.entry_id)

    def _add(self, entry: SemanticEntry, vector: npt.NDArray[np.float32] | None = None) -> None:
        """Caller holds the lock."""
        evicted = self._index.add(entry.partition, entry.entry_id, entry.vector if vector is None else vector)
        for entry_id in evicted:
            self._entries.pop(entry_id, None)
        self._entries[entry.entry_id] = _Stored(entry.answer, entry.expires_at)
        heapq.heappush(self._expiries, (entry.expires_at, entry.entry_id))

    def _purge_expired(self) -> None:
        """Caller holds the lock."""
        now = self._clock.now()
        while self._expiries and self._expiries[0][0] <= now:
            _, entry_id = heapq.heappop(self._expiries)
            self._forget_if_expired(entry_id, now)
        # Entries marked unreadable or evicted still have their original slot in the heap; rebuild it
        # when those outnumber the live entries, so the heap stays proportional to the cache.
        if len(self._expiries) > 2 * len(self._entries) + 64:
            for entry_id in [i for i, stored in self._entries.items() if stored.expires_at <= now]:
                self._forget_if_expired(entry_id, now)
            self._expiries = [(stored.expires_at, entry_id) for entry_id, stored in self._entries.items()]
            heapq.heapify(self._expiries)

    def _forget_if_expired(self, entry_id: str, now: float) -> None:
        stored = self._entries.get(entry_id)
        if stored is not None and stored.expires_at <= now:
            del self._entries[entry_id]
            self._index.remove(entry_id)

    async def _search_in_worker(
        self, partition: str, vector: npt.NDArray[np.float32], threshold: float
    ) -> Match | None:
        loop = asyncio.get_running_loop()
        query = _Query(partition, vector, threshold, loop.create_future())
        self._queries.append(query)
        if self._searcher is None or self._searcher.done():
            self._searcher = loop.create_task(self._search_pending())
        return await query.result

    async def _search_pending(self) -> None:
        waiting: list[_Query] = []
        try:
            while self._queries:
                waiting, self._queries = self._queries, []
                by_partition: defaultdict[str, list[_Query]] = defaultdict(list)
                for query in waiting:
                    by_partition[query.partition].append(query)
                async with self._lock:
                    for partition, queries in by_partition.items():
                        matches = await self._search_partition(partition, queries)
                        for query, match in zip(queries, matches, strict=True):
                            if not query.result.done():
                                query.result.set_result(match)
        finally:
            # Cancelled (the cache is closing): whoever still waits gets a miss rather than waiting forever.
            for query in waiting + self._queries:
                if not query.result.done():
                    query.result.set_result(None)

    async def _search_partition(self, partition: str, queries: list[_Query]) -> list[Match | None]:
        """Caller holds the lock, so the rows cannot move while the worker thread reads them."""
        index = self._index.partition(partition)
        if index is None:
            return [None] * len(queries)
        vectors = np.stack([query.vector for query in queries])
        try:
            return await asyncio.to_thread(index.search_many, vectors, [query.threshold for query in queries])
        except Exception as error:
            self._entry_outage.failed("search", error)
            return [None] * len(queries)
