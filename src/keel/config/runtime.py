"""The resolved runtime config: cross-checked, joined with the vendor catalogue, and hashed.

Every request record carries ``RuntimeConfig.hash`` so any answer can be traced to the exact config
that produced it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import orjson

from keel.catalogue import provider_names, vendors
from keel.config.errors import ConfigError, ConfigIssue
from keel.config.schema import DeploymentConfig, KeelConfig, RouteConfig
from keel.guards.registry import ResolvedGuards, resolve_guards
from keel.providers.base import Target
from keel.rollout.config import RolloutConfig
from keel.routing.tiering.examples import LabelledExample, load_examples

ProviderKind = Literal["http", "simulator", "faq"]


@dataclass(frozen=True, slots=True)
class Deployment:
    name: str
    provider: str
    kind: ProviderKind
    codec: str | None
    model: str
    target: Target | None
    public: bool
    config: DeploymentConfig
    disabled: str | None = None
    """Why this deployment cannot be used (e.g. its API key is not set); ``None`` when usable."""
    faq_path: Path | None = None


@dataclass(frozen=True, slots=True)
class Route:
    name: str
    config: RouteConfig
    implicit: bool = False
    """True for the one-deployment route of a public deployment named directly by a client."""
    timeout_overrides: Mapping[str, float] = field(default_factory=dict)
    """The route's own timeouts (``config.timeouts`` without the unset ones), computed once."""
    tier_examples: tuple[LabelledExample, ...] = ()
    """The labelled prompts of a tiered route's nearest-neighbour vote, read with the config."""
    guards: ResolvedGuards | None = None
    """The route's guards, checked against their parameters when the config loaded."""

    @property
    def deployments(self) -> tuple[str, ...]:
        return self.config.pool

    @property
    def log_bodies(self) -> bool:
        return self.config.log_bodies


@dataclass(frozen=True, slots=True)
class RuntimeConfig:
    raw: KeelConfig
    source: str
    hash: str
    routes: Mapping[str, Route]
    deployments: Mapping[str, Deployment]

    def model_names(self) -> list[str]:
        """Names a client may send as ``model``: routes, then public deployments."""
        return [*self.routes, *(d for d, dep in self.deployments.items() if dep.public)]

    implicit_routes: Mapping[str, Route] = field(default_factory=dict)
    """One-deployment routes for the public deployments, built once with the config."""
    base_dir: Path = Path()
    """The config file's directory: relative paths in the config are relative to it."""

    def route_for(self, model: str) -> Route | None:
        return self.routes.get(model) or self.implicit_routes.get(model)


def resolve(raw: KeelConfig, *, source: str, base_dir: Path) -> RuntimeConfig:
    """Join the raw config with the catalogue. Raises ``ConfigError`` (paths, no lines yet)."""
    issues: list[ConfigIssue] = []

    def issue(path: str, message: str) -> None:
        issues.append(ConfigIssue(source, None, path, message))

    deployments: dict[str, Deployment] = {}
    for name, dep in raw.deployments.items():
        resolved = _resolve_deployment(name, dep, base_dir, issue)
        if resolved is not None:
            deployments[name] = resolved

    routes: dict[str, Route] = {}
    for name, route in raw.routes.items():
        for path, dep_name in _references(name, route):
            if dep_name not in raw.deployments:
                issue(path, f"no deployment named {dep_name!r}")
        if route.rollout is not None:
            _check_rollout(name, route, route.rollout, raw, issue)
        other = raw.deployments.get(name)
        if other is not None and other.public:
            issue(f"routes.{name}", f"route name clashes with public deployment {name!r}")
        routes[name] = Route(
            name,
            route,
            timeout_overrides=route.timeouts.model_dump(exclude_none=True),
            tier_examples=_tier_examples(name, route, base_dir, issue),
            guards=resolve_guards(route.guards, f"routes.{name}.guards", issue, base_dir) if route.guards else None,
        )

    seen: set[str] = set()
    for i, budget in enumerate(raw.budgets):
        if budget.name in seen:
            issue(f"budgets[{i}].name", f"another budget is already named {budget.name!r}")
        seen.add(budget.name)
        if budget.scope == "route" and budget.target not in raw.routes:
            issue(f"budgets[{i}].target", f"no route named {budget.target!r}")
    if issues:
        raise ConfigError(issues)
    canonical = orjson.dumps(raw.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)
    return RuntimeConfig(
        raw=raw,
        source=source,
        hash=hashlib.sha256(canonical).hexdigest()[:12],
        routes=routes,
        deployments=deployments,
        base_dir=base_dir,
        implicit_routes={
            name: Route(name=name, config=RouteConfig(deployments=(name,)), implicit=True)
            for name, dep in deployments.items()
            if dep.public
        },
    )


def _tier_examples(
    name: str, route: RouteConfig, base_dir: Path, issue: Callable[[str, str], None]
) -> tuple[LabelledExample, ...]:
    tiering = route.tiering
    if tiering is None or tiering.classifier.examples is None:
        return ()
    path = (base_dir / tiering.classifier.examples).resolve()
    try:
        return tuple(load_examples(path, tiering.names))
    except (OSError, ValueError) as error:
        issue(f"routes.{name}.tiering.classifier.examples", str(error))
        return ()


def _check_rollout(
    name: str, route: RouteConfig, rollout: RolloutConfig, raw: KeelConfig, issue: Callable[[str, str], None]
) -> None:
    """The candidate must be a known deployment the route does not serve yet, on a route with one pool."""
    path = f"routes.{name}.rollout"
    if route.tiering is not None:
        issue(path, "a tiered route cannot have a rollout: each request's tier chooses its deployments")
    if rollout.candidate not in raw.deployments:
        issue(f"{path}.candidate", f"no deployment named {rollout.candidate!r}")
    elif rollout.candidate in route.pool:
        issue(f"{path}.candidate", f"{rollout.candidate!r} already serves this route; the candidate must be new to it")


def _references(name: str, route: RouteConfig) -> list[tuple[str, str]]:
    """Every deployment a route names, with the path it is named at."""
    base = f"routes.{name}"
    refs = [(f"{base}.deployments[{i}]", d) for i, d in enumerate(route.deployments)]
    if route.tiering is not None:
        for t, tier in enumerate(route.tiering.tiers):
            refs += [(f"{base}.tiering.tiers[{t}].deployments[{i}]", d) for i, d in enumerate(tier.deployments)]
    refs += [(f"{base}.fallbacks[{i}]", d) for i, d in enumerate(route.fallbacks)]
    if route.context_window_fallback:
        refs.append((f"{base}.context_window_fallback", route.context_window_fallback))
    if route.content_policy_fallback:
        refs.append((f"{base}.content_policy_fallback", route.content_policy_fallback))
    if route.safe_mode and route.safe_mode.deployment:
        refs.append((f"{base}.safe_mode.deployment", route.safe_mode.deployment))
    if route.shadow is not None:
        refs.append((f"{base}.shadow.candidate", route.shadow.candidate))
    return refs


def _resolve_deployment(
    name: str, dep: DeploymentConfig, base_dir: Path, issue: Callable[[str, str], None]
) -> Deployment | None:
    path = f"deployments.{name}"

    def make(
        kind: ProviderKind,
        target: Target | None = None,
        codec: str | None = None,
        disabled: str | None = None,
        faq_path: Path | None = None,
    ) -> Deployment:
        return Deployment(
            name=name,
            provider=dep.provider,
            kind=kind,
            codec=codec,
            model=dep.model or name,
            target=target,
            public=dep.public,
            config=dep,
            disabled=disabled,
            faq_path=faq_path,
        )

    if dep.simulator is not None and dep.provider != "simulator":
        issue(f"{path}.simulator", "only a deployment with provider 'simulator' takes this section")
    if dep.faq is not None and dep.provider != "faq":
        issue(f"{path}.faq", "only a deployment with provider 'faq' takes this section")
    if dep.provider == "simulator":
        return make("simulator")
    if dep.provider == "faq":
        if dep.faq is None:
            issue(f"{path}.faq", "a 'faq' deployment needs a faq section with a file")
            return None
        faq_path = (base_dir / dep.faq.file).resolve()
        if not faq_path.is_file():
            issue(f"{path}.faq.file", f"file not found: {faq_path}")
            return None
        return make("faq", faq_path=faq_path)

    vendor = vendors().get(dep.provider)
    if vendor is None:
        issue(f"{path}.provider", f"unknown provider {dep.provider!r}; known: {', '.join(provider_names())}")
        return None
    api_base = dep.api_base or vendor.api_base
    if not api_base:
        issue(f"{path}.api_base", f"provider {dep.provider!r} needs an api_base")
        return None
    disabled = None
    if vendor.key_required and not dep.api_key:
        hint = f" (set {vendor.key_env})" if vendor.key_env else ""
        disabled = f"deployment {name!r} has no API key{hint}"
    target = Target(
        api_base=api_base.rstrip("/"),
        model=dep.model or name,
        api_key=dep.api_key or None,
        auth_header=_AUTH_HEADERS[vendor.auth],
        headers={**vendor.headers, **dep.headers},
        api_version=dep.api_version or vendor.default_api_version,
        url_style=vendor.url_style,
    )
    return make("http", target=target, codec=vendor.codec, disabled=disabled)


_AUTH_HEADERS = {"bearer": "authorization", "api-key": "api-key", "x-api-key": "x-api-key", "none": ""}
