"""Business rules: the values an answer names must all (or none) be present in a data source.

"Every product the assistant recommends must be in stock": extract the product ids from the answer
(a JSON path over the parsed answer, or a regular expression over its text), drop duplicates, and ask
the source about them in one call. A source that cannot answer raises ``SourceUnavailable`` out of
``validate``; the pipeline decides whether that passes or fails the answer.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from keel.guards.validators.answer import parse_json_answer
from keel.guards.validators.config import BusinessRuleConfig, JsonPathExtract, OnFail
from keel.guards.validators.jsonpath import JsonPath, parse_json_path
from keel.guards.validators.result import EXCERPT_CHARS, ValidationResult, excerpt
from keel.guards.validators.sources.base import DataSource

_VALUE_CHARS = 40


class BusinessRuleValidator:
    reask = False

    def __init__(self, config: BusinessRuleConfig, source: DataSource) -> None:
        self.name = config.name
        self.on_fail: OnFail = config.on_fail
        self._config = config
        self._source = source
        self._want_present = config.require == "all_present"
        self._extractor: JsonPath | re.Pattern[str] = (
            parse_json_path(config.extract.json_path)
            if isinstance(config.extract, JsonPathExtract)
            else re.compile(config.extract.regex)
        )
        default = "values not found in" if self._want_present else "values found in"
        self._message = config.message or f"{default} {source.description}"

    @property
    def schema(self) -> Mapping[str, Any] | None:
        return None

    async def validate(self, answer_text: str) -> ValidationResult:
        values, problem = self._extract(answer_text)
        if problem is not None:
            return self._result([problem])
        distinct = list(dict.fromkeys(values))
        if len(distinct) < self._config.min_entities:
            return self._result(
                [f"the answer names {len(distinct)} values; at least {self._config.min_entities} needed"]
            )
        if len(distinct) > self._config.max_entities:
            return self._result(
                [f"the answer names {len(distinct)} values, more than the {self._config.max_entities} checked"]
            )
        if not distinct:
            return self._result([])
        present = await self._source.contains(distinct)
        offending = [value for value in distinct if present.get(value, False) != self._want_present]
        problems = [f"{self._message}: {_listing(offending)}"] if offending else []
        return self._result(problems, entities_checked=len(distinct))

    def _extract(self, answer_text: str) -> tuple[list[str], str | None]:
        if isinstance(self._extractor, re.Pattern):
            group = 1 if self._extractor.groups else 0
            return [m.group(group) for m in self._extractor.finditer(answer_text) if m.group(group)], None
        answer = parse_json_answer(answer_text)
        if answer.error is not None:
            return [], f"{answer.error}; cannot read {self._extractor.expression}"
        return [text for found in self._extractor.find(answer.document) if (text := _as_text(found))], None

    def _result(self, problems: list[str], entities_checked: int = 0) -> ValidationResult:
        return ValidationResult(
            ok=not problems, validator=self.name, problems=problems, entities_checked=entities_checked
        )


def _as_text(value: Any) -> str | None:
    """Strings (trimmed) and numbers as JSON writes them; objects, arrays, booleans and null are skipped."""
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _listing(values: list[str]) -> str:
    """The values, comma-separated, within about ``EXCERPT_CHARS`` characters, then a count of the rest."""
    shown: list[str] = []
    length = 0
    for value in values:
        text = excerpt(value, _VALUE_CHARS)
        if shown and length + len(text) + 2 > EXCERPT_CHARS:
            break
        shown.append(text)
        length += len(text) + 2
    rest = len(values) - len(shown)
    return ", ".join(shown) + (f" (+{rest} more)" if rest else "")
