"""Which tier a chat request starts on: rules first, then (optionally) a vote of labelled examples.

The rules are conservative: a request reaches the cheapest tier only when it is short, has few user
turns, offers no tools (when tools go strong) and names none of the route's strong keywords. Any
rule that says no sends it straight to the strongest tier, since a cheap answer that then escalates
costs both calls. Requests the rules allow are, when the route has labelled examples, placed by the
vote of the most similar examples, which may pick any tier. This runs on every request: the keyword
pattern is compiled once, the token estimate is the offline one, and the vote is one matrix product.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from keel.core.chat_input import text_of
from keel.core.context import Json
from keel.cost.estimate import estimate_request_tokens
from keel.routing.tiering.config import ClassifierConfig
from keel.routing.tiering.examples import NearestNeighbours

_KEYWORD_ROLES = frozenset({"user", "system", "developer"})


@dataclass(frozen=True, slots=True)
class TierChoice:
    index: int
    """The tier's position, cheapest first."""
    reason: str
    """Why, for logs and response headers: "prompt 812 tokens > 400", "keyword 'refund'"..."""


def _keyword_pattern(keywords: Sequence[str]) -> re.Pattern[str] | None:
    """One pattern for all keywords, each its own group so a match tells which keyword it was.

    Word boundaries are lookarounds rather than ``\\b`` so that keywords that start or end with a
    symbol ("c++", ".net") still match as whole words; spaces in a phrase match any whitespace.
    """
    if not keywords:
        return None
    groups = ("(" + r"\s+".join(re.escape(word) for word in keyword.split()) + ")" for keyword in keywords)
    return re.compile(r"(?<!\w)(?:" + "|".join(groups) + r")(?!\w)", re.IGNORECASE)


class TierClassifier:
    """Chooses a tier for a ``chat.completions`` request body."""

    def __init__(
        self, config: ClassifierConfig, tier_names: Sequence[str], neighbours: NearestNeighbours | None = None
    ) -> None:
        if len(tier_names) < 2:
            raise ValueError("tiering needs at least two tiers")
        self._config = config
        self._strongest = len(tier_names) - 1
        self._keywords = tuple(config.strong_keywords)
        self._keyword_pattern = _keyword_pattern(self._keywords)
        self._neighbours = neighbours

    async def choose(self, body: Json, prompt_tokens: int | None = None) -> TierChoice:
        """The tier ``body`` starts on; ``prompt_tokens`` is the offline estimate when the caller has it."""
        failed = self._failed_rule(body, prompt_tokens)
        if failed is not None:
            return TierChoice(self._strongest, failed)
        tools = "tools allowed" if body.get("tools") or body.get("functions") else "no tools"
        rules = f"rules: short, {tools}"
        if self._neighbours is not None:
            text = _last_user_text(body.get("messages"))
            if text.strip():
                try:
                    index, reason = await self._neighbours.vote(text)
                except Exception as exc:  # the embedder may call out; a failed vote must not fail the request
                    return TierChoice(0, f"{rules}; vote failed: {type(exc).__name__}")
                return TierChoice(index, reason)
        return TierChoice(0, rules)

    def _failed_rule(self, body: Json, prompt_tokens: int | None) -> str | None:
        """The first rule that sends the request to the strongest tier, cheapest rules first."""
        config = self._config
        if config.tools_go_strong and (body.get("tools") or body.get("functions")):
            return "tools offered"
        messages = body.get("messages")
        if not isinstance(messages, list):
            messages = []
        turns = sum(1 for message in messages if isinstance(message, dict) and message.get("role") == "user")
        if turns > config.max_turns:
            return f"{turns} user turns > {config.max_turns}"
        keyword = self._keyword_in(messages)
        if keyword is not None:
            return f"keyword {keyword!r}"
        tokens = estimate_request_tokens(body) if prompt_tokens is None else prompt_tokens
        if tokens > config.max_prompt_tokens:
            return f"prompt {tokens} tokens > {config.max_prompt_tokens}"
        return None

    def _keyword_in(self, messages: list[Any]) -> str | None:
        pattern = self._keyword_pattern
        if pattern is None:
            return None
        for message in messages:
            if isinstance(message, dict) and message.get("role") in _KEYWORD_ROLES:
                match = pattern.search(text_of(message.get("content")))
                if match is not None and match.lastindex is not None:
                    return self._keywords[match.lastindex - 1]
        return None


def _last_user_text(messages: Any) -> str:
    if isinstance(messages, list):
        for message in reversed(messages):
            if isinstance(message, dict) and message.get("role") == "user":
                return text_of(message.get("content"))
    return ""
