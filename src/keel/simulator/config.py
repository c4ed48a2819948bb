"""The two ways to describe simulated behaviour: the simulator's YAML file and scriptable model names.

The YAML file names models and a default::

    default: {ttft: {ms: 20}, output_tokens: 30}
    models:
      flaky:
        ttft: {distribution: lognormal, ms: 80, spread_ms: 0.4}
        tokens_per_s: 150
        faults: [{kind: rate_limit, rate: 0.1, retry_after_s: 2}]

A scriptable model name describes a behaviour inline, so a test or a benchmark needs no file at all:
``sim:ttft=50,tps=200,tokens=30,fault=rate_limit:0.2,fault=stream_cut:0.5``. Directives:

``ttft=MS[:DISTRIBUTION[:SPREAD]]``  time to first token (``fixed``, ``uniform``, ``normal``, ``lognormal``)
``tps=N``                            tokens per second after the first
``tokens=N``                         reply length in words
``reply=TEXT``                       fixed reply, percent-encoded (``%2C`` for a comma)
``dim=N``                            embedding dimension
``ctx=N``                            context window in words
``fault=KIND:RATE[:PARAM]``          PARAM: ``retry_after_s`` (rate_limit), ``after_chunks`` (stream_cut, stall)

Fields a name leaves out take ``SimulatedModel``'s defaults, not the file's ``default``: a name means the
same thing against every simulator.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, get_args
from urllib.parse import quote, unquote

import orjson
import yaml
from pydantic import Field, ValidationError

from keel.config.base import StrictModel
from keel.core.errors import InvalidRequest
from keel.simulator.behaviour import Fault, FaultKind, Latency, SimulatedModel

SCRIPT_PREFIX = "sim:"
_DISTRIBUTIONS = ("fixed", "uniform", "normal", "lognormal")
_FAULT_KINDS: tuple[str, ...] = get_args(FaultKind)
_FAULT_DEFAULTS = Fault(kind="server_error", rate=0.0)
_CHUNK_FAULTS = ("stream_cut", "stall")
_SYNTAX = (
    "directives are ttft=MS[:DISTRIBUTION[:SPREAD]], tps=N, tokens=N, reply=TEXT, dim=N, ctx=N, fault=KIND:RATE[:PARAM]"
)


class SimulatorConfig(StrictModel):
    default: SimulatedModel = SimulatedModel()
    models: dict[str, SimulatedModel] = Field(default_factory=dict)


def load_simulator_config(path: str | Path) -> SimulatorConfig:
    """Read and validate a simulator YAML file. Every problem is a ``ValueError`` naming the file."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"{path}: cannot read simulator config: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML:\n{exc}") from exc
    if raw is None:
        return SimulatorConfig()
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: the top level must be a mapping with 'default' and/or 'models'")
    try:
        # Validated from JSON so that YAML lists are accepted where the strict model wants tuples.
        return SimulatorConfig.model_validate_json(orjson.dumps(raw))
    except orjson.JSONEncodeError as exc:
        raise ValueError(f"{path}: unsupported YAML value: {exc}") from exc
    except ValidationError as exc:
        raise ValueError(f"{path}: invalid simulator config:\n{_describe(exc)}") from exc


def _describe(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        where = ".".join(str(part) for part in err["loc"]) or "(top level)"
        lines.append(f"  {where}: {err['msg']}")
    return "\n".join(lines)


def is_scripted(name: str) -> bool:
    return name.startswith(SCRIPT_PREFIX)


def parse_model_name(name: str) -> SimulatedModel:
    """Parse a scriptable model name. Raises ``InvalidRequest`` (param ``model``) saying what is wrong."""
    if not is_scripted(name):
        raise _bad(name, f"it does not start with {SCRIPT_PREFIX!r}")
    fields: dict[str, Any] = {}
    faults: list[Fault] = []
    for directive in name[len(SCRIPT_PREFIX) :].split(","):
        directive = directive.strip()
        if not directive:
            continue
        key, sep, value = directive.partition("=")
        if not sep:
            raise _bad(name, f"{directive!r} is not key=value")
        if key == "fault":
            faults.append(_fault(name, value))
            continue
        target = _FIELD_OF.get(key)
        if target is None:
            raise _bad(name, f"unknown directive {key!r}")
        if target in fields:
            raise _bad(name, f"{key!r} is given twice")
        fields[target] = _VALUE_OF[key](name, value)
    try:
        return SimulatedModel(**fields, faults=tuple(faults))
    except ValidationError as exc:
        raise _bad(name, _describe(exc).strip()) from exc


def format_model_name(model: SimulatedModel) -> str:
    """The scriptable name of a behaviour; ``parse_model_name`` inverts it."""
    base = SimulatedModel()
    parts: list[str] = []
    if model.ttft != base.ttft:
        ttft = model.ttft
        text = repr(ttft.ms)
        if ttft.distribution != "fixed" or ttft.spread_ms:
            text += f":{ttft.distribution}:{ttft.spread_ms!r}"
        parts.append(f"ttft={text}")
    if model.tokens_per_s is not None:
        parts.append(f"tps={model.tokens_per_s!r}")
    if model.output_tokens != base.output_tokens:
        parts.append(f"tokens={model.output_tokens}")
    if model.reply is not None:
        parts.append(f"reply={quote(model.reply, safe='')}")
    if model.embedding_dim != base.embedding_dim:
        parts.append(f"dim={model.embedding_dim}")
    if model.context_window != base.context_window:
        parts.append(f"ctx={model.context_window}")
    for fault in model.faults:
        text = f"fault={fault.kind}:{fault.rate!r}"
        if fault.kind == "rate_limit" and fault.retry_after_s != _FAULT_DEFAULTS.retry_after_s:
            text += f":{fault.retry_after_s!r}"
        elif fault.kind in _CHUNK_FAULTS and fault.after_chunks != _FAULT_DEFAULTS.after_chunks:
            text += f":{fault.after_chunks}"
        parts.append(text)
    return SCRIPT_PREFIX + ",".join(parts)


def _bad(name: str, reason: str) -> InvalidRequest:
    return InvalidRequest(
        f"Invalid simulator model name {name!r}: {reason}; {_SYNTAX}.",
        param="model",
        code="invalid_model_name",
    )


def _number(name: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise _bad(name, f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise _bad(name, f"{text!r} is not a finite number")
    return value


def _integer(name: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise _bad(name, f"{text!r} is not an integer") from None


def _ttft(name: str, value: str) -> Latency:
    ms, _, rest = value.partition(":")
    distribution, _, spread = rest.partition(":")
    distribution = distribution or "fixed"
    if distribution not in _DISTRIBUTIONS:
        raise _bad(name, f"unknown distribution {distribution!r} (one of {', '.join(_DISTRIBUTIONS)})")
    try:
        return Latency(
            distribution=distribution,  # type: ignore[arg-type]  # checked just above
            ms=_number(name, ms),
            spread_ms=_number(name, spread) if spread else 0.0,
        )
    except ValidationError as exc:
        raise _bad(name, "ttft: " + _describe(exc).strip()) from exc


def _fault(name: str, value: str) -> Fault:
    parts = value.split(":")
    if len(parts) not in (2, 3):
        raise _bad(name, f"fault {value!r} is not KIND:RATE[:PARAM]")
    kind = parts[0]
    if kind not in _FAULT_KINDS:
        raise _bad(name, f"unknown fault kind {kind!r} (one of {', '.join(_FAULT_KINDS)})")
    extra: dict[str, Any] = {}
    if len(parts) == 3:
        if kind == "rate_limit":
            extra["retry_after_s"] = _number(name, parts[2])
        elif kind in _CHUNK_FAULTS:
            extra["after_chunks"] = _integer(name, parts[2])
        else:
            raise _bad(name, f"fault {kind!r} takes no parameter")
    try:
        return Fault(kind=kind, rate=_number(name, parts[1]), **extra)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise _bad(name, f"fault {value!r}: " + _describe(exc).strip()) from exc


_FIELD_OF = {
    "ttft": "ttft",
    "tps": "tokens_per_s",
    "tokens": "output_tokens",
    "reply": "reply",
    "dim": "embedding_dim",
    "ctx": "context_window",
}
_VALUE_OF: dict[str, Callable[[str, str], object]] = {
    "ttft": _ttft,
    "tps": _number,
    "tokens": _integer,
    "reply": lambda _name, text: unquote(text),
    "dim": _integer,
    "ctx": _integer,
}
