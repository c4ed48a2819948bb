"""A CSV file as a data source: the set of values in one column, optionally of the matching rows only.

The file is read once, off the event loop, and read again when its modification time or size changes,
so an export dropped in place by a nightly job is picked up without a restart. Checking costs one
``stat`` per call; the file is never read on the request path unless it changed.
"""

from __future__ import annotations

import asyncio
import csv
from collections.abc import Sequence
from pathlib import Path

from keel.guards.validators.sources.base import SourceUnavailable
from keel.guards.validators.sources.config import CsvWhere


class CsvSource:
    def __init__(self, path: Path, column: str, where: CsvWhere | None = None) -> None:
        self.description = f"csv {path.name}"
        self._path = path
        self._column = column
        self._where = where
        self._values: frozenset[str] = frozenset()
        self._stamp: tuple[int, int] | None = None
        """(mtime in ns, size) of the file when ``_values`` was read."""
        self._lock = asyncio.Lock()

    async def contains(self, values: Sequence[str]) -> dict[str, bool]:
        await self._refresh()
        return {value: value in self._values for value in dict.fromkeys(values)}

    async def _refresh(self) -> None:
        stamp = self._current_stamp()
        if stamp == self._stamp:
            return
        async with self._lock:
            stamp = self._current_stamp()
            if stamp == self._stamp:
                return  # another caller read it while this one waited
            self._values = await asyncio.to_thread(self._read)
            self._stamp = stamp

    def _current_stamp(self) -> tuple[int, int]:
        try:
            status = self._path.stat()
        except OSError as error:
            raise SourceUnavailable(f"{self.description}: cannot read {self._path}: {error.strerror}") from None
        return status.st_mtime_ns, status.st_size

    def _read(self) -> frozenset[str]:
        try:
            with self._path.open(newline="", encoding="utf-8-sig") as handle:
                reader = csv.DictReader(handle)
                header = reader.fieldnames or []
                wanted = [self._column] + ([self._where.column] if self._where is not None else [])
                missing = [name for name in wanted if name not in header]
                if missing:
                    raise SourceUnavailable(
                        f"{self.description}: no column {', '.join(map(repr, missing))} in the header {header}"
                    )
                return frozenset(self._matching(reader))
        except (OSError, UnicodeDecodeError, csv.Error) as error:
            raise SourceUnavailable(f"{self.description}: cannot read {self._path}: {error}") from None

    def _matching(self, rows: csv.DictReader[str]) -> list[str]:
        values: list[str] = []
        for row in rows:
            value = row.get(self._column)
            if value is None:
                continue  # a short row
            if self._where is not None and (row.get(self._where.column) or "").strip() != self._where.equals:
                continue
            values.append(value.strip())
        return values
