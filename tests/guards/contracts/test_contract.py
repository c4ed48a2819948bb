"""Schema validation of the canonical object: every error at its JSON path, in path order, capped."""

from __future__ import annotations

import copy

import pytest

from keel.guards.contracts import MAX_VIOLATIONS, ContractError, InputContract, Violation, validate_input
from tests.guards.contracts.conftest import CANONICAL_ORDER, contract_from_yaml


def test_valid_input_has_no_violations(order_contract: InputContract) -> None:
    assert validate_input(CANONICAL_ORDER, order_contract) == []


def test_violations_name_exact_paths_sorted_with_numeric_indices(order_contract: InputContract) -> None:
    order = copy.deepcopy(CANONICAL_ORDER)
    order["lines"] = [{"sku": f"S{i}", "quantity": 1} for i in range(11)]
    order["lines"][10]["quantity"] = 0
    order["lines"][2]["quantity"] = -1
    order["customer"]["email"] = "x"
    order["order_date"] = "2024-13-01"
    del order["lines"][3]["sku"]
    order["colour"] = "red"
    assert validate_input(order, order_contract) == [
        Violation("$", "Additional properties are not allowed ('colour' was unexpected)"),
        Violation("$.customer.email", "'x' is not a 'email'"),
        Violation("$.lines[2].quantity", "-1 is less than the minimum of 1"),
        Violation("$.lines[3]", "'sku' is a required property"),
        Violation("$.lines[10].quantity", "0 is less than the minimum of 1"),
        Violation("$.order_date", "'2024-13-01' is not a 'date'"),
    ]


def test_odd_keys_are_quoted_and_long_values_cut(order_contract: InputContract) -> None:
    contract = contract_from_yaml(
        "schema: {type: object, properties: {'unit price': {type: number}, note: {type: integer}}}"
    )
    assert validate_input({"unit price": "cheap", "note": "n" * 500}, contract) == [
        Violation("$.note", "'" + "n" * 58 + "… is not of type 'integer'"),
        Violation("$['unit price']", "'cheap' is not of type 'number'"),
    ]


def test_at_most_twenty_violations(order_contract: InputContract) -> None:
    order = copy.deepcopy(CANONICAL_ORDER)
    order["lines"] = [{"sku": i, "quantity": 0} for i in range(30)]
    violations = validate_input(order, order_contract)
    assert len(violations) == MAX_VIOLATIONS == 20
    assert violations[:3] == [
        Violation("$.lines[0].quantity", "0 is less than the minimum of 1"),
        Violation("$.lines[0].sku", "0 is not of type 'string'"),
        Violation("$.lines[1].quantity", "0 is less than the minimum of 1"),
    ]
    assert violations[-1].path == "$.lines[9].sku"


def test_contract_error_lists_the_violations() -> None:
    error = ContractError(
        [
            Violation("$.lines[2].quantity", "-1 is less than the minimum of 1"),
            Violation("$.customer.email", "'x' is not a 'email'"),
        ],
        param="keel_input",
    )
    assert error.message == (
        "input does not match the contract: $.lines[2].quantity: -1 is less than the minimum of 1; "
        "$.customer.email: 'x' is not a 'email'"
    )
    assert error.status == 400
    assert error.to_openai() == {
        "error": {
            "message": error.message,
            "type": "invalid_request_error",
            "param": "keel_input",
            "code": "input_contract_violation",
        }
    }


def test_contract_error_keeps_the_first_twenty() -> None:
    error = ContractError([Violation("$", f"problem {i}") for i in range(23)])
    assert len(error.violations) == 20
    assert error.more == 3
    assert error.message.endswith("$: problem 19; and 3 more")
    with pytest.raises(ValueError, match="at least one violation"):
        ContractError([])
