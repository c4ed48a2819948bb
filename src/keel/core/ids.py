"""Request ids: unique across processes and restarts, cheap enough to make for every request."""

from __future__ import annotations

import itertools
import secrets


class RequestIds:
    def __init__(self) -> None:
        self._prefix = f"req_{secrets.token_hex(6)}"  # random per process
        self._counter = itertools.count(1)

    def new(self) -> str:
        return f"{self._prefix}{next(self._counter):012x}"
