"""``keel review …``: work through the human review queue, and turn corrections into canary tests.

The commands work on the database the gateways share. Exit codes: 0 done, 1 refused (no such review
or route, nothing to export, a correction without its answer), 3 conflict (the review was decided
already: a decision is final).
"""

from __future__ import annotations

import getpass
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar, cast

import typer

from keel.cli.common import ConfigOpt, config_path, fail, folding_table, load, out, run
from keel.config.runtime import RuntimeConfig
from keel.review.export import canary_suite_yaml
from keel.review.store import STATUSES, Decision, Review, ReviewDecided, ReviewNotFound, SqlReviewStore, Status
from keel.server.review_api import review_json
from keel.store.sql import open_database

T = TypeVar("T")
REFUSED = 1
CONFLICT = 3

review_app = typer.Typer(no_args_is_help=True, help="The human review queue: list, show, approve, reject, correct.")

ReviewId = Annotated[str, typer.Argument(help="The review's id, e.g. rv_3f9a1c2b4d5e")]
Reviewer = Annotated[str | None, typer.Option("--reviewer", help="Who decides (default: the current user)")]
Note = Annotated[str | None, typer.Option("--note", help="Why (stored PII-redacted, and as the feedback comment)")]
AsJson = Annotated[bool, typer.Option("--json", help="JSON instead of text")]


def _with_store(config: ConfigOpt, use: Callable[[SqlReviewStore, RuntimeConfig], Awaitable[T]]) -> T:
    cfg = load(config_path(config))

    async def go() -> T:
        db = await open_database(cfg.raw.storage.database_url, schema=cfg.raw.storage.database_schema)
        try:
            return await use(SqlReviewStore(db), cfg)
        finally:
            await db.aclose()

    try:
        return run(go())
    except ReviewDecided as error:
        fail(str(error), CONFLICT)
    except (ReviewNotFound, ValueError) as error:
        fail(str(error), REFUSED)


@review_app.command("list")
def list_reviews(
    route: Annotated[str | None, typer.Option("--route", help="Only this route's reviews")] = None,
    status: Annotated[str, typer.Option("--status", help=f"{', '.join(STATUSES)} or all")] = "pending",
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000)] = 50,
    as_json: AsJson = False,
    config: ConfigOpt = None,
) -> None:
    """Reviews in the order they were queued, oldest first."""
    if status != "all" and status not in STATUSES:
        fail(f"--status must be one of {', '.join(STATUSES)} or all")
    wanted = None if status == "all" else cast(Status, status)
    found = _with_store(config, lambda store, cfg: store.list(route, wanted, limit))
    if as_json:
        typer.echo(json.dumps([review_json(r) for r in found], indent=2, ensure_ascii=False))
        return
    table = folding_table("id", "queued at", "route", "reason", "confidence", "status", "question")
    for r in found:
        table.add_row(
            r.review_id,
            _when(r.ts),
            r.route,
            r.reason,
            "?" if r.confidence is None else f"{r.confidence:.2f}",
            r.status,
            _shorten(_question(r), 60),
        )
    out.print(table)


@review_app.command("show")
def show(review_id: ReviewId, as_json: AsJson = False, config: ConfigOpt = None) -> None:
    """One review: the conversation, the answer, its confidence signals and any decision."""
    review = _with_store(config, lambda store, cfg: _get(store, review_id))
    if as_json:
        typer.echo(json.dumps(review_json(review), indent=2, ensure_ascii=False))
        return
    parts = ", ".join(f"{name} {value:.2f}" for name, value in review.parts.items()) or "none known"
    score = "unknown" if review.confidence is None else f"{review.confidence:.4f}"
    lines = [
        f"{review.review_id}: {review.status} ({review.reason}), route {review.route}, request {review.request_id}",
        f"queued {_when(review.ts)}, answered by {review.deployment or '?'}",
        f"confidence {score} ({parts})",
        "",
        *(f"[{m.get('role')}] {_text(m.get('content'))}" for m in review.messages),
        f"[answer] {review.answer if review.answer is not None else '(no text)'}",
    ]
    if review.status != "pending":
        assert review.decided_at is not None
        lines += ["", f"{review.status} by {review.reviewer} at {_when(review.decided_at)}"]
        if review.note:
            lines.append(f"note: {review.note}")
        if review.corrected_answer is not None:
            lines.append(f"[corrected] {review.corrected_answer}")
    for line in lines:
        out.print(line, highlight=False, markup=False)


@review_app.command("approve")
def approve(review_id: ReviewId, note: Note = None, reviewer: Reviewer = None, config: ConfigOpt = None) -> None:
    """The answer was good (feedback score 1)."""
    _decide(config, review_id, "approve", reviewer, note, None)


@review_app.command("reject")
def reject(review_id: ReviewId, note: Note = None, reviewer: Reviewer = None, config: ConfigOpt = None) -> None:
    """The answer was wrong (feedback score 0)."""
    _decide(config, review_id, "reject", reviewer, note, None)


@review_app.command("correct")
def correct(
    review_id: ReviewId,
    answer: Annotated[str, typer.Option("--answer", help="What the answer should have been")],
    note: Note = None,
    reviewer: Reviewer = None,
    config: ConfigOpt = None,
) -> None:
    """The answer was wrong and this is the right one (feedback score 0, label corrected)."""
    _decide(config, review_id, "correct", reviewer, note, answer)


@review_app.command("export-canary")
def export_canary(
    route: Annotated[str, typer.Option("--route", help="The route whose corrected reviews to export")],
    out_path: Annotated[Path, typer.Option("--out", help="The suite file to write, e.g. suite.yaml")],
    name: Annotated[str | None, typer.Option("--name", help="The suite's name (default: ROUTE-reviews)")] = None,
    config: ConfigOpt = None,
) -> None:
    """Write the route's corrected reviews as a canary suite: each question must get an answer like the
    correction."""

    async def export(store: SqlReviewStore, cfg: RuntimeConfig) -> tuple[str, int]:
        if route not in cfg.routes:
            raise ValueError(f"no route named {route!r} in {cfg.source}")
        corrected = await store.list(route, "corrected", None)
        return canary_suite_yaml(route, corrected, name=name), len(corrected)

    text, count = _with_store(config, export)
    out_path.write_text(text, encoding="utf-8")
    out.print(f"wrote {count} test(s) to {out_path}", highlight=False)


def _decide(
    config: ConfigOpt, review_id: str, decision: Decision, reviewer: str | None, note: str | None, answer: str | None
) -> None:
    who = reviewer or getpass.getuser()
    review = _with_store(config, lambda store, cfg: store.decide(review_id, decision, who, note, answer))
    out.print(f"{review.review_id}: {review.status} by {review.reviewer}", highlight=False)


async def _get(store: SqlReviewStore, review_id: str) -> Review:
    review = await store.get(review_id)
    if review is None:
        raise ReviewNotFound(f"no review {review_id!r}")
    return review


def _question(review: Review) -> str:
    users = [m for m in review.messages if m.get("role") == "user"]
    return _text(users[-1].get("content")) if users else ""


def _text(content: Any) -> str:
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return "" if content is None else str(content)


def _shorten(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts))
