"""From raw input to the canonical object: pick the adapter, parse safely, map, coerce.

JSON input that already validates against the canonical schema is returned as it is. Otherwise the
first adapter that accepts the input maps it: its format must be the input's, and every condition of
its ``when`` must hold. JSON input that no adapter accepts is returned as it is, so that validation
reports how it differs from the contract; other input that no adapter accepts is a violation.
"""

from __future__ import annotations

from typing import Any

import orjson

from keel.guards.contracts.config import Adapter, InputContract
from keel.guards.contracts.csv_input import CsvColumn, parse_csv
from keel.guards.contracts.errors import ContractError, Violation
from keel.guards.contracts.form_input import parse_form
from keel.guards.contracts.formats import CONTENT_TYPES, InputFormat, format_of
from keel.guards.contracts.json_input import has_field, parse_json
from keel.guards.contracts.mapping import CanonicalBuilder
from keel.guards.contracts.xml_input import local_name, parse_xml

Raw = str | bytes | dict[str, Any] | list[Any]


def adapt(raw: Raw, content_type: str, contract: InputContract) -> dict[str, Any]:
    """The canonical object for ``raw``; a ``ContractError`` lists what cannot be read or mapped.

    ``raw`` is the input as received: text or bytes in the format ``content_type`` names, or an
    already parsed JSON value. The result is not yet validated against the schema (see
    ``validate_input``), except that JSON which validates is returned without any adapter.
    """
    _check_size(raw, contract.max_input_bytes)
    fmt = format_of(content_type)
    if fmt is None:
        known = ", ".join(CONTENT_TYPES.values())
        raise ContractError([Violation("$", f"unsupported input type {content_type!r}; use one of {known}")])
    document: Any
    if fmt == "json":
        document = raw if isinstance(raw, dict | list) else parse_json(raw)
        if isinstance(document, dict) and contract.schema_validator.is_valid(document):
            return document
    elif isinstance(raw, dict | list):
        raise ContractError([Violation("$", f"a JSON value was sent as {content_type!r}")])
    else:
        document = parse_xml(raw) if fmt == "xml" else parse_form(raw) if fmt == "form" else raw
    adapter = _choose(contract.adapters, fmt, content_type, document)
    if adapter is None:
        if isinstance(document, dict):
            return document
        raise ContractError([Violation("$", _no_adapter(contract.adapters, fmt, document))])
    if fmt == "csv":
        document = parse_csv(document, adapter.delimiter)
    return _map(adapter, document)


def _check_size(raw: Raw, limit: int) -> None:
    if isinstance(raw, dict | list):
        size = len(orjson.dumps(raw))
    elif isinstance(raw, str):
        size = len(raw.encode("utf-8", "surrogatepass"))
    else:
        size = len(raw)
    if size > limit:
        raise ContractError([Violation("$", f"the input is {size:,} bytes; the contract accepts at most {limit:,}")])


def _choose(adapters: tuple[Adapter, ...], fmt: InputFormat, content_type: str, document: Any) -> Adapter | None:
    for adapter in adapters:
        if not adapter.accepts(fmt, content_type):
            continue
        if fmt == "xml" and adapter.when.root is not None and local_name(document.tag) != adapter.when.root:
            continue
        wanted = adapter.when.has_field_path
        if fmt == "json" and wanted is not None and not has_field(document, wanted):
            continue
        return adapter
    return None


def _no_adapter(adapters: tuple[Adapter, ...], fmt: InputFormat, document: Any) -> str:
    if fmt == "json":
        what = f"a JSON {'array' if isinstance(document, list) else 'value'} (the contract expects an object)"
    elif fmt == "xml":
        what = f"XML input with root <{local_name(document.tag)}>"
    else:
        what = f"{fmt} input"
    same_format = [adapter.name for adapter in adapters if adapter.format == fmt]
    tried = f" (tried: {', '.join(same_format)})" if same_format else ""
    return f"no adapter of this contract reads {what}{tried}"


def _map(adapter: Adapter, document: Any) -> dict[str, Any]:
    if adapter.format == "xml" and local_name(document.tag) != adapter.root:
        problem = (
            f"the XML root element is <{local_name(document.tag)}>; adapter {adapter.name!r} reads <{adapter.root}>"
        )
        raise ContractError([Violation("$", problem)])
    if adapter.format == "csv":
        columns = [str(mapped.source) for mapped in adapter.fields if isinstance(mapped.source, CsvColumn)]
        problems = document.column_problems(columns)
        if problems:
            raise ContractError(problems)
    builder = CanonicalBuilder()
    for mapped in adapter.fields:
        builder.put(mapped, mapped.source.read(document, mapped.target.depth))
    violations = builder.violations
    if violations:
        raise ContractError(violations)
    return builder.canonical
