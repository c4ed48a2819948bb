"""The vendor catalogue: OpenAI-compatible and other vendors described as data."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Literal

import yaml
from pydantic import Field

from keel.config.base import StrictModel

BUILTIN_PROVIDERS = ("simulator", "faq")


class Vendor(StrictModel):
    codec: Literal["openai", "anthropic"]
    api_base: str | None = None
    auth: Literal["bearer", "api-key", "x-api-key", "none"] = "bearer"
    key_env: str | None = None
    key_required: bool = False
    url_style: Literal["openai", "azure"] = "openai"
    default_api_version: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)


@cache
def vendors() -> dict[str, Vendor]:
    text = resources.files(__package__).joinpath("vendors.yaml").read_text(encoding="utf-8")
    return {name: Vendor.model_validate(entry) for name, entry in yaml.safe_load(text).items()}


def provider_names() -> list[str]:
    return sorted([*vendors(), *BUILTIN_PROVIDERS])
