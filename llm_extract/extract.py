"""One document: render the prompt, call the model, validate, ground, and build an ``Extraction``.

Strategies:

* ``single``: one call with the whole nested schema (``DraftExtraction``); quotes are aligned to the
  text afterwards (``aligned`` grounding), or evidence sentences are chosen from an ``enum`` of the
  document's sentence ids so they are grounded by construction (``constrained`` grounding; falls back
  to aligned when the document has more sentences than ``MAX_ENUM``). For capable endpoints.
* ``decomposed``: deterministic candidates from the text (names, reporting-verb sentences, event
  triggers) and small calls whose answers are ``enum``s of those candidates: one call for actor
  kinds, one per cue sentence for speaker, polarity, hedging, event type and status. Every item is a
  span of the source. The default on the embedded model, where one free-form call does not finish.
* ``rules``: the decomposed pipeline with every model answer replaced by a rule (unknown actor kinds
  are ``other``; the speaker is the first actor named in the sentence, else the author; polarity,
  hedging and status follow the cue words). No model, no endpoint: the floor every evaluation keeps,
  so a model is only credited with what it adds over the rules.
"""

from __future__ import annotations

import bisect
import functools
import re
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import date
from types import SimpleNamespace
from typing import Any, Literal, TypeVar, cast, get_args

from pydantic import BaseModel, Field, create_model

from llm_extract._config import DEFAULT_LOCAL_MODEL, Settings, resolve_settings
from llm_extract.backends.local import LocalServer
from llm_extract.candidates import (
    ActorCandidate,
    MentionIndex,
    SentenceCues,
    actor_candidates,
    attribution,
    claim_span,
    is_headline,
    sentence_cues,
)
from llm_extract.chunking import MIN_CHUNK_CHARS, merge_chunks, plan_chunks
from llm_extract.client import CallStats, ModelClient, RateLimiter
from llm_extract.dates import ResolvedDate, find_dates, resolve_date
from llm_extract.errors import ExtractError, InputError
from llm_extract.grounding import Folded, align, fold
from llm_extract.injection import instruction_spans
from llm_extract.prompts import Prompt, load_prompt
from llm_extract.schema import (
    Actor,
    ActorKind,
    Claim,
    Document,
    DraftClaim,
    DraftEvent,
    DraftExtraction,
    Event,
    EventDate,
    EventStatus,
    EventType,
    Evidence,
    Extraction,
    Participant,
    RunMetadata,
)
from llm_extract.segment import sentences

__all__ = ["MAX_ENUM", "Extractor", "extract"]

T = TypeVar("T", bound=BaseModel)
Ask = Callable[[type[T], list[dict[str, str]]], Awaitable[T]]

# OpenAI structured outputs cap enum sizes; beyond this many sentences constrained mode falls back.
MAX_ENUM = 250

_VOCABULARY = {
    "actor_kinds": get_args(ActorKind),
    "event_types": get_args(EventType),
    "event_statuses": get_args(EventStatus),
}
_ANY_DAY = date(2000, 1, 1)  # lets resolve_date recognize relative expressions too
_LOCATION = re.compile(r"\b(?:in|at)\s+((?:[A-Z][\w.’'-]*)(?:\s+[A-Z][\w.’'-]*)*)")


# Endpoints with large contexts still chunk: one answer must fit max_tokens, and long answers from one
# call go wrong more often than several short ones.
_REMOTE_CHUNK_CHARS = 12_000


class Extractor:
    """Extracts grounded actors, events and claims; holds the endpoint, prompt and settings."""

    def __init__(self, settings: Settings | None = None, **overrides: Any) -> None:
        self.settings = settings if settings is not None else resolve_settings(**overrides)
        self.prompt: Prompt = load_prompt(self.settings.prompt)
        self._server: LocalServer | None = None
        self._client: ModelClient | None = None

    @property
    def strategy(self) -> Literal["single", "decomposed", "rules"]:
        """The strategy in use: the setting, or the per-endpoint default."""
        if self.settings.strategy != "auto":
            return self.settings.strategy
        return "decomposed" if self.settings.endpoint == "embedded" else "single"

    @property
    def grounding(self) -> Literal["aligned", "constrained"]:
        """The grounding mode in use (``decomposed`` is always constrained)."""
        if self.strategy in ("decomposed", "rules"):
            return "constrained"
        return "aligned" if self.settings.grounding == "auto" else self.settings.grounding

    @property
    def model(self) -> str:
        """The model name sent to the endpoint (``rules`` when no model is used)."""
        if self.strategy == "rules":
            return "rules"
        if self.settings.model:
            return self.settings.model
        return DEFAULT_LOCAL_MODEL if self.settings.endpoint != "openai" else "gpt-4o-mini"

    def client(self) -> ModelClient:
        """The endpoint client, starting the embedded server on first use."""
        if self._client is None:
            s = self.settings
            base_url = s.base_url
            if s.endpoint == "embedded":
                self._server = LocalServer(s.model_path, alias=self.model, n_ctx=s.n_ctx, threads=s.threads)
                base_url = self._server.start()
            self._client = ModelClient(
                base_url=base_url,
                api_key=s.api_key,
                model=self.model,
                timeout=s.timeout,
                transport_retries=s.transport_retries,
                temperature=s.temperature,
                max_tokens=s.max_tokens,
                limiter=RateLimiter(s.rpm, s.tpm) if s.rpm or s.tpm else None,
            )
        return self._client

    def close(self) -> None:
        """Close connections and stop the embedded server if this extractor started it."""
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._server is not None:
            self._server.stop()
            self._server = None

    async def aclose(self) -> None:
        """Async ``close``: also closes the async connections on the running event loop."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        self.close()

    def __enter__(self) -> Extractor:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def extract(self, document: Document | str, **fields: Any) -> Extraction:
        """Extract from one document (or text plus ``id``/``title``/``published``)."""
        doc = _as_document(document, **fields)
        stats = CallStats()
        if self.strategy == "rules":
            return _run_sync(self._extract(doc, _no_model, stats))
        client = self.client()

        async def ask(model: type[T], messages: list[dict[str, str]]) -> T:
            # The sync path runs the same pipeline code; nothing awaits for real here.
            return client.ask(model, messages, stats=stats, max_reasks=self.settings.max_reasks)

        return _run_sync(self._extract(doc, ask, stats))

    async def aextract(self, document: Document | str, **fields: Any) -> Extraction:
        """Async ``extract``."""
        doc = _as_document(document, **fields)
        stats = CallStats()
        if self.strategy == "rules":
            return await self._extract(doc, _no_model, stats)
        client = self.client()

        async def ask(model: type[T], messages: list[dict[str, str]]) -> T:
            return await client.aask(model, messages, stats=stats, max_reasks=self.settings.max_reasks)

        return await self._extract(doc, ask, stats)

    @property
    def chunk_chars(self) -> int:
        """Longest text extracted in one piece: the setting, else what fits the context."""
        s = self.settings
        if s.chunk_chars:
            return max(s.chunk_chars, MIN_CHUNK_CHARS)
        if self.strategy == "rules":
            return sys.maxsize  # no model, no context to fit
        if s.endpoint == "embedded":
            # SmolLM2 reads about 4.4 characters a token in news copy (measured on the eval
            # fixtures); 3.5 leaves room, and 700 tokens hold the definitions and the question.
            return max(MIN_CHUNK_CHARS * 4, int((s.n_ctx - s.max_tokens - 700) * 3.5))
        return _REMOTE_CHUNK_CHARS

    async def _strategy(self, doc: Document, ask: Ask[Any]) -> tuple[list[Actor], list[Event], list[Claim]]:
        if self.strategy in ("decomposed", "rules"):
            return await _decomposed(doc, self.prompt, ask, rules=self.strategy == "rules")
        return await _single(doc, self.prompt, ask, self.grounding, self.settings)

    async def _chunked(
        self, doc: Document, ask: Ask[Any]
    ) -> tuple[list[Actor], list[Event], list[Claim], int]:
        limit = self.chunk_chars
        if len(doc.text) <= limit:
            return (*await self._strategy(doc, ask), 1)
        overlap = min(self.settings.chunk_overlap, limit // 2 - 1)
        parts = []
        for chunk in plan_chunks(doc.text, limit, overlap):
            piece = Document(
                id=f"{doc.id}#{chunk.index}",
                text=doc.text[chunk.start : chunk.end],
                title=doc.title,
                published=doc.published,
            )
            parts.append((chunk, *await self._strategy(piece, ask)))
        # Offsets come back relative to each chunk; merging maps them into the whole text.
        return (*merge_chunks(doc.text, parts), len(parts))

    async def _extract(self, doc: Document, ask: Ask[Any], stats: CallStats) -> Extraction:
        started = time.perf_counter()
        if len(doc.text) > self.settings.max_chars:
            raise InputError(
                f"document is {len(doc.text):,} characters, over the limit of {self.settings.max_chars:,} "
                "(LLM_EXTRACT_MAX_CHARS)",
                document_id=doc.id,
                prompt=self.prompt.ref,
            )
        try:
            actors, events, claims, chunks = await self._chunked(doc, ask)
            blocked = instruction_spans(doc.text, sentences(doc.text))
            if blocked:
                actors, events, claims = _outside(blocked, actors, events, claims)
        except ExtractError as exc:
            exc.document_id, exc.prompt = exc.document_id or doc.id, exc.prompt or self.prompt.ref
            exc.attempts = exc.attempts or stats.attempts
            exc.usage = stats.usage
            raise
        if self.settings.unmatched == "drop":
            actors, events, claims = _drop_unmatched(actors, events, claims)
        metadata = RunMetadata(
            prompt_name=self.prompt.name,
            prompt_version=self.prompt.version,
            prompt_hash=self.prompt.content_hash,
            model=self.model,
            endpoint="none" if self.strategy == "rules" else self.settings.endpoint,
            strategy=self.strategy,
            grounding=self.grounding,
            usage=stats.usage,
            latency_s=round(time.perf_counter() - started, 3),
            model_calls=stats.model_calls,
            attempts=stats.attempts,
            transport_retries=stats.transport_retries,
            chunks=chunks,
            instructions=len(blocked),
        )
        return Extraction(document_id=doc.id, actors=actors, events=events, claims=claims, metadata=metadata)


async def _no_model(model: type[T], messages: list[dict[str, str]]) -> T:
    raise AssertionError("the rules strategy never asks a model")  # pragma: no cover


def _run_sync(coroutine: Awaitable[Extraction]) -> Extraction:
    # The coroutine never suspends on the sync path, so driving it by hand needs no event loop.
    awaitable = cast(Any, coroutine)
    try:
        awaitable.send(None)
    except StopIteration as done:
        return cast(Extraction, done.value)
    awaitable.close()
    raise RuntimeError("sync extraction awaited real I/O")  # pragma: no cover


_DEFAULT: dict[Settings, Extractor] = {}


def extract(document: Document | str, **options: Any) -> Extraction:
    """Extract grounded actors, events and claims from one article.

    ``options`` are document fields (``id``, ``title``, ``published``) and settings (``prompt``,
    ``model``, ``base_url``, ``api_key``, ``strategy``, ...). The extractor, and the embedded server
    it may start, is reused across calls with the same settings.
    """
    doc_fields = {k: options.pop(k) for k in ("id", "title", "published") if k in options}
    settings = resolve_settings(**options)
    extractor = _DEFAULT.get(settings)
    if extractor is None:
        extractor = _DEFAULT[settings] = Extractor(settings)
    return extractor.extract(document, **doc_fields)


def _as_document(document: Document | str, **fields: Any) -> Document:
    if isinstance(document, Document):
        return document.model_copy(update=fields) if fields else document
    published = fields.get("published")
    if isinstance(published, str):
        fields["published"] = date.fromisoformat(published)
    try:
        return Document(text=document, **fields)
    except ValueError as exc:
        raise InputError(str(exc).splitlines()[-1].strip(), document_id=fields.get("id")) from exc


def _context(doc: Document) -> dict[str, Any]:
    return {"document": doc, "vocabulary": _VOCABULARY}


def _exact(text: str, start: int, end: int) -> Evidence:
    return Evidence(quote=text[start:end], start=start, end=end, alignment="exact", score=100.0)


class _Dates:
    """A document's date expressions in text order, looked up per sentence by bisection."""

    def __init__(self, dates: list[ResolvedDate]) -> None:
        self.dates = sorted(dates, key=lambda d: d.start)
        self.starts = [d.start for d in self.dates]

    def nearest(self, lo: int, hi: int, trigger: int) -> EventDate | None:
        """The date expression of the sentence nearest to the trigger (a dateline's date is rarely it)."""
        i, j = bisect.bisect_left(self.starts, lo), bisect.bisect_left(self.starts, hi)
        inside = [d for d in self.dates[i:j] if d.end <= hi]
        if not inside:
            return None
        d = min(inside, key=lambda d: abs(d.start - trigger))
        return EventDate(expression=d.expression, value=d.value, precision=d.precision, relative=d.relative)


def _location(text: str, lo: int, hi: int, after: int) -> str | None:
    for m in _LOCATION.finditer(text, after, hi):
        place = m.group(1).rstrip(".,")
        if resolve_date(place, _ANY_DAY) is None:  # "in January" is a date, not a place
            return place
    return None


# --- decomposed strategy ---------------------------------------------------------------------


async def _decomposed(
    doc: Document, prompt: Prompt, ask: Ask[Any], *, rules: bool = False
) -> tuple[list[Actor], list[Event], list[Claim]]:
    text = doc.text
    every = sentences(text)
    blocked = set(instruction_spans(text, every))
    # Sentences addressed to a model are never read: no candidate, no question comes from them.
    spans = [s for s in every if (s.start, s.end) not in blocked]
    candidates = actor_candidates(text, spans)
    system = {"role": "system", "content": prompt.render("system", **_context(doc))}

    hints = {c.id: c.kind for c in candidates}  # the rules' kinds, before any model answer
    unknown = [c for c in candidates if c.kind is None]
    if unknown and not rules:
        kinds_model = _model("ActorKinds", **{c.id: (ActorKind, ...) for c in unknown})
        question = prompt.render("steps.actors", candidates=unknown, **_context(doc))
        kinds = await ask(kinds_model, [system, {"role": "user", "content": question}])
        for c in unknown:
            c.kind = getattr(kinds, c.id)

    actors = [
        Actor(
            id=c.id,
            name=c.name,
            kind=c.kind or "other",
            title=c.title,
            aliases=c.aliases,
            mentions=[_exact(text, s, e) for s, e in c.spans],
        )
        for c in candidates
    ]
    dates = _Dates(find_dates(text, doc.published))
    mentions = MentionIndex(candidates)
    events: list[Event] = []
    claims: list[Claim] = []
    for index, sentence in enumerate(spans):
        cues = sentence_cues(sentence)
        if is_headline(sentence) or not (cues.claim or cues.trigger):
            continue
        previous = spans[index - 1] if index else None
        first = mentions.first_mentions(sentence)
        here = list(first)
        nearby = here + [c for c in mentions.first_mentions(previous) if c not in first] if previous else here
        fields: dict[str, Any] = {}
        said_by = attribution(text, sentence, mentions, hints) if cues.claim else None
        if cues.claim and said_by is None:
            # Only an attribution whose syntax leaves the speaker open goes to the model.
            speakers = tuple(["author", *(c.id for c in nearby)])
            fields["speaker"] = (Literal[speakers], ...)
        if cues.claim:
            fields["polarity"] = (Literal["asserted", "denied"], ...)
            fields["hedged"] = (bool, ...)
        trigger = None
        if cues.trigger:
            start, end, suggested = cues.trigger
            trigger = {"word": text[start:end], "type": suggested}
            fields["event_type"] = (Literal[(suggested, "other")], ...)
            fields["status"] = (EventStatus, ...)
        # The prompt says which decisions the model makes; cue words make the others (as in rules).
        fields = {} if rules else {k: v for k, v in fields.items() if k in prompt.ask}
        answer: Any = _rule_answer(cues, said_by or (here[0] if here else None))
        if fields:
            question = prompt.render(
                "steps.sentence",
                sentence=sentence.text,
                previous=previous.text if previous else None,
                actors=nearby,
                triggers=trigger,
                **_context(doc),
            )
            asked = await ask(
                _model("SentenceAnswer", **fields), [system, {"role": "user", "content": question}]
            )
            for name in fields:
                setattr(answer, name, getattr(asked, name))

        # Only a claim has a speaker: in an event-only sentence every name is a participant.
        speaker = getattr(answer, "speaker", None) if cues.claim else None
        claimant = None if speaker in (None, "author") else speaker
        if cues.claim:
            claims.append(
                Claim(
                    id=f"C{len(claims) + 1}",
                    statement=" ".join(sentence.text.split()),
                    claimant=claimant,
                    polarity=answer.polarity,
                    hedged=answer.hedged,
                    evidence=_exact(text, *claim_span(sentence)),
                )
            )
        for number, (start, end, suggested) in enumerate(cues.triggers):
            # The prompt asks about the sentence's first trigger; the cue word types the others.
            event_type = answer.event_type if number == 0 else suggested
            participants = [
                Participant(actor_id=c.id, role="agent" if first[c] < start else "target")
                for c in here
                if c.id != claimant
            ]
            events.append(
                Event(
                    id=f"E{len(events) + 1}",
                    type=event_type,
                    trigger=_exact(text, start, end),
                    summary=" ".join(sentence.text.split()),
                    participants=participants,
                    date=dates.nearest(sentence.start, sentence.end, start),
                    location=_location(text, sentence.start, sentence.end, start),
                    status=answer.status,
                )
            )
    return actors, events, claims


_MODELS: dict[tuple[str, str], type[BaseModel]] = {}


def _model(name: str, **fields: Any) -> type[BaseModel]:
    """``create_model``, once per field spec (field order and Literal value order included)."""
    # A fresh class per question made every request rebuild its JSON schema and left garbage for the
    # collector (benchmarks/RESULTS.md). repr keeps the order of Literal values, which reaches the
    # request; Literal equality ignores it.
    key = (name, repr(tuple(fields.items())))
    model = _MODELS.get(key)
    if model is None:
        if len(_MODELS) > 4096:
            _MODELS.clear()
        model = _MODELS[key] = create_model(name, **fields)
    return model


def _rule_answer(cues: SentenceCues, first: ActorCandidate | None) -> SimpleNamespace:
    """What the rules answer in place of the model for one sentence (the ``rules`` strategy).

    ``first`` is the speaker the attribution names, else the first actor named in the sentence.
    """
    if cues.hypothetical:
        status: EventStatus = "hypothetical"
    elif cues.planned:
        status = "planned"
    else:
        status = "denied" if cues.denied else "occurred"
    return SimpleNamespace(
        speaker=first.id if first else "author",
        polarity="denied" if cues.denied else "asserted",
        hedged=cues.hedged,
        event_type=cues.trigger[2] if cues.trigger else "other",
        status=status,
    )


# --- single-call strategy --------------------------------------------------------------------


@functools.lru_cache(maxsize=MAX_ENUM + 1)
def _constrained_model(sentence_ids: tuple[str, ...]) -> type[BaseModel]:
    """A per-document draft schema whose evidence fields are enums of this document's sentence ids."""
    # The ids are S1..Sn, so documents with as many sentences share one class: its tool schema is built
    # once (client._tool_request caches it per class) instead of three new classes and a schema per request.
    sentence_id = Literal[sentence_ids]  # type: ignore[valid-type]
    event = create_model(
        "DraftEvent",
        __base__=DraftEvent,
        sentence=(sentence_id, Field(description="id of the sentence that reports the event")),
    )
    claim = create_model(
        "DraftClaim",
        __base__=DraftClaim,
        quote=(sentence_id, Field(description="id of the sentence that states the claim")),
    )
    return create_model(
        "DraftExtraction",
        __base__=DraftExtraction,
        events=(list[event], ...),
        claims=(list[claim], ...),
    )


async def _single(
    doc: Document, prompt: Prompt, ask: Ask[Any], grounding: str, settings: Settings
) -> tuple[list[Actor], list[Event], list[Claim]]:
    text = doc.text
    # Sentence ids exist for constrained grounding only; aligned grounding (the default) never reads
    # them, and splitting was ~7 % of a document's CPU in the batch profile (benchmarks/RESULTS.md).
    spans = sentences(text) if grounding == "constrained" else []
    constrained = grounding == "constrained" and len(spans) <= MAX_ENUM
    ids = {f"S{i + 1}": span for i, span in enumerate(spans)}
    system = prompt.render("system", **_context(doc))
    if constrained:
        # The model sees numbered sentences and may only answer with their ids.
        system += "\n\nSentences by id:\n" + "\n".join(
            f"{k}: {' '.join(v.text.split())}" for k, v in ids.items()
        )
    user = prompt.render("user", examples=list(prompt.examples), **_context(doc))
    model = _constrained_model(tuple(ids)) if constrained else DraftExtraction
    draft = await ask(model, [{"role": "system", "content": system}, {"role": "user", "content": user}])

    threshold = settings.fuzzy_threshold
    folded: list[Folded] = []  # folded once, and only when a quote is not found verbatim

    def ground(quote: str, window: tuple[int, int] | None = None) -> Evidence:
        lo, hi = window if window is not None else (0, len(text))
        if quote.strip() and text.find(quote, lo, hi) >= 0:
            return align(quote, text, fuzzy_threshold=threshold, window=window)  # the exact tier: no folding
        if not folded:
            folded.append(fold(text))
        return align(quote, text, fuzzy_threshold=threshold, window=window, folded=folded[0])

    actors = [
        Actor(
            id=a.id,
            name=a.name,
            kind=a.kind,
            title=a.title,
            aliases=a.aliases,
            mentions=_dedupe([ground(q) for q in (a.mentions or [a.name])]),
        )
        for a in draft.actors
    ]
    events = []
    for e in draft.events:
        window = (ids[e.sentence].start, ids[e.sentence].end) if constrained else None
        trigger = ground(e.trigger, window)
        date_value = None
        if e.date:
            resolved = resolve_date(e.date, doc.published)
            date_value = EventDate(expression=e.date)
            if resolved is not None:
                date_value = EventDate(
                    expression=e.date,
                    value=resolved.value,
                    precision=resolved.precision,
                    relative=resolved.relative,
                )
        events.append(
            Event(
                id=e.id,
                type=e.type,
                trigger=trigger,
                summary=e.summary,
                participants=[Participant(actor_id=p.actor_id, role=p.role) for p in e.participants],
                date=date_value,
                location=e.location,
                status=e.status,
            )
        )
    claims = [
        Claim(
            id=c.id,
            statement=c.statement,
            claimant=c.claimant,
            polarity=c.polarity,
            hedged=c.hedged,
            evidence=_exact(text, ids[c.quote].start, ids[c.quote].end) if constrained else ground(c.quote),
        )
        for c in draft.claims
    ]
    return actors, events, claims


def _dedupe(mentions: list[Evidence]) -> list[Evidence]:
    seen: set[tuple[int | None, int | None, str]] = set()
    unique = []
    for m in mentions:
        key = (m.start, m.end, m.quote)
        if key not in seen:
            seen.add(key)
            unique.append(m)
    return unique


def _outside(
    blocked: list[tuple[int, int]], actors: list[Actor], events: list[Event], claims: list[Claim]
) -> tuple[list[Actor], list[Event], list[Claim]]:
    """Remove what rests only on sentences addressed to a model (a prompt injection in the article)."""

    def inside(evidence: Evidence) -> bool:
        # Touching the instruction at all is enough: a quote running on from it is its payload.
        s, e = evidence.start, evidence.end
        return s is not None and e is not None and any(s < hi and lo < e for lo, hi in blocked)

    events = [e for e in events if not inside(e.trigger)]
    claims = [c for c in claims if not inside(c.evidence)]
    referenced = {p.actor_id for e in events for p in e.participants} | {c.claimant for c in claims}
    kept = []
    for actor in actors:
        mentions = [m for m in actor.mentions if not inside(m)]
        if mentions or not actor.mentions or actor.id in referenced:
            # An actor named only inside the instruction stays only to keep a reference whole, and
            # then without those mentions: ungrounded, never reported as found in the text.
            kept.append(actor.model_copy(update={"mentions": mentions}))
    return kept, events, claims


def _drop_unmatched(
    actors: list[Actor], events: list[Event], claims: list[Claim]
) -> tuple[list[Actor], list[Event], list[Claim]]:
    """Drop ungrounded items; an ungrounded actor that others reference stays, flagged."""
    events = [e for e in events if e.grounded]
    claims = [c for c in claims if c.grounded]
    referenced = {p.actor_id for e in events for p in e.participants} | {c.claimant for c in claims}
    actors = [
        a.model_copy(update={"mentions": [m for m in a.mentions if m.grounded] or a.mentions})
        for a in actors
        if a.grounded or a.id in referenced
    ]
    return actors, events, claims
