"""A small OpenAI-shaped chat server standing in for a judge route, with canned replies.

The reply depends on the criteria found in the grading prompt, so a test picks the judge's behaviour
by the criteria it writes. ``chat`` is the injected judge function the gateway would provide: it posts
to the server and returns the answer text, raising on an HTTP error as a failed route would.
"""

from __future__ import annotations

from typing import Any

import aiohttp
from aiohttp import web

# criteria -> the judge's reply; a reply of None makes the server fail with HTTP 500.
REPLIES: dict[str, str | None] = {
    "is polite": '{"score": 5, "reason": "courteous throughout"}',
    "gives the refund window": 'Here is my grade:\n```json\n{"score": 2, "reason": "no window given"}\n```',
    "mentions the invoice": 'I would say {"reason": "close enough", "score": "4"} overall.',
    "is short": "Score: 3",
    "is on topic": "Looks fine to me!",
    "is accurate": '{"score": 9, "reason": "excellent"}',
    "is concise": '{"score": 3.5}',
    "is complete": None,
}


class JudgeServer:
    def __init__(self, session: aiohttp.ClientSession, url: str, requests: list[dict[str, Any]]) -> None:
        self.session = session
        self.url = url
        self.requests = requests
        """Every body the server received, in order."""

    async def chat(self, route: str, messages: list[dict[str, Any]]) -> str:
        body = {"model": route, "messages": messages}
        async with self.session.post(f"{self.url}/v1/chat/completions", json=body) as response:
            response.raise_for_status()
            data = await response.json()
        return str(data["choices"][0]["message"]["content"])


REQUESTS = web.AppKey("requests", list[dict[str, Any]])


async def _completions(request: web.Request) -> web.Response:
    body = await request.json()
    request.app[REQUESTS].append(body)
    prompt = body["messages"][-1]["content"]
    criteria = next((c for c in REPLIES if c in prompt), None)
    reply = REPLIES[criteria] if criteria is not None else '{"score": 1, "reason": "unknown criteria"}'
    if reply is None:
        return web.json_response({"error": {"message": "upstream exploded"}}, status=500)
    return web.json_response({"choices": [{"index": 0, "message": {"role": "assistant", "content": reply}}]})


def judge_app() -> web.Application:
    app = web.Application()
    app[REQUESTS] = []
    app.router.add_post("/v1/chat/completions", _completions)
    return app
