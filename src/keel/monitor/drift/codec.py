"""Numpy arrays inside JSON-able state: base64 of the raw little-endian bytes, tagged with dtype and shape.

Sketch state travels through JSON (the admin API, the database) and must round-trip bit for bit, which
decimal lists of floats do not guarantee; raw bytes do and are also four to eight times smaller.
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
import numpy.typing as npt


def encode_array(array: npt.NDArray[Any]) -> dict[str, Any]:
    little = array.astype(array.dtype.newbyteorder("<"), copy=False)
    return {
        "dtype": little.dtype.str,
        "shape": list(array.shape),
        "data": base64.b64encode(np.ascontiguousarray(little).tobytes()).decode("ascii"),
    }


def decode_array(state: dict[str, Any]) -> npt.NDArray[Any]:
    raw = base64.b64decode(state["data"])
    return np.frombuffer(raw, dtype=np.dtype(state["dtype"])).reshape(state["shape"]).copy()
