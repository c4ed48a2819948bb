"""Output validators: checks on the answer of a chat completion, each returning a ``ValidationResult``.

validators = build_validators(route_configs, base_dir=config_dir, session=session, engines=engines)
result = await validators[0].validate(answer_text)   # ValidationResult(ok, validator, problems, …)
if not result.ok and validators[0].reask:
    messages = reask_messages(request_messages, answer_text, result.problems, validators[0].schema)

Types: ``json_schema``, ``regex``, ``contains``, ``length`` and ``business_rule`` (values extracted from
the answer checked against a CSV file, a SQL query or an HTTP endpoint). See docs/validators.md.
"""

from __future__ import annotations

from keel.guards.validators.answer import JsonAnswer, parse_json_answer, strip_fence
from keel.guards.validators.base import Validator
from keel.guards.validators.business import BusinessRuleValidator
from keel.guards.validators.config import (
    BusinessRuleConfig,
    ContainsConfig,
    JsonPathExtract,
    JsonSchemaConfig,
    LengthConfig,
    OnFail,
    RegexConfig,
    RegexExtract,
    ValidatorConfig,
)
from keel.guards.validators.factory import build_validator, build_validators
from keel.guards.validators.jsonpath import JsonPath, format_location, parse_json_path
from keel.guards.validators.reask import reask_messages
from keel.guards.validators.result import ValidationResult, excerpt
from keel.guards.validators.schema import JsonSchemaValidator, SchemaCache
from keel.guards.validators.sources import DataSource, SourceUnavailable, SqlEngines
from keel.guards.validators.text_checks import ContainsValidator, LengthValidator, RegexValidator

__all__ = [
    "BusinessRuleConfig",
    "BusinessRuleValidator",
    "ContainsConfig",
    "ContainsValidator",
    "DataSource",
    "JsonAnswer",
    "JsonPath",
    "JsonPathExtract",
    "JsonSchemaConfig",
    "JsonSchemaValidator",
    "LengthConfig",
    "LengthValidator",
    "OnFail",
    "RegexConfig",
    "RegexExtract",
    "RegexValidator",
    "SchemaCache",
    "SourceUnavailable",
    "SqlEngines",
    "ValidationResult",
    "Validator",
    "ValidatorConfig",
    "build_validator",
    "build_validators",
    "excerpt",
    "format_location",
    "parse_json_answer",
    "parse_json_path",
    "reask_messages",
    "strip_fence",
]
