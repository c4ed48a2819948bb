"""The faq provider: matching, loading YAML and CSV, and OpenAI-shaped answers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk

import keel
from keel.core.errors import InvalidRequest
from keel.providers.base import Provider
from keel.providers.faq import DEFAULT_FALLBACK, FaqEntry, FaqProvider, load_faq

EXAMPLE = Path(keel.__file__).parent / "defaults" / "faq.yaml"


def ask(text: str, **extra: Any) -> dict[str, Any]:
    messages = [{"role": "system", "content": "Be nice."}, {"role": "user", "content": text}]
    return {"model": "support", "messages": messages, **extra}


@pytest.fixture(scope="module")
def entries() -> list[FaqEntry]:
    return load_faq(EXAMPLE)


def test_example_file_loads(entries: list[FaqEntry]) -> None:
    assert len(entries) == 12
    ids = [e.id for e in entries]
    assert len(set(ids)) == len(ids) and None not in ids
    assert all(e.question and e.answer for e in entries)


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("how do I change my password", "reset-password"),
        ("I lost my password", "reset-password"),
        ("what's your refund policy", "refunds"),
        ("is there an outage", "outage-status"),
        ("generate a new api key", "create-api-key"),
        ("revoke my key", "rotate-api-key"),
        ("update my credit card", "update-payment"),
        ("2FA setup", "enable-2fa"),
        ("talk to support", "contact-support"),
    ],
)
def test_paraphrases_find_their_entry(entries: list[FaqEntry], question: str, expected: str) -> None:
    faq = FaqProvider(entries)
    found = faq.match(question)
    assert found.entry is not None and found.entry.id == expected
    unrelated = faq.match("what is the capital of France")
    assert found.confidence > unrelated.confidence
    assert 0.0 <= unrelated.confidence <= found.confidence <= 1.0


def test_exact_question_is_full_confidence(entries: list[FaqEntry]) -> None:
    found = FaqProvider(entries).match("How do I reset my password?")
    assert found.confidence == 1.0


async def test_chat_answer_shape(entries: list[FaqEntry]) -> None:
    faq: Provider = FaqProvider(entries)
    raw = await faq.chat(ask("how do I change my password"))
    done = ChatCompletion.model_validate(raw)
    assert done.model == "faq"
    assert done.choices[0].message.content == entries[0].answer
    assert done.choices[0].finish_reason == "stop"
    assert done.usage is not None
    assert done.usage.prompt_tokens == 2 + 6
    assert done.usage.completion_tokens == len(entries[0].answer.split())
    keel_extra = raw["keel"]
    assert keel_extra["faq"] == {"id": "reset-password", "question": "How do I reset my password?"}
    assert keel_extra["fallback"] is False
    assert keel_extra["confidence"] == round(keel_extra["confidence"], 4)
    await faq.aclose()


async def test_below_min_confidence_falls_back(entries: list[FaqEntry]) -> None:
    strict = FaqProvider(entries, min_confidence=0.9)
    raw = await strict.chat(ask("what is the capital of France"))
    assert raw["choices"][0]["message"]["content"] == DEFAULT_FALLBACK
    assert raw["keel"]["fallback"] is True
    assert 0.0 < raw["keel"]["confidence"] < 0.9  # the real score, not zero
    custom = FaqProvider(entries, min_confidence=0.9, fallback_answer="Ask a human.")
    raw = await custom.chat(ask("what is the capital of France"))
    assert raw["choices"][0]["message"]["content"] == "Ask a human."
    confident = await custom.chat(ask("How do I reset my password?"))
    assert confident["keel"]["fallback"] is False


async def test_no_entries_or_no_question() -> None:
    raw = await FaqProvider([]).chat(ask("anything"))
    assert raw["keel"] == {"confidence": 0.0, "fallback": True, "faq": None}
    assert raw["choices"][0]["message"]["content"] == DEFAULT_FALLBACK
    with pytest.raises(InvalidRequest):
        await FaqProvider([]).chat({"model": "faq", "messages": []})


@pytest.mark.parametrize("include_usage", [False, True])
async def test_stream_shape(entries: list[FaqEntry], include_usage: bool) -> None:
    faq = FaqProvider(entries)
    body = ask("refund", stream=True, stream_options={"include_usage": include_usage})
    raw = [chunk async for batch in faq.chat_stream(body) for chunk in batch]
    chunks = [ChatCompletionChunk.model_validate(c) for c in raw]
    assert raw[0]["keel"]["faq"]["id"] == "refunds"
    assert all("keel" not in c for c in raw[1:])
    assert chunks[0].choices[0].delta.role == "assistant"
    assert all(c.model == "faq" and c.id == chunks[0].id for c in chunks)
    answer = next(e for e in entries if e.id == "refunds").answer
    content = [c for c in chunks if c.choices]
    assert "".join(c.choices[0].delta.content or "" for c in content) == answer
    assert len(content) > 3  # the answer arrives in several pieces
    assert content[-1].choices[0].finish_reason == "stop"
    if include_usage:
        assert chunks[-1].choices == [] and chunks[-1].usage is not None
        assert chunks[-1].usage.completion_tokens == len(answer.split())
    else:
        assert chunks[-1].usage is None


async def test_embeddings_are_unsupported(entries: list[FaqEntry]) -> None:
    with pytest.raises(InvalidRequest):
        await FaqProvider(entries).embeddings({"model": "faq", "input": "x"})


def test_yaml_top_level_list(tmp_path: Path) -> None:
    path = tmp_path / "faq.yml"
    path.write_text("- question: Where are you?\n  answer: Here.\n  id: 7\n  alternates: ['Location?']\n")
    assert load_faq(path) == [FaqEntry("Where are you?", "Here.", "7", ("Location?",))]


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("entries:\n  - {question: Q, answer: A}\n  - {question: Q2}\n", "entry 2: 'answer' must be a non-empty"),
        ("entries:\n  - {question: Q, answer: A, tags: [x]}\n", "entry 1: unknown key(s) tags"),
        ("entries:\n  - {question: Q, answer: A, alternates: other}\n", "entry 1: 'alternates' must be a list"),
        (
            "entries:\n  - {question: Q, answer: A, id: x}\n  - {question: R, answer: B, id: x}\n",
            "entry 2: id 'x' is already used by entry 1",
        ),
        ("entries:\n  - just a string\n", "entry 1: expected a mapping"),
        ("faq: []\n", "exactly one key, 'entries'"),
        ("entries: []\n", "no entries"),
        ("entries: [unclosed\n", "not valid YAML"),
        ("", "expected a list of entries"),
    ],
)
def test_yaml_errors_name_the_file_and_entry(tmp_path: Path, text: str, complaint: str) -> None:
    path = tmp_path / "faq.yaml"
    path.write_text(text)
    with pytest.raises(ValueError) as caught:
        load_faq(path)
    assert str(path) in str(caught.value)
    assert complaint in str(caught.value)


def test_csv(tmp_path: Path) -> None:
    path = tmp_path / "faq.csv"
    path.write_text(
        "\ufeffQuestion,Answer,id,alternates\n"
        'How do I pay?,"By card, or by invoice.",pay,Payment options|Can I pay by invoice?\n'
        "\n"
        "Who are you?,Acme support.,,\n",
        encoding="utf-8",
    )
    assert load_faq(path) == [
        FaqEntry("How do I pay?", "By card, or by invoice.", "pay", ("Payment options", "Can I pay by invoice?")),
        FaqEntry("Who are you?", "Acme support.", None, ()),
    ]


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("question,id\nQ,1\n", "line 1: missing column(s) answer"),
        ("question,answer,score\nQ,A,1\n", "line 1: unknown column(s) score"),
        ("question,answer\nQ,A\n,A2\n", "line 3: 'question' must be a non-empty string"),
        ("question,answer\nQ,A,extra\n", "line 2: 3 fields but 2 columns"),
        ("question,answer,id\nQ,A,1\nR,B,1\n", "entry 2: id '1' is already used by entry 1"),
        ("", "empty CSV"),
        ("question,answer\n", "no entries"),
    ],
)
def test_csv_errors_name_the_file_and_line(tmp_path: Path, text: str, complaint: str) -> None:
    path = tmp_path / "faq.csv"
    path.write_text(text)
    with pytest.raises(ValueError) as caught:
        load_faq(path)
    assert str(path) in str(caught.value)
    assert complaint in str(caught.value)


def test_unsupported_or_missing_files(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unsupported FAQ file type"):
        load_faq(tmp_path / "faq.json")
    with pytest.raises(ValueError, match="cannot read FAQ file"):
        load_faq(tmp_path / "missing.yaml")
