"""Pydantic models: the document in, the grounded records out, and the drafts the model fills in.

Vocabularies (documented here once; prompts and the README point at this module):

* ``ActorKind``: person, organization (companies, parties, NGOs, agencies that are not a state's
  government), government (a state's government or one of its bodies: ministries, militaries,
  embassies), country (a state or territory as a whole, including metonyms like "Pyongyang"),
  media (news agencies, outlets), group (informal or collective actors: "protesters", "tourists"),
  other.
* ``EventType``: meeting (talks, summits, forums), visit (travel, trips, departures, arrivals),
  agreement (treaties, deals, pledges signed or agreed), transfer (supplies of weapons, aid, goods,
  workers or technology), conflict (attacks, invasions, fighting), sanction (sanctions, bans,
  penalties), legal (arrests, charges, trials, rulings), election (votes, campaigns),
  protest (demonstrations, strikes), economic (trade, investment, layoffs, markets),
  disaster (accidents, outbreaks, natural disasters), policy (laws, decisions, announcements of
  policy), other.
* ``EventStatus``: occurred (reported as fact, in the past or present), planned (scheduled or
  announced for the future), reported-alleged (attributed, alleged, suspected, unconfirmed),
  hypothetical (conditional or speculative: "could", "would", "if"), denied (an actor denies it
  happened).
* ``AlignmentStatus`` of evidence: exact (the quote occurs verbatim), normalized (occurs after
  folding whitespace, quote marks, dashes and case), fuzzy (rapidfuzz similarity above the
  threshold), unmatched (not found: never reported as grounded).
"""

from __future__ import annotations

import hashlib
import re
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field, field_validator, model_validator

__all__ = [
    "SCHEMA_VERSION",
    "Actor",
    "ActorKind",
    "AlignmentStatus",
    "BatchResult",
    "Claim",
    "ClaimPolarity",
    "DatePrecision",
    "Document",
    "DraftActor",
    "DraftClaim",
    "DraftEvent",
    "DraftExtraction",
    "DraftParticipant",
    "EndpointKind",
    "ErrorRecord",
    "Event",
    "EventDate",
    "EventStatus",
    "EventType",
    "Evidence",
    "Extraction",
    "GroundingMode",
    "Participant",
    "ParticipantRole",
    "RunMetadata",
    "StrategyName",
    "Usage",
]

# Bumped whenever the output models change shape; part of every cache key downstream.
SCHEMA_VERSION = "1"

ActorKind = Literal["person", "organization", "government", "country", "media", "group", "other"]
EventType = Literal[
    "meeting",
    "visit",
    "agreement",
    "transfer",
    "conflict",
    "sanction",
    "legal",
    "election",
    "protest",
    "economic",
    "disaster",
    "policy",
    "other",
]
EventStatus = Literal["occurred", "planned", "reported-alleged", "hypothetical", "denied"]
ClaimPolarity = Literal["asserted", "denied"]
ParticipantRole = Literal["agent", "target", "participant"]
AlignmentStatus = Literal["exact", "normalized", "fuzzy", "unmatched"]
DatePrecision = Literal["day", "month", "year"]
StrategyName = Literal["guided", "single", "decomposed", "rules"]
GroundingMode = Literal["aligned", "constrained"]
EndpointKind = Literal["embedded", "openai", "openai-compatible"]

_STRICT = ConfigDict(extra="forbid")


class _Grounded(BaseModel):
    """A record with a computed ``grounded`` flag: the flag is output only, re-derived on input."""

    model_config = _STRICT

    @model_validator(mode="before")
    @classmethod
    def _drop_computed(cls, data: Any) -> Any:
        # Output is re-readable (JSONL back into Extraction) without trusting a stored flag.
        if isinstance(data, dict) and "grounded" in data:
            return {k: v for k, v in data.items() if k != "grounded"}
        return data


class Document(BaseModel):
    """A news article to extract from."""

    model_config = _STRICT

    id: str = ""
    text: str
    title: str | None = None
    published: date | None = None

    @field_validator("text")
    @classmethod
    def _not_blank(cls, text: str) -> str:
        if not text.strip():
            raise ValueError("document text is empty or whitespace only")
        return _valid_unicode(text, "text")

    @field_validator("title")
    @classmethod
    def _title_is_unicode(cls, title: str | None) -> str | None:
        return None if title is None else _valid_unicode(title, "title")

    @field_validator("published", mode="before")
    @classmethod
    def _iso_date(cls, value: Any) -> Any:
        return _publication_date(value)

    @model_validator(mode="after")
    def _default_id(self) -> Document:
        # A stable id derived from the text lets reruns and caches line up without user-chosen ids.
        if not self.id:
            self.id = "doc-" + hashlib.sha256(self.text.encode("utf-8")).hexdigest()[:12]
        return self


_SURROGATE = re.compile("[\ud800-\udfff]")


def _valid_unicode(text: str, field: str) -> str:
    # A lone surrogate ("\ud800" in JSON) is not a character: it cannot be encoded, hashed or written.
    if (bad := _SURROGATE.search(text)) is not None:
        raise ValueError(
            f"{field} contains a lone surrogate (U+{ord(bad.group()):04X}) at offset {bad.start()}: "
            "not valid Unicode"
        )
    return text


def _publication_date(value: Any) -> Any:
    """An ISO date, or the date of an ISO datetime; never a number (0 is not 1970-01-01)."""
    if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
        return value
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, str):
        text = value.strip()
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
        try:
            return datetime.fromisoformat(text.replace("Z", "+00:00")).date()
        except ValueError:
            pass
    raise ValueError(f"published must be an ISO date (YYYY-MM-DD) or datetime, not {value!r}")


class Evidence(_Grounded):
    """A quote from the source and where it was found: offsets index the original text."""

    model_config = _STRICT

    quote: str
    start: int | None = None
    end: int | None = None
    alignment: AlignmentStatus = "unmatched"
    score: float = Field(0.0, ge=0.0, le=100.0, description="similarity of text[start:end] to quote")

    @model_validator(mode="after")
    def _offsets_match_status(self) -> Evidence:
        if self.alignment == "unmatched":
            if self.start is not None or self.end is not None:
                raise ValueError("unmatched evidence cannot carry offsets")
        elif self.start is None or self.end is None or not 0 <= self.start <= self.end:
            raise ValueError(f"{self.alignment} evidence needs 0 <= start <= end")
        return self

    @computed_field  # type: ignore[prop-decorator]
    @property
    def grounded(self) -> bool:
        """Whether the quote was found in the source."""
        return self.alignment != "unmatched"


class EventDate(BaseModel):
    """An event's date as written in the text and resolved against the publication date."""

    model_config = _STRICT

    expression: str
    value: str | None = Field(None, description="ISO 8601 partial: 2024-09-16, 2024-09 or 2024")
    precision: DatePrecision | None = None
    relative: bool = False


class Actor(_Grounded):
    """A person, organization, government, country, outlet or group named in the article."""

    model_config = _STRICT

    id: str
    name: str
    kind: ActorKind = "other"
    title: str | None = None
    aliases: list[str] = Field(default_factory=list)
    mentions: list[Evidence] = Field(default_factory=list)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def grounded(self) -> bool:
        """Whether at least one mention was found in the source."""
        return any(m.grounded for m in self.mentions)


class Participant(BaseModel):
    """An actor taking part in an event, by id."""

    model_config = _STRICT

    actor_id: str
    role: ParticipantRole = "participant"


class Event(_Grounded):
    """Something that happened, is planned, alleged, hypothetical or denied."""

    model_config = _STRICT

    id: str
    type: EventType = "other"
    trigger: Evidence
    summary: str = ""
    participants: list[Participant] = Field(default_factory=list)
    date: EventDate | None = None
    location: str | None = None
    status: EventStatus = "occurred"

    @computed_field  # type: ignore[prop-decorator]
    @property
    def grounded(self) -> bool:
        """Whether the trigger was found in the source."""
        return self.trigger.grounded


class Claim(_Grounded):
    """A statement made by an actor (or by the article's author when ``claimant`` is None)."""

    model_config = _STRICT

    id: str
    statement: str
    claimant: str | None = None
    polarity: ClaimPolarity = "asserted"
    hedged: bool = False
    evidence: Evidence

    @computed_field  # type: ignore[prop-decorator]
    @property
    def grounded(self) -> bool:
        """Whether the evidence was found in the source."""
        return self.evidence.grounded


class Usage(BaseModel):
    """Tokens counted over every model call of a run, re-asks included."""

    model_config = _STRICT

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            total_tokens=self.total_tokens + other.total_tokens,
        )


class RunMetadata(BaseModel):
    """How an extraction was made: prompt, model, endpoint, strategy, cost and time."""

    model_config = _STRICT

    prompt_name: str
    prompt_version: str
    prompt_hash: str
    model: str
    endpoint: EndpointKind | Literal["none"] = Field(
        description="none: the rules strategy, which calls no model"
    )
    strategy: StrategyName
    grounding: GroundingMode
    schema_version: str = SCHEMA_VERSION
    usage: Usage = Field(default_factory=Usage)
    latency_s: float = 0.0
    model_calls: int = Field(0, description="HTTP requests answered by the model, re-asks included")
    attempts: int = Field(0, description="structured-output attempts: first tries plus re-asks")
    transport_retries: int = 0
    chunks: int = Field(1, description="pieces the document was split into to fit the context")
    instructions: int = Field(0, description="sentences addressed to a model: never used as evidence")
    dropped: int = Field(0, description="model references to unknown actors, and duplicates, left out")
    warnings: list[str] = Field(
        default_factory=list, description="why quality may be low: not English, HTML-looking, no date"
    )


class Extraction(BaseModel):
    """The grounded actors, events and claims of one document, with run metadata."""

    model_config = _STRICT

    document_id: str
    actors: list[Actor] = Field(default_factory=list)
    events: list[Event] = Field(default_factory=list)
    claims: list[Claim] = Field(default_factory=list)
    metadata: RunMetadata

    @model_validator(mode="after")
    def _references_resolve(self) -> Extraction:
        check_references(self)
        return self

    def actor(self, actor_id: str | None) -> Actor | None:
        """The actor with id ``actor_id`` (a claimant, a participant), or None (None: the author)."""
        if actor_id is None:
            return None
        return next((a for a in self.actors if a.id == actor_id), None)


class ErrorRecord(BaseModel):
    """Why a document has no extraction."""

    type: str = Field(description="exception class, e.g. ModelOutputError, TransportError, BudgetExceeded")
    message: str
    attempts: int | None = None
    raw_output: str | None = None
    retryable: bool = Field(description="whether running the document again may succeed")


class BatchResult(BaseModel):
    """One document's outcome: exactly one of ``extraction`` and ``error`` is set."""

    document_id: str
    status: Literal["ok", "error"]
    document: Document | None = Field(None, description="the input, so a result file can be viewed alone")
    extraction: Extraction | None = None
    error: ErrorRecord | None = None
    cached: bool = Field(False, description="answered from the cache: no model call in this run")
    usage: Usage = Field(default_factory=Usage, description="tokens spent in this run, re-asks included")
    cost_usd: float | None = Field(
        None, description="cost of this run's tokens; None if the price is unknown"
    )
    latency_s: float = 0.0
    key: str | None = Field(
        None,
        description="cache key of the document and settings this result was made with (--resume "
        "runs a document again when it changes)",
    )


# --- What the model fills in (single-call strategy). Quotes only: offsets are ours to find. ---


class DraftActor(BaseModel):
    """An actor as the model reports it: quotes, not offsets."""

    id: str = Field(description="short id such as A1, used by events and claims")
    name: str = Field(description="canonical full name")
    kind: ActorKind
    title: str | None = Field(None, description="title or role, e.g. Foreign Minister")
    aliases: list[str] = Field(default_factory=list, description="other names used in the article")
    mentions: list[str] = Field(description="exact quotes of the article where the actor is named")


class DraftParticipant(BaseModel):
    """A reference from an event to an actor."""

    actor_id: str
    role: ParticipantRole = "participant"


class DraftEvent(BaseModel):
    """An event as the model reports it."""

    id: str = Field(description="short id such as E1")
    type: EventType
    trigger: str = Field(description="exact word or short phrase of the article naming the event")
    sentence: str = Field(description="the exact sentence of the article in which the trigger names it")
    summary: str
    participants: list[DraftParticipant] = Field(default_factory=list)
    date: str | None = Field(None, description="the date expression exactly as written, e.g. 'on Monday'")
    location: str | None = None
    status: EventStatus


class DraftClaim(BaseModel):
    """A claim as the model reports it."""

    id: str = Field(description="short id such as C1")
    statement: str = Field(description="the claim as one plain sentence")
    # Required though nullable: a model that leaves it out is asked again rather than silently
    # crediting the article's author.
    claimant: str | None = Field(description="actor id of who makes the claim; null for the author")
    polarity: ClaimPolarity
    hedged: bool = Field(description="true if hedged: believed, alleged, reportedly, may")
    quote: str = Field(description="exact quote of the article that states the claim's content")


class DraftExtraction(BaseModel):
    """Everything the model reports for one article; claimants must name its actors."""

    # Required (no defaults): a grammar-constrained model may otherwise answer "{}" and stop.
    actors: list[DraftActor]
    events: list[DraftEvent]
    claims: list[DraftClaim]

    @model_validator(mode="after")
    def _claimants_resolve(self) -> DraftExtraction:
        # Raising here makes the model answer again with the message. A participant that names no
        # actor is dropped when the records are assembled (and counted): one stray reference among
        # dozens is not worth regenerating the whole answer; a claim's author is.
        ids = {a.id for a in self.actors}
        _check_references(ids, [], [(c.id, c.claimant) for c in self.claims])
        return self


def check_references(labels: Any) -> None:
    """Raise ``ValueError`` naming every participant or claimant id that is not an actor id.

    ``labels`` is anything with ``actors``, ``events`` and ``claims`` lists shaped like the models
    here (Extraction, DraftExtraction, gold labels).
    """
    _check_references(
        {a.id for a in labels.actors},
        [(e.id, [p.actor_id for p in e.participants]) for e in labels.events],
        [(c.id, c.claimant) for c in labels.claims],
    )


def _check_references(
    actor_ids: set[str],
    events: list[tuple[str, list[str]]],
    claims: list[tuple[str, str | None]],
) -> None:
    problems = [
        f"event {event_id} names participant {ref!r}, which is not an actor id"
        for event_id, refs in events
        for ref in refs
        if ref not in actor_ids
    ]
    problems += [
        f"claim {claim_id} names claimant {ref!r}, which is not an actor id (use null for the author)"
        for claim_id, ref in claims
        if ref is not None and ref not in actor_ids
    ]
    if problems:
        known = ", ".join(sorted(actor_ids)) or "none"
        raise ValueError("; ".join(problems) + f". Known actor ids: {known}.")
