"""Building a route's validators from their config, once, at start-up."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import yaml

from keel.core.clock import Clock, SystemClock
from keel.guards.validators.base import Validator
from keel.guards.validators.business import BusinessRuleValidator
from keel.guards.validators.config import (
    ContainsConfig,
    JsonSchemaConfig,
    LengthConfig,
    RegexConfig,
    ValidatorConfig,
    check_schema,
)
from keel.guards.validators.schema import JsonSchemaValidator, SchemaCache
from keel.guards.validators.sources.build import build_source
from keel.guards.validators.sources.sql import SqlEngines
from keel.guards.validators.text_checks import ContainsValidator, LengthValidator, RegexValidator


def build_validator(
    config: ValidatorConfig,
    *,
    base_dir: Path,
    session: aiohttp.ClientSession | None,
    engines: SqlEngines | None = None,
    schemas: SchemaCache | None = None,
    clock: Clock | None = None,
) -> Validator:
    """A ready validator. ``base_dir`` anchors relative file paths (the config file's directory).

    ``session`` (HTTP sources) and ``engines`` (SQL sources) are the process's shared ones; a source
    whose one is missing is a ``ValueError``, as is a schema file that cannot be read or is not a
    valid JSON Schema. ``schemas`` lets validators share compiled schemas with per-request checks.
    """
    name = config.name or config.type
    if isinstance(config, JsonSchemaConfig):
        schema = config.json_schema if config.json_schema is not None else _read_schema(base_dir, config.schema_file)
        return JsonSchemaValidator(
            name,
            schema,
            schemas if schemas is not None else SchemaCache(),
            on_fail=config.on_fail,
            reask=config.reask,
            accept_fences=config.fences == "accept",
        )
    if isinstance(config, RegexConfig):
        return RegexValidator(name, config)
    if isinstance(config, ContainsConfig):
        return ContainsValidator(name, config)
    if isinstance(config, LengthConfig):
        return LengthValidator(name, config)
    source = build_source(
        config.source, base_dir=base_dir, session=session, engines=engines, clock=clock or SystemClock()
    )
    return BusinessRuleValidator(config, source)


def build_validators(
    configs: Iterable[ValidatorConfig],
    *,
    base_dir: Path,
    session: aiohttp.ClientSession | None,
    engines: SqlEngines | None = None,
    schemas: SchemaCache | None = None,
    clock: Clock | None = None,
) -> list[Validator]:
    """A route's validator list, in config order, sharing one schema cache."""
    shared = schemas if schemas is not None else SchemaCache()
    return [
        build_validator(c, base_dir=base_dir, session=session, engines=engines, schemas=shared, clock=clock)
        for c in configs
    ]


def _read_schema(base_dir: Path, file: str | None) -> Mapping[str, Any]:
    if file is None:
        raise ValueError("a json_schema validator needs `schema` or `schema_file`")
    path = base_dir / file
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ValueError(f"schema_file {file}: cannot read {path}: {error.strerror}") from None
    try:
        schema = orjson.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (orjson.JSONDecodeError, yaml.YAMLError) as error:
        raise ValueError(f"schema_file {file}: cannot parse {path}: {error}") from None
    if not isinstance(schema, dict):
        raise ValueError(f"schema_file {file}: a JSON Schema must be an object")
    try:
        check_schema(schema)
    except ValueError as error:
        raise ValueError(f"schema_file {file}: {error}") from None
    return schema
