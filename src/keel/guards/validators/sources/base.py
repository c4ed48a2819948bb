"""The data-source interface business rules check values against, and its one error."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class SourceUnavailable(Exception):
    """The source could not answer (file missing, database down, endpoint timing out or erroring).

    The message says which source and why, without credentials. Whether the answer then passes
    (fail open) or fails (fail closed) is the pipeline's decision, not the source's.
    """


class DataSource(Protocol):
    description: str
    """What the source is, for messages: ``csv products.csv``, ``sql postgresql://app@db/shop``."""

    async def contains(self, values: Sequence[str]) -> dict[str, bool]:
        """For each distinct value, whether the source has it. Raises ``SourceUnavailable``."""
        ...
