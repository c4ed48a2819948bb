"""One detector for the whole module: loading the name lists is the slow part of building one."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from keel.guards.pii import PiiDetector


@pytest.fixture(scope="session")
def detector() -> PiiDetector:
    return PiiDetector()


@pytest.fixture(scope="session")
def found(detector: PiiDetector) -> Callable[[str], list[tuple[str, str]]]:
    """(entity, matched text) for each finding."""

    def run(text: str) -> list[tuple[str, str]]:
        return [(span.entity, text[span.start : span.end]) for span in detector.detect(text)]

    return run
