"""A route's input contract, as written in ``keel.yaml``: the canonical schema, the adapters, the rendering.

Every path, source expression and template is compiled here, so a broken one is a config error that
names its field, and nothing is parsed again per request. The canonical schema's compiled validator is
built on first use and kept on the contract.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import orjson
from jsonschema.protocols import Validator as CompiledSchema
from pydantic import ConfigDict, Field, PrivateAttr, field_validator, model_validator

from keel.config.base import StrictModel
from keel.guards.contracts.coerce import ValueType
from keel.guards.contracts.formats import InputFormat, media_type
from keel.guards.contracts.mapping import MappedField, compile_mapping
from keel.guards.contracts.paths import DottedPath, parse_dotted
from keel.guards.contracts.render import Template, parse_template
from keel.guards.contracts.schema import check_schema, compile_schema, read_schema_file
from keel.guards.contracts.xml_input import XmlPath

ADAPTER_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"
DEFAULT_MAX_INPUT_BYTES = 1024 * 1024


class AdapterMatch(StrictModel):
    """When an adapter reads an input of its format: every condition given must hold."""

    content_type: str | None = None
    """The input's media type (``application/vnd.erp+xml``); parameters and case are ignored."""
    root: str | None = None
    """XML only: the local name of the document's root element."""
    has_field: str | None = None
    """JSON only: a dotted path (without ``[*]``) that leads to a value other than ``null``."""
    _has_field: DottedPath | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _plain_path(self) -> AdapterMatch:
        if self.has_field is not None:
            self._has_field = parse_dotted(self.has_field)
            if self._has_field.depth:
                raise ValueError("has_field is a dotted path without [*]")
        return self

    @property
    def has_field_path(self) -> DottedPath | None:
        return self._has_field


class Adapter(StrictModel):
    """Turns one source system's format into the canonical object by declarative mapping."""

    name: str = Field(pattern=ADAPTER_NAME_PATTERN)
    format: InputFormat
    when: AdapterMatch = AdapterMatch()
    mapping: dict[str, str] = Field(min_length=1)
    """Canonical target path -> source expression in this adapter's format."""
    types: dict[str, ValueType] = Field(default_factory=dict)
    """Canonical target path (a key of ``mapping``) -> the type its values are coerced to."""
    delimiter: str | None = Field(default=None, min_length=1, max_length=1)
    """CSV only: the field delimiter; by default the most frequent of , ; tab | in the header row."""
    _fields: tuple[MappedField, ...] = PrivateAttr(default=())

    @model_validator(mode="after")
    def _compile(self) -> Adapter:
        if self.when.root is not None and self.format != "xml":
            raise ValueError("when.root applies to xml adapters only")
        if self.when.has_field is not None and self.format != "json":
            raise ValueError("when.has_field applies to json adapters only")
        if self.delimiter is not None and self.format != "csv":
            raise ValueError("delimiter applies to csv adapters only")
        self._fields = compile_mapping(self.format, self.mapping, self.types)
        roots = sorted({mapped.source.root for mapped in self._fields if isinstance(mapped.source, XmlPath)})
        if len(roots) > 1:
            raise ValueError(f"all XML paths of an adapter start at the same root element, not {', '.join(roots)}")
        if self.when.root is not None and self.when.root not in roots:
            raise ValueError(f"when.root is {self.when.root!r} but the mapping reads from <{roots[0]}>")
        return self

    @property
    def fields(self) -> tuple[MappedField, ...]:
        """The compiled mapping, in the order written."""
        return self._fields

    @property
    def root(self) -> str | None:
        """XML adapters: the root element every path starts at."""
        source = self._fields[0].source
        return source.root if isinstance(source, XmlPath) else None

    def accepts(self, fmt: InputFormat, content_type: str) -> bool:
        """Whether this adapter's format and content type condition fit (root and has_field are checked later)."""
        wanted = self.when.content_type
        return fmt == self.format and (wanted is None or media_type(wanted) == media_type(content_type))


class InputContract(StrictModel):
    """The canonical input a route's feature expects, and how each source system's input becomes it."""

    model_config = ConfigDict(serialize_by_alias=True)

    json_schema: dict[str, Any] | None = Field(default=None, alias="schema")
    """The canonical input's JSON Schema, inline."""
    schema_file: str | None = None
    """A JSON or YAML file holding the schema; see ``with_schema_file_read`` for relative paths."""
    source: Literal["last_user_message", "keel_input"] = "keel_input"
    """Where the input travels: the last user message's text, or the request fields ``keel_input``
    and ``keel_input_type``."""
    adapters: tuple[Adapter, ...] = ()
    """Tried in order; the first that accepts the input maps it."""
    render: Literal["json", "template"] = "json"
    template: str | None = None
    """With ``render: template``: the text the model gets, with ``{path}`` placeholders."""
    max_input_bytes: int = Field(default=DEFAULT_MAX_INPUT_BYTES, ge=1, le=64 * 1024 * 1024)
    _template: Template | None = PrivateAttr(default=None)

    @field_validator("json_schema")
    @classmethod
    def _valid_schema(cls, schema: dict[str, Any] | None) -> dict[str, Any] | None:
        if schema is not None:
            check_schema(schema)
        return schema

    @model_validator(mode="after")
    def _consistent(self) -> InputContract:
        if (self.json_schema is None) == (self.schema_file is None):
            raise ValueError("give exactly one of `schema` (inline) or `schema_file`")
        if (self.render == "template") != (self.template is not None):
            raise ValueError("`template` goes with `render: template`, and only with it")
        if self.template is not None:
            self._template = parse_template(self.template)
        names = [adapter.name for adapter in self.adapters]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"adapter names must be distinct: {', '.join(twice)}")
        return self

    @property
    def compiled_template(self) -> Template | None:
        return self._template

    def with_schema_file_read(self, base_dir: Path) -> InputContract:
        """This contract with ``schema_file`` (relative to ``base_dir``) read and inlined as ``schema``.

        The config resolver calls this once, with the config file's directory, so a missing or broken
        schema file is a config error at load time. A ``ValueError`` says what is wrong.
        """
        if self.schema_file is None:
            return self
        schema = read_schema_file(base_dir / self.schema_file)
        data = self.model_dump(mode="json", exclude={"schema_file"})
        data["schema"] = schema
        return InputContract.model_validate_json(orjson.dumps(data))

    @cached_property
    def schema_validator(self) -> CompiledSchema:
        """The canonical schema compiled, with format checks on (``email``, ``date``, …).

        A contract whose ``schema_file`` was not read by the resolver reads it here, relative to the
        working directory.
        """
        schema = self.json_schema if self.json_schema is not None else read_schema_file(Path(str(self.schema_file)))
        return compile_schema(schema)
