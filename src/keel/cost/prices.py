"""What a model costs per token: the shipped list-price catalogue and a deployment's own override."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from importlib import resources
from typing import Any

import yaml
from pydantic import Field

from keel.config.base import StrictModel


class Price(StrictModel):
    """USD per million tokens. Without a cached rate, cached prompt tokens cost the input rate."""

    input_per_mtok: float = Field(ge=0)
    output_per_mtok: float = Field(ge=0)
    cached_input_per_mtok: float | None = Field(default=None, ge=0)


FREE = Price(input_per_mtok=0, output_per_mtok=0)


class PriceEntry(StrictModel):
    """One model in ``catalogue/prices.yaml``."""

    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cached_input: float | None = Field(default=None, ge=0)
    aliases: list[str] = Field(default_factory=list)
    source: str
    as_of: date

    def price(self) -> Price:
        return Price(input_per_mtok=self.input, output_per_mtok=self.output, cached_input_per_mtok=self.cached_input)


class PriceFile(StrictModel):
    free_providers: list[str] = Field(default_factory=list)
    priced_as: dict[str, str] = Field(default_factory=dict)
    models: dict[str, PriceEntry]


@dataclass(frozen=True)
class PriceCatalogue:
    """The catalogue with every name (canonical and alias) indexed, lower-cased, to its price."""

    prices: dict[str, Price]
    priced_as: dict[str, str]
    free_providers: frozenset[str]
    _found: dict[tuple[str, str], Price | None] = field(default_factory=dict, repr=False, compare=False)
    """Answers already worked out: every request is priced, from a handful of provider/model pairs."""

    @classmethod
    def from_data(cls, data: Any) -> PriceCatalogue:
        parsed = PriceFile.model_validate(data)
        prices: dict[str, Price] = {}
        for key, entry in parsed.models.items():
            provider, slash, model = key.partition("/")
            if not slash or not model:
                raise ValueError(f"price entry {key!r} is not provider/model")
            price = entry.price()
            for name in (model, *entry.aliases):
                full = f"{provider}/{name}".lower()
                if full in prices:
                    # Two prices under one name would make the lookup depend on file order.
                    raise ValueError(f"price catalogue names {full!r} twice")
                prices[full] = price
        return cls(prices, dict(parsed.priced_as), frozenset(parsed.free_providers))

    def lookup(self, provider: str, model: str) -> Price | None:
        """The listed price of ``model`` at ``provider``; see ``price_for``."""
        key = (provider, model)
        if key in self._found:
            return self._found[key]
        if len(self._found) >= _FOUND_MAX:  # model names come from upstream answers: stay bounded
            self._found.clear()
        price = self._found[key] = self._look_up(provider, model)
        return price

    def _look_up(self, provider: str, model: str) -> Price | None:
        for vendor in (provider, self.priced_as.get(provider)):
            if vendor is None:
                continue
            for name in _names_to_try(model):
                price = self.prices.get(f"{vendor}/{name}".lower())
                if price is not None:
                    return price
        if provider in self.free_providers:
            return FREE
        return None


_FOUND_MAX = 4096

# Vendors publish dated snapshots (gpt-4o-2024-08-06, claude-3-5-haiku-20241022, mistral-large-2411)
# and moving names (-latest) at the price of the model they snapshot.
_SNAPSHOT_SUFFIX = re.compile(r"-(?:\d{4}-\d{2}-\d{2}|\d{8}|\d{4}|latest)$")


def _names_to_try(model: str) -> tuple[str, ...]:
    stripped = _SNAPSHOT_SUFFIX.sub("", model)
    return (model,) if stripped == model or not stripped else (model, stripped)


@cache
def price_catalogue() -> PriceCatalogue:
    """The catalogue shipped in ``keel/catalogue/prices.yaml``, read once."""
    text = resources.files("keel.catalogue").joinpath("prices.yaml").read_text(encoding="utf-8")
    return PriceCatalogue.from_data(yaml.safe_load(text))


def price_for(provider: str, model: str, override: Price | None) -> Price | None:
    """The price to charge a call to ``model`` at ``provider``, or None when it is unknown.

    A deployment's override wins; then the catalogue under the exact name, then an alias, then the
    name without a snapshot suffix. Providers priced as another (Azure as OpenAI) fall back to that
    one's list. The built-in simulator and FAQ upstreams cost nothing unless priced.
    """
    if override is not None:
        return override
    return price_catalogue().lookup(provider, model)
