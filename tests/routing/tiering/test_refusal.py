"""Refusals are recognised by how an answer opens, not by a "cannot" anywhere in it."""

from __future__ import annotations

import pytest

from keel.routing.tiering.refusal import is_refusal


@pytest.mark.parametrize(
    "text",
    [
        "I'm sorry, but I can't help with that.",
        "I\u2019m sorry, but I can\u2019t help with that.",
        "I cannot assist with that request.",
        "As an AI language model, I am unable to provide medical advice.",
        "As an AI, I don't have the ability to browse the web.",
        "I'm not able to provide that information.",
        "I\u2019m unable to share internal pricing rules.",
        "Sorry, I can't do that.",
        "I apologise, but I cannot fulfil this request.",
        "I apologize, but I won't be able to help with this.",
        "Unfortunately, I'm not in a position to give legal advice.",
        "I'm afraid I can't do that.",
        "I'm really sorry to hear that, but I can't provide a diagnosis.",
        "I'm sorry. I can't help with that.",
        "I must respectfully decline.",
        "I\u2019ll have to decline this one.",
        "  **I'm sorry**, but I will not write that.",
        '"I cannot comply with that request."',
        "i cant help with that",
        "My apologies, but I can not generate that content.",
    ],
)
def test_refusals(text: str) -> None:
    assert is_refusal(text)


@pytest.mark.parametrize(
    "text",
    [
        "You cannot use a Python list as a dict key because lists are mutable; use a tuple instead.",
        "Sorry for the wait \u2014 here is your refund status: approved on 3 May.",
        "I'm sorry to hear your order is late. It left our warehouse today and arrives Friday.",
        "Sorry, we can't process refunds after 30 days, but store credit is available.",
        "I can't help but notice you ordered the same item twice; shall I cancel one?",
        "I cannot stress enough how important regular backups are.",
        "Here is how to reset your password. Note that I can't help with the banking app itself.",
        "Sure! First, open Settings. I'm sorry, but I can't see your screen, so tell me what you find.",
        "Items I can't ship abroad: batteries and perfume.",
        "I can help with that: your order ships tomorrow.",
        "Ali can't help today, but I can.",
        "",
    ],
)
def test_not_refusals(text: str) -> None:
    assert not is_refusal(text)
