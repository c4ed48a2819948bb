"""Secrets: vendor token formats on sight, other values only after a key word and only if they look random."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from keel.guards.pii.credentials import looks_random, shannon_entropy

Found = Callable[[str], list[tuple[str, str]]]

# Built from pieces so that secret scanners do not flag this file.
TOKENS = [
    "sk-" + "proj-" + "Abc123Def456Ghi789Jkl012Mno345Pqr678",
    "sk-" + "ant-api03-" + "Abc123Def456Ghi789Jkl012Mno345Pqr678",
    "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8",
    "github_pat_" + "11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGH",
    "AKIA" + "IOSFODNN7EXAMPLE",
    "xoxb-" + "1234567890-0987654321-AbCdEfGhIjKl",
    "AIza" + "SyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q",
    "eyJhbGciOiJIUzI1NiJ9" + ".eyJzdWIiOiIxMjM0NTY3ODkwIn0" + ".dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
]


@pytest.mark.parametrize("token", TOKENS)
def test_known_token_formats(found: Found, token: str) -> None:
    assert found(f"use {token} for the call") == [("SECRET", token)]


def test_private_key_block(found: Found) -> None:
    block = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7\nabc+/=\n-----END RSA PRIVATE KEY-----"
    assert found(f"Here it is:\n{block}\nthanks") == [("SECRET", block)]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('api_key = "9f8e7d6c5b4a39281706f5e4d3c2b1a0"', "9f8e7d6c5b4a39281706f5e4d3c2b1a0"),
        ("client_secret: Zk3hQ9vLm2Xp7RtY4wBn", "Zk3hQ9vLm2Xp7RtY4wBn"),
        ("my token is q8W2e9R4t7Y1u6I3o5P0a2S8", "q8W2e9R4t7Y1u6I3o5P0a2S8"),
        ("password: hunter2", "hunter2"),
        ("PASSWORD=Tr0ub4dor&3", "Tr0ub4dor&3"),
    ],
)
def test_values_given_to_key_words(found: Found, text: str, value: str) -> None:
    assert found(text) == [("SECRET", value)]


@pytest.mark.parametrize(
    "text",
    [
        "commit 3f2a9c8e1b7d6f5a4c3b2a1908f7e6d5c4b3a291 fixed it",  # random hex, no key word
        "request id 123e4567-e89b-12d3-a456-426614174000",
        "the key to success is patience and practice",
        "reset your password via the settings page",
        "token counts: prompt 1200, completion 340",
        "password: correcthorsebatterystaple",  # a plain word, one character class
        "the task-runner and risk-based review",
    ],
)
def test_not_secrets(found: Found, text: str) -> None:
    assert [entity for entity, _ in found(text) if entity == "SECRET"] == []


def test_entropy_of_uniform_and_constant_strings() -> None:
    assert shannon_entropy("aaaa") == 0.0
    assert shannon_entropy("abcd") == pytest.approx(2.0)
    assert not looks_random("aaaaaaaaaaaaaaaaaaaa1")
    assert looks_random("q8W2e9R4t7Y1u6I3o5P0")
