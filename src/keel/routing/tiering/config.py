"""How a route declares its tiers, how requests are classified among them and when an answer escalates."""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from keel.config.base import StrictModel


class TierConfig(StrictModel):
    """One tier: a name for reports and the deployments that serve it (ordered like a route's pool)."""

    name: str = Field(min_length=1)
    deployments: tuple[str, ...] = Field(min_length=1)


class ClassifierConfig(StrictModel):
    """Rules that decide whether a request is simple enough for the cheapest tier.

    A request goes to the cheap tier only when every rule says it may; any rule that says no sends it
    to the strongest tier. When the rules allow the cheap tier and ``examples`` is set, a vote of the
    nearest labelled prompts decides among all tiers instead (so with three or more tiers it may pick
    a middle one).
    """

    max_prompt_tokens: int = Field(default=400, gt=0)
    """Longer prompts (estimated offline, messages and tool definitions) go to the strong tier."""
    max_turns: int = Field(default=6, gt=0)
    """Conversations with more user turns than this go to the strong tier."""
    tools_go_strong: bool = True
    """Requests offering tools (``tools`` or the legacy ``functions``) go to the strong tier."""
    strong_keywords: tuple[str, ...] = ()
    """Case-insensitive whole words or phrases in user or system text that send a request to the strong tier."""
    examples: str | None = None
    """A JSON Lines file of ``{"text": ..., "tier": ...}`` labelled prompts for a nearest-neighbour vote."""
    neighbours: int = Field(default=5, gt=0)
    """How many of the most similar labelled prompts vote; the tier with most votes wins, ties go up."""

    @field_validator("strong_keywords")
    @classmethod
    def _no_blank_keywords(cls, keywords: tuple[str, ...]) -> tuple[str, ...]:
        if any(not keyword.strip() for keyword in keywords):
            raise ValueError("strong_keywords must not contain blank entries")
        return keywords


class EscalationConfig(StrictModel):
    """Checks on a lower tier's answer; a failed check sends the request to the next tier up."""

    on_refusal: bool = True
    """The answer declines near its start ("I'm sorry, but I can't help with that") or sets ``refusal``."""
    on_truncation: bool = True
    """The answer stopped at the token limit (``finish_reason: length``)."""
    on_invalid_json: bool = True
    """``response_format`` asked for JSON (or a JSON Schema) and the answer is not valid JSON (or fails the schema)."""
    on_invalid_tool_arguments: bool = True
    """A tool call's ``arguments`` are not a JSON object."""
    on_empty: bool = True
    """The answer has neither text nor tool calls."""
    min_faq_confidence: float | None = Field(default=None, ge=0, le=1)
    """For FAQ deployments: escalate when the match score reported by the answer is below this."""


class TieringConfig(StrictModel):
    """A route's tiers, cheapest first."""

    tiers: tuple[TierConfig, ...] = Field(min_length=2)
    classifier: ClassifierConfig = ClassifierConfig()
    escalation: EscalationConfig = EscalationConfig()

    @model_validator(mode="after")
    def _distinct_names(self) -> TieringConfig:
        names = [tier.name for tier in self.tiers]
        if len(set(names)) != len(names):
            raise ValueError("tier names must be distinct")
        return self

    @property
    def names(self) -> tuple[str, ...]:
        """The tier names, cheapest first: what the classifier and the examples file refer to."""
        return tuple(tier.name for tier in self.tiers)

    @property
    def strongest(self) -> TierConfig:
        return self.tiers[-1]
