"""The four input formats: naming one from a content type or by sniffing text, and reading bytes as text.

Content types (parameters such as ``charset`` are ignored, case does not matter):

    json  application/json, and any */*+json
    xml   application/xml, text/xml, and any */*+xml
    csv   text/csv, application/csv
    form  application/x-www-form-urlencoded

Sniffing, for input that comes without a type (the text of a chat message), trims the text and takes
the first rule that fits: it starts with ``<`` (XML); it starts with ``{`` or ``[`` (JSON); it holds
``=`` and ``&`` and no white space (a form); it has at least two non-blank lines and the first holds a
delimiter (CSV with a header row). Anything else has no format.
"""

from __future__ import annotations

from typing import Literal

from keel.guards.contracts.errors import ContractError, Violation

InputFormat = Literal["json", "xml", "csv", "form"]

CONTENT_TYPES: dict[InputFormat, str] = {
    "json": "application/json",
    "xml": "application/xml",
    "csv": "text/csv",
    "form": "application/x-www-form-urlencoded",
}
"""The content type each format is given when it was sniffed."""

CSV_DELIMITERS = ",;\t|"
"""The delimiters a CSV header row is searched for, when an adapter does not name one."""

_EXACT: dict[str, InputFormat] = {
    "application/json": "json",
    "application/xml": "xml",
    "text/xml": "xml",
    "text/csv": "csv",
    "application/csv": "csv",
    "application/x-www-form-urlencoded": "form",
}


def media_type(content_type: str) -> str:
    """``text/csv`` for ``Text/CSV; charset=utf-8``."""
    return content_type.split(";", 1)[0].strip().lower()


def format_of(content_type: str) -> InputFormat | None:
    media = media_type(content_type)
    if media in _EXACT:
        return _EXACT[media]
    if media.endswith("+json"):
        return "json"
    if media.endswith("+xml"):
        return "xml"
    return None


def sniff(text: str) -> InputFormat | None:
    body = text.lstrip("\ufeff").strip()
    if body.startswith("<"):
        return "xml"
    if body.startswith(("{", "[")):
        return "json"
    if "=" in body and "&" in body and not any(char.isspace() for char in body):
        return "form"
    lines = [line for line in body.splitlines() if line.strip()]
    if len(lines) >= 2 and any(delimiter in lines[0] for delimiter in CSV_DELIMITERS):
        return "csv"
    return None


def utf8_text(raw: str | bytes, fmt: InputFormat) -> str:
    """``raw`` as text without a leading byte order mark; bytes must be UTF-8."""
    if isinstance(raw, str):
        return raw.removeprefix("\ufeff")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ContractError([Violation("$", f"{fmt} input is not UTF-8 text (byte {error.start + 1})")]) from None
