"""A canary suite file: what to ask, of which route or deployment, how often, and what a good answer is.

Suites are YAML, validated as strictly as ``keel.yaml``: unknown keys, wrong types and impossible
values (a bad regex, an invalid JSON Schema, a cron expression that never fires) are errors at load
time, each naming the file, the test id and the field. A test's messages and params are checked with
the same rules the gateway applies to a chat request, so a suite that loads sends requests Keel accepts.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, TypeVar, get_args

import jsonschema
import orjson
import yaml
from pydantic import Discriminator, Field, Tag, ValidationError, field_validator, model_validator

from keel.canary import cron
from keel.canary.jsonpath import JsonPathError, parse_path
from keel.config.base import StrictModel
from keel.config.errors import format_path
from keel.core.errors import InvalidRequest
from keel.core.wire import check_chat

Loc = tuple[str | int, ...]
_Items = TypeVar("_Items", bound=tuple[Any, ...] | None)

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
MAX_REPEAT = 20
# Fields the runner sets itself: a canary asks for one whole answer from the suite's target.
RUNNER_PARAMS = ("model", "messages", "stream", "stream_options")


class FieldProblem(ValueError):
    """A validation problem below the field that found it; ``path`` is relative to that field."""

    def __init__(self, path: Loc, message: str) -> None:
        super().__init__(message)
        self.path = path


class Target(StrictModel):
    """What a suite asks: a route (the whole gateway pipeline) or one deployment (e.g. a candidate)."""

    route: str | None = Field(default=None, min_length=1)
    deployment: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _exactly_one(self) -> Target:
        if (self.route is None) == (self.deployment is None):
            raise ValueError("give exactly one of route or deployment")
        return self

    @property
    def kind(self) -> Literal["route", "deployment"]:
        return "route" if self.route is not None else "deployment"

    @property
    def name(self) -> str:
        return self.route if self.route is not None else str(self.deployment)

    def __str__(self) -> str:
        return f"{self.kind} {self.name}"


class Contains(StrictModel):
    kind: ClassVar[str] = "contains"
    contains: str = Field(min_length=1)
    ignore_case: bool = False


class NotContains(StrictModel):
    kind: ClassVar[str] = "not_contains"
    not_contains: str = Field(min_length=1)
    ignore_case: bool = False


class Regex(StrictModel):
    """Passes when the pattern is found anywhere in the answer (``re.search``)."""

    kind: ClassVar[str] = "regex"
    regex: str = Field(min_length=1)

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str) -> str:
        _compile(value)
        return value


class JsonSchema(StrictModel):
    """Passes when the answer is JSON (bare or in one fenced code block) valid against the schema."""

    kind: ClassVar[str] = "json_schema"
    json_schema: dict[str, Any]

    @field_validator("json_schema")
    @classmethod
    def _valid_schema(cls, value: dict[str, Any]) -> dict[str, Any]:
        try:
            jsonschema.validators.validator_for(value).check_schema(value)
        except jsonschema.SchemaError as error:
            where = format_path(tuple(error.path))
            at = f" (at {where})" if where else ""
            raise ValueError(f"not a valid JSON Schema: {error.message}{at}") from None
        return value


class SimilarTo(StrictModel):
    kind: ClassVar[str] = "similar_to"
    similar_to: str = Field(min_length=1)
    min: float = Field(default=0.8, ge=0, le=1)
    method: Literal["lexical", "embedding"] = "lexical"


class NumberSpec(StrictModel):
    json_path: str | None = None
    regex: str | None = None
    equals: float
    tolerance: float = Field(default=0.0, ge=0)

    @model_validator(mode="after")
    def _one_source(self) -> NumberSpec:
        if (self.json_path is None) == (self.regex is None):
            raise ValueError("give exactly one of json_path or regex")
        if self.json_path is not None:
            try:
                parse_path(self.json_path)
            except JsonPathError as error:
                raise FieldProblem(("json_path",), str(error)) from None
        if self.regex is not None:
            try:
                _compile(self.regex)
            except ValueError as error:
                raise FieldProblem(("regex",), str(error)) from None
        return self


class Number(StrictModel):
    kind: ClassVar[str] = "number"
    number: NumberSpec


class JudgeSpec(StrictModel):
    route: str = Field(min_length=1)
    criteria: str = Field(min_length=1)
    min_score: int = Field(default=4, ge=1, le=5)


class Judge(StrictModel):
    kind: ClassVar[str] = "judge"
    judge: JudgeSpec


AssertionModel = Contains | NotContains | Regex | JsonSchema | SimilarTo | Number | Judge
ASSERTION_KINDS: tuple[str, ...] = tuple(model.kind for model in get_args(AssertionModel))
_TAG = "assertion:"  # prefixes the union tags, so error paths can leave them out


def _assertion_tag(value: Any) -> str | None:
    if isinstance(value, Mapping):
        kinds = [key for key in value if key in ASSERTION_KINDS]
        return _TAG + kinds[0] if len(kinds) == 1 else None
    kind = getattr(value, "kind", None)
    return _TAG + kind if isinstance(kind, str) else None


Assertion = Annotated[
    Annotated[Contains, Tag(_TAG + "contains")]
    | Annotated[NotContains, Tag(_TAG + "not_contains")]
    | Annotated[Regex, Tag(_TAG + "regex")]
    | Annotated[JsonSchema, Tag(_TAG + "json_schema")]
    | Annotated[SimilarTo, Tag(_TAG + "similar_to")]
    | Annotated[Number, Tag(_TAG + "number")]
    | Annotated[Judge, Tag(_TAG + "judge")],
    Discriminator(
        _assertion_tag,
        custom_error_type="assertion_kind",
        custom_error_message="an assertion needs exactly one of: " + ", ".join(ASSERTION_KINDS),
    ),
]


class CanaryTest(StrictModel):
    """One golden question: a prompt (or a whole conversation), request params and its assertions."""

    id: str = Field(pattern=NAME_PATTERN)
    prompt: str | None = Field(default=None, min_length=1)
    messages: tuple[dict[str, Any], ...] | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    checks: tuple[Assertion, ...] = Field(alias="assert")

    # Emptiness is checked after the items: pydantic's min_length would also fire when an item is invalid.
    @field_validator("messages")
    @classmethod
    def _some_messages(cls, value: tuple[dict[str, Any], ...] | None) -> tuple[dict[str, Any], ...] | None:
        return _not_empty(value, "messages must not be empty")

    @field_validator("checks")
    @classmethod
    def _some_checks(cls, value: tuple[AssertionModel, ...]) -> tuple[AssertionModel, ...]:
        return _not_empty(value, "a test needs at least one assertion")

    @model_validator(mode="after")
    def _valid_request(self) -> CanaryTest:
        if self.prompt is not None and self.messages is not None:
            raise FieldProblem(("messages",), "give either prompt or messages, not both")
        if self.prompt is None and self.messages is None:
            raise ValueError("a test needs a prompt or messages")
        for key in RUNNER_PARAMS:
            if key in self.params:
                raise FieldProblem(("params", key), "is set by the canary runner and cannot be given")
        try:
            check_chat({"model": "canary", "messages": self.conversation, **self.params})
        except InvalidRequest as error:
            param = error.param or ""
            message = error.message.removeprefix(f"{param}: ")
            raise FieldProblem(self._request_field(param), message) from None
        return self

    def _request_field(self, param: str) -> Loc:
        loc: list[str | int] = []
        for part in re.findall(r"[^.\[\]]+|\[\d+\]", param):
            loc.append(int(part[1:-1]) if part.startswith("[") else part)
        if loc and loc[0] == "messages":
            return ("prompt",) if self.prompt is not None else tuple(loc)
        return ("params", *loc)

    @property
    def conversation(self) -> list[dict[str, Any]]:
        """The messages to send: the prompt as a single user message, or the given messages."""
        if self.messages is not None:
            return [dict(message) for message in self.messages]
        return [{"role": "user", "content": self.prompt}]


class Suite(StrictModel):
    name: str = Field(pattern=NAME_PATTERN)
    description: str | None = None
    target: Target
    schedule: str | None = None
    """A five-field cron expression, UTC; without one the suite runs only on demand."""
    repeat: int = Field(default=1, ge=1, le=MAX_REPEAT)
    """How many times each test runs per execution: more than once shows flaky answers."""
    alert_below: float = Field(default=1.0, ge=0, le=1)
    """An execution whose pass rate is below this raises an alert."""
    timeout_s: float = Field(default=60.0, gt=0)
    """Per test run: the call and its assertions (judge included) together."""
    tests: tuple[CanaryTest, ...]

    @field_validator("tests")
    @classmethod
    def _some_tests(cls, value: tuple[CanaryTest, ...]) -> tuple[CanaryTest, ...]:
        return _not_empty(value, "a suite needs at least one test")

    @field_validator("schedule")
    @classmethod
    def _valid_schedule(cls, value: str | None) -> str | None:
        if value is not None:
            cron.parse(value)
        return value

    @model_validator(mode="after")
    def _unique_ids(self) -> Suite:
        seen: set[str] = set()
        for index, test in enumerate(self.tests):
            if test.id in seen:
                raise FieldProblem(("tests", index, "id"), f"duplicate test id {test.id!r}")
            seen.add(test.id)
        return self

    @property
    def digest(self) -> str:
        """Identifies this exact suite content, so history can tell when the questions changed."""
        canonical = orjson.dumps(self.model_dump(mode="json", by_alias=True), option=orjson.OPT_SORT_KEYS)
        return hashlib.sha256(canonical).hexdigest()[:16]


def _not_empty(value: _Items, message: str) -> _Items:
    if value is not None and not value:
        raise ValueError(message)
    return value


def _compile(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as error:
        raise ValueError(f"not a valid regular expression: {error}") from None


@dataclass(frozen=True, slots=True)
class SuiteIssue:
    file: str
    test: str | None
    """The id of the test at fault (or ``#n`` when it has none), None for suite-level problems."""
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: test {self.test!r}" if self.test is not None else self.file
        return f"{where}: {self.field or '<root>'}: {self.message}"


class SuiteError(ValueError):
    """A suite file that cannot be used; ``issues`` lists every problem found."""

    def __init__(self, issues: Sequence[SuiteIssue]) -> None:
        self.issues = list(issues)
        super().__init__("\n".join(str(issue) for issue in self.issues))


def load_suite(path: str | Path) -> Suite:
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as error:
        raise SuiteError([SuiteIssue(str(file), None, "", f"cannot read: {error.strerror}")]) from None
    return parse_suite(text, file=str(file))


def parse_suite(text: str, *, file: str = "<string>") -> Suite:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error)
        raise SuiteError([SuiteIssue(file, None, "", f"invalid YAML{where}: {problem}")]) from None
    return suite_from_data(data, file=file)


def suite_from_data(data: Any, *, file: str = "<data>") -> Suite:
    """Validate a suite already read from YAML or JSON (an admin API body, say); ``file`` names it in errors."""
    if not isinstance(data, dict):
        raise SuiteError([SuiteIssue(file, None, "", "a suite must be a mapping with name, target and tests")])
    try:
        # Through JSON, as keel.yaml is: strict types, and YAML lists are accepted where tuples are declared.
        return Suite.model_validate_json(orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS))
    except ValidationError as error:
        raise SuiteError([_issue(file, data, detail) for detail in error.errors()]) from None


def _issue(file: str, data: dict[str, Any], detail: Any) -> SuiteIssue:
    loc: Loc = tuple(p for p in detail["loc"] if not (isinstance(p, str) and p.startswith(_TAG)))
    problem = detail.get("ctx", {}).get("error")
    if isinstance(problem, FieldProblem):
        loc += problem.path
    return SuiteIssue(file, _test_id(data, loc), format_path(loc), _message(detail))


def _test_id(data: dict[str, Any], loc: Loc) -> str | None:
    if len(loc) < 2 or loc[0] != "tests" or not isinstance(loc[1], int):
        return None
    tests = data.get("tests")
    test = tests[loc[1]] if isinstance(tests, list) and loc[1] < len(tests) else None
    test_id = test.get("id") if isinstance(test, dict) else None
    return test_id if isinstance(test_id, str) else f"#{loc[1] + 1}"


def _message(detail: Any) -> str:
    kind = detail["type"]
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    return str(detail["msg"]).removeprefix("Value error, ")
