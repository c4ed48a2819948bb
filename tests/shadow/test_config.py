"""A route's shadow section: checked strictly, and its candidate must be a deployment."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from keel.config.errors import ConfigError
from keel.config.loader import load_runtime_config
from keel.shadow.config import ShadowConfig

ROUTE = """\
routes:
  support:
    deployments: [live]
    shadow: SHADOW
deployments:
  live: {provider: simulator}
  cheap: {provider: simulator}
"""


def test_defaults_and_bounds() -> None:
    config = ShadowConfig(candidate="cheap", share=0.1)
    assert (config.max_in_flight, config.timeout_s, config.compare.similar_at) == (16, 30.0, 0.8)
    assert config.compare.semantic is False  # embeddings cost CPU on every mirrored request: opt in
    for bad in ({"share": 0.0}, {"share": 1.5}, {"max_in_flight": 0}, {"timeout_s": 0.0}):
        with pytest.raises(ValidationError):
            ShadowConfig.model_validate({"candidate": "cheap", "share": 0.5, **bad})
    with pytest.raises(ValidationError):
        ShadowConfig.model_validate({"candidate": "cheap"})  # mirroring doubles the cost: no default share
    with pytest.raises(ValidationError):
        ShadowConfig.model_validate({"candidate": "cheap", "share": 0.5, "sample": 0.5})


def test_a_route_mirrors_to_a_deployment_of_the_config(tmp_path: Path) -> None:
    path = tmp_path / "keel.yaml"
    path.write_text(ROUTE.replace("SHADOW", "{candidate: cheap, share: 0.25, compare: {similar_at: 0.9}}"))
    shadow = load_runtime_config(path).routes["support"].config.shadow
    assert shadow is not None and (shadow.candidate, shadow.share, shadow.compare.similar_at) == ("cheap", 0.25, 0.9)

    path.write_text(ROUTE.replace("SHADOW", "{candidate: missing, share: 0.25}"))
    with pytest.raises(ConfigError) as refused:
        load_runtime_config(path)
    assert "routes.support.shadow.candidate" in str(refused.value) and "missing" in str(refused.value)
