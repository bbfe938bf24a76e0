"""An ORACLE endpoint: a loopback OpenAI-compatible server that answers every request as a perfect model.

**This is an oracle, not a model.** It reads the answers from the gold labels of the eval fixtures, so
what the pipeline scores against it is the pipeline's *ceiling*: whatever is lost between a perfect
answer and the scored output is lost by our code (grounding, id references, chunk seams, merging),
never by a model. Its scores say nothing about any model's quality. See ``docs/oracle.md``.

How it answers a ``POST /v1/chat/completions`` request:

1. **Which article.** The system message holds the article between a line ``<article>`` and a line
   ``</article>`` (optionally after a title line). The oracle finds that text in the fixtures it was
   given (any directories), and for a chunk of a long document the offset of the chunk inside the
   fixture text.
2. **Which question.** The requested tool is ``tools[0].function``: its name picks an *answerer* from
   the registry ``ANSWERERS`` and its JSON schema says which fields to fill. A tool with no answerer
   gets HTTP 400 naming it; so does a required field an answerer does not know.
3. **The answer.** The gold labels restricted to that chunk, in the tool-call shape the schema asks
   for (see the answerers below), with a plausible ``usage`` (characters / 4) so costs can be computed.
   By default the oracle honours ``max_tokens`` like a real server: an answer longer than that is cut
   and returned with ``finish_reason: "length"``.

It uses nothing but the request and the fixtures. It never imports the extraction code
(``llm_extract.extract``, ``candidates``, ``grounding``, ``chunking``, ``segment``): computing the answers
with the code under test would make the ceiling circular. (``llm_extract.fixtures`` reads the gold
labels; ``llm_extract.grounding.verify`` is used only by ``grounding_check``, to measure output.)

**The noisy oracle** is the same server with a ``Noise(deviation, rate, seed)``: it perturbs the perfect
answer the way real models deviate, one deviation type at a time, each eligible place at ``rate``,
with a random generator seeded from the seed and the request itself (so a run is deterministic, and a
re-ask gets a fresh draw). The deviations are listed in ``DEVIATIONS``. Every quote the oracle sends is
logged with the gold span it stands for, so ``Oracle.grounding_check`` can tell whether what the
pipeline reports as grounded is really supported by the text.

Usage::

    with Oracle(["evals/fixtures", "evals/fixtures/test"]) as oracle:
        report = run_eval(fixtures="evals/fixtures", base_url=oracle.base_url, model="oracle", cache=False)
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import random
import re
import threading
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal

from llm_extract.fixtures import Fixture, load_fixtures
from llm_extract.schema import Actor, Claim, Event, Evidence, Extraction

__all__ = [
    "ANSWERERS",
    "DEVIATIONS",
    "Draft",
    "FixtureIndex",
    "GroundingCheck",
    "Located",
    "Noise",
    "Oracle",
    "OracleError",
    "OracleRequest",
    "RefSlot",
    "SentQuote",
    "Served",
    "Slot",
    "answerer",
    "deviation",
    "normalize_name",
]

QuoteKind = Literal["mention", "trigger", "claim"]

# --- text helpers (our own: the oracle must not share code with the pipeline it measures) ----------

# The prompt's ``article`` filter rewrites any <article ...> or </article> tag inside the article as
# "< article>" / "</ article>" (llm_extract/prompts.py); the oracle undoes it by applying the same rule
# to the fixture text, with a map back to original offsets.
_ARTICLE_TAG = re.compile(r"<\s*(/?)\s*article\b[^>]*>", re.IGNORECASE)
_ARTICLE_BLOCK = re.compile(r"^<article>\n(.*?)\n</article>$", re.DOTALL | re.MULTILINE)
_QUOTES = str.maketrans(
    {"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-"}
)
_SENTENCE_GAP = re.compile(
    r"(?<=[.!?])[\"'\u201d\u2019)\]]*\s+(?=[\"'\u201c\u2018(\[]?[A-Z0-9\u00c0-\u024f])|\n\s*"
)


def _as_prompted(text: str) -> tuple[str, list[int]]:
    """``text`` as the prompt shows it, and for each of its offsets (and its end) the original offset."""
    out: list[str] = []
    origin: list[int] = []
    at = 0
    for m in _ARTICLE_TAG.finditer(text):
        out.append(text[at : m.start()])
        origin.extend(range(at, m.start()))
        replacement = f"<{m.group(1)} article>"
        out.append(replacement)
        origin.extend([m.start()] * len(replacement))
        at = m.end()
    out.append(text[at:])
    origin.extend(range(at, len(text) + 1))
    return "".join(out), origin


def normalize_name(name: str) -> str:
    """A name as the oracle compares names: no accents, case or curly quotes; no leading "the", no "'s"."""
    decomposed = unicodedata.normalize("NFKD", name)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).translate(_QUOTES).casefold()
    plain = re.sub(r"'s\b", "", plain)
    plain = re.sub(r"[^\w]+", " ", plain).strip()
    return plain.removeprefix("the ")


def _occurrences(needle: str, text: str, *, ignore_case: bool = True) -> list[tuple[int, int]]:
    """Whole-word occurrences of ``needle`` in ``text``."""
    if not needle.strip():
        return []
    flags = re.IGNORECASE if ignore_case else 0
    pattern = r"(?<!\w)" + re.escape(needle) + r"(?!\w)"
    return [(m.start(), m.end()) for m in re.finditer(pattern, text, flags)]


def _sentence_spans(text: str) -> list[tuple[int, int]]:
    """Rough sentences of ``text`` (the oracle's own splitter; used only to pick noise)."""
    spans: list[tuple[int, int]] = []
    at = 0
    for m in [*_SENTENCE_GAP.finditer(text), None]:
        end = len(text) if m is None else m.start()
        piece = text[at:end]
        if piece.strip():
            lead = len(piece) - len(piece.lstrip())
            spans.append((at + lead, at + len(piece.rstrip())))
        if m is not None:
            at = m.end()
    return spans


# --- errors, requests, answers --------------------------------------------------------------------


class OracleError(Exception):
    """A request the oracle cannot answer; becomes an HTTP error with this status and message."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Located:
    """Where a request's article is: a fixture and the window ``text[start:end]`` of its text."""

    fixture: Fixture
    start: int
    end: int

    @property
    def text(self) -> str:
        """The chunk's text (the whole fixture text when not chunked)."""
        return self.fixture.text[self.start : self.end]

    @property
    def whole(self) -> bool:
        """Whether the request carries the whole document rather than a chunk of it."""
        return self.start == 0 and self.end == len(self.fixture.text)

    def inside(self, evidence: Evidence) -> bool:
        """Whether a gold span lies entirely inside this chunk."""
        s, e = evidence.start, evidence.end
        return s is not None and e is not None and self.start <= s and e <= self.end


class FixtureIndex:
    """Finds the fixture (and the chunk offset) of an article as a prompt shows it."""

    def __init__(self, fixtures: Iterable[Fixture]) -> None:
        self.fixtures: list[Fixture] = []
        seen: set[str] = set()
        for fixture in fixtures:
            if fixture.id not in seen:  # the same directory given twice
                seen.add(fixture.id)
                self.fixtures.append(fixture)
        self._prompted = {f.id: _as_prompted(f.text) for f in self.fixtures}
        self._titles = {f.id: _as_prompted(f.title)[0] for f in self.fixtures if f.title}

    @classmethod
    def from_dirs(cls, dirs: Iterable[str | Path]) -> FixtureIndex:
        """Every fixture of every directory (``load_fixtures`` per directory)."""
        return cls(f for d in dirs for f in load_fixtures(d))

    def by_id(self, fixture_id: str) -> Fixture:
        """The fixture with this id."""
        for fixture in self.fixtures:
            if fixture.id == fixture_id:
                return fixture
        raise KeyError(fixture_id)

    def locate(self, article: str) -> Located:
        """The fixture and chunk whose prompt form is ``article`` (title line optional)."""
        found: list[tuple[int, Fixture, int, int]] = []
        for fixture in self.fixtures:
            prompted, origin = self._prompted[fixture.id]
            bodies = []
            title = self._titles.get(fixture.id)
            if title is not None and article.startswith(title + "\n"):
                bodies.append(article[len(title) + 1 :])
            bodies.append(article)
            for body in bodies:
                if not body.strip():
                    continue
                at = prompted.find(body)
                if at >= 0:
                    found.append((len(body), fixture, origin[at], origin[at + len(body)]))
                    break
        if not found:
            raise OracleError("the oracle does not know this article: it is in none of its fixtures", 404)
        found.sort(key=lambda hit: -hit[0])
        if len(found) > 1 and found[0][0] == found[1][0]:
            names = ", ".join(hit[1].id for hit in found[:4])
            raise OracleError(f"the article matches several fixtures equally well: {names}")
        _, fixture, start, end = found[0]
        return Located(fixture, start, end)

    def chunk_text_prompted(self, located: Located) -> tuple[str, list[int]]:
        """The chunk as the prompt shows it, with a map back to offsets of the fixture text."""
        prompted, origin = self._prompted[located.fixture.id]
        lo = origin.index(located.start) if located.start else 0
        hi = len(prompted) if located.end == len(located.fixture.text) else origin.index(located.end)
        return prompted[lo:hi], origin[lo : hi + 1]


@dataclass
class OracleRequest:
    """One chat request, parsed: the tool asked for, its schema, the messages and the located article."""

    body: dict[str, Any]
    tool: str
    schema: dict[str, Any]
    system: str
    question: str
    where: Located
    index: FixtureIndex
    chunk_names: Literal["local", "gold"] = "local"
    # How the guided strategy's question is answered: every change a perfect model would make, or only
    # the items no candidate covers (a model that adds what the rules missed and changes nothing).
    guided: Literal["perfect", "additions"] = "perfect"

    @property
    def chunk(self) -> str:
        """The text the model was given (a chunk, or the whole fixture text)."""
        return self.where.text

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        """A schema with a local ``$ref`` (``#/$defs/X``) resolved against the tool's parameters."""
        ref = schema.get("$ref")
        if not isinstance(ref, str):
            return schema
        node: Any = self.schema
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]
        return self.resolve(node)


@dataclass
class Slot:
    """A quote in an answer: where it sits, what it stands for, and (after noise) what was sent."""

    holder: Any  # the dict or list holding the quote
    key: Any  # str key or list index
    kind: QuoteKind
    span: tuple[int, int] | None  # the gold span it stands for, offsets of the fixture text
    names: tuple[str, ...] = ()  # for a mention: the actor's normalized names (another mention counts)
    enum: tuple[str, ...] | None = None  # for a sentence-id slot: the allowed ids
    sentence_of: dict[str, tuple[int, int]] | None = None  # sentence id -> span (fixture offsets)
    deviation: str | None = None

    def get(self) -> Any:
        """The current value."""
        return self.holder[self.key]

    def set(self, value: Any) -> None:
        """Replace the value."""
        self.holder[self.key] = value


@dataclass
class RefSlot:
    """An actor-id reference in an answer (participant, claimant, speaker) and the ids it may take."""

    holder: dict[str, Any]
    key: str
    choices: tuple[str, ...]


@dataclass
class Draft:
    """An answer before it is sent: the arguments, plus where its quotes, references and items are."""

    arguments: dict[str, Any]
    quotes: list[Slot] = field(default_factory=list)
    refs: list[RefSlot] = field(default_factory=list)
    # Lists of items (actors, events, claims) that noise may extend; id prefix per list.
    lists: dict[str, tuple[list[dict[str, Any]], str]] = field(default_factory=dict)
    actor_schema: dict[str, Any] | None = None
    wrapper: Literal["tool", "prose", "content"] = "tool"
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SentQuote:
    """A quote the oracle sent, and the gold span (fixture offsets) it stands for (None: invented)."""

    kind: QuoteKind
    quote: str
    span: tuple[int, int] | None
    names: tuple[str, ...]
    deviation: str | None


@dataclass(frozen=True)
class Served:
    """One answered request, for benchmarks and tests to inspect."""

    fixture_id: str
    start: int
    end: int
    tool: str
    messages: int
    finish_reason: str
    quotes: tuple[SentQuote, ...]
    notes: tuple[str, ...]
    prompt_tokens: int
    completion_tokens: int


# --- the gold, restricted to a chunk -------------------------------------------------------------


@dataclass
class ActorView:
    """A gold actor as a perfect model sees it in one chunk: the name it can read there."""

    gold: Actor
    name: str
    aliases: list[str]
    mentions: list[tuple[int, int]]  # fixture offsets

    @property
    def names(self) -> tuple[str, ...]:
        """Normalized forms of every name and alias of the gold actor."""
        forms = [self.gold.name, *self.gold.aliases]
        return tuple(dict.fromkeys(n for n in map(normalize_name, forms) if n))


@dataclass
class ChunkGold:
    """The gold labels a perfect model reading only this chunk would report."""

    actors: list[ActorView]
    events: list[Event]
    claims: list[Claim]


def chunk_gold(where: Located, names: Literal["local", "gold"] = "local") -> ChunkGold:
    """Events and claims whose span lies in the chunk; actors named there or referenced by them.

    With ``names="local"`` (the default), an actor's name in a chunk is its gold name when the chunk
    shows it (or the gold name is a canonical form written nowhere in the article), else the longest
    alias the chunk shows: a model reading the chunk cannot know a full name written only in another
    chunk ("Tokyo" in one chunk, "Japan" in the next). Aliases are those the chunk shows. With
    ``names="gold"`` every chunk gets the gold name and aliases, as if the model had read the whole
    article: that isolates the merging of chunks from what a chunk cannot know. For the whole
    document both are simply the gold name and aliases.
    """
    gold = where.fixture.gold
    text, chunk = where.fixture.text, where.text
    events = [e for e in gold.events if where.inside(e.trigger)]
    claims = [c for c in gold.claims if where.inside(c.evidence)]
    referenced = {p.actor_id for e in events for p in e.participants}
    referenced |= {c.claimant for c in claims if c.claimant is not None}
    actors = []
    for actor in gold.actors:
        mentions = [(m.start or 0, m.end or 0) for m in actor.mentions if where.inside(m)]
        shown = [n for n in [actor.name, *actor.aliases] if _occurrences(n, chunk)]
        if not mentions and not shown and actor.id not in referenced:
            continue
        whole = where.whole or names == "gold"
        if whole or actor.name in shown or not _occurrences(actor.name, text):
            name = actor.name
        elif shown:
            name = max(shown, key=len)
        else:
            name = actor.name
        aliases = list(actor.aliases) if whole else [n for n in dict.fromkeys(shown) if n != name]
        if not mentions and shown:
            s, e = _occurrences(shown[0], chunk)[0]
            mentions = [(where.start + s, where.start + e)]
        actors.append(ActorView(actor, name, aliases, mentions))
    return ChunkGold(actors, events, claims)


# --- answerers ------------------------------------------------------------------------------------

Answerer = Callable[[OracleRequest], Draft]
ANSWERERS: dict[str, Answerer] = {}


def answerer(tool: str) -> Callable[[Answerer], Answerer]:
    """Register the answerer of one tool name (a new request shape is one new function)."""

    def register(function: Answerer) -> Answerer:
        ANSWERERS[tool] = function
        return function

    return register


def _properties(req: OracleRequest, schema: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
    node = req.resolve(schema)
    return node.get("properties", {}), set(node.get("required", []))


def _cannot(req: OracleRequest, where: str, name: str) -> OracleError:
    return OracleError(f"tool {req.tool!r}: the oracle cannot fill the required field {where}.{name}")


def _enum(req: OracleRequest, schema: dict[str, Any]) -> tuple[str, ...] | None:
    node = req.resolve(schema)
    values = node.get("enum")
    return tuple(values) if isinstance(values, list) else None


def _sentence_ids(req: OracleRequest) -> dict[str, tuple[int, int]]:
    """The "Sentences by id" list of the system message, mapped to fixture offsets."""
    _, _, listing = req.system.partition("\nSentences by id:\n")
    out: dict[str, tuple[int, int]] = {}
    at = 0
    chunk = req.chunk
    for line in listing.splitlines():
        m = re.match(r"(S\d+): (.*)$", line)
        if m is None:
            continue
        pattern = r"\s+".join(map(re.escape, m.group(2).split()))
        hit = re.compile(pattern).search(chunk, at)
        if hit is None:
            raise OracleError(f"sentence {m.group(1)} of the request is not in the article")
        out[m.group(1)] = (req.where.start + hit.start(), req.where.start + hit.end())
        at = hit.end()
    return out


def _sentence_for(span: tuple[int, int], sentences: dict[str, tuple[int, int]]) -> str:
    """The id of the sentence holding the start of ``span`` (else the one overlapping it most)."""
    for sid, (lo, hi) in sentences.items():
        if lo <= span[0] < hi:
            return sid
    return max(sentences, key=lambda k: min(sentences[k][1], span[1]) - max(sentences[k][0], span[0]))


@answerer("DraftExtraction")
def draft_extraction(req: OracleRequest) -> Draft:
    """The single-call answer: gold actors, events and claims of the chunk in the schema's shape.

    Quotes are the gold spans' exact text (aligned grounding). Where the schema makes a quote an
    ``enum`` of sentence ids (constrained grounding), the id of the sentence from the request's
    "Sentences by id" list that holds the gold span. A field the schema adds that the oracle knows
    (e.g. ``sentence`` as a plain string: the sentence holding the span, quoted) is filled too.
    """
    gold = chunk_gold(req.where, req.chunk_names)
    text = req.where.fixture.text
    top, _ = _properties(req, req.schema)
    for key in ("actors", "events", "claims"):
        if key not in top:
            raise _cannot(req, "DraftExtraction", key)
    actor_schema = req.resolve(top["actors"].get("items", {}))
    event_schema = req.resolve(top["events"].get("items", {}))
    claim_schema = req.resolve(top["claims"].get("items", {}))
    sentences = _sentence_ids(req) if "Sentences by id:" in req.system else {}
    own = {
        f"O{i}": (req.where.start + s, req.where.start + e)
        for i, (s, e) in enumerate(_sentence_spans(req.chunk))
    }
    draft = Draft(arguments={}, actor_schema=actor_schema)
    actor_ids = tuple(a.gold.id for a in gold.actors)

    def quote_or_id(
        out: dict[str, Any], key: str, prop: dict[str, Any], span: tuple[int, int], kind: QuoteKind
    ) -> None:
        allowed = _enum(req, prop)
        if allowed is not None:
            if not sentences:
                raise _cannot(req, kind, key)
            out[key] = _sentence_for(span, sentences)
            draft.quotes.append(Slot(out, key, kind, span, enum=allowed, sentence_of=sentences))
        else:
            out[key] = text[span[0] : span[1]]
            draft.quotes.append(Slot(out, key, kind, span))

    def sentence_quote(span: tuple[int, int]) -> str:
        # A sentence given as a quote (a schema asking for the sentence as text, not as an id).
        lo, hi = own[_sentence_for(span, own)]
        return text[lo:hi]

    actors: list[dict[str, Any]] = []
    props, required = _properties(req, actor_schema)
    for view in gold.actors:
        item: dict[str, Any] = {}
        for key in props:
            if key == "id":
                item[key] = view.gold.id
            elif key == "name":
                item[key] = view.name
            elif key == "kind":
                item[key] = view.gold.kind
            elif key == "title":
                item[key] = view.gold.title
            elif key == "aliases":
                item[key] = list(view.aliases)
            elif key == "mentions":
                quotes = [text[s:e] for s, e in view.mentions]
                item[key] = quotes
                for i, span in enumerate(view.mentions):
                    draft.quotes.append(Slot(quotes, i, "mention", span, names=view.names))
            elif key in required:
                raise _cannot(req, "actors", key)
        actors.append(item)

    events: list[dict[str, Any]] = []
    props, required = _properties(req, event_schema)
    for event in gold.events:
        span = (event.trigger.start or 0, event.trigger.end or 0)
        item = {}
        for key, prop in props.items():
            if key == "id":
                item[key] = event.id
            elif key == "type":
                item[key] = event.type
            elif key == "trigger":
                quote_or_id(item, key, prop, span, "trigger")
            elif key == "summary":
                item[key] = event.summary
            elif key == "participants":
                item[key] = [{"actor_id": p.actor_id, "role": p.role} for p in event.participants]
                draft.refs.extend(RefSlot(p, "actor_id", actor_ids) for p in item[key])
            elif key == "date":
                item[key] = event.date.expression if event.date else None
            elif key == "location":
                item[key] = event.location
            elif key == "status":
                item[key] = event.status
            elif key == "sentence":
                if _enum(req, prop) is not None:
                    item[key] = _sentence_for(span, sentences)
                else:
                    item[key] = sentence_quote(span)
            elif key in required:
                raise _cannot(req, "events", key)
        events.append(item)

    claims: list[dict[str, Any]] = []
    props, required = _properties(req, claim_schema)
    for claim in gold.claims:
        span = (claim.evidence.start or 0, claim.evidence.end or 0)
        item = {}
        for key, prop in props.items():
            if key == "id":
                item[key] = claim.id
            elif key == "statement":
                item[key] = claim.statement
            elif key == "claimant":
                item[key] = claim.claimant
                draft.refs.append(RefSlot(item, key, actor_ids))
            elif key == "polarity":
                item[key] = claim.polarity
            elif key == "hedged":
                item[key] = claim.hedged
            elif key in ("quote", "evidence"):
                quote_or_id(item, key, prop, span, "claim")
            elif key == "sentence":
                if _enum(req, prop) is not None:
                    item[key] = _sentence_for(span, sentences)
                else:
                    item[key] = sentence_quote(span)
            elif key in required:
                raise _cannot(req, "claims", key)
        claims.append(item)

    _reuse_known_ids(req, gold, actors, events, claims)
    draft.arguments = {"actors": actors, "events": events, "claims": claims}
    draft.lists = {"actors": (actors, "A"), "events": (events, "E"), "claims": (claims, "C")}
    return draft


_KNOWN = re.compile(r"^(K\d+): (.+?)(?: \(also: (.*)\))?$", re.MULTILINE)


def _reuse_known_ids(
    req: OracleRequest,
    gold: ChunkGold,
    actors: list[dict[str, Any]],
    events: list[dict[str, Any]],
    claims: list[dict[str, Any]],
) -> None:
    """Actors the request lists as found in earlier chunks ("K3: Name (also: ...)") keep their K id."""
    known = {
        kid: {normalize_name(n) for n in [name, *(also.split(", ") if also else [])]}
        for kid, name, also in _KNOWN.findall(req.question)
    }
    ids: dict[str, str] = {}
    for view in gold.actors:
        kid = next((k for k, names in known.items() if names & set(view.names)), None)
        if kid is not None and kid not in ids.values():
            ids[view.gold.id] = kid
    for item in actors:
        item["id"] = ids.get(item.get("id", ""), item.get("id"))
    for event in events:
        for p in event.get("participants") or []:
            p["actor_id"] = ids.get(p["actor_id"], p["actor_id"])
    for claim in claims:
        if claim.get("claimant") is not None:
            claim["claimant"] = ids.get(claim["claimant"], claim["claimant"])


def _listed(question: str, pattern: str) -> dict[str, str]:
    return {m.group(1): m.group(2).strip() for m in re.finditer(pattern, question, re.MULTILINE)}


def _gold_actor(fixture: Fixture, name: str) -> Actor | None:
    """The gold actor one of whose names or aliases is ``name`` (normalized), if any."""
    key = normalize_name(name)
    for actor in fixture.gold.actors:
        if key and key in {normalize_name(n) for n in [actor.name, *actor.aliases]}:
            return actor
    return None


@answerer("ActorKinds")
def actor_kinds(req: OracleRequest) -> Draft:
    """Each listed candidate ("A1: Name") gets its gold actor's kind, matched by name or alias; else other."""
    listed = _listed(req.question, r"^(\w+): (.+)$")
    props, _ = _properties(req, req.schema)
    answer: dict[str, Any] = {}
    draft = Draft(arguments=answer)
    for key, prop in props.items():
        actor = _gold_actor(req.where.fixture, listed.get(key, ""))
        kind: str = actor.kind if actor is not None else "other"
        allowed = _enum(req, prop)
        if allowed is not None and kind not in allowed:
            kind = "other" if "other" in allowed else allowed[0]
        answer[key] = kind
        if actor is None:
            draft.notes.append(f"kind of {listed.get(key, key)!r}: no gold actor, answered other")
    draft.lists = {"answer": ([answer], "")}
    return draft


@answerer("SentenceAnswer")
def sentence_answer(req: OracleRequest) -> Draft:
    """The decisions about one cue sentence, from the gold claim and event in it.

    speaker: the claimant of the first gold claim whose evidence overlaps the sentence, as the listed
    candidate id ("A1 = Name") whose name or alias is that actor's, else "author"; polarity and hedged
    from that claim; event_type and status from the first gold event whose trigger is in the sentence.
    """
    fixture = req.where.fixture
    sentence = _listed(req.question, r"^(Sentence): (.*)$").get("Sentence")
    if sentence is None:
        raise OracleError(f"tool {req.tool!r}: no 'Sentence:' line in the question")
    previous = _listed(req.question, r"^(Previous sentence): (.*)$").get("Previous sentence")
    listed = {k: v for k, v in _listed(req.question, r"^(\S+) = (.+)$").items() if k != "author"}
    prompted, origin = req.index.chunk_text_prompted(req.where)
    hits = [m.start() for m in re.finditer(re.escape(sentence), prompted)]
    if not hits:
        raise OracleError(f"tool {req.tool!r}: the sentence is not in the article")
    at = hits[0]
    if len(hits) > 1 and previous:
        before = prompted.find(previous)
        at = next((h for h in hits if h > before), hits[0])
    lo, hi = origin[at], origin[at + len(sentence)]
    claims = sorted(
        (c for c in fixture.gold.claims if (c.evidence.start or 0) < hi and lo < (c.evidence.end or 0)),
        key=lambda c: c.evidence.start or 0,
    )
    events = sorted(
        (e for e in fixture.gold.events if lo <= (e.trigger.start or 0) < hi),
        key=lambda e: e.trigger.start or 0,
    )
    claim = claims[0] if claims else None
    event = events[0] if events else None
    props, required = _properties(req, req.schema)
    answer: dict[str, Any] = {}
    draft = Draft(arguments=answer)
    for key, prop in props.items():
        allowed = _enum(req, prop)
        if key == "speaker":
            speaker = "author"
            if claim is not None and claim.claimant is not None:
                actor = next(a for a in fixture.gold.actors if a.id == claim.claimant)
                own = {normalize_name(n) for n in [actor.name, *actor.aliases]}
                speaker = next((cid for cid, name in listed.items() if normalize_name(name) in own), "author")
                if speaker == "author":
                    draft.notes.append(f"claimant {actor.name!r} is not among the listed names {listed}")
            answer[key] = speaker
            draft.refs.append(RefSlot(answer, key, tuple(allowed or ("author", *listed))))
        elif key == "polarity":
            answer[key] = claim.polarity if claim else "asserted"
        elif key == "hedged":
            answer[key] = claim.hedged if claim else False
        elif key == "event_type":
            value: str = event.type if event else "other"
            if allowed is not None and value not in allowed:
                value = "other" if "other" in allowed else allowed[0]
            answer[key] = value
        elif key == "status":
            answer[key] = event.status if event else "occurred"
        elif key in required:
            raise _cannot(req, "SentenceAnswer", key)
    draft.lists = {"answer": ([answer], "")}
    return draft


_CANDIDATE_ACTOR = re.compile(r"^(A\d+): (.+) \(([\w-]+)\)$", re.MULTILINE)
_CANDIDATE_EVENT = re.compile(
    r'^(E\d+): "(.*)" \(([\w-]+), ([\w-]+); date: (.*?); participants: (.*?)\) in: (.*)$', re.MULTILINE
)
_CANDIDATE_CLAIM = re.compile(
    r'^(C\d+): "(.*)" \(claimant (\S+), (\w+), (hedged|not hedged)\)$', re.MULTILINE
)


def _find_in_chunk(
    req: OracleRequest, quote: str, within: tuple[int, int] | None = None
) -> tuple[int, int] | None:
    """Fixture offsets of ``quote`` in the chunk (whitespace runs matched loosely), or None."""
    words = quote.split()
    if not words:
        return None
    pattern = re.compile(r"\s+".join(map(re.escape, words)))
    lo, hi = within if within is not None else (req.where.start, req.where.end)
    hit = pattern.search(req.where.fixture.text, lo, hi)
    return (hit.start(), hit.end()) if hit else None


def _sorted_parts(listed: str) -> str:
    return ", ".join(sorted(listed.split(", ")))


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> int:
    return min(a[1], b[1]) - max(a[0], b[0])


@answerer("GuidedAnswer")
def guided_answer(req: OracleRequest) -> Draft:
    """The guided strategy's answer: changes to the listed candidates that make them the gold labels.

    Candidates are matched to gold items: an actor by a name or alias, an event or claim by the gold
    item whose span overlaps it most. A matched candidate whose fields (or span) differ from gold is
    corrected under its own id; an unmatched one is dropped; a gold item no candidate covers is added
    with a new id (NA1, NE1, NC1, ...). With ``guided="additions"`` only the additions are answered.
    """
    full = draft_extraction(req)
    items = full.arguments
    perfect = req.guided == "perfect"
    gold = chunk_gold(req.where, req.chunk_names)
    # The draft gave actors known from earlier chunks their K ids; work on gold ids, then decide.
    given = {view.gold.id: item["id"] for view, item in zip(gold.actors, items["actors"], strict=True)}
    back = {v: k for k, v in given.items()}
    for item in items["actors"]:
        item["id"] = back[item["id"]]
    for event in items["events"]:
        for p in event.get("participants") or []:
            p["actor_id"] = back.get(p["actor_id"], p["actor_id"])
    for claim in items["claims"]:
        if claim.get("claimant") is not None:
            claim["claimant"] = back.get(claim["claimant"], claim["claimant"])

    # Actors: gold id -> the id the answer uses for it.
    ids: dict[str, str] = {}
    corrected: set[str] = set()
    used: set[str] = set()
    for cid, name, kind in _CANDIDATE_ACTOR.findall(req.question):
        key = normalize_name(name)
        match = next((v for v in gold.actors if key in v.names and v.gold.id not in ids), None)
        if match is None:
            continue
        ids[match.gold.id] = cid
        used.add(cid)
        if kind != match.gold.kind or normalize_name(match.name) != key:
            corrected.add(match.gold.id)
    new_actor = 0
    for view in gold.actors:
        if view.gold.id in ids:
            continue
        if given[view.gold.id].startswith("K"):
            ids[view.gold.id] = given[view.gold.id]  # found in an earlier chunk: listed under its K id
            continue
        new_actor += 1
        ids[view.gold.id] = f"NA{new_actor}"
    drop = [cid for cid, _, _ in _CANDIDATE_ACTOR.findall(req.question) if cid not in used]

    def remap(item: dict[str, Any]) -> dict[str, Any]:
        for p in item.get("participants") or []:
            p["actor_id"] = ids.get(p["actor_id"], p["actor_id"])
        if item.get("claimant") is not None:
            item["claimant"] = ids.get(item["claimant"], item["claimant"])
        return item

    out_actors = []
    for item in items["actors"]:
        gid = item["id"]
        new = not ids[gid].startswith("A")
        if new or (perfect and gid in corrected):
            item["id"] = ids[gid]
            out_actors.append(item)

    def spans(kind: str) -> list[tuple[str, tuple[int, int], tuple[str, ...]]]:
        found = []
        if kind == "events":
            for cid, trigger, typ, status, date, participants, sentence in _CANDIDATE_EVENT.findall(
                req.question
            ):
                where = _find_in_chunk(req, sentence)
                span = _find_in_chunk(req, trigger, where) if where else None
                if span:
                    found.append((cid, span, (typ, status, date, _sorted_parts(participants))))
        else:
            for cid, quote, claimant, polarity, hedged in _CANDIDATE_CLAIM.findall(req.question):
                span = _find_in_chunk(req, quote)
                if span:
                    found.append((cid, span, (claimant, polarity, str(hedged == "hedged"))))
        return found

    def changes(kind: str, gold_items: list[Any], prefix: str) -> list[dict[str, Any]]:
        candidates = spans(kind)
        taken: set[str] = set()
        answered = []
        new = 0
        for gold_item, item in zip(gold_items, items[kind], strict=True):
            evidence = gold_item.trigger if kind == "events" else gold_item.evidence
            span = (evidence.start or 0, evidence.end or 0)
            best = max(
                (c for c in candidates if c[0] not in taken and _overlap(c[1], span) > 0),
                key=lambda c: _overlap(c[1], span),
                default=None,
            )
            remap(item)
            if best is None:
                new += 1
                item["id"] = f"{prefix}{new}"
                answered.append(item)
                continue
            taken.add(best[0])
            if perfect and (best[1] != span or best[2] != _fields(kind, gold_item, item)):
                item["id"] = best[0]
                answered.append(item)
        drop.extend(c[0] for c in candidates if c[0] not in taken)
        return answered

    def _fields(kind: str, gold_item: Any, item: dict[str, Any]) -> tuple[str, ...]:
        if kind == "events":
            date = gold_item.date.expression if gold_item.date else "none"
            parts = (
                ", ".join(f"{p['actor_id']} {p['role']}" for p in item.get("participants") or []) or "none"
            )
            return (gold_item.type, gold_item.status, date, _sorted_parts(parts))
        return (item.get("claimant") or "author", gold_item.polarity, str(gold_item.hedged))

    out_events = changes("events", gold.events, "NE")
    out_claims = changes("claims", gold.claims, "NC")
    kept = {id(x) for x in [*out_actors, *out_events, *out_claims]}
    kept |= {id(x.get("mentions")) for x in out_actors}
    kept |= {id(p) for x in out_events for p in x.get("participants") or []}
    draft = Draft(arguments={}, actor_schema=full.actor_schema, notes=full.notes)
    draft.quotes = [q for q in full.quotes if id(q.holder) in kept]
    draft.refs = [r for r in full.refs if id(r.holder) in kept]
    draft.arguments = {
        "drop": sorted(set(drop)) if perfect else [],
        "actors": out_actors,
        "events": out_events,
        "claims": out_claims,
    }
    draft.lists = {"actors": (out_actors, "NA"), "events": (out_events, "NE"), "claims": (out_claims, "NC")}
    return draft


# --- noise ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Noise:
    """One deviation type (a key of ``DEVIATIONS``) at a rate, with a seed.

    ``reask`` says how the noisy model answers a re-ask (a request carrying its previous answer and
    the validation error back): ``fix`` answers it perfectly, as a model that corrects what it is told
    does; ``redraw`` perturbs it again at the same rate, as a model that keeps making mistakes does.
    """

    deviation: str
    rate: float
    seed: int = 0
    reask: Literal["fix", "redraw"] = "fix"

    def __post_init__(self) -> None:
        if self.deviation not in DEVIATIONS:
            raise ValueError(f"unknown deviation {self.deviation!r} (known: {', '.join(DEVIATIONS)})")
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"rate must be in [0, 1], not {self.rate}")

    def rng(self, body: dict[str, Any]) -> random.Random:
        """A generator seeded by the seed, the deviation, the rate and the request itself."""
        material = json.dumps(
            [self.seed, self.deviation, self.rate, body.get("messages"), body.get("tools")], sort_keys=True
        )
        return random.Random(int.from_bytes(hashlib.sha256(material.encode()).digest()[:8], "big"))


Perturb = Callable[[Draft, OracleRequest, random.Random, float], None]
DEVIATIONS: dict[str, Perturb] = {}


def deviation(name: str) -> Callable[[Perturb], Perturb]:
    """Register one deviation type."""

    def register(function: Perturb) -> Perturb:
        DEVIATIONS[name] = function
        return function

    return register


QuoteTransform = Callable[[str, Slot, OracleRequest, random.Random], str | None]


def _quote_deviation(name: str, *, on_ids: bool = False) -> Callable[[QuoteTransform], QuoteTransform]:
    """Register a deviation that rewrites each quote (at ``rate``) with ``transform``.

    Sentence-id slots (constrained grounding) are skipped unless ``on_ids``: a grammar-constrained
    model cannot misspell an enum value.
    """

    def register(transform: QuoteTransform) -> QuoteTransform:
        def perturb(draft: Draft, req: OracleRequest, rng: random.Random, rate: float) -> None:
            for slot in draft.quotes:
                if slot.enum is not None and not on_ids:
                    continue
                if rng.random() >= rate:
                    continue
                old = slot.get()
                new = transform(old, slot, req, rng)
                if new is None or new == old:
                    continue
                slot.set(new)
                slot.deviation = name
                draft.notes.append(f"{name}: {slot.kind} {old!r} -> {new!r}")

        DEVIATIONS[name] = perturb
        return transform

    return register


@_quote_deviation("quote-case")
def _case(quote: str, slot: Slot, req: OracleRequest, rng: random.Random) -> str | None:
    options = [quote.upper(), quote.lower(), quote.title(), quote[:1].swapcase() + quote[1:]]
    options = [o for o in options if o != quote]
    return rng.choice(options) if options else None


@_quote_deviation("quote-whitespace")
def _whitespace(quote: str, slot: Slot, req: OracleRequest, rng: random.Random) -> str | None:
    spaces = [i for i, c in enumerate(quote) if c == " "]
    if spaces:
        i = rng.choice(spaces)
        return quote[:i] + rng.choice(["  ", "\n", " \n  ", "\t"]) + quote[i + 1 :]
    return rng.choice([f" {quote} ", f"{quote}\n", f"\n{quote}"])


_TYPOGRAPHY = {
    "'": "\u2019",
    "\u2019": "'",
    '"': "\u201c",
    "\u201c": '"',
    "\u201d": '"',
    "-": "\u2013",
    "\u2013": "-",
    "\u2014": "-",
}


@_quote_deviation("quote-typography")
def _typography(quote: str, slot: Slot, req: OracleRequest, rng: random.Random) -> str | None:
    swapped = "".join(_TYPOGRAPHY.get(c, c) for c in quote)
    # A model wrapping a quote in quotation marks is the commonest form of this; always add it.
    return f"\u201c{swapped}\u201d" if rng.random() < 0.5 or swapped == quote else swapped


@_quote_deviation("quote-truncated")
def _truncated(quote: str, slot: Slot, req: OracleRequest, rng: random.Random) -> str | None:
    words = quote.split(" ")
    if len(words) >= 2:
        keep = max(1, min(len(words) - 1, math.ceil(len(words) * rng.uniform(0.5, 0.85))))
        return " ".join(words[:keep])
    if len(quote) >= 4:
        return quote[: max(2, round(len(quote) * 0.6))]
    return None


@_quote_deviation("quote-extended")
def _extended(quote: str, slot: Slot, req: OracleRequest, rng: random.Random) -> str | None:
    if slot.span is None:
        return None
    text, lo, hi = req.where.fixture.text, req.where.start, req.where.end
    s, e = slot.span
    after = re.match(rf"(?:\s*\S+){{1,{rng.randint(1, 3)}}}", text[e:hi])
    if after is not None and "\n\n" not in after.group():
        return text[s : e + after.end()]
    before = re.search(r"(?:\S+\s+){1,2}$", text[lo:s])
    return text[lo + before.start() : e] if before else None


_SYNONYMS = {
    "said": "stated", "says": "states", "cut": "reduced", "rates": "pay", "company": "firm", "told": "informed",
    "will": "is going to", "would": "might", "could": "might", "never": "not", "without": "lacking",
    "government": "administration", "talks": "negotiations", "visit": "trip", "visited": "went to",
    "strike": "walkout", "rejected": "turned down", "signed": "agreed", "agreement": "deal",
    "deal": "agreement", "announced": "unveiled", "denied": "rejected", "more": "additional",
    "about": "around", "many": "numerous", "large": "big", "new": "fresh", "officials": "authorities",
    "meeting": "talks", "and": "as well as", "the": "this", "had": "has", "has": "had", "was": "had been",
}  # fmt: skip


@_quote_deviation("quote-paraphrased")
def _paraphrased(quote: str, slot: Slot, req: OracleRequest, rng: random.Random) -> str | None:
    words = quote.split()
    if len(words) == 1:
        word = words[0]
        if word.lower() in _SYNONYMS:
            return _SYNONYMS[word.lower()]
        return word[:-2] + "ing" if word.endswith("ed") else word + "s"
    out = [_SYNONYMS.get(w.lower(), w) if rng.random() < 0.5 else w for w in words]
    if out == words or len(words) >= 4:
        i = rng.randrange(len(words) - 1)
        out[i], out[i + 1] = out[i + 1], out[i]
    return " ".join(out)


@_quote_deviation("quote-ellipsis")
def _ellipsis(quote: str, slot: Slot, req: OracleRequest, rng: random.Random) -> str | None:
    words = quote.split()
    if len(words) >= 4:
        head = rng.randint(1, len(words) // 2)
        tail = rng.randint(1, len(words) - head - 1)
        return " ".join(words[:head]) + " \u2026 " + " ".join(words[-tail:])
    if len(words) >= 2:
        return words[0] + "\u2026"
    return quote + "\u2026"


@_quote_deviation("quote-other-sentence", on_ids=True)
def _other_sentence(quote: str, slot: Slot, req: OracleRequest, rng: random.Random) -> str | None:
    if slot.span is None:
        return None
    if slot.enum is not None and slot.sentence_of:
        ids = [sid for sid in slot.enum if sid != quote and sid in slot.sentence_of]
        return rng.choice(ids) if ids else None
    text, base = req.chunk, req.where.start
    s, e = slot.span[0] - base, slot.span[1] - base
    others = [(lo, hi) for lo, hi in _sentence_spans(text) if hi <= s or lo >= e]
    if not others:
        return None
    lo, hi = rng.choice(others)
    if slot.kind == "claim":
        return text[lo:hi].strip()
    words = [(m.start(), m.end()) for m in re.finditer(r"[\w’'-]{3,}", text[lo:hi])]
    if not words:
        return None
    first = rng.randrange(len(words))
    last = min(len(words) - 1, first + (0 if slot.kind == "trigger" else rng.randint(0, 2)))
    return text[lo + words[first][0] : lo + words[last][1]]


_INVENTED = {
    "claim": [
        "officials privately agreed to double the budget before the deadline",
        "the board has secretly approved a merger with a foreign rival",
        "nobody was consulted before the plan was quietly abandoned",
    ],
    "trigger": ["annexation", "ratified", "embezzled", "airlift", "impeachment"],
    "mention": [
        "Halvard Pemberton-Osei",
        "Quintara Holdings",
        "Ministry of Lunar Affairs",
        "Ysolde Marchetti",
    ],
}


def _invented(kind: str, text: str, rng: random.Random) -> str:
    """Made-up text of the kind that occurs nowhere in ``text``."""
    folded = normalize_name(text)
    options = [o for o in _INVENTED[kind] if normalize_name(o) not in folded]
    return rng.choice(options or _INVENTED[kind])


@_quote_deviation("quote-invented", on_ids=True)
def _invent(quote: str, slot: Slot, req: OracleRequest, rng: random.Random) -> str | None:
    if slot.enum is not None:
        return f"S{len(slot.enum) + 100}"  # an id that is not in the list
    return _invented(slot.kind, req.chunk, rng)


@deviation("id-unknown")
def _unknown_id(draft: Draft, req: OracleRequest, rng: random.Random, rate: float) -> None:
    for n, ref in enumerate(draft.refs):
        if ref.holder.get(ref.key) is not None and rng.random() < rate:
            old = ref.holder[ref.key]
            ref.holder[ref.key] = f"A{90 + n}"
            draft.notes.append(f"id-unknown: {ref.key} {old!r} -> {ref.holder[ref.key]!r}")


@deviation("id-wrong")
def _wrong_id(draft: Draft, req: OracleRequest, rng: random.Random, rate: float) -> None:
    for ref in draft.refs:
        old = ref.holder.get(ref.key)
        others = [c for c in ref.choices if c != old]
        if others and rng.random() < rate:
            ref.holder[ref.key] = rng.choice(others)
            draft.notes.append(f"id-wrong: {ref.key} {old!r} -> {ref.holder[ref.key]!r}")


def _next_id(items: list[dict[str, Any]], prefix: str) -> str:
    numbers = [int(m.group(1)) for i in items if (m := re.fullmatch(prefix + r"(\d+)", str(i.get("id", ""))))]
    return f"{prefix}{max(numbers, default=0) + 1}"


@deviation("actor-invented")
def _invented_actor(draft: Draft, req: OracleRequest, rng: random.Random, rate: float) -> None:
    if "actors" not in draft.lists or draft.actor_schema is None:
        return
    actors, prefix = draft.lists["actors"]
    props = req.resolve(draft.actor_schema).get("properties", {})
    for _ in range(len(actors)):
        if rng.random() >= rate:
            continue
        name = _invented("mention", req.chunk, rng)
        new: dict[str, Any] = {"id": _next_id(actors, prefix), "name": name, "kind": "person"}
        new.update(
            {k: v for k, v in {"title": None, "aliases": [], "mentions": [name]}.items() if k in props}
        )
        actors.append(new)
        if "mentions" in new:
            draft.quotes.append(Slot(new["mentions"], 0, "mention", None, names=(normalize_name(name),)))
        draft.notes.append(f"actor-invented: {new['id']} {name!r}")


@deviation("item-duplicated")
def _duplicated(draft: Draft, req: OracleRequest, rng: random.Random, rate: float) -> None:
    for key, (items, prefix) in draft.lists.items():
        if not prefix:
            continue
        for item in list(items):
            if rng.random() < rate:
                twin = copy.deepcopy(item)
                twin["id"] = _next_id(items, prefix)
                items.append(twin)
                draft.notes.append(f"item-duplicated: {key} {item.get('id')} as {twin['id']}")


@deviation("field-missing")
def _missing(draft: Draft, req: OracleRequest, rng: random.Random, rate: float) -> None:
    for key, (items, _) in draft.lists.items():
        for item in items:
            if item and rng.random() < rate:
                dropped = rng.choice(sorted(item))
                del item[dropped]
                draft.notes.append(f"field-missing: {key} {item.get('id', '')} lost {dropped!r}")


@deviation("field-extra")
def _extra(draft: Draft, req: OracleRequest, rng: random.Random, rate: float) -> None:
    extras: list[tuple[str, Any]] = [
        ("confidence", 0.87),
        ("source", "paragraph 2"),
        ("notes", "see above"),
        ("verified", True),
    ]
    for key, (items, _) in draft.lists.items():
        for item in items:
            if rng.random() < rate:
                name, value = rng.choice(extras)
                item[name] = value
                draft.notes.append(f"field-extra: {key} {item.get('id', '')} got {name!r}")


@deviation("json-prose")
def _prose(draft: Draft, req: OracleRequest, rng: random.Random, rate: float) -> None:
    if rng.random() < rate:
        draft.wrapper = "prose"
        draft.notes.append("json-prose: arguments wrapped in prose and a code fence")


@deviation("json-content")
def _content(draft: Draft, req: OracleRequest, rng: random.Random, rate: float) -> None:
    if rng.random() < rate:
        draft.wrapper = "content"
        draft.notes.append("json-content: no tool call; the JSON is in the message text, in prose")


# --- grounding check --------------------------------------------------------------------------------


@dataclass
class GroundingCheck:
    """Evidence the pipeline reported as grounded, and how much of it the text really supports."""

    grounded: int = 0
    supported: int = 0
    unsupported: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float | None:
        """Supported / grounded (None when nothing was reported grounded)."""
        return self.supported / self.grounded if self.grounded else None

    def __add__(self, other: GroundingCheck) -> GroundingCheck:
        return GroundingCheck(
            self.grounded + other.grounded,
            self.supported + other.supported,
            self.unsupported + other.unsupported,
        )


# --- the server ---------------------------------------------------------------------------------------


class Oracle:
    """The oracle endpoint (see the module docstring): start it, point ``base_url`` at it, read ``log``."""

    def __init__(
        self,
        fixtures: Iterable[str | Path] | Iterable[Fixture] = ("evals/fixtures",),
        *,
        noise: Noise | None = None,
        honour_max_tokens: bool = True,
        chunk_names: Literal["local", "gold"] = "local",
        guided: Literal["perfect", "additions"] = "perfect",
        model: str = "oracle",
        keep_requests: bool = False,
    ) -> None:
        items = list(fixtures)
        if all(isinstance(i, Fixture) for i in items):
            self.index = FixtureIndex(i for i in items if isinstance(i, Fixture))
        else:
            self.index = FixtureIndex.from_dirs(i for i in items if isinstance(i, str | Path))
        self.noise = noise
        self.honour_max_tokens = honour_max_tokens
        self.chunk_names: Literal["local", "gold"] = chunk_names
        self.guided: Literal["perfect", "additions"] = guided
        self.model = model
        self.log: list[Served] = []
        # The parsed bodies of answered requests, when asked for (tests replay them through noise).
        self.requests: list[dict[str, Any]] | None = [] if keep_requests else None
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- answering (no HTTP: tests may call it directly) --

    def parse(self, body: dict[str, Any]) -> OracleRequest:
        """The request's tool, schema, messages and article location; ``OracleError`` if unusable."""
        tools = body.get("tools")
        if not isinstance(tools, list) or not tools or not isinstance(tools[0], dict):
            raise OracleError("the oracle answers tool calls only: the request has no tools")
        function = tools[0].get("function") or {}
        name, schema = function.get("name"), function.get("parameters")
        if not isinstance(name, str) or not isinstance(schema, dict):
            raise OracleError("tools[0].function needs a name and a parameters schema")
        messages = body.get("messages") or []
        system = next((m.get("content") or "" for m in messages if m.get("role") == "system"), "")
        question = next((m.get("content") or "" for m in messages if m.get("role") == "user"), "")
        block = _ARTICLE_BLOCK.search(system) or _ARTICLE_BLOCK.search(question)
        if block is None:
            raise OracleError("no <article> ... </article> block in the messages")
        if name not in ANSWERERS:
            known = ", ".join(sorted(ANSWERERS))
            raise OracleError(f"the oracle has no answerer for tool {name!r} (it answers: {known})")
        where = self.index.locate(block.group(1))
        return OracleRequest(
            body, name, schema, system, question, where, self.index, self.chunk_names, self.guided
        )

    def answer(self, body: dict[str, Any]) -> dict[str, Any]:
        """The chat.completion body answering ``body`` (raises ``OracleError`` when it cannot)."""
        req = self.parse(body)
        draft = ANSWERERS[req.tool](req)
        reask = any(m.get("role") in ("assistant", "tool") for m in body.get("messages") or [])
        if self.noise is not None and self.noise.rate > 0 and not (reask and self.noise.reask == "fix"):
            DEVIATIONS[self.noise.deviation](draft, req, self.noise.rng(body), self.noise.rate)
        arguments = json.dumps(draft.arguments, ensure_ascii=False)
        if draft.wrapper != "tool":
            arguments = f"Sure! Here is the {req.tool} you asked for:\n```json\n{arguments}\n```\nLet me know if you need more."
        prompt_chars = sum(len(str(m.get("content") or "")) for m in body.get("messages") or [])
        prompt_tokens = max(1, (prompt_chars + len(json.dumps(body.get("tools")))) // 4)
        completion_tokens = max(1, len(arguments) // 4)
        finish = "tool_calls" if draft.wrapper != "content" else "stop"
        limit = body.get("max_tokens") or body.get("max_completion_tokens")
        if self.honour_max_tokens and isinstance(limit, int) and completion_tokens > limit:
            # A real server stops generating at max_tokens: the answer is cut and says so.
            arguments, completion_tokens, finish = arguments[: limit * 4], limit, "length"
        message: dict[str, Any] = {"role": "assistant", "content": None}
        if draft.wrapper == "content":
            message["content"] = arguments
        else:
            message["tool_calls"] = [
                {
                    "id": "call_oracle",
                    "type": "function",
                    "function": {"name": req.tool, "arguments": arguments},
                }
            ]
        self._record(req, draft, finish, prompt_tokens, completion_tokens)
        return {
            "id": "chatcmpl-oracle",
            "object": "chat.completion",
            "created": 0,
            "model": self.model,
            "choices": [{"index": 0, "finish_reason": finish, "message": message}],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }

    def _record(self, req: OracleRequest, draft: Draft, finish: str, prompt: int, completion: int) -> None:
        text = req.where.fixture.text
        sent = []
        for slot in draft.quotes:
            try:
                value = slot.get()
            except (KeyError, IndexError):
                continue  # the field was dropped by noise: nothing was sent
            if slot.enum is not None:
                # The pipeline quotes the sentence an id names (fixture offsets are chunk-relative there).
                span = (slot.sentence_of or {}).get(value)
                if span is None:
                    continue
                value = text[span[0] : span[1]]
            sent.append(SentQuote(slot.kind, str(value), slot.span, slot.names, slot.deviation))
        served = Served(
            req.where.fixture.id,
            req.where.start,
            req.where.end,
            req.tool,
            len(req.body.get("messages") or []),
            finish,
            tuple(sent),
            tuple(draft.notes),
            prompt,
            completion,
        )
        with self._lock:
            self.log.append(served)
            if self.requests is not None:
                self.requests.append(req.body)

    def reset(self) -> None:
        """Forget the request log (between benchmark runs)."""
        with self._lock:
            self.log.clear()
            if self.requests is not None:
                self.requests.clear()

    # -- measuring output --

    def grounding_check(self, extraction: Extraction, fixture: Fixture | None = None) -> GroundingCheck:
        """Whether every piece of evidence ``extraction`` reports as grounded is supported by the text.

        Supported means: ``grounding.verify`` accepts it (the offsets hold text matching the quote at
        its alignment status), and the span overlaps the gold span the oracle sent that quote for, or
        (for an actor mention) the span's text is one of that actor's names. A quote the oracle
        invented supports nothing. Evidence whose quote the oracle never sent (the pipeline made it
        up, e.g. from the rules) counts as supported only if it overlaps a gold span of its type.
        """
        from llm_extract.grounding import verify  # measurement only, never used to answer

        fixture = fixture or self.index.by_id(extraction.document_id)
        text = fixture.text
        sent: dict[str, list[SentQuote]] = {}
        with self._lock:
            for served in self.log:
                if served.fixture_id == fixture.id:
                    for q in served.quotes:
                        sent.setdefault(q.quote, []).append(q)
        gold_spans: dict[str, list[tuple[int, int]]] = {
            "mention": [(m.start or 0, m.end or 0) for a in fixture.gold.actors for m in a.mentions],
            "trigger": [(e.trigger.start or 0, e.trigger.end or 0) for e in fixture.gold.events],
            "claim": [(c.evidence.start or 0, c.evidence.end or 0) for c in fixture.gold.claims],
        }
        gold_names = {n for a in fixture.gold.actors for n in map(normalize_name, [a.name, *a.aliases])}
        check = GroundingCheck()
        evidence: list[tuple[str, str, Evidence]] = [
            *((f"actor {a.id}", "mention", m) for a in extraction.actors for m in a.mentions),
            *((f"event {e.id}", "trigger", e.trigger) for e in extraction.events),
            *((f"claim {c.id}", "claim", c.evidence) for c in extraction.claims),
        ]
        for label, kind, ev in evidence:
            if not ev.grounded or ev.start is None or ev.end is None:
                continue
            check.grounded += 1
            span = (ev.start, ev.end)
            found = normalize_name(text[ev.start : ev.end])
            entries = [q for q in sent.get(ev.quote, []) if q.kind == kind]
            if entries:
                ok = any(
                    (q.span is not None and _overlaps(span, q.span))
                    or (kind == "mention" and found in q.names)
                    for q in entries
                )
            else:
                ok = any(_overlaps(span, g) for g in gold_spans[kind]) or (
                    kind == "mention" and found in gold_names
                )
            if ok and verify(ev, text):
                check.supported += 1
            else:
                check.unsupported.append(
                    f"{fixture.id} {label}: {ev.quote!r} grounded {ev.alignment} at [{ev.start}, {ev.end}) "
                    f"= {text[ev.start : ev.end]!r}"
                )
        return check

    # -- HTTP --

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>/v1`` once started."""
        if self._server is None:
            raise RuntimeError("the oracle is not running: use it as a context manager or call start()")
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def start(self) -> str:
        """Serve on 127.0.0.1 (a free port) from a daemon thread; return the base URL."""
        if self._server is None:
            self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
            self._server.daemon_threads = True
            self._thread = threading.Thread(target=self._server.serve_forever, name="oracle", daemon=True)
            self._thread.start()
        return self.base_url

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Oracle:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return max(a[0], b[0]) < min(a[1], b[1])


def _handler(oracle: Oracle) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _error(self, status: int, message: str) -> None:
            kind = "invalid_request_error" if status < 500 else "server_error"
            self._send(status, {"error": {"message": message, "type": kind, "code": None, "param": None}})

        def do_GET(self) -> None:
            if self.path.rstrip("/").endswith("/models"):
                model = {
                    "id": oracle.model,
                    "object": "model",
                    "created": 0,
                    "owned_by": "llm-extract-oracle",
                }
                self._send(200, {"object": "list", "data": [model]})
            else:
                self._error(404, f"no such route: GET {self.path}")

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length)
            if not self.path.rstrip("/").endswith("/chat/completions"):
                self._error(404, f"no such route: POST {self.path}")
                return
            try:
                body = json.loads(raw)
                if not isinstance(body, dict):
                    raise OracleError("the request body must be a JSON object")
                self._send(200, oracle.answer(body))
            except json.JSONDecodeError as exc:
                self._error(400, f"the request body is not JSON: {exc.msg}")
            except OracleError as exc:
                self._error(exc.status, f"oracle: {exc}")
            except Exception as exc:  # a bug in the oracle: say so rather than hang the client
                self._error(500, f"oracle failed: {type(exc).__name__}: {exc}")

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


def main(argv: list[str] | None = None) -> int:
    """Serve the oracle until interrupted, for ``llm-extract eval --base-url`` by hand."""
    import argparse
    import time

    parser = argparse.ArgumentParser(
        description="Serve the ORACLE endpoint (gold labels; a ceiling, not a model)."
    )
    parser.add_argument("--fixtures", action="append", type=Path, help="fixture directory (repeatable)")
    parser.add_argument("--deviation", choices=sorted(DEVIATIONS), help="serve the noisy oracle")
    parser.add_argument("--rate", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ignore-max-tokens", action="store_true", help="never cut an answer at max_tokens")
    args = parser.parse_args(argv)
    noise = Noise(args.deviation, args.rate, args.seed) if args.deviation else None
    dirs = args.fixtures or [Path("evals/fixtures"), Path("evals/fixtures/test")]
    with Oracle(dirs, noise=noise, honour_max_tokens=not args.ignore_max_tokens) as oracle:
        print(oracle.base_url, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
