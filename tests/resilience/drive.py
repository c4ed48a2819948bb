"""Config builders and SDK drivers shared by the fault-injection tests.

Every outcome is what the official OpenAI SDK shows an application: a completion, a stream that ends
after ``[DONE]``, or an exception. A stream that ends without ``[DONE]`` and without an exception is a
clean end after a cut — exactly what Keel must never produce — and shows as ``finished=False``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import openai

HEALTHY = "ttft=10,tps=1000,tokens=12"
"""A quick, well-behaved upstream."""
HOLD_CLOSED = {"consecutive_failures": 1_000_000, "min_requests": 1_000_000}
"""A circuit that never opens, so that every request meets the upstream's fault."""
QUESTION: Any = [{"role": "user", "content": "How do I reset my password?"}]


def upstream(
    script: str, *, first_token_s: float = 10.0, idle_s: float = 10.0, total_s: float = 20.0, **extra: Any
) -> dict[str, Any]:
    """A deployment on the session's simulator, behaving as the scripted name ``sim:<script>`` says."""
    return {
        "provider": "openai-compatible",
        "api_base": "${SIM_BASE}",
        "model": f"sim:{script}",
        "timeouts": {"connect_s": 2, "first_token_s": first_token_s, "idle_s": idle_s, "total_s": total_s},
        **extra,
    }


@dataclass
class Outcome:
    request_id: str | None = None
    deployment: str | None = None
    safe_mode: str | None = None
    error: openai.APIError | None = None
    text: str = ""
    chunks: int = 0
    finished: bool = False
    """A completion arrived whole, or a stream reached ``[DONE]`` after a finish reason."""

    def note(self, headers: Any) -> None:
        self.request_id = headers.get("x-request-id")
        self.deployment = headers.get("x-keel-deployment")
        self.safe_mode = headers.get("x-keel-safe-mode")

    def fail(self, exc: openai.APIError) -> None:
        self.error = exc
        if isinstance(exc, openai.APIStatusError):
            self.note(exc.response.headers)

    @property
    def status(self) -> int | None:
        return self.error.status_code if isinstance(self.error, openai.APIStatusError) else None


def ask(client: openai.OpenAI, model: str, *, stream: bool, messages: Any = QUESTION) -> Outcome:
    out = Outcome()
    try:
        if not stream:
            raw = client.chat.completions.with_raw_response.create(model=model, messages=messages)
            out.note(raw.headers)
            completion = raw.parse()
            out.text = completion.choices[0].message.content or ""
            out.finished = completion.choices[0].finish_reason is not None
            return out
        raw_stream = client.chat.completions.with_raw_response.create(model=model, messages=messages, stream=True)
        out.note(raw_stream.headers)
        finish = None
        for chunk in raw_stream.parse():
            out.chunks += 1
            if chunk.choices:
                out.text += chunk.choices[0].delta.content or ""
                finish = finish or chunk.choices[0].finish_reason
        out.finished = finish is not None
    except openai.APIError as exc:
        out.fail(exc)
    return out


async def ask_async(client: openai.AsyncOpenAI, model: str, *, stream: bool, messages: Any = QUESTION) -> Outcome:
    out = Outcome()
    try:
        if not stream:
            raw = await client.chat.completions.with_raw_response.create(model=model, messages=messages)
            out.note(raw.headers)
            completion = raw.parse()
            out.text = completion.choices[0].message.content or ""
            out.finished = completion.choices[0].finish_reason is not None
            return out
        raw_stream = await client.chat.completions.with_raw_response.create(model=model, messages=messages, stream=True)
        out.note(raw_stream.headers)
        finish = None
        async for chunk in raw_stream.parse():
            out.chunks += 1
            if chunk.choices:
                out.text += chunk.choices[0].delta.content or ""
                finish = finish or chunk.choices[0].finish_reason
        out.finished = finish is not None
    except openai.APIError as exc:
        out.fail(exc)
    return out


async def batch(client: openai.AsyncOpenAI, model: str, n: int, *, stream: bool, concurrency: int = 8) -> list[Outcome]:
    """``n`` requests, at most ``concurrency`` at a time."""
    slots = asyncio.Semaphore(concurrency)

    async def one() -> Outcome:
        async with slots:
            return await ask_async(client, model, stream=stream)

    return list(await asyncio.gather(*(one() for _ in range(n))))


def describe(outcomes: list[Outcome]) -> str:
    """The failures among outcomes, for assertion messages."""
    bad = [o for o in outcomes if o.error is not None or not o.finished]
    if not bad:
        return "no failures"
    first = bad[0]
    return f"{len(bad)}/{len(outcomes)} failed, e.g. {type(first.error).__name__}: {first.error} ({first.request_id})"
