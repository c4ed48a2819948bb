"""Minting keys and hashing them: a key is shown once and stored only as HMAC-SHA256 under a secret.

The hashing secret comes from ``KEEL_SECRET``; without it, a random one is created once in the data
directory (file mode 0600). Replicas that share a database must share ``KEEL_SECRET``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

KEY_PREFIX = "sk-keel-"


def mint_key() -> tuple[str, str]:
    """A new (key_id, secret key) pair."""
    return f"key_{secrets.token_hex(4)}", KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(secret: bytes, key: str) -> str:
    return hmac.new(secret, key.encode("utf-8"), hashlib.sha256).hexdigest()


def hint(key: str) -> str:
    return key[: len(KEY_PREFIX) + 4] + "…"


def load_hashing_secret(data_dir: Path, env: dict[str, str] | None = None) -> bytes:
    environ = os.environ if env is None else env
    value = environ.get("KEEL_SECRET")
    if value:
        return value.encode("utf-8")
    path = data_dir / "secret"
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    new = secrets.token_hex(32).encode("ascii")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as f:
        f.write(new)
    return new
