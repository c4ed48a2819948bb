"""Validator configs are validated the way the config loader does it: strictly, from JSON."""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import TypeAdapter

from keel.guards.validators import ValidatorConfig

_CONFIG: TypeAdapter[ValidatorConfig] = TypeAdapter(ValidatorConfig)


def parse(data: dict[str, Any]) -> ValidatorConfig:
    return _CONFIG.validate_json(orjson.dumps(data))
