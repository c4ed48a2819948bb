"""Checks on the answer's plain text: a regular expression, a piece of text, the length.

They are synchronous (``check``) and cheap; ``validate`` wraps them in the async interface every
validator shares, so the pipeline runs all validators the same way.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

from keel.guards.validators.config import ContainsConfig, LengthConfig, OnFail, RegexConfig
from keel.guards.validators.result import ValidationResult, quoted


class _TextCheck(ABC):
    """Shared by the text checks: identity, the async wrapper, and no schema or re-ask."""

    reask = False

    def __init__(self, name: str, on_fail: OnFail) -> None:
        self.name = name
        self.on_fail: OnFail = on_fail

    @property
    def schema(self) -> Mapping[str, Any] | None:
        return None

    async def validate(self, answer_text: str) -> ValidationResult:
        return self.check(answer_text)

    def check(self, answer_text: str) -> ValidationResult:
        problems = self.problems(answer_text)
        return ValidationResult(ok=not problems, validator=self.name, problems=problems)

    @abstractmethod
    def problems(self, answer_text: str) -> list[str]: ...


class RegexValidator(_TextCheck):
    def __init__(self, name: str, config: RegexConfig) -> None:
        super().__init__(name, config.on_fail)
        self._pattern = re.compile(config.pattern, re.IGNORECASE if config.ignore_case else 0)
        self._must_match = config.must == "match"

    def problems(self, answer_text: str) -> list[str]:
        found = self._pattern.search(answer_text)
        shown = quoted(self._pattern.pattern)
        if self._must_match and found is None:
            return [f"the answer does not match the pattern {shown}"]
        if not self._must_match and found is not None:
            return [f"the answer matches the forbidden pattern {shown} at {quoted(found.group(0))}"]
        return []


class ContainsValidator(_TextCheck):
    def __init__(self, name: str, config: ContainsConfig) -> None:
        super().__init__(name, config.on_fail)
        self._text = config.text
        self._case_sensitive = config.case_sensitive
        self._needle = config.text if config.case_sensitive else config.text.casefold()
        self._must_contain = config.must == "contain"

    def problems(self, answer_text: str) -> list[str]:
        haystack = answer_text if self._case_sensitive else answer_text.casefold()
        present = self._needle in haystack
        if self._must_contain and not present:
            return [f"the answer does not contain {quoted(self._text)}"]
        if not self._must_contain and present:
            return [f"the answer contains the forbidden text {quoted(self._text)}"]
        return []


class LengthValidator(_TextCheck):
    def __init__(self, name: str, config: LengthConfig) -> None:
        super().__init__(name, config.on_fail)
        self._config = config

    def problems(self, answer_text: str) -> list[str]:
        c = self._config
        problems: list[str] = []
        chars = len(answer_text)
        words = len(answer_text.split())
        if c.min_chars is not None and chars < c.min_chars:
            problems.append(f"the answer has {chars} characters, fewer than the minimum of {c.min_chars}")
        if c.max_chars is not None and chars > c.max_chars:
            problems.append(f"the answer has {chars} characters, more than the maximum of {c.max_chars}")
        if c.min_words is not None and words < c.min_words:
            problems.append(f"the answer has {words} words, fewer than the minimum of {c.min_words}")
        if c.max_words is not None and words > c.max_words:
            problems.append(f"the answer has {words} words, more than the maximum of {c.max_words}")
        return problems
