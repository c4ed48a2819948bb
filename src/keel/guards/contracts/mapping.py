"""An adapter's mapping: compiled once from config, then used to build the canonical object.

Each entry maps a canonical target path (see ``paths``) to a source expression in the adapter's format.
A target with ``[*]`` spreads a source's list over an array: entry ``i`` of every source mapped under
``lines[*]`` lands in ``lines[i]``, so all of them must give the same number of items. Missing values
leave their key out (an array item whose values are all missing is an empty object, so indices stay
aligned); missing entries of an array of plain values are dropped. Declared types are applied to each
written value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from keel.guards.contracts.coerce import ValueType, coerce
from keel.guards.contracts.csv_input import parse_csv_column
from keel.guards.contracts.errors import Violation, json_path, location_order
from keel.guards.contracts.form_input import parse_form_field
from keel.guards.contracts.formats import InputFormat
from keel.guards.contracts.json_input import parse_json_source
from keel.guards.contracts.paths import DottedPath, conflict, parse_dotted
from keel.guards.contracts.values import MISSING, Evaluated, Invalid
from keel.guards.contracts.xml_input import parse_xml_path


class SourceExpression(Protocol):
    """A compiled source expression of one format."""

    @property
    def depth(self) -> int | None:
        """How many ``[*]`` levels it reads; ``None`` when it takes the target's depth (CSV columns)."""

    def read(self, document: Any, depth: int) -> Evaluated:
        """Its value(s) in a parsed document, nested ``depth`` lists deep."""


_SOURCE_PARSERS: dict[InputFormat, Callable[[str], SourceExpression]] = {
    "xml": parse_xml_path,
    "json": parse_json_source,
    "csv": parse_csv_column,
    "form": parse_form_field,
}


@dataclass(frozen=True, slots=True)
class MappedField:
    target: DottedPath
    source: SourceExpression
    type: ValueType | None


def compile_mapping(
    fmt: InputFormat, mapping: Mapping[str, str], types: Mapping[str, ValueType]
) -> tuple[MappedField, ...]:
    """The mapping's entries, parsed and checked; a ``ValueError`` names the entry at fault."""
    unknown = sorted(set(types) - set(mapping))
    if unknown:
        raise ValueError(f"types names paths that are not mapped: {', '.join(unknown)}")
    fields: list[MappedField] = []
    for target_text, source_text in mapping.items():
        try:
            target = parse_dotted(target_text)
            source = _SOURCE_PARSERS[fmt](source_text)
        except ValueError as error:
            raise ValueError(f"mapping {target_text!r}: {error}") from None
        wanted = source.depth
        if wanted is None and target.depth > 1:
            raise ValueError(f"mapping {target_text!r}: a CSV column fills at most one level of [*] (one item per row)")
        if wanted is not None and wanted != target.depth:
            raise ValueError(
                f"mapping {target_text!r}: the target has {target.depth} [*] and the source {source_text!r} has"
                f" {wanted}; they must match"
            )
        for other in fields:
            problem = conflict(other.target, target)
            if problem is not None:
                raise ValueError(f"mapping: {problem}")
        fields.append(MappedField(target, source, types.get(target_text)))
    return tuple(fields)


@dataclass
class CanonicalBuilder:
    """Writes evaluated sources into a new canonical object, collecting violations on the way."""

    canonical: dict[str, Any] = field(default_factory=dict)
    _problems: list[tuple[list[str | int], str]] = field(default_factory=list, init=False)

    @property
    def violations(self) -> list[Violation]:
        """Every problem met so far, in path order."""
        ordered = sorted(self._problems, key=lambda problem: (location_order(problem[0]), problem[1]))
        return [Violation(json_path(location), problem) for location, problem in ordered]

    def put(self, mapped: MappedField, value: Evaluated) -> None:
        self._put(self.canonical, mapped, 0, value, [])

    def _put(
        self, container: dict[str, Any], mapped: MappedField, index: int, value: Evaluated, at: list[str | int]
    ) -> None:
        step = mapped.target.steps[index]
        here: list[str | int] = [*at, step.name]
        if value is MISSING:
            return
        last = index == len(mapped.target.steps) - 1
        if not step.each:
            if not last:
                self._put(container.setdefault(step.name, {}), mapped, index + 1, value, here)
            elif (written := self._value(value, here, mapped)) is not MISSING:
                container[step.name] = written
            return
        if isinstance(value, Invalid):
            self._violate(here, value.problem)
            return
        if last:
            items: list[Any] = []
            for item in value:
                if item is not MISSING and (written := self._value(item, [*here, len(items)], mapped)) is not MISSING:
                    items.append(written)
            container[step.name] = items
            return
        existing = container.setdefault(step.name, [{} for _ in value])
        if len(existing) != len(value):
            self._violate(
                here, f"{mapped.source} gives {len(value)} items where the other mappings under it give {len(existing)}"
            )
            return
        for position, item in enumerate(value):
            self._put(existing[position], mapped, index + 1, item, [*here, position])

    def _value(self, value: Evaluated, here: list[str | int], mapped: MappedField) -> Evaluated:
        """The value to write, typed; ``MISSING`` (after recording why) when it cannot be written."""
        if isinstance(value, Invalid):
            self._violate(here, value.problem)
            return MISSING
        if mapped.type is None:
            return value
        try:
            return coerce(value, mapped.type)
        except ValueError as error:
            self._violate(here, str(error))
            return MISSING

    def _violate(self, location: list[str | int], problem: str) -> None:
        self._problems.append((location, problem))
