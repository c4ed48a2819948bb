"""Built-in guards by name, user guards by ``module:Class``, and checking a route's guard list.

Resolution happens when the config loads, so a misspelt guard or a wrong parameter is a config error
with its path (``routes.bot.guards.input[1].injection.threshold``), not a failed request later. Guard
classes are imported on demand: a config that uses no guards loads no detector.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from keel.config.base import StrictModel
from keel.guards.base import Guard, Stage
from keel.guards.config import GuardsConfig

# name → "module:Class"; the modules are imported only when a config names them.
BUILTIN: dict[str, str] = {
    "pii": "keel.guards.builtin.pii_guard:PiiGuard",
    "injection": "keel.guards.builtin.injection_guard:InjectionGuard",
    "json_schema": "keel.guards.builtin.validator_guard:JsonSchemaGuard",
    "regex": "keel.guards.builtin.validator_guard:RegexGuard",
    "contains": "keel.guards.builtin.validator_guard:ContainsGuard",
    "length": "keel.guards.builtin.validator_guard:LengthGuard",
    "business_rule": "keel.guards.builtin.validator_guard:BusinessRuleGuard",
    "contract": "keel.guards.builtin.contract_guard:ContractGuard",
}
# Validators' parameter models carry their own type tag; the entry's key supplies it.
_TAGGED = frozenset({"json_schema", "regex", "contains", "length", "business_rule"})


@dataclass(frozen=True, slots=True)
class GuardSpec:
    name: str
    cls: type[Guard]
    params: StrictModel


@dataclass(frozen=True, slots=True)
class ResolvedGuards:
    config: GuardsConfig
    input: tuple[GuardSpec, ...]
    output: tuple[GuardSpec, ...]


def load_class(path: str) -> type[Guard]:
    """``package.module:Class`` → the class; ValueError naming what is wrong."""
    module_name, _, attr = path.partition(":")
    if not module_name or not attr:
        raise ValueError(f"{path!r} is not of the form 'package.module:ClassName'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ValueError(f"cannot import {module_name!r}: {error}") from None
    cls = getattr(module, attr, None)
    if not (isinstance(cls, type) and issubclass(cls, Guard)):
        raise ValueError(f"{path!r} is not a keel.guards.base.Guard subclass")
    return cls


def resolve_guards(
    config: GuardsConfig, path: str, issue: Callable[[str, str], None], base_dir: Path = Path()
) -> ResolvedGuards:
    """Check every entry of a route's guard list; problems go to ``issue(path, message)``."""
    stages: dict[Stage, list[GuardSpec]] = {"input": [], "output": []}
    for stage, entries in (("input", config.input), ("output", config.output)):
        names: set[str] = set()
        for index, entry in enumerate(entries):
            where = f"{path}.{stage}[{index}]"
            spec = _spec(entry, where, issue, base_dir)
            if spec is None:
                continue
            if stage not in spec.cls.stages():
                issue(where, f"guard {spec.name!r} has no {stage} check")
                continue
            if spec.name in names:
                issue(where, f"guard {spec.name!r} is listed twice for {stage}; give one a `name`")
                continue
            names.add(spec.name)
            stages[stage].append(spec)
    return ResolvedGuards(config, tuple(stages["input"]), tuple(stages["output"]))


def _spec(entry: Mapping[str, Any], where: str, issue: Callable[[str, str], None], base_dir: Path) -> GuardSpec | None:
    if "plugin" in entry:
        unknown = set(entry) - {"plugin", "name", "params"}
        if unknown:
            issue(where, f"unknown keys {sorted(unknown)}; a plugin entry has plugin, name and params")
            return None
        target = entry["plugin"]
        raw_params = entry.get("params") or {}
        name = str(entry.get("name") or str(target).rpartition(":")[2])
        try:
            cls = load_class(str(target))
        except ValueError as error:
            issue(f"{where}.plugin", str(error))
            return None
        params_where = f"{where}.params"
    else:
        if len(entry) != 1:
            issue(where, f"one guard per entry, as `- <guard>: {{params}}`; known guards: {', '.join(BUILTIN)}")
            return None
        name, raw_params = next(iter(entry.items()))
        if name not in BUILTIN:
            issue(where, f"unknown guard {name!r}; known: {', '.join(BUILTIN)} (or `plugin: module:Class`)")
            return None
        cls = load_class(BUILTIN[name])
        params_where = f"{where}.{name}"
        raw_params = raw_params or {}
        if name in _TAGGED and isinstance(raw_params, Mapping):
            raw_params = {**raw_params, "type": name}
    if not isinstance(raw_params, Mapping):
        issue(params_where, "parameters must be a mapping")
        return None
    try:
        # Through JSON, as the config loader does: lists become tuples, and nothing else is coerced.
        params = cls.Params.model_validate_json(orjson.dumps(dict(raw_params)))
    except ValidationError as error:
        for problem in error.errors():
            loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in problem["loc"])
            issue(f"{params_where}{loc}", problem["msg"])
        return None
    own_name = getattr(params, "name", None)
    if "plugin" not in entry and isinstance(own_name, str) and own_name:
        name = own_name  # validators name themselves (``name: in_stock``)
    try:
        params = cls.prepare(params, base_dir)
    except ValueError as error:
        issue(params_where, str(error))
        return None
    return GuardSpec(name, cls, params)


def manifest(cls: type[Guard]) -> dict[str, Any]:
    """A guard's parameters as JSON Schema, with its stages and description: what ``keel guards list`` shows."""
    return {
        "stages": sorted(cls.stages()),
        "description": cls.description,
        "params": cls.Params.model_json_schema(),
    }
