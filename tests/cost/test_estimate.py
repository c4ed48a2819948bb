"""The offline token estimate against GPT-4o's real counts.

Each text below states its ``o200k_base`` token count (GPT-4o's tokenizer), counted with a real
implementation of that encoding. The estimate is checked against it with the tolerance documented in
``keel.cost.estimate``: English prose within 10% (measured within 3%), other text more loosely.
"""

from __future__ import annotations

import pytest

from keel.cost.estimate import (
    estimate_completion_tokens,
    estimate_input_tokens,
    estimate_prompt_tokens,
    estimate_text_tokens,
)

SHOES = (
    "Hello! I ordered a pair of running shoes from your website two weeks ago, but they still haven't arrived. "
    "The tracking page says the parcel left the warehouse on the 3rd and nothing since. Could you please check "
    "what happened and let me know when I can expect it?"
)
TREES = (
    "The city council approved a plan on Wednesday to plant ten thousand new trees over the next five years. "
    "Officials say the trees will provide shade during hot summers, reduce flooding after heavy rain, and make "
    "streets more pleasant for people who walk or cycle to work."
)
GARDEN = (
    "Once upon a time, in a small village at the edge of a great forest, there lived an old woman who kept a "
    "garden full of strange and beautiful flowers. Every spring, travellers came from far away just to see them "
    "bloom, and every spring she refused to tell anyone how she grew them."
)
SLEEP = (
    "A good night's sleep matters more than most people think. Adults need between seven and nine hours, yet "
    "many get far less because of work, screens, or stress. Going to bed at the same time every night, avoiding "
    "caffeine late in the day, and keeping the bedroom cool and dark can all help."
)
CODE = '''def fibonacci(n: int) -> list[int]:
    """Return the first n Fibonacci numbers."""
    numbers = [0, 1]
    while len(numbers) < n:
        numbers.append(numbers[-1] + numbers[-2])
    return numbers[:n]


if __name__ == "__main__":
    print(fibonacci(10))
'''
RUSSIAN = (
    "Городской совет в среду одобрил план посадить десять тысяч новых деревьев в течение следующих пяти лет. "
    "По словам чиновников, деревья дадут тень жарким летом и уменьшат наводнения после сильных дождей."
)


@pytest.mark.parametrize(
    ("text", "real", "tolerance"),
    [
        ("Hello, world! How are you today?", 9, 0.15),
        (SHOES, 56, 0.10),
        (TREES, 51, 0.10),
        (GARDEN, 60, 0.10),
        (SLEEP, 61, 0.10),
        (SHOES + "\n\n" + TREES + "\n\n" + GARDEN + "\n\n" + SLEEP, 228, 0.05),
        (CODE, 69, 0.25),
        (RUSSIAN, 51, 0.35),
    ],
)
def test_estimate_is_close_to_gpt_4o_counts(text: str, real: int, tolerance: float) -> None:
    assert abs(estimate_text_tokens(text) - real) <= tolerance * real


def test_empty_text_is_no_tokens() -> None:
    assert estimate_text_tokens("") == 0
    assert estimate_prompt_tokens([]) == 0
    assert estimate_completion_tokens("") == 0


def test_prompt_counts_message_framing() -> None:
    messages = [
        {"role": "system", "content": "You are a helpful assistant."},  # 6 tokens
        {"role": "user", "content": "How do I reset my password?"},  # 7 tokens
    ]
    # 13 tokens of content, 4 per message for the framing and the role, 3 to prime the reply.
    assert estimate_prompt_tokens(messages) == 24
    named = [{**messages[1], "name": "ana"}]
    assert estimate_prompt_tokens(named) == estimate_prompt_tokens(messages[1:]) + 2


def test_prompt_counts_text_parts_images_tool_calls_and_tools() -> None:
    text_only = [{"role": "user", "content": SHOES}]
    parts = [{"role": "user", "content": [{"type": "text", "text": SHOES}, {"type": "image_url", "image_url": {}}]}]
    assert estimate_prompt_tokens(parts) == estimate_prompt_tokens(text_only) + 85
    call = {"id": "c1", "type": "function", "function": {"name": "lookup_order", "arguments": '{"order": 1234}'}}
    with_call = [*text_only, {"role": "assistant", "content": None, "tool_calls": [call]}]
    assert estimate_prompt_tokens(with_call) > estimate_prompt_tokens(text_only) + 4
    tools = [{"type": "function", "function": {"name": "lookup_order", "parameters": {"type": "object"}}}]
    assert estimate_prompt_tokens(text_only, tools) > estimate_prompt_tokens(text_only)


def test_completion_counts_text_and_tool_calls() -> None:
    assert estimate_completion_tokens(TREES) == estimate_text_tokens(TREES)
    call = {"function": {"name": "lookup_order", "arguments": '{"order": 1234}'}}
    assert estimate_completion_tokens("", [call]) > 3


def test_embedding_input_in_every_shape() -> None:
    assert estimate_input_tokens(SHOES) == estimate_text_tokens(SHOES)
    assert estimate_input_tokens([SHOES, TREES]) == estimate_text_tokens(SHOES) + estimate_text_tokens(TREES)
    assert estimate_input_tokens([101, 2023, 102]) == 3  # already tokens
    assert estimate_input_tokens([[1, 2], [3]]) == 3


def test_odd_input_does_not_break_the_estimate() -> None:
    messages = [None, {"role": "user", "content": [None, {"type": "audio"}]}, {"role": "user", "content": 5}]
    assert estimate_prompt_tokens(messages) == 2 * 4 + 3
    assert estimate_text_tokens("\x00\ufffd 😀 \t\n" * 10) > 0
