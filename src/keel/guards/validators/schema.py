"""JSON Schema validation of an answer, with compiled validators kept in a bounded LRU cache.

Compiling a schema (choosing the draft, building its reference resolver) costs far more than checking a
small document, and the same few schemas come back on every request: route schemas, and the schemas
clients send in ``response_format``. The cache is keyed by the schema's canonical JSON (sorted keys),
so two equal schemas written in a different key order share one entry.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import orjson
from jsonschema.exceptions import ValidationError as SchemaViolation
from jsonschema.protocols import Validator as CompiledSchema
from jsonschema.validators import validator_for

from keel.guards.validators.answer import FENCE_PROBLEM, parse_json_answer
from keel.guards.validators.config import OnFail, check_schema
from keel.guards.validators.jsonpath import format_location
from keel.guards.validators.result import EXCERPT_CHARS, ValidationResult, excerpt

MAX_SCHEMA_PROBLEMS = 5
DEFAULT_CACHE_ENTRIES = 256
_PROBLEM_CHARS = 200


class SchemaCache:
    """Compiled validators by canonical schema JSON; the least recently used is dropped when full."""

    def __init__(self, max_entries: int = DEFAULT_CACHE_ENTRIES) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, not {max_entries}")
        self._max_entries = max_entries
        self._compiled: OrderedDict[bytes, CompiledSchema] = OrderedDict()

    def __len__(self) -> int:
        return len(self._compiled)

    def compiled(self, schema: Mapping[str, Any]) -> CompiledSchema:
        """The validator for ``schema``; a ``ValueError`` says where an invalid schema is wrong."""
        key = orjson.dumps(schema, option=orjson.OPT_SORT_KEYS)
        found = self._compiled.get(key)
        if found is not None:
            self._compiled.move_to_end(key)
            return found
        document = dict(schema)
        check_schema(document)
        cls = validator_for(document)
        compiled: CompiledSchema = cls(document, format_checker=cls.FORMAT_CHECKER)
        self._compiled[key] = compiled
        if len(self._compiled) > self._max_entries:
            self._compiled.popitem(last=False)
        return compiled

    def problems(self, schema: Mapping[str, Any], document: Any) -> list[str]:
        """Where ``document`` breaks ``schema``: the first few errors, each naming its JSON path."""
        errors = sorted(self.compiled(schema).iter_errors(document), key=_location)
        problems = [_describe(error) for error in errors[:MAX_SCHEMA_PROBLEMS]]
        if len(errors) > MAX_SCHEMA_PROBLEMS:
            problems.append(f"… and {len(errors) - MAX_SCHEMA_PROBLEMS} more schema errors")
        return problems


class JsonSchemaValidator:
    """The answer must be JSON (bare, or in one code fence if allowed) valid against ``schema``."""

    def __init__(
        self,
        name: str,
        schema: Mapping[str, Any],
        cache: SchemaCache,
        *,
        on_fail: OnFail = "flag",
        reask: bool = False,
        accept_fences: bool = True,
    ) -> None:
        cache.compiled(schema)  # an invalid schema fails here, at start-up
        self.name = name
        self.on_fail: OnFail = on_fail
        self.reask = reask
        self._schema = schema
        self._cache = cache
        self._accept_fences = accept_fences

    @property
    def schema(self) -> Mapping[str, Any]:
        return self._schema

    async def validate(self, answer_text: str) -> ValidationResult:
        return self.check(answer_text)

    def check(self, answer_text: str) -> ValidationResult:
        answer = parse_json_answer(answer_text)
        problems = [FENCE_PROBLEM] if answer.fenced and not self._accept_fences else []
        if answer.error is not None:
            problems.append(answer.error)
        else:
            problems.extend(self._cache.problems(self._schema, answer.document))
        return ValidationResult(ok=not problems, validator=self.name, problems=problems)


def _location(error: SchemaViolation) -> str:
    return format_location(list(error.absolute_path))


def _describe(error: SchemaViolation) -> str:
    message = error.message
    shown = repr(error.instance)
    if len(shown) > EXCERPT_CHARS:
        message = message.replace(shown, excerpt(shown))
    return f"{_location(error)}: {excerpt(message, _PROBLEM_CHARS)}"
