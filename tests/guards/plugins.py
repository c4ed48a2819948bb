"""Guards written the way users write their own: a ``Params`` model and a check method."""

from __future__ import annotations

import asyncio
from typing import ClassVar

from pydantic import Field

from keel.config.base import StrictModel
from keel.guards.base import Finding, Guard, GuardParams, GuardState, Json, Outcome
from keel.guards.texts import message_texts


class ShoutParams(GuardParams):
    max_exclamations: int = Field(default=2, ge=0)


class Shouting(Guard):
    Params: ClassVar[type[StrictModel]] = ShoutParams
    description: ClassVar[str] = "Flags prompts with too many exclamation marks."

    async def check_input(self, body: Json, state: GuardState) -> Outcome:
        assert isinstance(self.params, ShoutParams)
        count = sum(text.count("!") for text in message_texts(body))
        if count > self.params.max_exclamations:
            return Outcome(self.verdict("input", "flag", (Finding("exclamations", count),)))
        return Outcome(self.verdict("input"))


class Broken(Guard):
    async def check_input(self, body: Json, state: GuardState) -> Outcome:
        raise RuntimeError("the guard's data source is gone")


class Slow(Guard):
    async def check_input(self, body: Json, state: GuardState) -> Outcome:
        await asyncio.sleep(5)
        return Outcome(self.verdict("input"))


class NotAGuard:
    pass
