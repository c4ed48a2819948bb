"""Validating the canonical object against the contract's JSON Schema, with every error at its path."""

from __future__ import annotations

from typing import Any

from jsonschema.exceptions import ValidationError

from keel.guards.contracts.config import InputContract
from keel.guards.contracts.errors import MAX_VIOLATIONS, Violation, json_path, location_order, shown


def validate_input(obj: Any, contract: InputContract) -> list[Violation]:
    """Every way ``obj`` breaks the contract's schema, sorted by path, at most ``MAX_VIOLATIONS``."""
    errors = sorted(contract.schema_validator.iter_errors(obj), key=_order)
    return [Violation(json_path(list(error.absolute_path)), _problem(error)) for error in errors[:MAX_VIOLATIONS]]


def _order(error: ValidationError) -> tuple[tuple[tuple[int, int, str], ...], str]:
    return location_order(error.absolute_path), error.message


def _problem(error: ValidationError) -> str:
    full = repr(error.instance)
    short = shown(error.instance)
    return error.message.replace(full, short) if short != full else error.message
