"""Which price applies to a call: a deployment's override, then the shipped catalogue by name."""

from __future__ import annotations

from datetime import date
from importlib import resources

import pytest
import yaml
from pydantic import ValidationError

from keel.cost.prices import FREE, Price, PriceCatalogue, price_catalogue, price_for


def test_override_wins_over_the_catalogue() -> None:
    override = Price(input_per_mtok=1, output_per_mtok=2)
    assert price_for("openai", "gpt-4o", override) is override
    assert price_for("vllm", "my-llama", override) is override


@pytest.mark.parametrize(
    ("provider", "model", "expected"),
    [
        ("openai", "gpt-4o", (2.5, 10.0, 1.25)),
        ("openai", "gpt-4o-2024-08-06", (2.5, 10.0, 1.25)),  # alias
        ("openai", "gpt-4o-2024-05-13", (5.0, 15.0, None)),  # an exact entry beats the family's price
        ("openai", "gpt-4o-mini-2099-01-01", (0.15, 0.6, 0.075)),  # unknown snapshot: suffix dropped
        ("openai", "text-embedding-3-small", (0.02, 0.0, None)),
        ("anthropic", "claude-3-5-haiku-latest", (0.8, 4.0, 0.08)),
        ("anthropic", "claude-3-5-haiku-20241022", (0.8, 4.0, 0.08)),
        ("anthropic", "claude-sonnet-4-20250514", (3.0, 15.0, 0.3)),
        ("anthropic", "claude-opus-4-0", (15.0, 75.0, 1.5)),
        ("mistral", "mistral-large-2411", (2.0, 6.0, None)),
        ("groq", "llama-3.3-70b-versatile", (0.59, 0.79, None)),
        ("deepseek", "deepseek-chat", (0.28, 0.42, 0.028)),
        ("together", "meta-llama/Llama-3.3-70B-Instruct-Turbo", (0.88, 0.88, None)),
        ("together", "meta-llama/llama-3.3-70b-instruct-turbo", (0.88, 0.88, None)),  # names are case-blind
        ("azure", "gpt-4o", (2.5, 10.0, 1.25)),  # priced as OpenAI
    ],
)
def test_catalogue_lookup(provider: str, model: str, expected: tuple[float, float, float | None]) -> None:
    price = price_for(provider, model, None)
    assert price is not None
    assert (price.input_per_mtok, price.output_per_mtok, price.cached_input_per_mtok) == expected


def test_unknown_models_have_no_price() -> None:
    assert price_for("openai", "gpt-17", None) is None
    assert price_for("vllm", "llama-3.1-8b", None) is None
    assert price_for("anthropic", "gpt-4o", None) is None  # prices belong to a provider


def test_builtin_upstreams_are_free_unless_priced() -> None:
    assert price_for("simulator", "sim-chat", None) == FREE
    assert price_for("faq", "faq", None) == FREE
    priced = Price(input_per_mtok=0.5, output_per_mtok=1.5)
    assert price_for("simulator", "sim-chat", priced) is priced


def test_every_entry_has_a_source_and_date_and_sane_rates() -> None:
    raw = yaml.safe_load(resources.files("keel.catalogue").joinpath("prices.yaml").read_text(encoding="utf-8"))
    assert len(price_catalogue().prices) > len(raw["models"])  # aliases are indexed too
    for key, entry in raw["models"].items():
        assert entry["source"].startswith("https://"), key
        assert isinstance(entry["as_of"], date), key
        cached = entry.get("cached_input")
        assert cached is None or cached < entry["input"], key
    # Every brief-listed model family is priced.
    for name in ("gpt-4.1-mini", "gpt-4.1-nano", "o3", "o4-mini", "text-embedding-3-large"):
        assert price_for("openai", name, None) is not None, name
    for name in ("claude-3-7-sonnet-latest", "claude-opus-4-20250514"):
        assert price_for("anthropic", name, None) is not None, name


def test_a_name_listed_twice_is_refused() -> None:
    entry = {"input": 1.0, "output": 1.0, "source": "https://example.com", "as_of": date(2025, 1, 1)}
    data = {"models": {"x/a": {**entry, "aliases": ["b"]}, "x/b": entry}}
    with pytest.raises(ValueError, match="'x/b' twice"):
        PriceCatalogue.from_data(data)


def test_prices_are_strict_and_not_negative() -> None:
    with pytest.raises(ValidationError):
        Price(input_per_mtok=-1, output_per_mtok=0)
    with pytest.raises(ValidationError):
        Price.model_validate({"input_per_mtok": 1, "output_per_mtok": 1, "cache": 0.5})
    with pytest.raises(ValidationError):
        Price.model_validate({"input_per_mtok": "1", "output_per_mtok": 1})


def test_answers_are_remembered_but_never_more_than_a_bounded_number() -> None:
    catalogue = PriceCatalogue.from_data(
        {
            "models": {
                "openai/gpt-x": {"input": 1, "output": 2, "source": "https://example.com", "as_of": date(2026, 1, 1)}
            }
        }
    )
    first = catalogue.lookup("openai", "gpt-x-2026-01-01")
    assert first is not None and first is catalogue.lookup("openai", "gpt-x-2026-01-01")
    for i in range(5000):  # model names come from upstream answers: an upstream can send any
        assert catalogue.lookup("openai", f"made-up-{i}") is None
    assert len(catalogue._found) <= 4096
    assert catalogue.lookup("openai", "gpt-x") == first
