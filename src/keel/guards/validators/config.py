"""Config of a route's output validators: a list of checks, each picked by ``type``.

Every check has ``on_fail`` (what the pipeline does when it fails; only stored here) and an optional
``name`` (how it appears in problems, logs and metrics; defaults to its type). Patterns, JSON paths and
inline schemas are compiled here, so a broken one is a config error naming its field.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from jsonschema.exceptions import SchemaError
from jsonschema.validators import validator_for
from pydantic import Discriminator, Field, Tag, field_validator, model_validator

from keel.config.base import StrictModel
from keel.guards.validators.jsonpath import format_location, parse_json_path
from keel.guards.validators.result import excerpt
from keel.guards.validators.sources.config import SourceConfig

OnFail = Literal["retry", "fallback", "flag", "block"]
"""retry: ask the model again; fallback: answer from the route's fallback; flag: pass the answer and
record the problems; block: refuse the answer."""

VALIDATOR_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"


class _ValidatorConfigBase(StrictModel):
    name: str | None = Field(default=None, pattern=VALIDATOR_NAME_PATTERN)
    on_fail: OnFail = "flag"


class JsonSchemaConfig(_ValidatorConfigBase):
    """The answer must be JSON valid against a JSON Schema, given inline or in a file."""

    type: Literal["json_schema"]
    json_schema: dict[str, Any] | None = Field(default=None, alias="schema")
    schema_file: str | None = None
    """A JSON or YAML file holding the schema; relative paths are relative to the config file."""
    fences: Literal["accept", "reject"] = "accept"
    """``accept``: JSON inside one ```json code fence passes. ``reject``: the fence is a problem."""
    reask: bool = False
    """On failure, the pipeline first re-asks the model once with the problems, then applies on_fail."""

    @field_validator("json_schema")
    @classmethod
    def _valid_schema(cls, schema: dict[str, Any] | None) -> dict[str, Any] | None:
        if schema is not None:
            check_schema(schema)
        return schema

    @model_validator(mode="after")
    def _one_schema(self) -> JsonSchemaConfig:
        if (self.json_schema is None) == (self.schema_file is None):
            raise ValueError("give exactly one of `schema` (inline) or `schema_file`")
        return self


class RegexConfig(_ValidatorConfigBase):
    """The answer must (or must not) contain a match of a regular expression (Python syntax)."""

    type: Literal["regex"]
    pattern: str = Field(min_length=1)
    must: Literal["match", "not_match"] = "match"
    ignore_case: bool = False

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, pattern: str) -> str:
        _compile(pattern)
        return pattern


class ContainsConfig(_ValidatorConfigBase):
    """The answer must (or must not) contain a piece of text."""

    type: Literal["contains"]
    text: str = Field(min_length=1)
    must: Literal["contain", "not_contain"] = "contain"
    case_sensitive: bool = False


class LengthConfig(_ValidatorConfigBase):
    """Bounds on the answer's length in characters and in words (runs of non-space characters)."""

    type: Literal["length"]
    min_chars: int | None = Field(default=None, ge=0)
    max_chars: int | None = Field(default=None, ge=0)
    min_words: int | None = Field(default=None, ge=0)
    max_words: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _bounds(self) -> LengthConfig:
        bounds = (self.min_chars, self.max_chars, self.min_words, self.max_words)
        if all(bound is None for bound in bounds):
            raise ValueError("give at least one of min_chars, max_chars, min_words, max_words")
        for unit, low, high in (("chars", self.min_chars, self.max_chars), ("words", self.min_words, self.max_words)):
            if low is not None and high is not None and low > high:
                raise ValueError(f"min_{unit} ({low}) is greater than max_{unit} ({high})")
        return self


class JsonPathExtract(StrictModel):
    """Values at a JSON path of the parsed answer (strings as they are, numbers as written)."""

    json_path: str

    @field_validator("json_path")
    @classmethod
    def _parsable(cls, path: str) -> str:
        parse_json_path(path)
        return path


class RegexExtract(StrictModel):
    """Every match of a regular expression in the answer text: the first group if it has groups."""

    regex: str = Field(min_length=1)

    @field_validator("regex")
    @classmethod
    def _compiles(cls, pattern: str) -> str:
        _compile(pattern)
        return pattern


def _extract_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        keys = value.keys() & {"json_path", "regex"}
        return next(iter(keys)) if len(keys) == 1 else None
    if isinstance(value, JsonPathExtract | RegexExtract):
        return "json_path" if isinstance(value, JsonPathExtract) else "regex"
    return None


Extract = Annotated[
    Annotated[JsonPathExtract, Tag("json_path")] | Annotated[RegexExtract, Tag("regex")],
    Discriminator(
        _extract_kind,
        custom_error_type="extract_kind",
        custom_error_message="give exactly one of `json_path` or `regex`",
    ),
]


class BusinessRuleConfig(_ValidatorConfigBase):
    """Values extracted from the answer must all be (or none be) present in a data source."""

    type: Literal["business_rule"]
    name: str = Field(pattern=VALIDATOR_NAME_PATTERN)
    extract: Extract
    source: SourceConfig
    require: Literal["all_present", "none_present"] = "all_present"
    message: str | None = Field(default=None, min_length=1, max_length=200)
    """How a failure starts, e.g. ``product ids not in stock``; the offending values follow."""
    min_entities: int = Field(default=0, ge=0)
    """Fewer extracted values than this is a failure (1: the answer must name at least one)."""
    max_entities: int = Field(default=50, ge=1, le=10_000)
    """More distinct values than this is a failure without any look-up, bounding the source's load."""

    @model_validator(mode="after")
    def _entity_bounds(self) -> BusinessRuleConfig:
        if self.min_entities > self.max_entities:
            raise ValueError(f"min_entities ({self.min_entities}) is greater than max_entities ({self.max_entities})")
        return self


ValidatorConfig = Annotated[
    JsonSchemaConfig | RegexConfig | ContainsConfig | LengthConfig | BusinessRuleConfig,
    Field(discriminator="type"),
]


def check_schema(schema: dict[str, Any]) -> None:
    """Raise ``ValueError`` naming where ``schema`` breaks its own metaschema."""
    cls = validator_for(schema)
    try:
        cls.check_schema(schema)
    except SchemaError as error:
        where = format_location(list(error.path))
        raise ValueError(f"not a valid JSON Schema at {where}: {excerpt(error.message, 160)}") from None


def _compile(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as error:
        raise ValueError(f"not a valid regular expression: {error}") from None
