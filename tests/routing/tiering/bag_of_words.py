"""A small, real embedding for tests: hashed bag of words, L2-normalised, no model files needed."""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

DIMS = 256
_WORD = re.compile(r"[a-z0-9]+")


def embed_now(texts: Sequence[str]) -> npt.NDArray[np.float32]:
    rows = np.zeros((len(texts), DIMS), dtype=np.float32)
    for row, text in enumerate(texts):
        for word in _WORD.findall(text.lower()):
            rows[row, zlib.crc32(word.encode()) % DIMS] += 1.0
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    unit: npt.NDArray[np.float32] = (rows / np.where(norms == 0, 1.0, norms)).astype(np.float32)
    return unit


async def embed(texts: Sequence[str]) -> npt.NDArray[np.float32]:
    return embed_now(texts)
