from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest

from keel.guards.validators import BusinessRuleConfig, BusinessRuleValidator, SourceUnavailable, build_validator
from tests.guards.validators.conftest import parse


class FakeSource:
    """A set of known values that records every question asked."""

    description = "fake stock"

    def __init__(self, present: set[str], *, broken: bool = False) -> None:
        self.present = present
        self.broken = broken
        self.asked: list[list[str]] = []

    async def contains(self, values: Sequence[str]) -> dict[str, bool]:
        self.asked.append(list(values))
        if self.broken:
            raise SourceUnavailable("fake stock: down")
        return {value: value in self.present for value in values}


def _config(**overrides: Any) -> BusinessRuleConfig:
    data = {
        "type": "business_rule",
        "name": "in_stock",
        "extract": {"json_path": "$.products[*].id"},
        "source": {"kind": "csv", "file": "unused.csv", "column": "id"},
    }
    parsed = parse(data | overrides)
    assert isinstance(parsed, BusinessRuleConfig)
    return parsed


def _answer(*ids: Any) -> str:
    return orjson.dumps({"products": [{"id": i} for i in ids]}).decode()


async def test_all_present_passes_and_counts_the_distinct_values() -> None:
    source = FakeSource({"SKU-1", "SKU-2"})
    result = await BusinessRuleValidator(_config(), source).validate(_answer("SKU-1", "SKU-2", "SKU-1"))
    assert result.ok and result.validator == "in_stock" and result.entities_checked == 2
    assert source.asked == [["SKU-1", "SKU-2"]]  # one call, duplicates dropped


async def test_missing_values_are_named() -> None:
    validator = BusinessRuleValidator(_config(message="product ids not in stock"), FakeSource({"SKU-1"}))
    result = await validator.validate(_answer("SKU-1", "SKU-9", "SKU-12"))
    assert not result.ok and result.entities_checked == 3
    assert result.problems == ["product ids not in stock: SKU-9, SKU-12"]


async def test_the_default_message_names_the_source() -> None:
    result = await BusinessRuleValidator(_config(), FakeSource(set())).validate(_answer("SKU-9"))
    assert result.problems == ["values not found in fake stock: SKU-9"]


async def test_none_present() -> None:
    config = _config(require="none_present", extract={"regex": r"\b[\w.]+@[\w.]+\b"})
    validator = BusinessRuleValidator(config, FakeSource({"blocked@example.com"}))
    assert (await validator.validate("Write to help@example.com")).ok
    result = await validator.validate("Write to blocked@example.com or help@example.com")
    assert result.problems == ["values found in fake stock: blocked@example.com"]
    assert result.entities_checked == 2


async def test_regex_extraction_uses_the_first_group_when_there_is_one() -> None:
    source = FakeSource({"1", "2"})
    validator = BusinessRuleValidator(_config(extract={"regex": r"SKU-(\d+)"}), source)
    assert (await validator.validate("Try SKU-1 or SKU-2, not SKU-")).ok
    assert source.asked == [["1", "2"]]


async def test_numbers_in_json_are_checked_as_written_and_other_values_skipped() -> None:
    source = FakeSource({"12", "3.5", "SKU-1"})
    validator = BusinessRuleValidator(_config(), source)
    assert (await validator.validate(_answer(12, 3.5, " SKU-1 ", True, None, {"x": 1}, [1], ""))).ok
    assert source.asked == [["12", "3.5", "SKU-1"]]


async def test_fenced_json_answers_are_read() -> None:
    source = FakeSource({"SKU-1"})
    assert (await BusinessRuleValidator(_config(), source).validate(f"```json\n{_answer('SKU-1')}\n```")).ok


async def test_an_answer_that_is_not_json_fails_without_asking_the_source() -> None:
    source = FakeSource(set())
    result = await BusinessRuleValidator(_config(), source).validate("SKU-1 is great")
    assert not result.ok and source.asked == []
    assert result.problems[0].startswith("the answer is not valid JSON")
    assert result.problems[0].endswith("cannot read $.products[*].id")


async def test_no_values_passes_unless_a_minimum_is_set() -> None:
    source = FakeSource(set())
    assert (await BusinessRuleValidator(_config(), source).validate('{"products": []}')).ok
    result = await BusinessRuleValidator(_config(min_entities=1), source).validate('{"items": [{"id": "SKU-1"}]}')
    assert result.problems == ["the answer names 0 values; at least 1 needed"]
    assert source.asked == []


async def test_too_many_values_fail_without_asking_the_source() -> None:
    source = FakeSource(set())
    result = await BusinessRuleValidator(_config(max_entities=3), source).validate(_answer(*range(4)))
    assert result.problems == ["the answer names 4 values, more than the 3 checked"]
    assert source.asked == []


async def test_a_long_list_of_values_is_cut() -> None:
    ids = [f"SKU-{n:05d}" for n in range(30)]
    (problem,) = (await BusinessRuleValidator(_config(), FakeSource(set())).validate(_answer(*ids))).problems
    listing = problem.removeprefix("values not found in fake stock: ")
    assert listing.startswith("SKU-00000, SKU-00001")
    assert listing.endswith("more)")
    assert len(listing.split(" (+")[0]) <= 60
    shown = listing.split(" (+")[0].count("SKU-")
    assert listing.endswith(f"(+{30 - shown} more)")


async def test_a_source_failure_is_raised_for_the_pipeline_to_decide() -> None:
    validator = BusinessRuleValidator(_config(), FakeSource(set(), broken=True))
    with pytest.raises(SourceUnavailable, match="fake stock: down"):
        await validator.validate(_answer("SKU-1"))


async def test_built_from_config_with_a_csv_source(tmp_path: Path) -> None:
    (tmp_path / "stock.csv").write_text("id,in_stock\nSKU-1,true\nSKU-2,false\n")
    config = _config(
        source={"kind": "csv", "file": "stock.csv", "column": "id", "where": {"column": "in_stock", "equals": "true"}}
    )
    validator = build_validator(config, base_dir=tmp_path, session=None)
    assert validator.name == "in_stock" and validator.on_fail == "flag" and not validator.reask
    assert validator.schema is None
    assert (await validator.validate(_answer("SKU-1"))).ok
    assert (await validator.validate(_answer("SKU-1", "SKU-2"))).problems == [
        "values not found in csv stock.csv: SKU-2"
    ]
