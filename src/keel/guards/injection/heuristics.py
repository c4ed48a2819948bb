"""Hand-written rules for the known shapes of prompt injection and jailbreak, each with a weight.

The rules read normalised text (lower case, look-alikes folded, see ``normalise``). A weight is the rule's
own estimate of how likely a prompt that matches it is an attack; the rules that fire combine by noisy-OR,
``1 - prod(1 - w)``, so two independent medium signals count for more than one. Weights were set by hand
and checked against the training split (precision of each rule there). High weights are kept for phrasings
that have no ordinary use, e.g. "ignore all previous instructions" or a chat-template token such as
``<|im_start|>``; phrasings with innocent uses ("from now on you are", "developer mode") weigh little alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_GAP = r"[^.!?\n]{0,40}?"  # a few words within the same sentence
_OVERRIDE_VERB = (
    r"(?:ignore|ignoring|disregard|forget|skip|override|overlook|bypass|abandon|neglect|set aside|throw away"
    r"|don'?t follow|do not follow|stop following|no longer follow|pay no attention to)"
)
_EARLIER = r"(?:previous|prior|above|earlier|preceding|former|initial|original|old|existing|foregoing|all|any|every)"
_DIRECTIVES = (
    r"(?:instructions?|prompts?|rules|directions|directives?|guidelines|commands|orders|programming"
    r"|constraints|restrictions|guidance|policies|system message|context)"
)
_SECRET = r"(?:system|initial|original|hidden|secret|internal|developer|pre-?prompt|full|complete|previous|above)"
_FREE = (
    r"(?:restrictions|limitations|limits|filters?|filtering|censorship|rules|guidelines|ethic(?:s|al (?:guidelines|"
    r"constraints|boundaries))|moral(?:s|ity| (?:guidelines|constraints|boundaries))|safeguards|content polic(?:y|ies)"
    r"|safety (?:guidelines|filters|measures|protocols))"
)


_OVERRIDE_WORDS = (
    "ignor", "disregard", "forget", "skip", "overrid", "overlook", "bypass", "abandon", "neglect", "set aside",
    "throw away", "t follow", "stop following", "no longer follow", "pay no attention",
)  # fmt: skip
_FREE_WORDS = (
    "restriction", "limit", "filter", "censorship", "rules", "guidelines", "ethic", "moral", "safeguard",
    "content polic", "safety ",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    weight: float
    keywords: tuple[str, ...]
    """Substrings of which every match contains at least one: a cheap test before the regular expression."""
    pattern: re.Pattern[str]

    def matches(self, text: str) -> bool:
        return any(word in text for word in self.keywords) and self.pattern.search(text) is not None


def _rule(name: str, weight: float, keywords: tuple[str, ...], pattern: str) -> Rule:
    return Rule(name=name, weight=weight, keywords=keywords, pattern=re.compile(pattern))


RULES: tuple[Rule, ...] = (
    # Instruction override.
    _rule(
        "ignore-previous", 0.92, _OVERRIDE_WORDS, rf"\b{_OVERRIDE_VERB}\b{_GAP}\b{_EARLIER}\b{_GAP}\b{_DIRECTIVES}\b"
    ),
    _rule(
        "ignore-previous",
        0.92,
        _OVERRIDE_WORDS,
        rf"\b{_OVERRIDE_VERB} (?:all |everything |what |anything )?(?:you(?:'ve| have)? "
        rf"(?:were |have been |got |been )?(?:told|given|instructed|taught|programmed)|i (?:told|said))",
    ),
    _rule(
        "forget-everything",
        0.75,
        ("forget", "disregard", "ignore"),
        r"\b(?:forget|disregard|ignore) (?:about )?(?:everything|all(?: of)? that|all)"
        r"(?: (?:above|before|previously|so far|you know|we discussed|i said|said|else))",
    ),
    _rule(
        "ignore-previous-messages",
        0.45,
        _OVERRIDE_WORDS,
        rf"\b{_OVERRIDE_VERB}\b{_GAP}\b(?:previous|prior|above|earlier) "
        r"(?:messages?|text|conversation|answers?|responses?)\b",
    ),
    _rule(
        "new-instructions",
        0.55,
        ("instruction", "task", "directive", "order", "rules", "prompt"),
        r"\b(?:new|real|actual|true|updated|next) (?:instructions?|task|"
        r"directives?|orders?|rules|prompt) (?:is|are|will be|follows?)\b|\bnew instructions?:",
    ),
    _rule(
        "instead-do",
        0.35,
        ("instead",),
        r"\binstead,? (?:just )?(?:say|print|write|output|respond with|reply with|answer with)\b",
    ),
    _rule(
        "override-german",
        0.85,
        ("ignorier", "vergiss", "vergessen", "missachte"),
        r"\b(?:ignorier(?:e|en sie)|vergiss|vergessen sie|missachte)\b[^.!?\n]{0,40}"
        r"\b(?:anweisungen|befehle|regeln|anordnungen|vorgaben|alles|vorherigen?|bisherigen?|obigen?)\b",
    ),
    _rule(
        "override-spanish",
        0.85,
        ("ignor", "olvid"),
        r"\b(?:ignora|olvida|ignore|olvide)\b[^.!?\n]{0,30}\b(?:instrucciones|reglas|"
        r"órdenes|indicaciones)\b",
    ),
    _rule(
        "override-french",
        0.85,
        ("ignor", "oubli"),
        r"\b(?:ignore[sz]?|oublie[sz]?)\b[^.!?\n]{0,30}\b(?:instructions|consignes|"
        r"règles|directives) (?:précédentes|ci-dessus|antérieures|initiales)\b",
    ),
    # Persona switches and jailbreak framings.
    _rule(
        "you-are-now",
        0.3,
        ("you are now", "from now on"),
        r"\byou are now\b|\bfrom now on,? you(?:'re| are| will| must| shall| can)\b",
    ),
    _rule(
        "do-anything-now",
        0.95,
        ("do anything now", "dan"),
        r"\bdo anything now\b|\bdan mode\b|\b(?:act as|you are|pretend to be) (?:a )?dan\b",
    ),
    _rule(
        "jailbreak-mode",
        0.8,
        ("mode",),
        r"\b(?:jailbreak|jailbroken|unrestricted|unfiltered|uncensored|evil|god|chaos|"
        r"dev(?:eloper)?|debug|admin|sudo|opposite) mode (?:enabled|activated|output|is (?:on|enabled|active))\b"
        r"|\b(?:enable|activate|enter|simulate|switch to) (?:the )?"
        r"(?:jailbreak|unrestricted|unfiltered|uncensored|evil|god|dan) mode\b",
    ),
    _rule("developer-mode", 0.3, ("developer mode",), r"\bdeveloper mode\b"),
    _rule(
        "no-restrictions",
        0.45,
        _FREE_WORDS,
        rf"\b(?:free (?:of|from)|not bound by|freed from|break(?:s|ing)? free (?:of|from)|"
        rf"ignores?|bypass(?:es|ing)?|beyond|not (?:have to |need to )?(?:follow|obey|abide by)|(?:don'?t|doesn'?t|"
        rf"do not|does not) (?:have|follow|care about|abide by))\b[^.!?\n]{{0,25}}\b{_FREE}\b|\b(?:without|no) "
        rf"(?!(?:crossing|breaching|violating|breaking|exceeding)\b)(?:any |the |all |your )?(?:[a-z-]+ )?{_FREE}\b",
    ),
    _rule(
        "amoral-persona",
        0.55,
        ("amoral", "unfiltered", "uncensored", "unethical", "immoral", "unrestricted", "unhinged"),
        r"\b(?:amoral|unfiltered|uncensored|unethical|immoral|unrestricted|unhinged)\b"
        r"[^.!?\n]{0,40}\b(?:ai|chatbot|assistant|model|bot|character|persona|version|entity)\b",
    ),
    _rule(
        "never-refuse",
        0.65,
        ("refuse", "decline", "deny", "reject", "character"),
        r"\b(?:never|not|won'?t|don'?t|will not|do not|cannot|can'?t|must not|mustn'?t) "
        r"(?:ever )?(?:refuse|decline|deny|reject)s?(?: (?:any|a|my|the|to))?\b|\bnever (?:break|leave|drop) "
        r"character\b",
    ),
    _rule("no-disclaimers", 0.35, ("without",), r"\bwithout (?:any )?(?:warnings|disclaimers|refusals|censoring)\b"),
    _rule(
        "stay-in-character", 0.35, ("character",), r"\b(?:stay|remain|keep) in character\b|\bbreak(?:ing)? character\b"
    ),
    _rule(
        "dual-response",
        0.5,
        ("responses", "answers", "ways", "personas", "jailbreak]", "classic]", "[gpt]"),
        r"\b(?:two|2|both) (?:different |separate )?(?:responses|answers|ways|personas)\b"
        r"[^\n]{0,120}\[|\[(?:🔓)?\s*jailbreak\]|\[(?:🔒)?\s*classic\]|\[gpt\]:?",
    ),
    _rule("openai-policy", 0.45, ("openai",), r"\bopenai(?:'s)? (?:content |usage )?polic(?:y|ies)\b"),
    _rule(
        "hypothetical-harm",
        0.35,
        ("hypothetical", "fictional", "imaginary", "fictitious"),
        r"\b(?:hypothetical|fictional|imaginary|fictitious) (?:world|story|scenario|"
        r"setting|universe)\b[^\n]{0,80}\b(?:no (?:laws|rules|morals|ethics|restrictions)|illegal|unethical)\b",
    ),
    _rule(
        "authority-claim",
        0.5,
        ("i am", "override", "access", "command"),
        r"\bi am (?:your|the|an?) (?:developer|creator|administrator|admin|owner|"
        r"programmer|openai (?:employee|engineer))\b|\b(?:admin|root|sudo|developer) (?:override|access|command)\b",
    ),
    _rule(
        "disable-safety",
        0.75,
        ("disable", "turn off", "deactivate", "remove", "lift", "bypass", "switch off"),
        r"\b(?:disable|turn off|deactivate|remove|lift|bypass|switch off) (?:your |all |the |"
        r"any )?(?:safety|content|ethical|moral)? ?(?:filters?|guidelines|restrictions|protocols|safeguards|"
        r"censorship|guardrails)\b",
    ),
    # Prompt and data exfiltration.
    _rule(
        "system-prompt-leak",
        0.7,
        ("prompt", "instruction", "message", "rules", "configuration", "directive"),
        rf"\b(?:reveal|show|print|display|output|repeat|tell|give|leak|disclose|share|"
        rf"write out|spell out|dump|expose)\b[^.!?\n]{{0,30}}\b(?:your|the|my)\s+(?:{_SECRET}\s+){{1,2}}"
        rf"(?:prompt|instructions?|message|rules|configuration|directives?)\b",
    ),
    _rule(
        "system-prompt-question",
        0.35,
        ("what",),
        rf"\bwhat (?:is|are|was|were) your {_SECRET}? ?(?:system prompt|"
        r"instructions|rules|prompt)\b",
    ),
    _rule(
        "repeat-above",
        0.6,
        ("above", "so far", "before this", "verbatim", "word for word"),
        r"\b(?:repeat|print|output|echo|recite|reproduce|spell(?:check)?|copy)\b[^.!?\n]{0,40}"
        r"\b(?:text|words|everything|instructions|content|message|prompt|all)\b[^.!?\n]{0,15}\b(?:above|so far|"
        r"before this|verbatim|word for word)\b|\bwhat (?:is|was) written above\b",
    ),
    _rule("markdown-exfiltration", 0.4, ("](http",), r"!\[[^\]]*\]\(https?://[^)\s]+[?&][^)\s]*=[^)\s]*\)"),
    _rule(
        "pwned",
        0.6,
        ("pwned", "i hate humans", "kill all humans"),
        r"\bi have been pwned\b|\bpwned\b|\bi hate humans\b|\bkill all humans\b",
    ),
    # Forged conversation structure.
    _rule(
        "chat-template-token",
        0.9,
        ("<|", "inst]", "sys>>"),
        r"<\|(?:im_start|im_end|system|user|assistant|endoftext|eot_id|start_header_id|"
        r"end_header_id|begin_of_text)\|>|\[/?inst\]|<</?sys>>",
    ),
    _rule(
        "fake-system-message",
        0.55,
        ("system", "admin", "developer", "root", "sudo"),
        r"(?:^|\n)\s*(?:#{2,}|\[|<|\*\*)?\s*(?:system|admin|developer|root|sudo)"
        r"(?: (?:message|prompt|instruction|override|update|note))?\s*(?:\]|>|\*\*)?\s*:",
    ),
    _rule(
        "fake-delimiter",
        0.45,
        ("##", "end of", "[cls]"),
        r"(?:^|\n)\s*#{2,}\s*(?:new |updated |end of )?(?:instructions?|system|task|"
        r"prompt|context)\b|\bend of (?:the )?(?:system )?(?:prompt|instructions|context)\b|\[cls\]",
    ),
    _rule("escape-sequences", 0.3, ("\\n", "\\ n"), r"(?:\\n\s*){4,}|(?:\\ n\s*){4,}"),
)


@dataclass(frozen=True, slots=True)
class RuleHits:
    names: tuple[str, ...]
    """Distinct names of the rules that matched, in rule order."""
    score: float
    """Noisy-OR of their weights, in [0, 1]."""


def match_rules(text: str, rules: tuple[Rule, ...] = RULES) -> RuleHits:
    """Which rules match normalised ``text`` and their combined weight (a name counts once, at its top weight)."""
    best: dict[str, float] = {}
    for rule in rules:
        if rule.weight > best.get(rule.name, 0.0) and rule.matches(text):
            best[rule.name] = rule.weight
    miss = 1.0
    for weight in best.values():
        miss *= 1.0 - weight
    return RuleHits(names=tuple(best), score=1.0 - miss)
