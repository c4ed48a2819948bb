"""Loading suite files: the model's defaults, the example suite, and errors naming file, test and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from keel.canary.suite import (
    Contains,
    JsonSchema,
    Judge,
    Number,
    Regex,
    SimilarTo,
    SuiteError,
    SuiteIssue,
    load_suite,
    parse_suite,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "canaries" / "support.yaml"

MINIMAL = """\
name: mini
target: {deployment: candidate-v2}
tests:
  - id: hello
    prompt: Say hello
    assert: [{contains: hello}]
"""


def issues(text: str) -> list[SuiteIssue]:
    with pytest.raises(SuiteError) as caught:
        parse_suite(text, file="suites/bad.yaml")
    return caught.value.issues


def one_issue(text: str) -> SuiteIssue:
    found = issues(text)
    assert len(found) == 1, found
    return found[0]


def test_the_example_suite_loads() -> None:
    suite = load_suite(EXAMPLE)
    assert suite.name == "support"
    assert suite.target.kind == "route" and suite.target.name == "support-bot"
    assert suite.schedule == "*/15 * * * *"
    assert (suite.repeat, suite.alert_below) == (3, 0.9)
    kinds = {type(check) for test in suite.tests for check in test.checks}
    assert kinds >= {Contains, Regex, JsonSchema, SimilarTo, Number, Judge}


def test_defaults_and_the_conversation_of_a_prompt() -> None:
    suite = parse_suite(MINIMAL)
    assert (suite.repeat, suite.alert_below, suite.schedule, suite.timeout_s) == (1, 1.0, None, 60.0)
    assert str(suite.target) == "deployment candidate-v2"
    test = suite.tests[0]
    assert test.conversation == [{"role": "user", "content": "Say hello"}]
    assert test.params == {}


def test_messages_and_params_are_kept_as_written() -> None:
    suite = parse_suite(
        MINIMAL.replace(
            "    prompt: Say hello\n",
            "    messages: [{role: system, content: Be brief}, {role: user, content: Hi}]\n"
            "    params: {temperature: 0.2, max_tokens: 50, response_format: {type: json_object}, seed: 7}\n",
        )
    )
    test = suite.tests[0]
    assert test.conversation == [{"role": "system", "content": "Be brief"}, {"role": "user", "content": "Hi"}]
    assert test.params == {"temperature": 0.2, "max_tokens": 50, "response_format": {"type": "json_object"}, "seed": 7}


def test_the_digest_follows_the_content() -> None:
    first, again = parse_suite(MINIMAL), parse_suite(MINIMAL + "\n# a comment changes nothing\n")
    changed = parse_suite(MINIMAL.replace("contains: hello", "contains: Hello"))
    assert first.digest == again.digest
    assert first.digest != changed.digest


@pytest.mark.parametrize(
    ("replace", "by", "test", "field", "message"),
    [
        ("contains: hello", "similar_to: hi, min: 1.5", "hello", "tests[0].assert[0].min", "less than or equal to 1"),
        ("contains: hello", "contains: a, regex: b", "hello", "tests[0].assert[0]", "exactly one of: contains"),
        ("contains: hello", "contain: hello", "hello", "tests[0].assert[0]", "exactly one of: contains"),
        ("contains: hello", "contains: hello, case: 1", "hello", "tests[0].assert[0].case", "unknown key"),
        ("contains: hello", "regex: '('", "hello", "tests[0].assert[0].regex", "not a valid regular expression"),
        ("contains: hello", "json_schema: {type: 12}", "hello", "tests[0].assert[0].json_schema", "JSON Schema"),
        (
            "contains: hello",
            "number: {json_path: 'total', equals: 1}",
            "hello",
            "tests[0].assert[0].number.json_path",
            "must start with '$'",
        ),
        ("contains: hello", "number: {equals: 1}", "hello", "tests[0].assert[0].number", "json_path or regex"),
        (
            "contains: hello",
            "number: {regex: '\\d+', equals: '3'}",
            "hello",
            "tests[0].assert[0].number.equals",
            "valid number",
        ),
        (
            "contains: hello",
            "judge: {route: j, criteria: c, min_score: 6}",
            "hello",
            "tests[0].assert[0].judge.min_score",
            "less than or equal to 5",
        ),
        ("contains: hello", "judge: {criteria: c}", "hello", "tests[0].assert[0].judge.route", "required key"),
        (
            "contains: hello",
            "similar_to: x, method: cosine",
            "hello",
            "tests[0].assert[0].method",
            "'lexical' or 'embedding'",
        ),
        ("    prompt: Say hello\n", "    params: {top_k: 1}\n", "hello", "tests[0]", "needs a prompt or messages"),
        (
            "    prompt: Say hello\n",
            "    prompt: Hi\n    messages: [{role: user, content: Hi}]\n",
            "hello",
            "tests[0].messages",
            "either prompt or messages",
        ),
        (
            "    prompt: Say hello\n",
            "    messages: [{role: robot, content: Hi}]\n",
            "hello",
            "tests[0].messages[0]",
            "'robot'",
        ),
        (
            "    prompt: Say hello\n",
            "    messages: [{role: user, content: 5}]\n",
            "hello",
            "tests[0].messages[0].content",
            "valid string",
        ),
        (
            "    prompt: Say hello\n",
            "    prompt: Hi\n    params: {temperature: 3}\n",
            "hello",
            "tests[0].params.temperature",
            "less than or equal to 2",
        ),
        (
            "    prompt: Say hello\n",
            "    prompt: Hi\n    params: {response_format: {type: yaml}}\n",
            "hello",
            "tests[0].params.response_format.type",
            "'json_object'",
        ),
        (
            "    prompt: Say hello\n",
            "    prompt: Hi\n    params: {stream: true}\n",
            "hello",
            "tests[0].params.stream",
            "set by the canary runner",
        ),
        ("assert: [{contains: hello}]", "assert: []", "hello", "tests[0].assert", "at least one assertion"),
        ("  - id: hello\n", "  - id: 'hello world'\n", "hello world", "tests[0].id", "should match pattern"),
        ("  - id: hello\n", "  - params: {}\n", "#1", "tests[0].id", "required key is missing"),
        ("target: {deployment: candidate-v2}", "target: {route: a, deployment: b}", None, "target", "exactly one"),
        ("target: {deployment: candidate-v2}", "target: {}", None, "target", "exactly one"),
        ("name: mini", "name: mini\nschedule: '*/0 * * * *'", None, "schedule", "step '0'"),
        ("name: mini", "name: mini\nschedule: '0 0 30 2 *'", None, "schedule", "never fires"),
        ("name: mini", "name: mini\nrepeat: 0", None, "repeat", "greater than or equal to 1"),
        ("name: mini", "name: mini\nalert_below: 1.2", None, "alert_below", "less than or equal to 1"),
        ("name: mini", "name: mini\nrepeats: 3", None, "repeats", "unknown key"),
        ("name: mini", "name: mini\ntimeout_s: 0", None, "timeout_s", "greater than 0"),
        ("name: mini", "name: 'a suite'", None, "name", "should match pattern"),
    ],
)
def test_an_error_names_the_file_the_test_and_the_field(
    replace: str, by: str, test: str | None, field: str, message: str
) -> None:
    assert replace in MINIMAL
    issue = one_issue(MINIMAL.replace(replace, by))
    assert (issue.file, issue.test, issue.field) == ("suites/bad.yaml", test, field)
    assert message in issue.message
    assert str(issue).startswith("suites/bad.yaml: " + (f"test {test!r}: " if test else "") + field + ": ")


def test_every_problem_is_listed_with_its_own_test() -> None:
    text = """\
name: many
target: {route: support-bot}
tests:
  - id: first
    prompt: Hi
    assert: [{contains: ""}]
  - id: second
    prompt: Hi
    assert: [{not_contains: x, extra: 1}, {similar_to: y, min: -1}]
"""
    found = issues(text)
    assert [(i.test, i.field) for i in found] == [
        ("first", "tests[0].assert[0].contains"),
        ("second", "tests[1].assert[0].extra"),
        ("second", "tests[1].assert[1].min"),
    ]


def test_duplicate_test_ids_are_refused() -> None:
    text = MINIMAL + "  - id: hello\n    prompt: Again\n    assert: [{contains: x}]\n"
    issue = one_issue(text)
    assert (issue.test, issue.field) == ("hello", "tests[1].id")
    assert "duplicate test id 'hello'" in issue.message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: [unclosed", "invalid YAML at line 1"),
        ("- just\n- a list\n", "must be a mapping"),
        ("", "must be a mapping"),
    ],
)
def test_files_that_are_not_suites(text: str, message: str) -> None:
    issue = one_issue(text)
    assert (issue.test, issue.field) == (None, "")
    assert message in issue.message


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(SuiteError, match=r"nowhere\.yaml: <root>: cannot read"):
        load_suite(tmp_path / "nowhere.yaml")


def test_missing_tests_and_target() -> None:
    found = issues("name: x\n")
    assert [(i.field, i.message) for i in found] == [
        ("target", "required key is missing"),
        ("tests", "required key is missing"),
    ]
    assert one_issue("name: x\ntarget: {route: r}\ntests: []\n").message == "a suite needs at least one test"
