"""Choosing a starting tier: each rule on its own, keyword boundaries, and the examples' vote."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from keel.core.context import Json
from keel.cost.estimate import estimate_request_tokens
from keel.routing.tiering.classify import TierClassifier
from keel.routing.tiering.config import ClassifierConfig
from keel.routing.tiering.examples import LabelledExample, NearestNeighbours

from .bag_of_words import embed, embed_now

TIERS = ("cheap", "strong")


def chat(*turns: str, system: str | None = None, **extra: Any) -> Json:
    messages: list[Json] = [{"role": "system", "content": system}] if system else []
    for i, text in enumerate(turns):
        messages.append({"role": "user" if i % 2 == 0 else "assistant", "content": text})
    return {"model": "support", "messages": messages, **extra}


def classifier(
    tiers: tuple[str, ...] = TIERS, neighbours: NearestNeighbours | None = None, **rules: Any
) -> TierClassifier:
    return TierClassifier(ClassifierConfig(**rules), tiers, neighbours)


async def test_short_simple_request_goes_cheap() -> None:
    choice = await classifier().choose(chat("What are your opening hours?"))
    assert (choice.index, choice.reason) == (0, "rules: short, no tools")


async def test_prompt_token_boundary() -> None:
    body = chat("Where is my parcel? It was due on Monday and the tracking page has not changed since Friday.")
    tokens = estimate_request_tokens(body)
    assert (await classifier(max_prompt_tokens=tokens).choose(body)).index == 0
    over = await classifier(max_prompt_tokens=tokens - 1).choose(body)
    assert (over.index, over.reason) == (1, f"prompt {tokens} tokens > {tokens - 1}")


async def test_a_given_prompt_estimate_is_used() -> None:
    body = chat("Hi")
    choice = await classifier(max_prompt_tokens=100).choose(body, prompt_tokens=101)
    assert (choice.index, choice.reason) == (1, "prompt 101 tokens > 100")


async def test_tool_definitions_count_towards_the_prompt() -> None:
    body = chat("Hi", tools=[{"type": "function", "function": {"name": "lookup_order", "parameters": {}}}])
    assert estimate_request_tokens(body) > estimate_request_tokens(chat("Hi"))
    choice = await classifier(tools_go_strong=False, max_prompt_tokens=estimate_request_tokens(chat("Hi"))).choose(body)
    assert choice.index == 1
    assert choice.reason.startswith("prompt ")


async def test_user_turns_over_the_limit_go_strong() -> None:
    three_turns = chat("a", "b", "c", "d", "e")
    assert (await classifier(max_turns=3).choose(three_turns)).index == 0
    choice = await classifier(max_turns=2).choose(three_turns)
    assert (choice.index, choice.reason) == (1, "3 user turns > 2")


@pytest.mark.parametrize("key", ["tools", "functions"])
async def test_tools_go_strong(key: str) -> None:
    body: Json = {**chat("Look up order 12"), key: [{"name": "lookup_order", "parameters": {}}]}
    choice = await classifier().choose(body)
    assert (choice.index, choice.reason) == (1, "tools offered")


async def test_tools_allowed_when_configured() -> None:
    body = chat("Look up order 12", tools=[{"type": "function", "function": {"name": "lookup_order"}}])
    choice = await classifier(tools_go_strong=False).choose(body)
    assert (choice.index, choice.reason) == (0, "rules: short, tools allowed")


async def test_empty_tool_list_is_no_tools() -> None:
    assert (await classifier().choose(chat("Hello", tools=[]))).index == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I want a REFUND now", "refund"),
        ("refund.", "refund"),
        ("Is this legal?", "legal"),
        ("I will contact my lawyer", "lawyer"),
        ("Let me speak to a   Manager please", "speak to a manager"),
        ("My C++ build fails", "c++"),
    ],
)
async def test_keywords_match_whole_words_case_insensitively(text: str, expected: str) -> None:
    rules = classifier(strong_keywords=("refund", "legal", "lawyer", "speak to a manager", "c++"))
    choice = await rules.choose(chat(text))
    assert (choice.index, choice.reason) == (1, f"keyword {expected!r}")


@pytest.mark.parametrize(
    "text", ["Is the refunded amount shown?", "paralegal services", "lawyers' fees", "abc++ and c+"]
)
async def test_keywords_do_not_match_inside_words(text: str) -> None:
    rules = classifier(strong_keywords=("refund", "legal", "lawyer", "c++"))
    assert (await rules.choose(chat(text))).index == 0


async def test_keywords_read_system_and_user_text_only() -> None:
    rules = classifier(strong_keywords=("contract",))
    assert (await rules.choose(chat("Hi", system="You review every contract."))).index == 1
    assert (await rules.choose(chat("Hi", "Your contract is attached.", "Thanks"))).index == 0
    parts = {"role": "user", "content": [{"type": "text", "text": "About my contract"}]}
    assert (await rules.choose({"messages": [parts]})).index == 1


async def test_rules_send_to_the_strongest_of_three() -> None:
    rules = classifier(("small", "medium", "large"), strong_keywords=("refund",))
    assert (await rules.choose(chat("refund please"))).index == 2
    assert (await rules.choose(chat("hello"))).index == 0


async def test_two_tiers_at_least() -> None:
    with pytest.raises(ValueError, match="two tiers"):
        classifier(("only",))


def labelled(tiers: tuple[str, ...], rows: list[tuple[str, str]]) -> list[LabelledExample]:
    return [LabelledExample(text, tier, tiers.index(tier)) for text, tier in rows]


async def test_vote_decides_among_tiers_when_rules_allow() -> None:
    tiers = ("small", "medium", "large")
    examples = labelled(
        tiers,
        [
            ("opening hours saturday", "small"),
            ("opening hours sunday", "small"),
            ("compare laptop plans", "medium"),
            ("compare phone plans", "medium"),
            ("compare tablet plans", "medium"),
            ("legal dispute charge", "large"),
        ],
    )
    neighbours = await NearestNeighbours.build(examples, embed, k=3)
    rules = classifier(tiers, neighbours, strong_keywords=("lawyer",))
    middle = await rules.choose(chat("compare your plans"))
    assert (middle.index, middle.reason) == (1, "neighbours: 3 of 3 say medium")
    cheap = await rules.choose(chat("what are the opening hours", "Nine to five.", "and on sunday opening hours?"))
    assert cheap.index == 0
    ruled = await rules.choose(chat("compare plans or I call my lawyer"))
    assert (ruled.index, ruled.reason) == (2, "keyword 'lawyer'")


async def test_vote_reads_the_last_user_message() -> None:
    examples = labelled(TIERS, [("opening hours", "cheap"), ("dispute my invoice charge", "strong")])
    neighbours = await NearestNeighbours.build(examples, embed, k=1)
    rules = classifier(neighbours=neighbours)
    assert (await rules.choose(chat("dispute my invoice charge", "Sure.", "opening hours"))).index == 0
    assert (await rules.choose(chat("opening hours", "9-5.", "dispute my invoice charge"))).index == 1


async def test_no_user_text_skips_the_vote() -> None:
    examples = labelled(TIERS, [("dispute", "strong")])
    neighbours = await NearestNeighbours.build(examples, embed, k=1)
    choice = await classifier(neighbours=neighbours).choose({"messages": [{"role": "system", "content": "Be kind."}]})
    assert (choice.index, choice.reason) == (0, "rules: short, no tools")


async def test_a_failed_vote_keeps_the_rules_choice() -> None:
    healthy = True

    async def flaky(texts: Sequence[str]) -> npt.NDArray[np.float32]:
        if not healthy:
            raise ConnectionError("embeddings deployment down")
        return embed_now(texts)

    neighbours = await NearestNeighbours.build(labelled(TIERS, [("dispute", "strong")]), flaky, k=1)
    assert (await classifier(neighbours=neighbours).choose(chat("dispute"))).index == 1
    healthy = False
    choice = await classifier(neighbours=neighbours).choose(chat("dispute"))
    assert (choice.index, choice.reason) == (0, "rules: short, no tools; vote failed: ConnectionError")
