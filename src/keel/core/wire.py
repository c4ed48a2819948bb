"""Validation of OpenAI request bodies.

Bodies are checked against these models and then forwarded as the client sent them, so fields Keel
does not know (new OpenAI parameters, vendor extensions) pass through untouched. Types are strict:
``"n": "2"`` is an error, as it is for OpenAI.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from keel.core.errors import InvalidRequest


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)


class TextPart(_Open):
    type: Literal["text"]
    text: str


class ImageUrl(_Open):
    url: str


class ImagePart(_Open):
    type: Literal["image_url"]
    image_url: ImageUrl


class OtherPart(_Open):
    """Audio, files and parts newer than Keel: passed through to the upstream to judge."""

    type: str

    @field_validator("type")
    @classmethod
    def _not_a_known_part(cls, value: str) -> str:
        if value in ("text", "image_url"):
            raise ValueError(f"a {value!r} part is missing its {value!r} field")
        return value


ContentPart = TextPart | ImagePart | OtherPart


class FunctionCall(_Open):
    name: str
    arguments: str


class ToolCall(_Open):
    id: str
    type: Literal["function"] = "function"
    function: FunctionCall


class SystemMessage(_Open):
    role: Literal["system", "developer"]
    content: str | list[TextPart]


class UserMessage(_Open):
    role: Literal["user"]
    content: str | list[ContentPart]


class AssistantMessage(_Open):
    role: Literal["assistant"]
    content: str | list[ContentPart] | None = None
    tool_calls: list[ToolCall] | None = None


class ToolMessage(_Open):
    role: Literal["tool"]
    content: str | list[TextPart]
    tool_call_id: str


class FunctionMessage(_Open):
    role: Literal["function"]
    content: str | None
    name: str


Message = Annotated[
    SystemMessage | UserMessage | AssistantMessage | ToolMessage | FunctionMessage,
    Field(discriminator="role"),
]


class FunctionDef(_Open):
    name: str = Field(min_length=1, max_length=64)
    description: str | None = None
    parameters: dict[str, Any] | None = None


class Tool(_Open):
    type: Literal["function"]
    function: FunctionDef


class StreamOptions(_Open):
    include_usage: bool | None = None


class ResponseFormat(_Open):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: dict[str, Any] | None = None


class ChatCompletionRequest(_Open):
    model: str = Field(min_length=1)
    messages: list[Message] = Field(min_length=1)
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    n: int | None = Field(default=None, ge=1, le=128)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    stop: str | list[str] | None = None
    tools: list[Tool] | None = None
    tool_choice: Literal["none", "auto", "required"] | dict[str, Any] | None = None
    response_format: ResponseFormat | None = None
    user: str | None = None


class EmbeddingsRequest(_Open):
    model: str = Field(min_length=1)
    input: str | list[str] | list[int] | list[list[int]]
    encoding_format: Literal["float", "base64"] | None = None
    dimensions: int | None = Field(default=None, ge=1)
    user: str | None = None


_chat = TypeAdapter(ChatCompletionRequest)
_embeddings = TypeAdapter(EmbeddingsRequest)


def check_chat(body: dict[str, Any]) -> ChatCompletionRequest:
    req: ChatCompletionRequest = _check(_chat, body)
    return req


def check_embeddings(body: dict[str, Any]) -> EmbeddingsRequest:
    req: EmbeddingsRequest = _check(_embeddings, body)
    if req.input == "" or req.input == []:
        raise InvalidRequest("'input' must not be empty", param="input")
    return req


def _check(adapter: TypeAdapter[Any], body: dict[str, Any]) -> Any:
    try:
        return adapter.validate_python(body)
    except ValidationError as exc:
        err = _most_specific(exc)
        param = _param(err["loc"])
        raise InvalidRequest(f"{param}: {_message(err)}", param=param) from None


def _most_specific(exc: ValidationError) -> Any:
    # Unions report one error per member; the deepest location is the one that names the real problem.
    return max(exc.errors(), key=lambda e: len(_fields(e["loc"])))


_ROLES = {"system", "developer", "user", "assistant", "tool", "function"}
_UNION_TAGS = {"str", "int", "none", *(m.__name__ for m in _Open.__subclasses__())}


def _fields(loc: tuple[Any, ...]) -> list[str | int]:
    """The field path of an error, without pydantic's union-member and discriminator tags."""
    out: list[str | int] = []
    for i, part in enumerate(loc):
        if isinstance(part, int):
            out.append(part)
        elif "[" in part or part in _UNION_TAGS:
            continue
        elif i == 2 and part in _ROLES and loc[0] == "messages":
            continue  # the discriminator tag after messages[i]
        else:
            out.append(part)
    return out


def _param(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in _fields(loc):
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out or "body"


def _message(err: Any) -> str:
    if err["type"] == "missing":
        return "required field is missing"
    if err["type"] == "union_tag_invalid":
        return f"unknown role {err['input']!r}" if isinstance(err["input"], str) else str(err["msg"])
    return str(err["msg"])
