"""What a simulated upstream answers, shared by the HTTP server and the in-process provider.

The engine resolves a model name to a behaviour, draws latency and at most one fault per request from
its random source, and builds OpenAI-shaped replies. It never sleeps or does I/O: callers turn a plan
into time and bytes (``server.py``) or into Keel errors (``providers/simulator.py``).

Tokens are counted as whitespace-separated words (see ``content.py``).
"""

from __future__ import annotations

import itertools
import math
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass

import orjson

from keel.core.chat_input import read_chat_input
from keel.core.errors import InvalidRequest
from keel.simulator.behaviour import Fault, Latency, SimulatedModel
from keel.simulator.config import SimulatorConfig, is_scripted, parse_model_name
from keel.simulator.content import (
    Json,
    Reply,
    base64_floats,
    build_reply,
    embedding_inputs,
    fragments_of,
    unit_vector,
)

MAX_LATENCY_MS = 3_600_000.0
"""Latency draws are clipped to [0, one hour] so a wide distribution can never stall a run forever."""
HANG_LIMIT_S = 3600.0
"""A ``hang`` or ``stall`` fault waits for the client to give up, but never longer than this."""
MID_STREAM_FAULTS = frozenset({"stream_cut", "stall"})
"""Faults that a stream plays after some of its chunks; any other request meets them before its answer."""
_SCRIPT_CACHE_SIZE = 1024
_CONTEXT_FAULT = Fault(kind="context_length", rate=1.0)


@dataclass(frozen=True, slots=True)
class Profile:
    """A behaviour plus what every request would otherwise recompute from it."""

    behaviour: SimulatedModel
    fault_edges: tuple[tuple[float, Fault], ...]
    interval_s: float
    fixed_pieces: tuple[str, ...] | None

    @classmethod
    def of(cls, behaviour: SimulatedModel) -> Profile:
        total = sum(f.rate for f in behaviour.faults)
        # Rates summing past 1 are scaled down proportionally: still at most one fault per request.
        scale = 1.0 / total if total > 1.0 else 1.0
        edges: list[tuple[float, Fault]] = []
        edge = 0.0
        for fault in behaviour.faults:
            edge += fault.rate * scale
            edges.append((edge, fault))
        if edges and total >= 1.0 - 1e-9:
            edges[-1] = (math.inf, edges[-1][1])  # rounding must not leave a sliver with no fault
        tps = behaviour.tokens_per_s
        fixed = None if behaviour.reply is None else fragments_of(behaviour.reply)
        return cls(behaviour, tuple(edges), 1.0 / tps if tps else 0.0, fixed)


@dataclass(slots=True)  # not frozen: one per request, and frozen dataclasses are slower to build
class ChatPlan:
    id: str
    created: int
    model: str
    fault: Fault | None
    ttft_s: float
    interval_s: float
    n: int
    reply: Reply
    prompt_tokens: int
    include_usage: bool

    @property
    def generation_s(self) -> float:
        """From the first token to the last."""
        return max(len(self.reply.pieces) - 1, 0) * self.interval_s

    @property
    def usage(self) -> Json:
        done = self.reply.tokens * self.n
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": done,
            "total_tokens": self.prompt_tokens + done,
        }


@dataclass(slots=True)
class EmbeddingPlan:
    model: str
    fault: Fault | None
    ttft_s: float
    keys: tuple[bytes, ...]
    dimensions: int
    base64: bool
    prompt_tokens: int


class SimulatorEngine:
    def __init__(
        self,
        models: Mapping[str, SimulatedModel],
        default: SimulatedModel,
        rng: random.Random | None = None,
    ) -> None:
        self._profiles = {name: Profile.of(model) for name, model in models.items()}
        self._default = Profile.of(default)
        self._scripted: dict[str, Profile] = {}
        self.rng = rng if rng is not None else random.Random()
        self._ids = itertools.count(1)

    @classmethod
    def from_config(cls, config: SimulatorConfig, rng: random.Random | None = None) -> SimulatorEngine:
        return cls(config.models, config.default, rng)

    @property
    def model_names(self) -> tuple[str, ...]:
        return tuple(self._profiles)

    def profile(self, model: str) -> Profile:
        """Configured names first, then scriptable ``sim:`` names, then the default."""
        found = self._profiles.get(model)
        if found is not None:
            return found
        if not is_scripted(model):
            return self._default
        found = self._scripted.get(model)
        if found is None:
            found = Profile.of(parse_model_name(model))
            if len(self._scripted) >= _SCRIPT_CACHE_SIZE:
                self._scripted.clear()  # names are cheap to re-parse; bound memory against odd clients
            self._scripted[model] = found
        return found

    def behaviour(self, model: str) -> SimulatedModel:
        return self.profile(model).behaviour

    def draw_latency_ms(self, latency: Latency) -> float:
        ms, spread, kind = latency.ms, latency.spread_ms, latency.distribution
        if kind == "fixed" or spread == 0.0:
            value = ms
        elif kind == "uniform":
            value = self.rng.uniform(ms - spread, ms + spread)
        elif kind == "normal":
            value = self.rng.gauss(ms, spread)
        else:  # lognormal: ms is the median, spread the sigma of the underlying normal
            value = ms * math.exp(min(self.rng.gauss(0.0, spread), 700.0))
        return min(max(value, 0.0), MAX_LATENCY_MS)

    def draw_fault(self, profile: Profile) -> Fault | None:
        if not profile.fault_edges:
            return None
        u = self.rng.random()
        for edge, fault in profile.fault_edges:
            if u < edge:
                return fault
        return None

    def plan_chat(self, body: Json, *, model: str | None = None, now: float | None = None) -> ChatPlan:
        """Validate a chat request and decide everything about its answer.

        ``model`` overrides the body's model (an in-process deployment names its own upstream model).
        """
        name = model if model is not None else _model_of(body)
        chat = read_chat_input(body)
        n, prompt_tokens, last_user = chat.n, chat.prompt_words, chat.last_user
        profile = self.profile(name)
        behaviour = profile.behaviour
        fault = _CONTEXT_FAULT if prompt_tokens > behaviour.context_window else self.draw_fault(profile)
        options = body.get("stream_options")
        return ChatPlan(
            id=f"chatcmpl-sim{next(self._ids):x}",
            created=int(time.time() if now is None else now),
            model=name,
            fault=fault,
            ttft_s=self.draw_latency_ms(behaviour.ttft) / 1000.0,
            interval_s=profile.interval_s,
            n=n,
            reply=build_reply(body, profile.fixed_pieces, behaviour.output_tokens, last_user),
            prompt_tokens=prompt_tokens,
            include_usage=isinstance(options, dict) and options.get("include_usage") is True,
        )

    def completion(self, plan: ChatPlan) -> Json:
        reply = plan.reply
        choices = []
        for index in range(plan.n):
            message: Json = {"role": "assistant", "content": reply.content}
            if reply.tool_name is not None:
                message["tool_calls"] = [_tool_call(plan, index, reply.tool_name, reply.pieces[0])]
            choices.append({"index": index, "message": message, "logprobs": None, "finish_reason": reply.finish_reason})
        return {
            "id": plan.id,
            "object": "chat.completion",
            "created": plan.created,
            "model": plan.model,
            "choices": choices,
            "usage": plan.usage,
        }

    def chunks(self, plan: ChatPlan) -> list[tuple[float, Json]]:
        """The stream as (seconds after the first token, chunk) pairs, in order."""
        offsets, frames = self.frames(plan)
        return [(at, orjson.loads(frame[6:])) for at, frame in zip(offsets, frames, strict=True)]

    def frames(self, plan: ChatPlan) -> tuple[list[float], list[bytes]]:
        """The stream as SSE ``data:`` frames (without ``[DONE]``) and their offsets in seconds.

        Frames are spliced from byte templates: the head every chunk repeats is serialized once per
        stream rather than once per token, which is most of the cost of a long stream.
        """
        reply, tool = plan.reply, plan.reply.tool_name
        indexes = [b"%d" % index for index in range(plan.n)]
        head = {"id": plan.id, "object": "chat.completion.chunk", "created": plan.created, "model": plan.model}
        opening = b"data: " + orjson.dumps(head)[:-1] + b',"choices":[{"index":'
        # OpenAI marks every chunk but the usage chunk with a null usage when usage is asked for.
        closing = b"}]" + (b',"usage":null}\n\n' if plan.include_usage else b"}\n\n")
        running = b',"logprobs":null,"finish_reason":null' + closing
        offsets: list[float] = []
        frames: list[bytes] = []
        for index, number in enumerate(indexes):
            delta: Json = {"role": "assistant", "content": None if tool else ""}
            if tool is not None:
                delta["tool_calls"] = [{"index": 0, **_tool_call(plan, index, tool, "")}]
            frames.append(b"".join((opening, number, b',"delta":', orjson.dumps(delta), running)))
            offsets.append(0.0)
        if tool is None:
            before, after = b',"delta":{"content":', b"}" + running
        else:
            before = b',"delta":{"tool_calls":[{"index":0,"function":{"arguments":'
            after = b"}}]}" + running
        for step, piece in enumerate(reply.pieces):
            at = step * plan.interval_s
            text = orjson.dumps(piece)
            for number in indexes:
                frames.append(b"".join((opening, number, before, text, after)))
                offsets.append(at)
        end = plan.generation_s
        finished = b',"delta":{},"logprobs":null,"finish_reason":"%s"%s' % (reply.finish_reason.encode(), closing)
        for number in indexes:
            frames.append(opening + number + finished)
            offsets.append(end)
        if plan.include_usage:
            frames.append(b"data: " + orjson.dumps({**head, "choices": [], "usage": plan.usage}) + b"\n\n")
            offsets.append(end)
        return offsets, frames

    def plan_embeddings(self, body: Json, *, model: str | None = None) -> EmbeddingPlan:
        name = model if model is not None else _model_of(body)
        keys, tokens, longest = embedding_inputs(body.get("input"))
        profile = self.profile(name)
        behaviour = profile.behaviour
        dimensions = body.get("dimensions")
        if dimensions is None:
            dimensions = behaviour.embedding_dim
        elif type(dimensions) is not int or not 1 <= dimensions <= 4096:
            raise InvalidRequest("'dimensions' must be an integer from 1 to 4096.", param="dimensions")
        encoding = body.get("encoding_format")
        if encoding not in (None, "float", "base64"):
            raise InvalidRequest("'encoding_format' must be 'float' or 'base64'.", param="encoding_format")
        fault = _CONTEXT_FAULT if longest > behaviour.context_window else self.draw_fault(profile)
        return EmbeddingPlan(
            model=name,
            fault=fault,
            ttft_s=self.draw_latency_ms(behaviour.ttft) / 1000.0,
            keys=keys,
            dimensions=dimensions,
            base64=encoding == "base64",
            prompt_tokens=tokens,
        )

    def embeddings(self, plan: EmbeddingPlan) -> Json:
        data = []
        for index, key in enumerate(plan.keys):
            vector = unit_vector(key, plan.dimensions)
            value: list[float] | str = base64_floats(vector) if plan.base64 else vector
            data.append({"object": "embedding", "index": index, "embedding": value})
        return {
            "object": "list",
            "data": data,
            "model": plan.model,
            "usage": {"prompt_tokens": plan.prompt_tokens, "total_tokens": plan.prompt_tokens},
        }


def _model_of(body: Json) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("You must provide a model parameter.", param="model")
    return model


def _tool_call(plan: ChatPlan, index: int, name: str, arguments: str) -> Json:
    return {
        "id": f"call_sim{plan.id[12:]}x{index}",
        "type": "function",
        "function": {"name": name, "arguments": arguments},
    }
