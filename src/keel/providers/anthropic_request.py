"""OpenAI Chat Completions request body → Anthropic Messages request body."""

from __future__ import annotations

import re
from typing import Any

import orjson

from keel.core.errors import InvalidRequest

Json = dict[str, Any]

# Anthropic requires max_tokens; OpenAI clients routinely leave it out.
DEFAULT_MAX_TOKENS = 4096

_IMAGE_MEDIA_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
_DATA_URL = re.compile(r"^data:(?P<media>[^;,]+);base64,(?P<data>.*)$", re.DOTALL)

_JSON_OBJECT_INSTRUCTION = (
    "Respond with a single valid JSON object and nothing else: no prose, no markdown code fences."
)
_JSON_SCHEMA_INSTRUCTION = (
    "Respond with a single valid JSON value that conforms to the following JSON Schema, and nothing "
    "else: no prose, no markdown code fences.\nJSON Schema:\n"
)


def encode_chat_request(body: Json, model: str, *, stream: bool) -> Json:
    """The Anthropic request for an OpenAI chat request. Raises ``InvalidRequest`` for what cannot map."""
    n = body.get("n")
    if n is not None and n != 1:
        raise InvalidRequest("anthropic deployments return exactly one choice; n must be 1", param="n")
    messages = body.get("messages")
    if not isinstance(messages, list):
        raise InvalidRequest("messages must be a list", param="messages")

    system, turns = _convert_messages(messages)
    instruction = _response_format_instruction(body.get("response_format"))
    if instruction:
        system.append(instruction)

    out: Json = {"model": model, "max_tokens": _max_tokens(body), "messages": turns}
    if system:
        out["system"] = "\n\n".join(system)
    for key in ("temperature", "top_p"):
        if body.get(key) is not None:
            out[key] = body[key]
    stop = body.get("stop")
    if isinstance(stop, str):
        out["stop_sequences"] = [stop]
    elif isinstance(stop, list) and stop:
        out["stop_sequences"] = list(stop)
    if isinstance(body.get("user"), str):
        out["metadata"] = {"user_id": body["user"]}
    tools = body.get("tools")
    # tool_choice and parallel_tool_calls mean nothing without tools, and Anthropic rejects a
    # tool_choice that has no tools to pick from, so they are only sent along with tools.
    if tools:
        out["tools"] = _tools(tools)
        choice = _tool_choice(body.get("tool_choice"), body.get("parallel_tool_calls"))
        if choice is not None:
            out["tool_choice"] = choice
    if stream:
        out["stream"] = True
    # OpenAI-only knobs with no Anthropic counterpart (seed, penalties, logit_bias, logprobs, ...) are
    # dropped: they tune sampling rather than change what a correct answer is.
    return out


def _max_tokens(body: Json) -> int:
    for key in ("max_completion_tokens", "max_tokens"):
        value = body.get(key)
        if value is not None:
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InvalidRequest(f"{key} must be a positive integer", param=key)
            return value
    return DEFAULT_MAX_TOKENS


def _convert_messages(messages: list[Any]) -> tuple[list[str], list[Json]]:
    """System texts and alternating user/assistant turns, each turn's content as a list of blocks."""
    system: list[str] = []
    turns: list[Json] = []
    for i, message in enumerate(messages):
        param = f"messages[{i}]"
        if not isinstance(message, dict):
            raise InvalidRequest("each message must be an object", param=param)
        role = message.get("role")
        if role in ("system", "developer"):
            text = _plain_text(message.get("content"), f"{param}.content")
            if text:
                system.append(text)
            continue
        if role == "user":
            blocks = _user_blocks(message.get("content"), f"{param}.content")
        elif role == "assistant":
            blocks = _assistant_blocks(message, param)
        elif role == "tool":
            role, blocks = "user", [_tool_result(message, param)]
        else:
            raise InvalidRequest(f"unsupported message role {role!r}", param=f"{param}.role")
        if not blocks:
            continue
        # Anthropic requires user and assistant turns to alternate; consecutive turns of one role,
        # including a run of tool results, become one turn.
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    for turn in turns:
        if turn["role"] == "user":
            # Anthropic requires tool_result blocks to open the user turn that answers the tool calls.
            results = [b for b in turn["content"] if b["type"] == "tool_result"]
            turn["content"] = results + [b for b in turn["content"] if b["type"] != "tool_result"]
    return system, turns


def _plain_text(content: Any, param: str) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for j, part in enumerate(content):
            if not isinstance(part, dict) or part.get("type") != "text":
                raise InvalidRequest("only text content parts are allowed here", param=f"{param}[{j}]")
            texts.append(_str_field(part, "text", f"{param}[{j}].text"))
        return "\n".join(texts)
    raise InvalidRequest("content must be a string or a list of content parts", param=param)


def _text_block(text: str) -> list[Json]:
    # Anthropic rejects empty text blocks, so empty text contributes nothing.
    return [{"type": "text", "text": text}] if text else []


def _user_blocks(content: Any, param: str) -> list[Json]:
    if content is None or isinstance(content, str):
        return _text_block(content or "")
    if not isinstance(content, list):
        raise InvalidRequest("content must be a string or a list of content parts", param=param)
    blocks: list[Json] = []
    for j, part in enumerate(content):
        part_param = f"{param}[{j}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            blocks.extend(_text_block(_str_field(part, "text", f"{part_param}.text")))
        elif kind == "image_url":
            blocks.append(_image_block(part.get("image_url"), f"{part_param}.image_url"))
        else:
            raise InvalidRequest(
                f"content part type {kind!r} is not supported by anthropic deployments",
                param=f"{part_param}.type",
                code="unsupported_content",
            )
    return blocks


def _image_block(image_url: Any, param: str) -> Json:
    url = image_url.get("url") if isinstance(image_url, dict) else image_url
    if not isinstance(url, str):
        raise InvalidRequest("image_url.url must be a string", param=param)
    if url.startswith(("http://", "https://")):
        return {"type": "image", "source": {"type": "url", "url": url}}
    match = _DATA_URL.match(url)
    if match is None:
        raise InvalidRequest("image_url must be an http(s) URL or a base64 data: URL", param=param)
    media_type = match["media"].strip().lower()
    if media_type == "image/jpg":
        media_type = "image/jpeg"
    if media_type not in _IMAGE_MEDIA_TYPES:
        raise InvalidRequest(f"image type {media_type!r} is not supported; use jpeg, png, gif or webp", param=param)
    return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": match["data"]}}


def _assistant_blocks(message: Json, param: str) -> list[Json]:
    content = message.get("content")
    blocks: list[Json] = []
    if isinstance(content, list):
        # Assistant content parts are text or refusal; a refusal is what the assistant said, so it stays.
        for j, part in enumerate(content):
            kind = part.get("type") if isinstance(part, dict) else None
            if kind not in ("text", "refusal"):
                raise InvalidRequest(
                    f"assistant content part type {kind!r} is not supported", param=f"{param}.content[{j}]"
                )
            blocks.extend(_text_block(_str_field(part, kind, f"{param}.content[{j}].{kind}")))
    elif isinstance(content, str):
        blocks.extend(_text_block(content))
    elif content is not None:
        raise InvalidRequest("content must be a string or a list of content parts", param=f"{param}.content")
    tool_calls = message.get("tool_calls") or []
    if not isinstance(tool_calls, list):
        raise InvalidRequest("tool_calls must be a list", param=f"{param}.tool_calls")
    for j, call in enumerate(tool_calls):
        blocks.append(_tool_use(call, f"{param}.tool_calls[{j}]"))
    return blocks


def _tool_use(call: Any, param: str) -> Json:
    if not isinstance(call, dict) or not isinstance(call.get("function"), dict):
        raise InvalidRequest("a tool call needs a function object", param=param)
    function = call["function"]
    arguments = function.get("arguments") or "{}"
    try:
        parsed = orjson.loads(arguments) if isinstance(arguments, str) else None
    except orjson.JSONDecodeError:
        parsed = None
    if not isinstance(parsed, dict):
        # Anthropic's tool_use input is an object; anything else cannot be replayed to it.
        raise InvalidRequest(
            "tool call arguments must be a JSON object encoded as a string",
            param=f"{param}.function.arguments",
        )
    return {
        "type": "tool_use",
        "id": _str_field(call, "id", f"{param}.id"),
        "name": _str_field(function, "name", f"{param}.function.name"),
        "input": parsed,
    }


def _tool_result(message: Json, param: str) -> Json:
    block: Json = {
        "type": "tool_result",
        "tool_use_id": _str_field(message, "tool_call_id", f"{param}.tool_call_id"),
    }
    text = _plain_text(message.get("content"), f"{param}.content")
    if text:
        block["content"] = text
    return block


def _tools(tools: Any) -> list[Json]:
    if not isinstance(tools, list):
        raise InvalidRequest("tools must be a list", param="tools")
    out: list[Json] = []
    for j, tool in enumerate(tools):
        if not isinstance(tool, dict) or tool.get("type") != "function":
            raise InvalidRequest("anthropic deployments support only function tools", param=f"tools[{j}].type")
        function = tool.get("function")
        if not isinstance(function, dict):
            raise InvalidRequest("a function tool needs a function object", param=f"tools[{j}].function")
        parameters = function.get("parameters")
        entry: Json = {
            "name": _str_field(function, "name", f"tools[{j}].function.name"),
            # OpenAI allows omitting parameters for a no-argument function; Anthropic needs a schema.
            "input_schema": parameters if isinstance(parameters, dict) else _no_parameters(),
        }
        if isinstance(function.get("description"), str):
            entry["description"] = function["description"]
        out.append(entry)
    return out


def _no_parameters() -> Json:
    return {"type": "object", "properties": {}}


def _tool_choice(choice: Any, parallel_tool_calls: Any) -> Json | None:
    result: Json | None
    if choice is None:
        result = None
    elif choice == "auto":
        result = {"type": "auto"}
    elif choice == "required":
        result = {"type": "any"}
    elif choice == "none":
        result = {"type": "none"}
    elif (
        isinstance(choice, dict)
        and choice.get("type") == "function"
        and isinstance(choice.get("function"), dict)
        and isinstance(choice["function"].get("name"), str)
    ):
        result = {"type": "tool", "name": choice["function"]["name"]}
    else:
        raise InvalidRequest("unsupported tool_choice", param="tool_choice")
    if parallel_tool_calls is False:
        result = result or {"type": "auto"}
        # "none" has nothing to parallelise and Anthropic's none choice takes no such flag.
        if result["type"] != "none":
            result["disable_parallel_tool_use"] = True
    return result


def _response_format_instruction(response_format: Any) -> str | None:
    """A system instruction standing in for OpenAI's response_format.

    The basic Messages API has no JSON-mode switch, so the requested shape is asked for in the system
    prompt. This steers the model strongly but, unlike OpenAI's strict mode, guarantees nothing.
    """
    if response_format is None:
        return None
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    if kind == "text":
        return None
    if kind == "json_object":
        return _JSON_OBJECT_INSTRUCTION
    if kind == "json_schema":
        spec = response_format.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, dict) else None
        if not isinstance(schema, dict):
            raise InvalidRequest("json_schema.schema must be an object", param="response_format.json_schema")
        return _JSON_SCHEMA_INSTRUCTION + orjson.dumps(schema, option=orjson.OPT_SORT_KEYS).decode()
    raise InvalidRequest(f"unsupported response_format type {kind!r}", param="response_format")


def _str_field(obj: Json, key: str, param: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        raise InvalidRequest(f"{key} must be a string", param=param)
    return value
