"""Read ``keel.yaml``: YAML with line numbers, ``${ENV}`` substitution, strict validation.

The YAML is composed into nodes first so every value keeps its line; a validation error's field path
is then mapped back to the nearest line the file has for it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson
import yaml
from pydantic import ValidationError

from keel.config.errors import ConfigError, ConfigIssue, format_path
from keel.config.runtime import RuntimeConfig, resolve
from keel.config.schema import KeelConfig

Loc = tuple[str | int, ...]
_ENV = re.compile(r"\$(\$)?\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class _Document:
    """Plain data from YAML nodes, with the line of every path."""

    def __init__(self, file: str, env: Mapping[str, str]) -> None:
        self.file = file
        self.env = env
        self.lines: dict[Loc, int] = {}
        self.issues: list[ConfigIssue] = []
        self.substituted: set[Loc] = set()
        """Where ``${ENV}`` was substituted: such a value may stand for a number or a boolean."""

    def build(self, node: yaml.Node, loader: yaml.SafeLoader, loc: Loc) -> Any:
        self.lines[loc] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            out: dict[str, Any] = {}
            for key_node, value_node in node.value:
                key = loader.construct_object(key_node)
                if not isinstance(key, str):
                    key = str(key)
                if key in out:
                    self._issue(loc + (key,), key_node.start_mark.line + 1, "duplicate key")
                out[key] = self.build(value_node, loader, loc + (key,))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, loader, loc + (i,)) for i, item in enumerate(node.value)]
        value = loader.construct_object(node)
        if isinstance(value, str):
            return self._substitute(value, loc)
        return value

    def _substitute(self, value: str, loc: Loc) -> str:
        def replace(match: re.Match[str]) -> str:
            escaped, name, default = match.groups()
            if escaped:
                return match.group(0)[1:]
            if name in self.env:
                return self.env[name]
            if default is not None:
                return default
            self._issue(loc, self.lines.get(loc), f"environment variable {name} is not set")
            return ""

        if "$" not in value:
            return value
        result = _ENV.sub(replace, value)
        if result != value:
            self.substituted.add(loc)
        return result

    def _issue(self, loc: Loc, line: int | None, message: str) -> None:
        self.issues.append(ConfigIssue(self.file, line, format_path(loc), message))

    def line_of(self, loc: Loc) -> int | None:
        while loc:
            if loc in self.lines:
                return self.lines[loc]
            loc = loc[:-1]
        return self.lines.get((), None)


def parse_config(text: str, *, file: str = "<string>", env: Mapping[str, str] | None = None) -> KeelConfig:
    """Validate config text. Raises ``ConfigError`` listing every problem with its line and path."""
    return _validate(text, _Document(file, os.environ if env is None else env))


def _validate(text: str, doc: _Document) -> KeelConfig:
    file = doc.file
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data: Any = {} if node is None else doc.build(node, loader, ())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([ConfigIssue(file, line, "", f"invalid YAML: {problem}")]) from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise ConfigError([ConfigIssue(file, 1, "", "the config must be a mapping of sections")])
    issues = list(doc.issues)
    try:
        config = _strict(data, doc)
    except ValidationError as exc:
        for err in exc.errors():
            loc = _clean_loc(err["loc"])
            issues.append(ConfigIssue(file, doc.line_of(loc), format_path(loc), _message(err)))
        raise ConfigError(issues) from None
    if issues:
        raise ConfigError(issues)
    return config


def _strict(data: dict[str, Any], doc: _Document) -> KeelConfig:
    """Validate strictly (no "5" → 5), except where ``${ENV}`` put a string in a number or boolean
    field: an environment variable is always text, so there it is read as YAML would read it."""
    try:
        # Validating from JSON keeps strict typing while accepting YAML lists as tuples.
        return KeelConfig.model_validate_json(orjson.dumps(data))
    except ValidationError as exc:
        retyped = False
        for err in exc.errors():
            loc = _clean_loc(err["loc"])
            if loc in doc.substituted and err["type"] in _SCALAR_TYPE_ERRORS and isinstance(err["input"], str):
                value = yaml.safe_load(err["input"])
                if isinstance(value, int | float | bool):
                    _set(data, loc, value)
                    retyped = True
        if not retyped:
            raise
    return KeelConfig.model_validate_json(orjson.dumps(data))


_SCALAR_TYPE_ERRORS = {"int_type", "int_parsing", "float_type", "float_parsing", "bool_type", "bool_parsing"}


def _set(data: Any, loc: Loc, value: Any) -> None:
    for part in loc[:-1]:
        data = data[part]
    data[loc[-1]] = value


def _clean_loc(loc: tuple[Any, ...]) -> Loc:
    # pydantic appends union-member and validator tags (e.g. "function-after[...]"); keep field names.
    return tuple(p for p in loc if isinstance(p, int) or "[" not in str(p))


def _message(err: Any) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    msg = str(err["msg"])
    return msg.removeprefix("Value error, ")


def read_runtime_config(text: str, *, file: str, base_dir: Path, env: Mapping[str, str] | None = None) -> RuntimeConfig:
    """Parse, validate and resolve; every issue names its file, line and path."""
    doc = _Document(file, os.environ if env is None else env)
    raw = _validate(text, doc)
    try:
        return resolve(raw, source=file, base_dir=base_dir)
    except ConfigError as exc:
        raise ConfigError([_with_line(i, doc) for i in exc.issues]) from None


def load_runtime_config(path: str | Path, env: Mapping[str, str] | None = None) -> RuntimeConfig:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([ConfigIssue(str(p), None, "", f"cannot read: {exc.strerror}")]) from None
    return read_runtime_config(text, file=str(p), base_dir=p.resolve().parent, env=env)


def _with_line(issue: ConfigIssue, doc: _Document) -> ConfigIssue:
    loc: list[str | int] = []
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", issue.path):
        loc.append(int(part[1:-1]) if part.startswith("[") else part)
    return ConfigIssue(issue.file, doc.line_of(tuple(loc)), issue.path, issue.message)
