"""Redaction with typed placeholders or a mask, and restoring originals in a (possibly streamed) answer."""

from __future__ import annotations

import pytest

from keel.guards.pii import PiiDetector, PiiSpan, StreamRestorer, redact, restore


def test_round_trip(detector: PiiDetector) -> None:
    text = "Mail ada@example.com or call +44 20 7946 0958; card 4111 1111 1111 1111."
    redaction = redact(text, detector.detect(text))
    assert redaction.text == "Mail <EMAIL_1> or call <PHONE_NUMBER_1>; card <CREDIT_CARD_1>."
    assert redaction.mapping == {
        "<EMAIL_1>": "ada@example.com",
        "<PHONE_NUMBER_1>": "+44 20 7946 0958",
        "<CREDIT_CARD_1>": "4111 1111 1111 1111",
    }
    assert restore(redaction.text, redaction.mapping) == text


def test_same_value_same_placeholder_and_numbering_per_type(detector: PiiDetector) -> None:
    text = "From a@example.com to b@example.com, cc a@example.com, ring 020 7946 0958."
    redaction = redact(text, detector.detect(text))
    assert redaction.text == "From <EMAIL_1> to <EMAIL_2>, cc <EMAIL_1>, ring <PHONE_NUMBER_1>."
    assert len(redaction.spans) == 4


def test_mapping_carries_across_messages_of_one_request(detector: PiiDetector) -> None:
    first = redact("I am ada@example.com", detector.detect("I am ada@example.com"))
    second_text = "Reply to bob@example.com, not ada@example.com"
    second = redact(second_text, detector.detect(second_text), mapping=first.mapping)
    assert second.text == "Reply to <EMAIL_2>, not <EMAIL_1>"
    assert second.mapping == {"<EMAIL_1>": "ada@example.com", "<EMAIL_2>": "bob@example.com"}
    assert first.mapping == {"<EMAIL_1>": "ada@example.com"}  # not modified


def test_placeholders_already_in_the_text_are_not_reused(detector: PiiDetector) -> None:
    text = "Template says <EMAIL_1>; the real one is ada@example.com"
    redaction = redact(text, detector.detect(text))
    assert redaction.text == "Template says <EMAIL_1>; the real one is <EMAIL_2>"
    assert restore(redaction.text, redaction.mapping) == "Template says <EMAIL_1>; the real one is ada@example.com"


def test_mask_style(detector: PiiDetector) -> None:
    text = "Mail ada@example.com, card 4111 1111 1111 1111."
    redaction = redact(text, detector.detect(text), style="mask")
    assert redaction.text == "Mail ****, card ****."
    assert redaction.mapping == {}


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="overlapping"):
        redact("abcdefgh", [PiiSpan("EMAIL", 0, 5, 0.9), PiiSpan("PERSON", 3, 7, 0.9)])
    with pytest.raises(ValueError, match="style"):
        redact("abc", [], style="hash")  # type: ignore[arg-type]


MAPPING = {"<EMAIL_1>": "ada@example.com", "<PHONE_NUMBER_2>": "+44 20 7946 0958", "<EMAIL_12>": "z@example.com"}


@pytest.mark.parametrize(
    ("answer", "restored"),
    [
        ("Write to <EMAIL_1>.", "Write to ada@example.com."),
        ("Write to EMAIL_1.", "Write to ada@example.com."),
        ("Write to [EMAIL_1].", "Write to ada@example.com."),
        ("Write to {EMAIL_1}.", "Write to ada@example.com."),
        ("Write to < EMAIL_1 >.", "Write to ada@example.com."),
        ("Write to &lt;EMAIL_1&gt;.", "Write to ada@example.com."),
        ("Write to \\<EMAIL\\_1\\>.", "Write to ada@example.com."),
        ("Write to <email_1>.", "Write to ada@example.com."),
        ("Write to EMAIL-1 or EMAIL1.", "Write to ada@example.com or ada@example.com."),
        ("Call PHONE NUMBER 2 now.", "Call +44 20 7946 0958 now."),
        ("Call <PHONE_NUMBER_2>, mail <EMAIL_12>.", "Call +44 20 7946 0958, mail z@example.com."),
    ],
)
def test_restore_accepts_echoed_variants(answer: str, restored: str) -> None:
    assert restore(answer, MAPPING) == restored


@pytest.mark.parametrize(
    "answer",
    ["Write to <EMAIL_3>.", "XEMAIL_1 is not one.", "EMAIL_123 is not one.", "No placeholders here."],
)
def test_restore_leaves_unknown_or_embedded_placeholders(answer: str) -> None:
    assert restore(answer, MAPPING) == answer


def test_restore_with_empty_mapping() -> None:
    assert restore("<EMAIL_1>", {}) == "<EMAIL_1>"


@pytest.mark.parametrize(
    "answer",
    [
        "Sure, I wrote to <EMAIL_1> and called <PHONE_NUMBER_2>; also EMAIL_12 and [EMAIL_1].",
        "Nothing to restore here, just <angle> brackets & EMAIL words.",
    ],
)
def test_stream_restorer_matches_restore_at_every_split(answer: str) -> None:
    expected = restore(answer, MAPPING)
    for cut in range(len(answer) + 1):
        for second_cut in (cut, min(len(answer), cut + 3)):
            stream = StreamRestorer(MAPPING)
            chunks = (answer[:cut], answer[cut:second_cut], answer[second_cut:])
            out = "".join(stream.feed(chunk) for chunk in chunks) + stream.flush()
            assert out == expected, (cut, second_cut)


def test_stream_restorer_does_not_hold_back_ordinary_text() -> None:
    stream = StreamRestorer(MAPPING)
    assert stream.feed("Hello there, ") == "Hello there, "
    assert stream.feed("see <EMA") == "see "
    assert stream.feed("IL_1> ok") == "ada@example.com ok"
    assert stream.flush() == ""
