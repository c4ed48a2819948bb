"""XML input: safe parsing, and a small path language to read values out of the document.

    path  := step ("/" step)* ("/" leaf)?
    step  := NAME | NAME "[*]"
    leaf  := "@" NAME | "text()"
    NAME  := [A-Za-z_][A-Za-z0-9._-]*

The first step names the root element. Each further step selects the child elements with that name;
without ``[*]`` there must be at most one (several is a violation), with ``[*]`` every one is read, in
document order, into a list. The leaf reads an attribute, or the element's text (all text inside it);
without a leaf, the last element's text is read. Names match an element's or attribute's local name,
so namespaces and prefixes are ignored. Text is trimmed and empty text counts as missing.

Documents holding ``<!DOCTYPE`` or ``<!ENTITY`` are refused before they reach the parser: a document
type declaration is how entity-expansion bombs ("billion laughs") and external entities (reading local
files or URLs) get in, and business documents exchanged between systems do not need one. The check
runs on the decoded text that the parser is then given, so no encoding trick can hide a declaration.
"""

from __future__ import annotations

import codecs
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from xml.parsers.expat import ErrorString

from keel.guards.contracts.errors import ContractError, Violation
from keel.guards.contracts.paths import Step
from keel.guards.contracts.values import MISSING, Evaluated, Invalid, text_value

_NAME = r"[A-Za-z_][A-Za-z0-9._-]*"
_STEP = re.compile(rf"(?P<name>{_NAME})(?P<each>\[\*\])?")
_ATTRIBUTE = re.compile(rf"@(?P<name>{_NAME})")
_DECLARATION = re.compile(r"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_DECLARED_ENCODING = re.compile(rb"""<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


@dataclass(frozen=True, slots=True)
class XmlPath:
    text: str
    steps: tuple[Step, ...]
    """The root element first."""
    attribute: str | None
    """The attribute read at the end, or ``None`` for the element's text."""

    @property
    def root(self) -> str:
        return self.steps[0].name

    @property
    def depth(self) -> int:
        return sum(step.each for step in self.steps)

    def read(self, document: ET.Element, depth: int) -> Evaluated:
        """The value(s) at this path; the caller has checked that ``document`` is the root it starts at."""
        return _walk(document, self, 1)

    def __str__(self) -> str:
        return self.text


def parse_xml_path(text: str) -> XmlPath:
    """Parse a path such as ``Order/Lines/Line[*]/@sku``; a ``ValueError`` says what is wrong."""
    parts = text.split("/")
    attribute: str | None = None
    if parts[-1] == "text()":
        parts.pop()
    elif (leaf := _ATTRIBUTE.fullmatch(parts[-1])) is not None:
        attribute = leaf["name"]
        parts.pop()
    steps: list[Step] = []
    for part in parts:
        match = _STEP.fullmatch(part)
        if match is None:
            raise ValueError(
                f"{text!r} is not an XML path: {part!r} should be an element name, optionally followed by [*]"
                " (an @attribute or text() may only come last)"
            )
        steps.append(Step(match["name"], match["each"] is not None))
    if not steps:
        raise ValueError(f"{text!r} is not an XML path: it must start with the root element's name")
    if steps[0].each:
        raise ValueError(f"{text!r}: the root element cannot repeat, so it takes no [*]")
    return XmlPath(text, tuple(steps), attribute)


def parse_xml(raw: str | bytes) -> ET.Element:
    """The document's root element; unreadable or unsafe input is a ``ContractError`` at ``$``."""
    text = _decode(raw)
    if _DECLARATION.search(text):
        raise ContractError(
            [Violation("$", "XML with a document type or entity declaration (<!DOCTYPE, <!ENTITY) is not accepted")]
        )
    try:
        return ET.fromstring(text)
    except ET.ParseError as error:
        line, column = error.position
        problem = f"malformed XML at line {line}, column {column + 1}: {ErrorString(error.code)}"
        raise ContractError([Violation("$", problem)]) from None


def local_name(tag: str) -> str:
    """``Order`` for ``{urn:erp}Order`` (ElementTree's spelling of a namespaced name)."""
    return tag.rsplit("}", 1)[-1]


def _walk(element: ET.Element, path: XmlPath, index: int) -> Evaluated:
    if index == len(path.steps):
        return _leaf(element, path)
    step = path.steps[index]
    children = [child for child in element if local_name(child.tag) == step.name]
    if step.each:
        return [_walk(child, path, index + 1) for child in children]
    if not children:
        return MISSING
    if len(children) > 1:
        return Invalid(
            f"<{step.name}> appears {len(children)} times where {path} expects one (write {step.name}[*] for a list)"
        )
    return _walk(children[0], path, index + 1)


def _leaf(element: ET.Element, path: XmlPath) -> Evaluated:
    if path.attribute is None:
        return text_value("".join(element.itertext()))
    for key, value in element.attrib.items():
        if local_name(key) == path.attribute:
            return text_value(value)
    return MISSING


def _decode(raw: str | bytes) -> str:
    if isinstance(raw, str):
        return raw.removeprefix("\ufeff")
    codec = "utf-8"
    for bom, name in _BOMS:
        if raw.startswith(bom):
            codec = name
            break
    else:
        declared = _DECLARED_ENCODING.match(raw)
        if declared is not None:
            codec = declared[1].decode("ascii")
    try:
        return raw.decode(codec)
    except (LookupError, UnicodeDecodeError):
        raise ContractError([Violation("$", f"XML input is not readable as {codec} text")]) from None
