"""Config of the data sources a business rule checks extracted values against.

``kind`` picks the source: a CSV file, a SQL query or an HTTP endpoint. Everything that can be checked
without touching the source (URL schemes, the query's bound parameters, the ``{value}`` placeholder,
JSON paths) is checked here, so a typo fails at start-up rather than on the first request.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator
from sqlalchemy.exc import ArgumentError

from keel.config.base import StrictModel
from keel.guards.validators.jsonpath import parse_json_path
from keel.store.sql import normalise_url

JsonScalar = str | int | float | bool | None

# ":name" is a bound parameter in SQLAlchemy's text(); "::type" (a PostgreSQL cast) and "\:" are not.
_BIND = re.compile(r"(?<![:\\\w]):([A-Za-z_]\w*)")
_IN_VALUES = re.compile(r"\bIN\s*\(?\s*:values\b", re.IGNORECASE)
_READ_ONLY = re.compile(r"\A\s*(SELECT|WITH)\b", re.IGNORECASE)


class CsvWhere(StrictModel):
    """Only rows whose ``column`` holds exactly ``equals`` (after trimming spaces) count."""

    column: str = Field(min_length=1)
    equals: str
    """Compared as text: quote YAML booleans and numbers (``equals: "true"``)."""


class CsvSourceConfig(StrictModel):
    kind: Literal["csv"]
    file: str = Field(min_length=1)
    """A CSV file with a header row; relative paths are relative to the config file."""
    column: str = Field(min_length=1)
    """The header of the column holding the values."""
    where: CsvWhere | None = None


class SqlSourceConfig(StrictModel):
    kind: Literal["sql"]
    url: str
    """``sqlite:///path.db`` (relative to the config file) or ``postgresql://user@host:5432/db``."""
    query: str
    """A SELECT with ``:value`` (run once per value; any row means present) or ``IN :values`` (run once
    for all values; the first column of each row is a present value). Values are always bound, never
    pasted into the SQL."""
    timeout_s: float = Field(default=2.0, gt=0, le=60)
    cache_ttl_s: float = Field(default=30.0, ge=0, le=86_400)
    """How long an answer (present or absent) is reused; 0 turns the cache off."""
    cache_max_entries: int = Field(default=10_000, ge=1, le=10_000_000)

    @field_validator("url")
    @classmethod
    def _known_database(cls, url: str) -> str:
        try:
            normalise_url(url)
        except (ValueError, ArgumentError) as error:
            raise ValueError(f"not a usable database URL: {error}") from None
        return url

    @field_validator("query")
    @classmethod
    def _bound_read_only(cls, query: str) -> str:
        if not _READ_ONLY.match(query):
            raise ValueError("the query must be a SELECT (or WITH … SELECT)")
        names = set(_BIND.findall(query))
        if names == {"value"}:
            return query
        if names == {"values"} and _IN_VALUES.search(query):
            return query
        raise ValueError(
            "the query must bind exactly one parameter: `:value` (one query per value) or `IN :values` "
            f"(one query for all values); found {sorted(names) or 'none'}"
        )

    @property
    def batched(self) -> bool:
        return "values" in _BIND.findall(self.query)


class PresentWhen(StrictModel):
    """A value is present when the response has this status and, if ``json_path`` is given, a value
    at that path equals ``equals`` (same JSON type: ``true`` is not ``1``)."""

    status: int = Field(default=200, ge=100, le=599)
    json_path: str | None = None
    equals: JsonScalar = True

    @field_validator("json_path")
    @classmethod
    def _parsable(cls, path: str | None) -> str | None:
        if path is not None:
            parse_json_path(path)
        return path


class HttpSourceConfig(StrictModel):
    kind: Literal["http"]
    url: str
    """``http(s)://…/{value}``: the value is percent-encoded into the placeholder (query or path)."""
    present_when: PresentWhen = PresentWhen()
    absent_status: list[int] = Field(default_factory=lambda: [404])
    """Statuses that mean "not present"; any other status than ``present_when.status`` is a failure
    of the source (``SourceUnavailable``), so a broken endpoint never reads as "out of stock"."""
    headers: dict[str, str] = Field(default_factory=dict)
    timeout_s: float = Field(default=2.0, gt=0, le=60)
    max_concurrency: int = Field(default=8, ge=1, le=256)
    """Requests in flight at once for one answer's values."""
    cache_ttl_s: float = Field(default=30.0, ge=0, le=86_400)
    cache_max_entries: int = Field(default=10_000, ge=1, le=10_000_000)

    @field_validator("url")
    @classmethod
    def _template(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("the URL must start with http:// or https:// and name a host")
        if "{value}" not in url:
            raise ValueError("the URL must contain the placeholder {value}")
        if "{value}" in parts.netloc:
            raise ValueError("{value} may not be part of the host")
        return url

    @field_validator("absent_status")
    @classmethod
    def _statuses(cls, statuses: list[int]) -> list[int]:
        for status in statuses:
            if not 100 <= status <= 599:
                raise ValueError(f"{status} is not an HTTP status")
        return statuses

    @model_validator(mode="after")
    def _distinct_statuses(self) -> HttpSourceConfig:
        if self.present_when.status in self.absent_status:
            raise ValueError(f"status {self.present_when.status} cannot mean both present and absent")
        return self


SourceConfig = Annotated[CsvSourceConfig | SqlSourceConfig | HttpSourceConfig, Field(discriminator="kind")]
