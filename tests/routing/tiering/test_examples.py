"""Labelled examples: the loader's errors, the vote's rules, and the shipped file's held-out accuracy."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from keel.routing.tiering.examples import LabelledExample, NearestNeighbours, load_examples

from .bag_of_words import embed, embed_now

ROOT = Path(__file__).resolve().parents[3]
SHIPPED = ROOT / "examples" / "tiers" / "support-examples.jsonl"
TIERS = ("cheap", "strong")


def write(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "examples.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_loads_examples_with_tier_positions(tmp_path: Path) -> None:
    path = write(tmp_path, '{"text": "hours?", "tier": "cheap"}', "", '{"text": "sue you", "tier": "strong"}')
    assert load_examples(path, TIERS) == [
        LabelledExample("hours?", "cheap", 0),
        LabelledExample("sue you", "strong", 1),
    ]


@pytest.mark.parametrize(
    ("bad_line", "problem"),
    [
        ('{"text": "hours?", "tier": "cheep"}', "unknown tier 'cheep'"),
        ('{"text": "hours?"', "not valid JSON"),
        ('["hours?", "cheap"]', "expected an object"),
        ('{"text": "  ", "tier": "cheap"}', "'text' must be a non-empty string"),
        ('{"text": 5, "tier": "cheap"}', "'text' must be a non-empty string"),
        ('{"text": "hours?"}', "'tier' must be a string"),
        ('{"text": "hours?", "tier": "cheap", "label": "x"}', "unknown keys"),
    ],
)
def test_bad_line_names_file_line_and_problem(tmp_path: Path, bad_line: str, problem: str) -> None:
    path = write(tmp_path, '{"text": "fine", "tier": "cheap"}', "", bad_line)
    with pytest.raises(ValueError) as caught:
        load_examples(path, TIERS)
    message = str(caught.value)
    assert message.startswith(f"{path}:3: ")
    assert problem in message


def test_empty_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no examples"):
        load_examples(write(tmp_path, "", "  "), TIERS)


def examples(*rows: tuple[str, int]) -> list[LabelledExample]:
    return [LabelledExample(text, ("cheap", "medium", "strong")[tier], tier) for text, tier in rows]


async def test_majority_of_the_nearest_wins() -> None:
    model = await NearestNeighbours.build(
        examples(("order status", 0), ("order status please", 0), ("order dispute", 2), ("legal claim", 2)), embed, k=3
    )
    assert await model.vote("order status") == (0, "neighbours: 2 of 3 say cheap")


async def test_ties_go_to_the_stronger_tier() -> None:
    model = await NearestNeighbours.build(examples(("order status", 0), ("order dispute", 2)), embed, k=2)
    assert await model.vote("order") == (2, "neighbours: 1 of 2 say strong")
    three_way = await NearestNeighbours.build(examples(("a", 0), ("b", 1), ("c", 2)), embed, k=3)
    assert (await three_way.vote("d"))[0] == 2


async def test_k_larger_than_the_examples_uses_them_all() -> None:
    model = await NearestNeighbours.build(examples(("hours", 0), ("refund dispute", 2), ("opening", 0)), embed, k=10)
    assert await model.vote("refund dispute") == (0, "neighbours: 2 of 3 say cheap")


async def test_build_embeds_in_batches() -> None:
    calls: list[int] = []

    async def counting(texts: Sequence[str]) -> npt.NDArray[np.float32]:
        calls.append(len(texts))
        return embed_now(texts)

    many = examples(*((f"question {i}", i % 2 * 2) for i in range(600)))
    model = await NearestNeighbours.build(many, counting, k=1000)
    assert calls == [256, 256, 88]
    assert await model.vote("question") == (2, "neighbours: 300 of 600 say strong")
    assert calls[-1] == 1


async def test_build_rejects_a_wrong_embedding_shape() -> None:
    async def flat(texts: Sequence[str]) -> npt.NDArray[np.float32]:
        return np.zeros(len(texts), dtype=np.float32)

    with pytest.raises(ValueError, match="shape"):
        await NearestNeighbours.build(examples(("a", 0)), flat, k=1)


async def test_build_rejects_inconsistent_labels() -> None:
    mixed = [LabelledExample("a", "cheap", 0), LabelledExample("b", "small", 0)]
    with pytest.raises(ValueError, match="labelled both"):
        await NearestNeighbours.build(mixed, embed, k=1)


def test_shipped_examples_load_with_both_tiers() -> None:
    loaded = load_examples(SHIPPED, TIERS)
    assert 100 <= len(loaded) <= 150
    assert {example.tier for example in loaded} == set(TIERS)
    assert len({example.text for example in loaded}) == len(loaded)


def held_out_split(loaded: list[LabelledExample], seed: int) -> tuple[list[LabelledExample], list[LabelledExample]]:
    """80/20 within each tier, so both halves keep the file's class balance."""
    rng = np.random.default_rng(seed)
    train: list[LabelledExample] = []
    test: list[LabelledExample] = []
    for tier in TIERS:
        group = [example for example in loaded if example.tier == tier]
        order = rng.permutation(len(group))
        cut = round(len(group) * 0.8)
        train += [group[i] for i in order[:cut]]
        test += [group[i] for i in order[cut:]]
    return train, test


@pytest.mark.parametrize("seed", [0, 1, 2])
async def test_shipped_examples_generalise_to_held_out_prompts(seed: int) -> None:
    train, test = held_out_split(load_examples(SHIPPED, TIERS), seed)
    model = await NearestNeighbours.build(train, embed, k=5)
    correct = 0
    for example in test:
        correct += (await model.vote(example.text))[0] == example.tier_index
    accuracy = correct / len(test)
    majority = max(sum(example.tier == tier for example in test) for tier in TIERS) / len(test)
    assert accuracy >= majority + 0.15, f"accuracy {accuracy:.2f} vs majority class {majority:.2f}"
