"""A route's guard list is checked when the config loads; guards run in order, failing open or closed."""

from __future__ import annotations

from pathlib import Path

import pytest

from keel.config.errors import ConfigError
from keel.config.loader import read_runtime_config
from keel.config.runtime import RuntimeConfig
from keel.guards.base import GuardResources, GuardState
from keel.guards.builtin.pii_guard import PiiGuard
from keel.guards.registry import manifest
from keel.guards.runner import GuardRunner
from keel.monitor.metrics import Metrics

BASE = """\
routes:
  bot:
    deployments: [sim]
    guards:
GUARDS
deployments:
  sim: {provider: simulator}
"""


def config(guards: str) -> RuntimeConfig:
    return read_runtime_config(BASE.replace("GUARDS", guards), file="keel.yaml", base_dir=Path("."), env={})


def problems(guards: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        config(guards)
    return [f"{issue.path}: {issue.message}" for issue in caught.value.issues]


def test_unknown_guards_and_bad_parameters_name_their_path() -> None:
    found = problems(
        """\
      input:
        - pii: {}
        - nope: {}
        - injection: {threshold: 2}
        - pii: {action: shred}
        - pii: {}
      output:
        - injection: {}"""
    )
    assert any(p.startswith("routes.bot.guards.input[3].pii.action:") for p in found)
    assert any(p.startswith("routes.bot.guards.input[1]: unknown guard 'nope'") for p in found)
    assert any(p.startswith("routes.bot.guards.input[2].injection.threshold:") for p in found)
    assert "routes.bot.guards.input[4]: guard 'pii' is listed twice for input; give one a `name`" in found
    assert "routes.bot.guards.output[0]: guard 'injection' has no output check" in found


def test_plugins_load_by_module_path_and_check_their_parameters() -> None:
    found = problems(
        """\
      input:
        - plugin: tests.guards.plugins:NotAGuard
        - plugin: tests.guards.missing:Thing
        - {plugin: "tests.guards.plugins:Shouting", params: {max_exclamations: -1}}"""
    )
    assert any("tests.guards.plugins:NotAGuard' is not a keel.guards.base.Guard subclass" in p for p in found)
    assert any(p.startswith("routes.bot.guards.input[1].plugin: cannot import 'tests.guards.missing'") for p in found)
    assert any(p.startswith("routes.bot.guards.input[2].params.max_exclamations:") for p in found)


def test_the_manifest_lists_parameters_and_stages() -> None:
    shown = manifest(PiiGuard)
    assert shown["stages"] == ["input", "output"]
    assert set(shown["params"]["properties"]) >= {"action", "actions", "entities", "restore"}


def runner() -> GuardRunner:
    return GuardRunner(GuardResources(Path(".")), Metrics())


BODY = {"model": "bot", "messages": [{"role": "user", "content": "hi!!! mail me at a.b@example.com"}]}


async def test_guards_run_in_order_on_the_body_the_previous_one_left() -> None:
    cfg = config(
        """\
      input:
        - pii: {}
        - {plugin: "tests.guards.plugins:Shouting", name: shout}"""
    )
    result = await runner().run_input(cfg.routes["bot"], BODY, GuardState("bot"))
    assert [(v.guard, v.action) for v in result.verdicts] == [("pii", "redact"), ("shout", "flag")]
    assert result.body["messages"][0]["content"] == "hi!!! mail me at <EMAIL_1>"
    assert BODY["messages"][0]["content"].endswith("a.b@example.com"), "the caller's body is not modified"
    assert result.blocked is None


@pytest.mark.parametrize(("on_error", "action"), [("closed", "block"), ("open", "allow")])
async def test_a_crashing_or_slow_guard_follows_on_error(on_error: str, action: str) -> None:
    cfg = config(
        f"""\
      on_error: {on_error}
      timeout_ms: 50
      input:
        - plugin: tests.guards.plugins:Broken
        - plugin: tests.guards.plugins:Slow"""
    )
    result = await runner().run_input(cfg.routes["bot"], BODY, GuardState("bot"))
    first = result.verdicts[0]
    assert first.action == action and first.error is not None and "RuntimeError" in first.error
    if on_error == "closed":
        assert result.blocked is first and len(result.verdicts) == 1
    else:
        assert result.blocked is None and result.verdicts[1].error == "timed out"
