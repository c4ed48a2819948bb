"""CSV input: a header row, then one row per record; a mapping names columns.

A column mapped to a target with ``[*]`` (``lines[*].sku: sku``) gives one item per data row, in
order. A column mapped to a target without ``[*]`` (``order_id: order_id``) gives the one value its
rows share: rows may leave it empty, but two different values are a violation. So an export that
repeats the order's columns on every line maps to one order with its lines, and a single-row CSV maps
to one object. Header names and cells are trimmed; empty cells count as missing; blank lines are skipped.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from keel.guards.contracts.errors import ContractError, Violation, shown
from keel.guards.contracts.formats import CSV_DELIMITERS, utf8_text
from keel.guards.contracts.values import MISSING, Evaluated, Invalid, text_value


@dataclass(frozen=True, slots=True)
class CsvRow:
    line: int
    """The line the record ends on (the header is line 1)."""
    cells: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CsvTable:
    header: tuple[str, ...]
    rows: tuple[CsvRow, ...]

    def column_problems(self, columns: list[str]) -> list[Violation]:
        """Mapped columns the header lacks or holds twice."""
        problems = []
        for column in columns:
            count = self.header.count(column)
            if count != 1:
                where = "has no column" if count == 0 else f"holds {count} columns named"
                problems.append(Violation("$", f"the CSV header {where} {column!r}"))
        return problems


@dataclass(frozen=True, slots=True)
class CsvColumn:
    name: str

    @property
    def depth(self) -> None:
        """A column has no depth of its own: it reads one value per row, or the rows' shared value."""
        return None

    def read(self, document: CsvTable, depth: int) -> Evaluated:
        index = document.header.index(self.name)
        values = [(row.line, text_value(row.cells[index])) for row in document.rows]
        if depth == 1:
            return [value for _, value in values]
        present = [(line, value) for line, value in values if value is not MISSING]
        if not present:
            return MISSING
        first_line, first = present[0]
        for line, value in present[1:]:
            if value != first:
                return Invalid(
                    f"column {self.name!r} differs between rows: {shown(first)} on line {first_line}, "
                    f"{shown(value)} on line {line}"
                )
        return first

    def __str__(self) -> str:
        return self.name


def parse_csv_column(text: str) -> CsvColumn:
    name = text.strip()
    if not name:
        raise ValueError("a CSV column name cannot be empty")
    return CsvColumn(name)


def parse_csv(raw: str | bytes, delimiter: str | None) -> CsvTable:
    """The header and the data rows; a malformed or ragged CSV is a ``ContractError`` naming the lines."""
    text = utf8_text(raw, "csv")
    first_line = text.split("\n", 1)[0]
    if delimiter is None:
        delimiter = max(CSV_DELIMITERS, key=first_line.count) if any(d in first_line for d in CSV_DELIMITERS) else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    problems: list[Violation] = []
    try:
        header = next(reader, None)
        if header is None:
            raise ContractError([Violation("$", "the CSV input is empty: it needs a header row")])
        names = tuple(name.strip() for name in header)
        rows: list[CsvRow] = []
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) != len(names):
                problems.append(
                    Violation(
                        "$", f"CSV line {reader.line_num} has {len(cells)} fields where the header has {len(names)}"
                    )
                )
                continue
            rows.append(CsvRow(reader.line_num, tuple(cells)))
    except csv.Error as error:
        raise ContractError([Violation("$", f"malformed CSV at line {reader.line_num}: {error}")]) from None
    if problems:
        raise ContractError(problems)
    return CsvTable(names, tuple(rows))
