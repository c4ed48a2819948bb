"""Form input (``application/x-www-form-urlencoded``): a mapping names fields.

    field  := NAME                 the field's value
            | NAME "[*]"           every value of the repeated field NAME (or NAME[]), in order
            | PREFIX "[*]" SUFFIX  one item per index n of the fields PREFIX[n]SUFFIX, in index order

``customer[name]`` is simply a field name. ``sku[*]`` reads ``sku=A&sku=B`` (or ``sku[]=A&sku[]=B``)
as a list; items of repeated fields pair up by position, so every repeated field should be sent for
every item, empty if need be. ``lines[*][sku]`` reads ``lines[0][sku]=A&lines[1][sku]=B``; the items
are the indices seen in any field starting with ``lines[n]``, so a field one item lacks is just missing
there. A field sent several times with different values where one is expected is a violation. Values
are trimmed and empty values count as missing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl

from keel.guards.contracts.errors import ContractError, Violation
from keel.guards.contracts.formats import utf8_text
from keel.guards.contracts.values import MISSING, Evaluated, Invalid, text_value

_EACH = "[*]"
_FORBIDDEN = re.compile(r"[\s&=]")

FormPairs = list[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class FormField:
    text: str
    prefix: str
    """The whole name for a single field, or the part before ``[*]``."""
    suffix: str | None
    """``None``: no ``[*]``; ``""``: a repeated field; otherwise the part after an indexed ``[*]``."""

    @property
    def depth(self) -> int:
        return 0 if self.suffix is None else 1

    def read(self, document: FormPairs, depth: int) -> Evaluated:
        if self.suffix is None:
            return _single(document, self.prefix)
        if not self.suffix:
            names = (self.prefix, self.prefix + "[]")
            return [text_value(value) for name, value in document if name in names]
        index = re.compile(re.escape(self.prefix) + r"\[(\d+)\]")
        indices = sorted({int(match[1]) for name, _ in document if (match := index.match(name))})
        return [_single(document, f"{self.prefix}[{n}]{self.suffix}") for n in indices]

    def __str__(self) -> str:
        return self.text


def parse_form_field(text: str) -> FormField:
    if not text or _FORBIDDEN.search(text):
        raise ValueError(f"{text!r} is not a form field name: it must be non-empty, without spaces, '&' or '='")
    if text.count(_EACH) > 1:
        raise ValueError(f"{text!r}: a form field may hold [*] once")
    prefix, each, suffix = text.partition(_EACH)
    if not each:
        return FormField(text, text, None)
    if not prefix:
        raise ValueError(f"{text!r}: [*] must follow a field name")
    return FormField(text, prefix, suffix)


def parse_form(raw: str | bytes) -> FormPairs:
    """The fields in the order sent; malformed percent-encoding or a field without ``=`` is a violation."""
    text = utf8_text(raw, "form").strip()
    try:
        return parse_qsl(text, keep_blank_values=True, strict_parsing=True, encoding="utf-8", errors="strict")
    except ValueError as error:
        raise ContractError([Violation("$", f"malformed form data: {error}")]) from None


def _single(document: FormPairs, name: str) -> Evaluated:
    values = {value for value in (text_value(v) for n, v in document if n == name) if value is not MISSING}
    if not values:
        return MISSING
    if len(values) > 1:
        return Invalid(f"field {name!r} is sent with {len(values)} different values where one is expected")
    return values.pop()
