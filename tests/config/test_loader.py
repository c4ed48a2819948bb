"""Config loading: strictness, line numbers and paths in errors, env substitution, resolution."""

from __future__ import annotations

from pathlib import Path

import pytest

from keel.config.errors import ConfigError
from keel.config.loader import load_runtime_config, parse_config, read_runtime_config

ROOT = Path(__file__).resolve().parents[2]


def issues_of(text: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        read_runtime_config(text, file="k.yaml", base_dir=ROOT, env=env or {})
    return [str(i) for i in info.value.issues]


def test_every_problem_is_reported_with_line_and_path() -> None:
    text = """\
server:
  port: "8080"
  colour: blue
routes:
  bot:
    deployments: [a]
deployments:
  a:
    provider: openai
    timeouts: {total_s: -1}
"""
    assert issues_of(text) == [
        "k.yaml:2: server.port: Input should be a valid integer",
        "k.yaml:3: server.colour: unknown key",
        "k.yaml:10: deployments.a.timeouts.total_s: Input should be greater than 0",
    ]


def test_cross_reference_errors_name_line_and_path() -> None:
    text = """\
routes:
  bot:
    deployments: [a, ghost]
deployments:
  a:
    provider: openia
"""
    assert issues_of(text) == [
        "k.yaml:6: deployments.a.provider: unknown provider 'openia'; known: anthropic, azure, deepseek, faq, "
        "fireworks, groq, mistral, ollama, openai, openai-compatible, openrouter, perplexity, simulator, "
        "together, vllm, xai",
        "k.yaml:3: routes.bot.deployments[1]: no deployment named 'ghost'",
    ]


def test_missing_required_and_duplicate_keys() -> None:
    text = """\
routes:
  bot: {description: x}
  bot: {deployments: [a]}
deployments:
  a: {model: m}
"""
    found = issues_of(text)
    assert "k.yaml:3: routes.bot: duplicate key" in found
    assert "k.yaml:5: deployments.a.provider: required key is missing" in found


def test_env_substitution_and_defaults() -> None:
    text = """\
deployments:
  a:
    provider: openai
    api_key: ${KEY}
    api_base: ${BASE:-https://example.test/v1}
  b:
    provider: openai
    api_key: "$${NOT_SUBSTITUTED}"
"""
    cfg = read_runtime_config(text, file="k.yaml", base_dir=ROOT, env={"KEY": "sk-1"})
    a = cfg.deployments["a"]
    assert a.target is not None and a.target.api_key == "sk-1"
    assert a.target.api_base == "https://example.test/v1"
    b = cfg.deployments["b"]
    assert b.target is not None and b.target.api_key == "${NOT_SUBSTITUTED}"
    assert issues_of("deployments:\n  a:\n    provider: openai\n    api_key: ${KEY}\n") == [
        "k.yaml:4: deployments.a.api_key: environment variable KEY is not set"
    ]


def test_deployment_without_required_key_is_disabled_not_an_error() -> None:
    cfg = read_runtime_config(
        "deployments:\n  g: {provider: groq, api_key: ''}\n", file="k.yaml", base_dir=ROOT, env={}
    )
    assert cfg.deployments["g"].disabled == "deployment 'g' has no API key (set GROQ_API_KEY)"


def test_invalid_yaml_names_the_line() -> None:
    [issue] = issues_of("routes:\n  bot: [\n")
    assert issue.startswith("k.yaml:3: <root>: invalid YAML:")


def test_public_deployment_name_may_not_shadow_a_route() -> None:
    text = """\
routes:
  x: {deployments: [x]}
deployments:
  x: {provider: simulator, public: true}
"""
    assert issues_of(text) == ["k.yaml:2: routes.x: route name clashes with public deployment 'x'"]


def test_vendor_catalogue_entries_resolve_to_targets() -> None:
    text = """\
deployments:
  az: {provider: azure, api_base: "https://r.openai.azure.com/", model: prod-4o, api_key: k}
  an: {provider: anthropic, api_key: k, model: claude}
  lo: {provider: ollama, model: llama3}
"""
    cfg = read_runtime_config(text, file="k.yaml", base_dir=ROOT, env={})
    az, an, lo = (cfg.deployments[n].target for n in ("az", "an", "lo"))
    assert az is not None and az.url_style == "azure" and az.api_base == "https://r.openai.azure.com"
    assert az.auth_header == "api-key" and az.api_version
    assert an is not None and an.auth_header == "x-api-key" and an.headers["anthropic-version"]
    assert lo is not None and lo.api_base == "http://127.0.0.1:11434/v1" and cfg.deployments["lo"].disabled is None


def test_hash_ignores_formatting_but_not_content() -> None:
    a = read_runtime_config(
        "routes: {r: {deployments: [d]}}\ndeployments: {d: {provider: simulator}}\n", file="a", base_dir=ROOT, env={}
    )
    b = read_runtime_config(
        "# comment\ndeployments:\n  d:\n    provider: simulator\nroutes:\n  r:\n    deployments: [d]\n",
        file="b",
        base_dir=ROOT,
        env={},
    )
    c = read_runtime_config(
        "routes: {r: {deployments: [d]}}\ndeployments: {d: {provider: simulator, public: true}}\n",
        file="c",
        base_dir=ROOT,
        env={},
    )
    assert a.hash == b.hash != c.hash


@pytest.mark.parametrize("path", sorted((ROOT / "examples").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_examples_are_valid(path: Path) -> None:
    if path.name == "faq.yaml":
        pytest.skip("an FAQ data file, not a config")
    cfg = load_runtime_config(path, env={})
    assert cfg.routes


def test_parse_config_is_strict_about_types() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config("routes: {r: {deployments: [d], log_bodies: 'yes'}}", env={})
    assert "routes.r.log_bodies" in str(info.value)


def test_env_substituted_numbers_and_booleans_are_typed_but_literal_strings_stay_strict() -> None:
    text = """\
server:
  port: ${PORT}
  workers: ${WORKERS:-2}
deployments:
  a:
    provider: openai
    api_key: "${KEY}"
    public: ${PUBLIC}
"""
    cfg = read_runtime_config(
        text, file="k.yaml", base_dir=ROOT, env={"PORT": "9000", "KEY": "12345", "PUBLIC": "true"}
    )
    assert cfg.raw.server.port == 9000 and cfg.raw.server.workers == 2
    dep = cfg.deployments["a"]
    assert dep.public is True and dep.target is not None and dep.target.api_key == "12345"
    assert issues_of("server:\n  port: ${PORT}\n", env={"PORT": "eighty"}) == [
        "k.yaml:2: server.port: Input should be a valid integer"
    ]
