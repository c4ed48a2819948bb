"""Whether an answer is the model declining ("I'm sorry, but I can't help with that").

A cheap model that refuses a harmless request is a reason to try a stronger one. Refusals are
recognised by their opening, in English: an optional apology or disclaimer ("I'm sorry", "Sorry",
"I apologise", "Unfortunately", "I'm afraid", "As an AI language model") followed within a short
stretch by the first person declining ("I can't help", "I'm not able to provide", "I must decline").
Only the start of the answer is read, so an answer that explains that *something* cannot be done
("You cannot use a list as a dict key because ...") or declines one detail deep into a helpful
answer is not a refusal; nor is a "we can't" about the business's own policy, which is an answer.
"""

from __future__ import annotations

import re

_APOSTROPHE = "['\u2019]"
# Markdown, quotes and whitespace a model may put before its first word.
_OPENING = r"[\s\"'\u201c\u201d\u2018\u2019*_>#-]*"
_APOLOGY = (
    rf"(?:i{_APOSTROPHE}m|i\s+am)\s+(?:(?:really|very|so|truly|terribly|deeply)\s+)?sorry"
    r"|sorry|(?:my\s+)?apologies|i\s+apologi[sz]e"
    r"|unfortunately|regrettably"
    rf"|(?:i{_APOSTROPHE}m|i\s+am)\s+afraid"
)
# After this disclaimer any "I can't ..." is a refusal, whatever the verb.
_AS_AN_AI = r"as\s+an\s+ai\b"
# The apology and the refusal may be apart by a few words ("I'm sorry to hear that, but ...").
_GAP = r"[^\n]{0,80}?"
# Each way of declining starts right after "I", so that "I'm unable" and "I am unable" both fit.
_CANNOT = (
    rf"\s+(?:can{_APOSTROPHE}?t|cannot|can\s+not|won{_APOSTROPHE}?t(?:\s+be\s+able\s+to)?|will\s+not(?:\s+be\s+able\s+to)?)"
    rf"|(?:\s+am|{_APOSTROPHE}m)\s+(?:not\s+able|unable|not\s+allowed|not\s+permitted|not\s+in\s+a\s+position)\s+to"
    rf"|\s+do(?:n{_APOSTROPHE}?t|\s+not)\s+(?:think\s+i\s+(?:can|should)|feel\s+comfortable|have\s+the\s+ability\s+to)"
)
_ACTS = (
    r"help(?!\s+but\b)|assist|aid|provide|comply|fulfil|fulfill|answer|respond|reply|share|disclose|reveal"
    r"|create|generate|write|produce|complete|support|engage|discuss|talk|give|offer"
    r"|do\s+(?:that|this|so)|continue|proceed|participate|accommodate|recommend|endorse"
)
_ADVERB = r"(?:(?:really|currently|directly|personally|legally|ethically|safely|in\s+good\s+conscience)\s+)?"
_DECLINE = (
    rf"(?:\s+(?:must|have\s+to|need\s+to|will\s+have\s+to|would\s+have\s+to)|{_APOSTROPHE}ll\s+have\s+to)"
    r"\s+(?:respectfully\s+|politely\s+)?(?:decline|refuse)"
)
_REFUSAL = re.compile(
    rf"{_OPENING}(?:"
    rf"{_AS_AN_AI}{_GAP}(?<![\w'\u2019])i(?:{_CANNOT})\s+\w"
    rf"|(?:(?:{_APOLOGY}){_GAP})?(?<![\w'\u2019])i(?:(?:{_CANNOT})\s+{_ADVERB}(?:{_ACTS})|{_DECLINE})\b"
    r")",
    re.IGNORECASE,
)


def is_refusal(text: str) -> bool:
    """True when ``text`` opens by declining the request."""
    return _REFUSAL.match(text) is not None
