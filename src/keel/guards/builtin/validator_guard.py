"""Output validators as guards: an answer that fails is re-asked, retried, sent to the fallback, flagged or blocked.

A failing validator with ``reask: true`` (JSON Schema) or ``on_fail: retry`` asks the output stage for
one more answer — with a re-ask, the model is shown its answer and exactly what was wrong with it. If
that answer fails too, ``on_fail`` decides: ``fallback`` answers from the route's safe-mode path
(FAQ or rules) when it has one, ``block`` withholds the answer, ``flag`` lets it through marked, and
``retry`` — already spent — blocks. Every choice of the answer is checked.
"""

from __future__ import annotations

from typing import ClassVar

from keel.config.base import StrictModel
from keel.guards.base import Action, Finding, Guard, GuardResources, GuardState, Json, Outcome
from keel.guards.validators import (
    BusinessRuleConfig,
    ContainsConfig,
    JsonSchemaConfig,
    LengthConfig,
    RegexConfig,
    SchemaCache,
    SqlEngines,
    ValidatorConfig,
    build_validator,
    reask_messages,
)

_FINAL: dict[str, Action] = {"flag": "flag", "block": "block", "fallback": "fallback", "retry": "block"}


class _ValidatorGuard(Guard):
    def __init__(self, name: str, params: StrictModel, resources: GuardResources) -> None:
        super().__init__(name, params, resources)
        shared = resources.shared
        engines = shared.setdefault("sql_engines", SqlEngines())
        schemas = shared.setdefault("schema_cache", SchemaCache())
        config: ValidatorConfig = params  # type: ignore[assignment]
        self._validator = build_validator(
            config, base_dir=resources.base_dir, session=resources.session, engines=engines, schemas=schemas
        )

    async def check_output(self, request: Json, answer: Json, state: GuardState) -> Outcome:
        validator = self._validator
        for choice in answer.get("choices") or ():
            message = choice.get("message") if isinstance(choice, dict) else None
            text = message.get("content") if isinstance(message, dict) else None
            result = await validator.validate(text if isinstance(text, str) else "")
            if result.ok:
                continue
            findings = tuple(Finding("problem", detail=problem[:160]) for problem in result.problems[:3])
            again = (validator.reask or validator.on_fail == "retry") and not state.retried
            if again and validator.reask:
                state.reask = reask_messages(
                    list(request.get("messages") or ()), text or "", result.problems, validator.schema
                )
            action: Action = "retry" if again else _FINAL[validator.on_fail]
            message_text = f"the answer failed {self.name}: {'; '.join(result.problems[:2])}"[:300]
            return Outcome(self.verdict("output", action, findings, message=message_text))
        return Outcome(self.verdict("output"))


class JsonSchemaGuard(_ValidatorGuard):
    Params: ClassVar[type[StrictModel]] = JsonSchemaConfig
    description: ClassVar[str] = "The answer is JSON valid against a schema; one automatic re-ask on failure."


class RegexGuard(_ValidatorGuard):
    Params: ClassVar[type[StrictModel]] = RegexConfig
    description: ClassVar[str] = "The answer matches (or does not match) a regular expression."


class ContainsGuard(_ValidatorGuard):
    Params: ClassVar[type[StrictModel]] = ContainsConfig
    description: ClassVar[str] = "The answer contains (or does not contain) a text."


class LengthGuard(_ValidatorGuard):
    Params: ClassVar[type[StrictModel]] = LengthConfig
    description: ClassVar[str] = "The answer's length in characters or words is within bounds."


class BusinessRuleGuard(_ValidatorGuard):
    Params: ClassVar[type[StrictModel]] = BusinessRuleConfig
    description: ClassVar[str] = "Entities in the answer are checked against a CSV file, a SQL query or an HTTP API."
