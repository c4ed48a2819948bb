"""A disk spool for request log records the database could not take.

Records are appended as JSON lines to segment files named so that they sort oldest first. A segment
is removed only after its records reached the database, so a crash at any point loses at most the
line being written; that torn line is skipped, with a warning, when the segment is read back. Files
are private (0600 in a 0700 directory): they may hold request and response bodies.

One process owns a spool directory at a time (an exclusive lock on ``.lock``): two replaying the
same segments would race on reading and removing them.
"""

from __future__ import annotations

import fcntl
import itertools
import logging
import os
import time
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

import orjson

from keel.store.records import RequestRecord, record_from_dict, record_to_dict

SEGMENT_PREFIX = "seg-"
REJECTED_PREFIX = "rejected-"
SUFFIX = ".jsonl"
LOCK_NAME = ".lock"
DEFAULT_MAX_SEGMENT_BYTES = 8 * 1024 * 1024

_log = logging.getLogger(__name__)


class SpoolLockedError(RuntimeError):
    """Another process (or another ``Spool`` in this one) holds the spool directory."""


def encode_records(records: Iterable[RequestRecord]) -> bytes:
    """JSON lines, one record each, newline-terminated."""
    # ``default=str`` writes an unexpected value as text rather than failing the batch: on this path
    # the records have nowhere else to go.
    return b"".join(
        orjson.dumps(record_to_dict(record), default=str, option=orjson.OPT_NON_STR_KEYS) + b"\n" for record in records
    )


def _write_durably(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        # The spool exists for when things go wrong; a power cut must not undo an append.
        os.fsync(fd)
    finally:
        os.close(fd)


class Spool:
    def __init__(
        self,
        directory: str | Path,
        *,
        max_segment_bytes: int = DEFAULT_MAX_SEGMENT_BYTES,
        logger: logging.Logger | None = None,
    ) -> None:
        self.directory = Path(directory)
        self._max_segment_bytes = max_segment_bytes
        self._log = logger or _log
        if not self.directory.exists():
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(self.directory, 0o700)  # mkdir's mode is filtered by the umask
        self._lock_fd: int | None = self._lock()
        # Segments left by an earlier process come first; this process never appends to them, so a
        # torn last line there can never be glued to a new record.
        self._segments = sorted(p.name for p in self.directory.glob(f"{SEGMENT_PREFIX}*{SUFFIX}") if p.is_file())
        self._active: str | None = None
        self._active_bytes = 0
        self._sequence = itertools.count()

    def _lock(self) -> int:
        fd = os.open(self.directory / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise SpoolLockedError(f"spool directory {self.directory} is in use by another writer") from None
        return fd

    def close(self) -> None:
        """Release the directory. Spooled data stays on disk for the next owner."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> Spool:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __len__(self) -> int:
        """Segments waiting to be replayed."""
        return len(self._segments)

    def is_empty(self) -> bool:
        return not self._segments

    def _new_name(self, prefix: str) -> str:
        # Wall-clock nanoseconds first so names sort by age across processes; pid and a counter keep
        # names unique.
        return f"{prefix}{time.time_ns():020d}-{os.getpid()}-{next(self._sequence):06d}{SUFFIX}"

    def append(self, records: Iterable[RequestRecord]) -> None:
        """Add records to the newest segment, durably (fsync) before returning."""
        data = encode_records(records)
        if not data:
            return
        if self._active is None or self._active_bytes >= self._max_segment_bytes:
            self._active = self._new_name(SEGMENT_PREFIX)
            self._active_bytes = 0
            self._segments.append(self._active)
        try:
            _write_durably(self.directory / self._active, data)
        except BaseException:
            # A partial write may have left a torn line: later appends must not continue it. The
            # caller keeps the records; any complete lines written here replay idempotently.
            self._active = None
            raise
        self._active_bytes += len(data)

    def reject(self, records: Iterable[RequestRecord]) -> Path | None:
        """Set aside records the database refused, in a file that is never replayed automatically."""
        data = encode_records(records)
        if not data:
            return None
        path = self.directory / self._new_name(REJECTED_PREFIX)
        _write_durably(path, data)
        return path

    def read_oldest(self) -> tuple[str, list[RequestRecord]] | None:
        """The oldest segment's id and records, or None when the spool is empty.

        Reading the segment being appended to seals it, so that removing it afterwards cannot take
        records appended after the read.
        """
        while self._segments:
            segment_id = self._segments[0]
            if segment_id == self._active:
                self._active = None
            try:
                raw = (self.directory / segment_id).read_bytes()
            except FileNotFoundError:
                self._segments.pop(0)
                continue
            return segment_id, self._decode(segment_id, raw)
        return None

    def remove(self, segment_id: str) -> None:
        """Delete a segment whose records are safely stored."""
        if segment_id == self._active:
            self._active = None
        (self.directory / segment_id).unlink(missing_ok=True)
        if segment_id in self._segments:
            self._segments.remove(segment_id)

    def _decode(self, segment_id: str, raw: bytes) -> list[RequestRecord]:
        lines = raw.split(b"\n")
        records: list[RequestRecord] = []
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                data: Any = orjson.loads(line)
                records.append(record_from_dict(data))
            except (ValueError, TypeError, KeyError, AttributeError) as error:
                torn = number == len(lines)  # no newline after it: the write was cut short
                self._log.warning(
                    "skipping %s line %d of spool segment %s: %s",
                    "torn last" if torn else "unreadable",
                    number,
                    segment_id,
                    type(error).__name__,
                )
        return records
