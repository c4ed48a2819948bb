"""Who is calling: the admin, a virtual key, or an anonymous local user."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Identity:
    key_id: str | None  # None for the admin key and for anonymous access
    allowed: frozenset[str]  # route or deployment names; "*" means every one
    team: str | None = None
    feature: str | None = None
    owner: str | None = None
    is_admin: bool = False

    def may_use(self, name: str) -> bool:
        return self.is_admin or "*" in self.allowed or name in self.allowed


ADMIN = Identity(key_id="admin", allowed=frozenset({"*"}), is_admin=True)
