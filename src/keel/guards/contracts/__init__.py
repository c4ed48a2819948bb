"""Input contracts: the canonical input an AI feature expects, and adapters from each source system's format.

A route declares a JSON Schema for its input and adapters that map JSON, XML, CSV or form input into
that shape. ``apply_contract`` is the whole request step; its parts are usable on their own:

    contract = InputContract.model_validate_json(...)   # a route's `input_contract` section
    body = apply_contract(body, contract)               # ContractError (400) lists the violations
    canonical = adapt(raw, "application/xml", contract)
    violations = validate_input(canonical, contract)    # [Violation("$.lines[2].quantity", "...")]
"""

from __future__ import annotations

from keel.guards.contracts.adapters import adapt
from keel.guards.contracts.config import Adapter, AdapterMatch, InputContract
from keel.guards.contracts.contract import validate_input
from keel.guards.contracts.errors import MAX_VIOLATIONS, ContractError, Violation
from keel.guards.contracts.request import KEEL_INPUT, KEEL_INPUT_TYPE, apply_contract, canonical_input
from keel.guards.contracts.schema import read_schema_file

__all__ = [
    "KEEL_INPUT",
    "KEEL_INPUT_TYPE",
    "MAX_VIOLATIONS",
    "Adapter",
    "AdapterMatch",
    "ContractError",
    "InputContract",
    "Violation",
    "adapt",
    "apply_contract",
    "canonical_input",
    "read_schema_file",
    "validate_input",
]
