"""Deterministic candidates from the text itself: actor names, claim sentences, event triggers.

Every candidate is a span of the source, so whatever the model later picks among them is grounded
by construction. Used alone (``rules`` strategy) these rules are also the no-LLM floor every
model-based strategy must beat.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import cast

from llm_extract.grounding import fold
from llm_extract.schema import ActorKind, EventType
from llm_extract.segment import Span

__all__ = [
    "ActorCandidate",
    "MentionIndex",
    "SentenceCues",
    "actor_candidates",
    "attribution",
    "claim_span",
    "is_headline",
    "sentence_cues",
]

_UPPER = "A-Z\u00c0-\u00d6\u00d8-\u00de"
_WORD = rf"[{_UPPER}][\w\u00c0-\u024f'’.\-]*"
# Capitalized tokens joined by spaces, with a few lowercase connectors allowed inside a name.
_NAME = re.compile(rf"{_WORD}(?:\s+(?:(?:of|for|the|de|al|bin|von|van)\s+)?{_WORD})*")
_ACRONYM_AFTER = re.compile(r"\s*\(([A-Z][A-Z0-9.\-]{1,9})\)")

_STOP_LEADING = frozenset(
    """a an the in on at as by for from to of and but or if while when after before since although though
    however meanwhile furthermore moreover also both this that these those there their its his her our
    according more read file photo it he she they we i you yet still then thus""".split()
)
_NOT_NAMES = frozenset(
    """january february march april may june july august september october november december jan feb mar
    apr jun jul aug sep sept oct nov dec monday tuesday wednesday thursday friday saturday sunday
    covid-19 covid""".split()
)
_TITLES = frozenset(
    """president minister secretary spokesman spokeswoman spokesperson leader governor chairman chairwoman
    chair chief director ambassador envoy king queen prince senator mayor ceo judge general head premier
    chancellor official officials commander deputy vice foreign prime defense defence interior economic
    external relations state alternate member""".split()
)
_DEMONYMS = frozenset(
    """north south korean russian american ukrainian chinese japanese british french german u.s. us un u.n.
    european israeli iranian indian""".split()
)
_EVENT_NAMES = frozenset("forum summit conference war treaty games olympics festival program".split())
_MEDIA = frozenset(
    "news agency press times post tv television radio channel telegram yonhap kcna upi".split()
)
_GOVERNMENT = frozenset(
    """ministry embassy department council government army navy military parliament assembly congress
    kremlin police office cabinet administration court senate inspectorate commission authority
    prosecutor prosecutors prosecutor's deputies""".split()
)
_ORGANIZATION = frozenset(
    """party union organization organisation company corp corp. corporation inc inc. ltd ltd. llc plc gmbh
    bank committee group systems motors foods holdings partners services service research institute
    university hospital league movement association foundation federation airlines energy industries
    technologies labs pharmaceuticals builders capital workers""".split()
)
# Courtesy and office titles that stay part of a person's name as news copy writes it.
_HONORIFICS = frozenset(
    "dr dr. prof prof. professor mr mr. mrs mrs. ms ms. sir dame councillor councilor".split()
)
# A personal name: two to four title-case words ("Inês Carvalho", "Siobhán Ní Bhriain").
_PERSONAL = re.compile(
    rf"[{_UPPER}][a-z\u00df-\u00ff\u0100-\u024f'’\-]+|[{_UPPER}][a-z]?\.?|N[ií]|Mc\w+|O['’]\w+"
)

_COUNTRIES = {
    "north korea": "North Korea", "south korea": "South Korea", "russia": "Russia", "ukraine": "Ukraine",
    "china": "China", "japan": "Japan", "united states": "United States", "u.s.": "United States",
    "us": "United States", "america": "United States", "iran": "Iran", "israel": "Israel",
    "india": "India", "france": "France", "germany": "Germany", "britain": "United Kingdom",
    "united kingdom": "United Kingdom", "the north": "North Korea",
}  # fmt: skip
# Capitals used as metonyms for their governments, as news copy does ("Pyongyang has denied").
_METONYMS = {
    "pyongyang": "North Korea", "moscow": "Russia", "kremlin": "Russia", "seoul": "South Korea",
    "washington": "United States", "kyiv": "Ukraine", "beijing": "China", "tokyo": "Japan",
}  # fmt: skip
_BYLINE = re.compile(r"(?:by|(?:additional\s+)?reporting\s+by|editing\s+by|written\s+by)\s", re.IGNORECASE)
_ACCORDING_TO = re.compile(r"\baccording\s+to\s+$", re.IGNORECASE)
_LOCATION_PREPOSITION = re.compile(r"\b(?:in|to|from|at|into|near|for)\s+$", re.IGNORECASE)

_REPORTING = re.compile(
    r"\b(?:said|says|say|told|tells|tell|announced|announces|reported|reports|stated|states|added|noted|"
    r"warned|warns|accused|accuses|accuse|denied|denies|deny|claimed|claims|alleged|alleges|insisted|"
    r"argued|according to|expressed|emphasized|emphasised|called for|calls for|mentioned|confirmed|"
    r"acknowledged|believes|believed|suspected|speculation|speculating)\b",
    re.IGNORECASE,
)
_DENIAL = re.compile(r"\b(?:denied|denies|deny|denying|rejected|rejects|dismissed)\b", re.IGNORECASE)
_HEDGE = re.compile(
    r"\b(?:believed|allegedly|alleged|reportedly|suspected|may|might|could|possibly|speculation|"
    r"speculating|likely|appears?|apparently|unconfirmed)\b",
    re.IGNORECASE,
)
_TRIGGERS: dict[EventType, str] = {
    "meeting": r"met|meets|meet|meeting|talks|summit|forums?|discussions|conference|briefing",
    "visit": r"visit(?:ed|s)?|trip|travel(?:l?ed|s)?|departed|left|arrived|embarked|tour",
    "agreement": r"treaty|agreement|signed|signing|deal|accord|pact",
    "transfer": r"supplying|supplied|supply|sent|send|shipped|shipping|transfer(?:red|s)?|"
    r"deliver(?:y|ed|ies)|exports?|providing|provided",
    "conflict": r"war|invasion|invaded|attacks?|attacked|hostilities|fighting|clashes",
    "sanction": r"sanctions?|sanctioned|embargo",
    "legal": r"arrested|charged|indicted|sentenced|convicted|trial|verdict|ruled|lawsuit",
    "election": r"elections?|elected|votes?|voted|referendum",
    "protest": r"protests?|protested|demonstrations?|rall(?:y|ies)|strikes?",
    "economic": r"trade|investment|invest|layoffs|tariffs?|economic cooperation",
    "disaster": r"earthquake|flood(?:s|ing)?|outbreak|pandemic|crash|wildfire",
    "policy": r"law|policy|decree|legislation|resolutions?",
}
_TRIGGER = re.compile(
    r"\b(?:" + "|".join(f"(?P<{kind}>{pattern})" for kind, pattern in _TRIGGERS.items()) + r")\b",
    re.IGNORECASE,
)
_PLANNED = re.compile(r"\b(?:will|would attend|is to|are to|scheduled|plans?|planned|set to|next)\b", re.I)
_HYPOTHETICAL = re.compile(r"\b(?:could|would|might|may|if|potential|prospect)\b", re.IGNORECASE)


@dataclass(eq=False)
class ActorCandidate:
    """A name span cluster: one actor as the rules see it (hashed by identity)."""

    id: str
    name: str
    kind: ActorKind | None = None
    title: str | None = None
    aliases: list[str] = field(default_factory=list)
    spans: list[tuple[int, int]] = field(default_factory=list)


@dataclass(frozen=True)
class SentenceCues:
    """What the rules see in one sentence: reporting verbs, hedges, denial, event triggers."""

    claim: bool
    hedged: bool
    denied: bool
    triggers: tuple[tuple[int, int, EventType], ...]
    planned: bool
    hypothetical: bool

    @property
    def trigger(self) -> tuple[int, int, EventType] | None:
        """The sentence's first event trigger, if any."""
        return self.triggers[0] if self.triggers else None


@functools.lru_cache(maxsize=8192)
def _key(name: str) -> str:
    # Names recur across a batch's documents; folding is per character (5 % of decomposed CPU).
    return fold(name).text.replace("-", " ").strip()


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    """Drop possessives, trailing periods and leading function words from a name span."""
    words = list(re.finditer(r"\S+", text[start:end]))
    while words and words[0].group().lower().strip("'’") in _STOP_LEADING:
        words.pop(0)
    if not words:
        return start, start
    s, e = start + words[0].start(), start + words[-1].end()
    span = text[s:e]
    for suffix in ("’s", "'s", "’", "'"):
        if span.endswith(suffix):
            e -= len(suffix)
            span = span[: -len(suffix)]
    while span.endswith(".") and span.count(".") == 1:  # "Russia." but not "U.S."
        e -= 1
        span = span[:-1]
    return s, e


def is_headline(sentence: Span) -> bool:
    """Whether a line is a headline: title case and no closing punctuation."""
    if sentence.text.rstrip("\"'”’)").endswith((".", "!", "?")):
        return False  # a name-heavy sentence ("Foreign Minister Choe Son Hui left ...") is not one
    words = re.findall(r"[A-Za-z][\w'’-]*", sentence.text)
    capital = sum(
        w[0].isupper() for w in words if w.lower() not in {"a", "an", "the", "of", "for", "to", "in"}
    )
    return len(words) >= 4 and capital >= 0.7 * len(words)


class _Clusters:
    """Actor candidates under construction, looked up by folded name."""

    def __init__(self) -> None:
        self.actors: list[ActorCandidate] = []
        self.by_key: dict[str, ActorCandidate] = {}
        # Word -> actors whose name has it (in order of appearance), and first word -> multi-word
        # names: one-word lookups stay O(1) however many actors a long text names.
        self.by_word: dict[str, list[ActorCandidate]] = {}
        self.by_first_word: dict[str, list[ActorCandidate]] = {}

    def surname_owner(self, key: str) -> ActorCandidate | None:
        """The latest person whose name contains the single word ``key`` ("Choe", "Putin")."""
        if " " in key:
            return None
        owners = self.by_word.get(key, ())
        return next((a for a in reversed(owners) if a.kind in (None, "person")), None)

    def short_owner(self, key: str) -> ActorCandidate | None:
        """The latest organization whose name starts with the single word ``key`` ("Calloway")."""
        if " " in key:
            return None
        owners = self.by_first_word.get(key, ())
        return next(
            (a for a in reversed(owners) if a.kind in (None, "organization", "government", "media")), None
        )

    def add(
        self, name: str, span: tuple[int, int], kind: ActorKind | None, title: str | None = None
    ) -> ActorCandidate:
        """Record one mention: join the actor it names, or start a new one."""
        key = _key(name)
        actor = self.by_key.get(key)
        if actor is None and kind in (None, "person"):
            actor = self.surname_owner(key) or self.short_owner(key)
        if actor is None:
            actor = ActorCandidate(id=f"A{len(self.actors) + 1}", name=name, kind=kind, title=title)
            self.actors.append(actor)
            words = _key(name).split()
            for word in dict.fromkeys(words):
                self.by_word.setdefault(word, []).append(actor)
            if " " in name:
                self.by_first_word.setdefault(words[0], []).append(actor)
        actor.kind = actor.kind or kind
        actor.title = actor.title or title
        self.mention(actor, name, span)
        return actor

    def mention(self, actor: ActorCandidate, name: str, span: tuple[int, int]) -> None:
        """Attach a mention (and its wording, as an alias) to a known actor."""
        if name != actor.name and name not in actor.aliases:
            actor.aliases.append(name)
        self.by_key[_key(name)] = actor
        if span not in actor.spans:
            actor.spans.append(span)


def actor_candidates(text: str, sentences: list[Span]) -> list[ActorCandidate]:
    """Cluster capitalized name spans into actor candidates with kind hints, titles and aliases.

    ``sentences`` are the ones to read: leave out those addressed to a model (``injection``), which
    name whatever their author wants extracted.
    """
    clusters = _Clusters()
    for sentence in sentences:
        if is_headline(sentence) or _BYLINE.match(sentence.text):
            # Headlines capitalize every word (names there recur in the body); bylines name reporters.
            continue
        for m in _NAME.finditer(text, sentence.start, sentence.end):
            if m.group().split()[-1].lower() in _EVENT_NAMES:
                continue  # "the Eurasian Women's Forum" names an event, not an actor
            named = None
            for piece_start, piece_end in _split_possessives(text, m.start(), m.end()):
                start, end = _trim(text, piece_start, piece_end)
                if end > start and not _skip(text, sentence, start, end, clusters):
                    named = _classify(text, start, end, clusters) or named
            acronym = _ACRONYM_AFTER.match(text, m.end())
            if acronym and named is not None:
                # "Korean Central News Agency (KCNA)": the acronym is an alias of the name before it.
                clusters.mention(named, acronym.group(1), (acronym.start(1), acronym.end(1)))
    for actor in clusters.actors:
        actor.spans.sort()
    return clusters.actors


def _split_possessives(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Split "Russia's Far Eastern Primorye" after the possessive: it names two things."""
    pieces, at = [], start
    for m in re.finditer(r"['’]s\b", text[start:end]):
        pieces.append((at, start + m.end()))
        at = start + m.end()
    pieces.append((at, end))
    return pieces


def _skip(text: str, sentence: Span, start: int, end: int, clusters: _Clusters) -> bool:
    """Spans that look like names but are not actors: datelines, places, capitalized first words."""
    span = text[start:end]
    key = _key(span)
    if span.isupper() and len(span) > 4 and text[end : end + 1] == ",":
        return True  # a dateline such as "SEOUL,"
    if key in _COUNTRIES or key in _METONYMS:
        return False
    known = key in clusters.by_key
    located = _LOCATION_PREPOSITION.search(text[max(0, start - 8) : start])
    if located and not known and not _ACCORDING_TO.search(text[max(0, start - 16) : start]):
        return True  # "in St. Petersburg": a place where something happens, not an actor
    first_word = text[sentence.start : end].lstrip("\"'“‘(").startswith(span)
    # A single capitalized word opening a sentence is usually an ordinary word ("Ties", "Any").
    owner = clusters.surname_owner(key) or clusters.short_owner(key)
    return first_word and " " not in span and not known and owner is None


def _classify(text: str, start: int, end: int, clusters: _Clusters) -> ActorCandidate | None:
    """Give a name span a kind hint (and a title) and add it; None when it is not an actor."""
    span = text[start:end]
    tokens = span.split()
    lowered = [t.lower().strip("'’") for t in tokens]
    key = _key(span)
    if key in _NOT_NAMES or all(t in _NOT_NAMES for t in lowered):
        return None
    if key in _COUNTRIES:
        return clusters.add(_COUNTRIES[key], (start, end), "country")
    if key in _METONYMS:
        if _LOCATION_PREPOSITION.search(text[max(0, start - 8) : start]):
            return None
        return clusters.add(_METONYMS[key], (start, end), "country")
    if lowered[-1] in _EVENT_NAMES:
        return None
    if lowered[-1] in _MEDIA or "news" in lowered:
        return clusters.add(span, (start, end), "media")
    if any(t in _GOVERNMENT for t in lowered):
        return clusters.add(span, (start, end), "government")
    if any(t in _ORGANIZATION for t in lowered):
        return clusters.add(span, (start, end), "organization")
    # "North Korean Foreign Minister Choe Son Hui": descriptor words, then the person's name.
    last_title = max((i for i, t in enumerate(lowered) if t in _TITLES or t in _DEMONYMS), default=-1)
    if last_title >= 0:
        has_title = any(t in _TITLES for t in lowered[: last_title + 1])
        if last_title == len(tokens) - 1 or (not has_title and last_title == len(tokens) - 2):
            return None  # a descriptor ("Russian President") or a demonym phrase ("Korean Peninsula")
        name_start = start + span.index(tokens[last_title + 1], len(" ".join(tokens[: last_title + 1])))
        rest = _key(text[name_start:end])
        if rest in _COUNTRIES or rest in _METONYMS:
            return _classify(text, name_start, end, clusters)
        title = " ".join(tokens[: last_title + 1]) if has_title else None
        return clusters.add(text[name_start:end], (name_start, end), "person" if has_title else None, title)
    if len(tokens) == 1 and len(span) <= 2:
        return None
    if len(tokens) >= 2 and lowered[0] in _HONORIFICS:
        return clusters.add(span, (start, end), "person")
    if 2 <= len(tokens) <= 4 and all(_PERSONAL.fullmatch(t) for t in tokens):
        # With no organization, government or media word, a run of title-case words is most often a
        # person in news copy; the model may still be asked about the rest (single words, acronyms).
        return clusters.add(span, (start, end), "person")
    return clusters.add(span, (start, end), None)


# The content of a claim, per evals/GUIDELINES.md: inside the quotation marks, after "X said
# (that)", before a trailing ", X said", or the denying clause itself; never the attribution.
_QUOTED = re.compile(r"[\"\u201c]([^\"\u201c\u201d]{12,})[\"\u201d]")
_LEAD = re.compile(
    r"\b(?:said|says|announced|reported|stated|added|noted|warned|argued|insisted|claimed|confirmed|"
    r"acknowledged|believes|alleged|alleges|emphasi[sz]ed|predicted|"
    r"(?P<object>told|tells|accused|accuses|assured|informed)\b(?P<what>(?:\s+[^\s,]+){1,6}?\s+(?:that|of))?)"
    r"\s+(?:that\s+)?(?=\S)",
    re.IGNORECASE,
)
_TAIL = re.compile(
    r",\s*(?:[^\s,]+\s+){1,6}?(?:said|says|added|told\s+[^,]+|noted|warned|argued|insisted|claimed)\b[^,]*$",
    re.IGNORECASE,
)
_ACCORDING = re.compile(r"^\s*according\s+to\s+[^,]{1,80},\s*", re.IGNORECASE)
_ACCORDING_TAIL = re.compile(r",\s*according\s+to\s+[^,]{1,80}$", re.IGNORECASE)
_DENYING = re.compile(r"\b(?:denied|denies|deny|rejected|rejects|dismissed)\b[^,;]*", re.IGNORECASE)
_EDGE = " .,;:!?\"'\u201c\u201d\u2018\u2019"


def claim_span(sentence: Span) -> tuple[int, int]:
    """Offsets of a claim sentence's content, without the attribution (the sentence if unsure)."""
    text = sentence.text.rstrip(_EDGE)
    start, end = 0, len(text)
    quotes = list(_QUOTED.finditer(sentence.text))
    lead = _LEAD.search(text)
    # A lead attribution is "Subject said ...": the verb within the first ten words, no comma before.
    if lead is not None and (lead.group("object") and not lead.group("what")):
        lead = None
    if lead is not None and ("," in text[: lead.start()] or len(text[: lead.start()].split()) > 10):
        lead = None
    if quotes:
        # One continuous span: an interrupting "he added" between two quoted parts stays inside.
        start, end = quotes[0].start(1), quotes[-1].end(1)
    elif (m := _ACCORDING.match(text)) is not None:
        start = m.end()
    elif (m := _ACCORDING_TAIL.search(text)) is not None:
        end = m.start()
    elif (m := _DENYING.search(text)) is not None and (lead is None or m.start() < lead.start()):
        start, end = m.start(), m.end()
    elif lead is not None:
        start = lead.end()
    elif (m := _TAIL.search(text)) is not None and m.start() > 0:
        end = m.start()
    while end > start and sentence.text[end - 1] in _EDGE:
        end -= 1
    while start < end and sentence.text[start] in _EDGE:
        start += 1
    if end - start < 3:
        return sentence.start, sentence.end
    return sentence.start + start, sentence.start + end


def sentence_cues(sentence: Span) -> SentenceCues:
    """Reporting verbs, hedges, denials and every event trigger of a sentence."""
    text = sentence.text
    # Every trigger, not only the first: one sentence often reports several events ("met ... and
    # signed a deal").
    triggers = tuple(
        (
            sentence.start + m.start(),
            sentence.start + m.end(),
            cast(EventType, next(k for k, v in m.groupdict().items() if v is not None)),
        )
        for m in _TRIGGER.finditer(text)
    )
    return SentenceCues(
        claim=bool(_REPORTING.search(text)),
        hedged=bool(_HEDGE.search(text)),
        denied=bool(_DENIAL.search(text)),
        triggers=triggers,
        planned=bool(_PLANNED.search(text)),
        hypothetical=bool(_HYPOTHETICAL.search(text)),
    )


# Who speaks, when the attribution's syntax says so outright (evals/GUIDELINES.md, "Claimants").
_SPEECH = re.compile(
    r"\b(?:said|says|told|tells|added|noted|warned|argued|insisted|stated|announced|claimed|confirmed|"
    r"acknowledged|denied|denies|dismissed|rejected|predicted|(?P<according>according\s+to))\b",
    re.IGNORECASE,
)
# Between a name and its verb: nothing, an adverb or an auxiliary, a role ("a Calloway spokesman"),
# or one appositive ("Kevin Aldana, the director, said").
_GAP = re.compile(
    r"(?:\s+(?:has|have|had|also|later|again|repeatedly|previously|spokes(?:man|woman|person)|officials?))*\s+"
    r"|,[^,;\"“”]{1,80},\s+",
    re.IGNORECASE,
)
_AFTER = re.compile(r"\s+(?:the\s+)?", re.IGNORECASE)
_CLAUSE_END = re.compile(r"\s*(?:[,.;:!?)\"”]|$)")
_BODIES = (None, "organization", "government", "media")
# How far back "the company said" looks for its company: mentions, not characters.
_LOOKBACK = 200
_AUXILIARY = r"(?:\s+(?:has|had|also|later|again))?\s+$"  # "he has also said", "the union later said"
_PERSON_PRONOUN = re.compile(r"\b(?:he|she)" + _AUXILIARY, re.IGNORECASE)
_BODY = re.compile(
    r"(?:\bit|\b(?:the|a|an)\s+(?:[\w’'-]+\s+)?(?P<head>company|firm|group|union|office|council|agency|"
    r"ministry|department|court|government|hospital|prosecutors?|police|embassy|regulator|"
    r"spokes(?:man|woman|person)))" + _AUXILIARY,
    re.IGNORECASE,
)


class MentionIndex:
    """Every candidate's mention spans in text order: a sentence's mentions in O(log n), not O(n).

    Per-sentence scans over every mention made the rules quadratic in the document's length.
    """

    def __init__(self, candidates: list[ActorCandidate]) -> None:
        self.items = sorted(((s, e, c) for c in candidates for s, e in c.spans), key=lambda m: (m[0], m[1]))
        self.starts = [s for s, _, _ in self.items]

    def within(self, lo: int, hi: int) -> list[tuple[int, int, ActorCandidate]]:
        """Mentions inside ``[lo, hi)``, in text order."""
        i, j = bisect.bisect_left(self.starts, lo), bisect.bisect_left(self.starts, hi)
        return [m for m in self.items[i:j] if m[1] <= hi]

    def ending_before(self, position: int) -> Iterator[tuple[int, int, ActorCandidate]]:
        """Mentions that end by ``position``, latest first (lazily: callers stop at the first fit)."""
        for k in range(bisect.bisect_left(self.starts, position) - 1, -1, -1):
            if self.items[k][1] <= position:
                yield self.items[k]

    def first_mentions(self, sentence: Span) -> dict[ActorCandidate, int]:
        """The candidates named in ``sentence`` and where each is first named, in that order."""
        first: dict[ActorCandidate, int] = {}
        for s, _, c in self.within(sentence.start, sentence.end):
            first.setdefault(c, s)
        return first


def attribution(
    text: str, sentence: Span, mentions: MentionIndex, kinds: dict[str, ActorKind | None]
) -> ActorCandidate | None:
    """The actor an attribution names outright; None when its syntax leaves the speaker open.

    "X said", "said X", "according to X", and "he said" or "the company said" standing for the latest
    person or organization named before. ``kinds`` are the rules' kind hints, so the answer never
    depends on a model.
    """
    quoted = [(sentence.start + m.start(), sentence.start + m.end()) for m in _QUOTED.finditer(sentence.text)]
    here = mentions.within(sentence.start, sentence.end)
    for verb in _SPEECH.finditer(text, sentence.start, sentence.end):
        if any(s <= verb.start() < e for s, e in quoted):
            continue  # a verb inside a quotation is the speaker's own words
        before = [(s, e, c) for s, e, c in here if e <= verb.start()]
        if not verb.group("according") and before:
            _, e, c = before[-1]
            if _GAP.fullmatch(text, e, verb.start()):
                return c
        clause = text[sentence.start : verb.start()]
        # A pronoun's antecedent is named before it, outside the quotation it attributes.
        earlier = (
            c
            for s, _, c in mentions.ending_before(verb.start())
            if not any(qs <= s < qe for qs, qe in quoted)
        )
        if not verb.group("according") and _PERSON_PRONOUN.search(clause):
            person = next((c for c in earlier if kinds.get(c.id) == "person"), None)
            if person is not None:
                return person
        elif not verb.group("according") and (said := _BODY.search(clause)):
            # "the embassy said": the latest actor whose name has that word, else the latest body.
            head = (said.group("head") or "").lower()
            latest = list(itertools.islice(earlier, _LOOKBACK))
            body = next((c for c in latest if head in _key(c.name).split()), None)
            body = body or next((c for c in latest if kinds.get(c.id) in _BODIES), None)
            if body is not None:
                return body
        # "said Dana Whitcombe, an analyst": the name right after the verb, ending its clause.
        for s, e, c in here:
            if s >= verb.end() and _AFTER.fullmatch(text, verb.end(), s) and _CLAUSE_END.match(text, e):
                return c
    return None
