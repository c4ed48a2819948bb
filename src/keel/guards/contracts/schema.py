"""The canonical schema: read from a file, checked when the config is loaded, compiled once.

A schema must be valid against its own metaschema, and every ``$ref`` in it must point inside the
document (``#/$defs/line``, ``#anchor``) and lead somewhere: nothing is ever fetched, and a broken
reference is a config error rather than a failure on the first request that reaches it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import yaml
from jsonschema.exceptions import SchemaError
from jsonschema.protocols import Validator as CompiledSchema
from jsonschema.validators import validator_for
from referencing import Registry, Resource
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT202012

from keel.guards.contracts.errors import json_path

_REFERENCE_KEYS = ("$ref", "$dynamicRef")


def check_schema(schema: dict[str, Any]) -> None:
    """Raise ``ValueError`` saying where ``schema`` breaks its metaschema, or which reference is broken."""
    cls = validator_for(schema)
    try:
        cls.check_schema(schema)
    except SchemaError as error:
        raise ValueError(f"not a valid JSON Schema at {json_path(list(error.path))}: {error.message}") from None
    resource = Resource.from_contents(schema, default_specification=DRAFT202012)
    resolver = Registry().with_resource("", resource).crawl().resolver()
    for reference in _references(schema):
        if not reference.startswith("#"):
            raise ValueError(f"$ref {reference!r}: only references inside the schema (#...) are supported")
        try:
            resolver.lookup(reference)
        except Unresolvable:
            raise ValueError(f"$ref {reference!r} points at nothing in the schema") from None


def compile_schema(schema: dict[str, Any]) -> CompiledSchema:
    """A validator for ``schema`` (its draft from ``$schema``, default 2020-12) with format checks on."""
    cls = validator_for(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def read_schema_file(path: Path) -> dict[str, Any]:
    """A checked JSON Schema from a ``.json``, ``.yaml`` or ``.yml`` file; a ``ValueError`` says what is wrong."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ValueError(f"cannot read schema file {str(path)!r}: {error.strerror or error}") from None
    try:
        schema = yaml.safe_load(text) if path.suffix.lower() in (".yaml", ".yml") else orjson.loads(text)
    except (yaml.YAMLError, orjson.JSONDecodeError) as error:
        kind = "YAML" if path.suffix.lower() in (".yaml", ".yml") else "JSON"
        raise ValueError(f"schema file {str(path)!r} is not valid {kind}: {error}") from None
    if not isinstance(schema, dict):
        raise ValueError(f"schema file {str(path)!r} does not hold an object")
    check_schema(schema)
    return schema


def _references(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _REFERENCE_KEYS and isinstance(value, str):
                yield value
            else:
                yield from _references(value)
    elif isinstance(node, list):
        for item in node:
            yield from _references(item)
