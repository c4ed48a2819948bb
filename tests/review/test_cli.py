"""``keel review …`` on a SQLite database: a reviewer's session, its one-line errors and exit codes."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from keel.canary.suite import load_suite
from keel.cli.review import CONFLICT, REFUSED, review_app
from keel.feedback.model import Feedback
from keel.review.store import Review, SqlReviewStore
from keel.store.sql import open_database
from keel.store.sql_feedback import SqlFeedbackStore

CONFIG = """\
storage: {database_url: "sqlite:///DB"}
routes:
  support: {deployments: [sim]}
deployments:
  sim: {provider: simulator}
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "keel.yaml"
    path.write_text(CONFIG.replace("DB", f"{tmp_path}/keel.db"))
    return path


def keel_review(config: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(review_app, [*args, "--config", str(config)], env={"COLUMNS": "200"})
    return result.exit_code, result.stdout, result.stderr


def queue(url: str, *items: Review) -> None:
    async def go() -> None:
        db = await open_database(url)
        try:
            for item in items:
                await SqlReviewStore(db).queue(item)
        finally:
            await db.aclose()

    asyncio.run(go())


def feedback(url: str, request_id: str) -> list[Feedback]:
    async def go() -> list[Feedback]:
        db = await open_database(url)
        try:
            return await SqlFeedbackStore(db).for_requests([request_id])
        finally:
            await db.aclose()

    return asyncio.run(go())


def review(n: int, question: str, answer: str) -> Review:
    return Review(
        request_id=f"req-{n}",
        route="support",
        deployment="sim",
        reason="low_confidence",
        confidence=0.31,
        parts={"faq": 0.31, "refusal": 1.0},
        messages=[{"role": "user", "content": question}],
        answer=answer,
        review_id=f"rv_{n}",
        ts=1_700_000_000.0 + n,
    )


def test_a_reviewer_works_through_the_queue_and_exports_the_corrections(config: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/keel.db"
    queue(
        url,
        review(1, "How long do refunds take?", "Refunds are instant."),
        review(2, "Can I pay by cheque?", "Yes."),
    )
    code, table, _ = keel_review(config, "list")
    assert code == 0 and "rv_1" in table and "rv_2" in table and "How long do refunds take?" in table
    code, shown, _ = keel_review(config, "show", "rv_1")
    assert code == 0 and "confidence 0.3100 (faq 0.31, refusal 1.00)" in shown
    assert "[user] How long do refunds take?\n[answer] Refunds are instant.\n" in shown

    code, done, _ = keel_review(config, "correct", "rv_1", "--answer", "Refunds take 5 to 7 days.", "--reviewer", "ann")
    assert (code, done) == (0, "rv_1: corrected by ann\n")
    assert keel_review(config, "approve", "rv_2", "--note", "fine", "--reviewer", "ann")[1] == "rv_2: approved by ann\n"
    code, _, error = keel_review(config, "reject", "rv_2", "--reviewer", "bob")
    assert (code, error) == (CONFLICT, "error: review rv_2 was already approved by ann\n")
    assert [(f.score, f.label) for f in feedback(url, "req-1")] == [(0.0, "corrected")]
    assert [(f.score, f.label, f.comment) for f in feedback(url, "req-2")] == [(1.0, None, "fine")]

    assert "rv_1" not in keel_review(config, "list")[1]
    code, listed, _ = keel_review(config, "list", "--status", "corrected", "--json")
    [corrected] = json.loads(listed)
    assert (code, corrected["id"], corrected["corrected_answer"]) == (0, "rv_1", "Refunds take 5 to 7 days.")
    assert "[corrected] Refunds take 5 to 7 days." in keel_review(config, "show", "rv_1")[1]

    suite_path = tmp_path / "suite.yaml"
    code, wrote, _ = keel_review(config, "export-canary", "--route", "support", "--out", str(suite_path))
    assert (code, wrote) == (0, f"wrote 1 test(s) to {suite_path}\n")
    [test] = load_suite(suite_path).tests
    assert (test.id, test.prompt) == ("rv_1", "How long do refunds take?")


def test_refusals_are_one_line_errors(config: Path, tmp_path: Path) -> None:
    queue(f"sqlite:///{tmp_path}/keel.db", review(1, "Hello?", "Hi."))
    assert keel_review(config, "approve", "rv_missing")[::2] == (REFUSED, "error: no review 'rv_missing'\n")
    assert keel_review(config, "show", "rv_missing")[::2] == (REFUSED, "error: no review 'rv_missing'\n")
    code, _, error = keel_review(config, "correct", "rv_1", "--answer", " ")
    assert (code, error) == (
        REFUSED,
        "error: a correction needs the corrected answer, and only a correction takes one\n",
    )
    code, _, error = keel_review(config, "export-canary", "--route", "support", "--out", str(tmp_path / "s.yaml"))
    assert (code, error) == (REFUSED, "error: route 'support' has no corrected reviews to export\n")
    code, _, error = keel_review(config, "export-canary", "--route", "nope", "--out", str(tmp_path / "s.yaml"))
    assert code == REFUSED and error.startswith("error: no route named 'nope'")
    code, _, error = keel_review(config, "list", "--status", "done")
    assert code == REFUSED and "--status must be one of pending, approved, rejected, corrected or all" in error
    assert not (tmp_path / "s.yaml").exists()
