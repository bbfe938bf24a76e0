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
from datetime import date
from typing import cast

from llm_extract.dates import resolve_date
from llm_extract.events import event_candidates
from llm_extract.gazetteer import capital_of, country, demonym_of
from llm_extract.grounding import exact, fold
from llm_extract.morphology import AUXILIARIES, MODALS, REPORTING, is_plural_noun, lemmas, verb_forms
from llm_extract.schema import Actor, ActorKind, EventType
from llm_extract.segment import Span

__all__ = [
    "ActorCandidate",
    "MentionIndex",
    "SentenceCues",
    "actor_candidates",
    "attribution",
    "body_role",
    "claim_span",
    "claim_spans",
    "denies",
    "event_type",
    "is_headline",
    "sentence_cues",
]

# Capital letters of the Latin scripts, from Unicode's own case data ("Š", "Ł", "Ż" included).
_UPPER = "A-Z" + "".join(c for c in map(chr, range(0x00C0, 0x0250)) if c.isupper() or c.istitle())
_WORD = rf"[{_UPPER}][\w\u00c0-\u024f'’.\-]*"
# Capitalized tokens joined by spaces, with a few lowercase connectors allowed inside a name.
_NAME = re.compile(rf"{_WORD}(?:\s+(?:(?:of|for|the|de|al|bin|von|van)\s+)?{_WORD})*")
_ACRONYM_AFTER = re.compile(r"\s*\(([A-Z][A-Z0-9.\-]{1,9})\)")

_STOP_LEADING = frozenset(
    """a an the in on at as by for from to of and but or if while when after before since although though
    however meanwhile furthermore moreover also both this that these those there their its his her our
    according more read file photo it he she they we i you yet still then thus""".split()
)
_TITLES = frozenset(
    """president minister secretary spokesman spokeswoman spokesperson leader governor chairman chairwoman
    chair chief director ambassador envoy king queen prince senator mayor ceo judge general head premier
    chancellor official officials commander deputy vice foreign prime defense defence interior economic
    external relations state alternate member""".split()
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

_ANY_DAY = date(2000, 1, 1)  # lets resolve_date recognize relative expressions too
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
_WORDS = re.compile(r"[A-Za-z][A-Za-z'’-]*")


def _reports(text: str) -> bool:
    """Whether a verb of saying, by its lemma, occurs in ``text`` ("conceded", "disputes")."""
    return any(verb_forms(w.group())[0] in REPORTING for w in _WORDS.finditer(text) if w.group().islower())


# "X is believed to", "are said to have": the article's own, hedged claim (GUIDELINES, Claimants).
_PASSIVE_HEDGE = re.compile(
    r"\b(?:is|are|was|were|has\s+been|have\s+been)\s+(?:widely\s+|also\s+|now\s+)?"
    r"(?:believed|thought|said|alleged|reported|understood|suspected|rumou?red|expected)\s+to\b",
    re.IGNORECASE,
)
# An unattributed forecast or assessment put with doubt: the author's claim.
# An assessment in the article's voice: a described subject and a linking verb ("The verdict is a
# significant victory", "The defeat shows how thin ...", "The hospital row has become the issue").
_ASSESSMENT = re.compile(
    r"^(?:[^,]{0,60},\s*)?(?:the|this|that|such|its|their)\s+(?:[\w’'-]+\s+){0,4}?"
    r"(?:is|are|was|were|remains|has\s+become|have\s+become|shows|show|underlines|underline|means|"
    r"leaves|reflects|marks|looks)\b",
    re.IGNORECASE,
)
_FORECAST = re.compile(r"\b(?:likely|unlikely|could|may|might|appears?\s+to|seems?\s+to)\b", re.IGNORECASE)
_DENIAL = re.compile(r"\b(?:denied|denies|deny|denying|rejected|rejects|dismissed)\b", re.IGNORECASE)


def denies(text: str) -> bool:
    """Whether ``text`` holds a denial ("denied", "rejected", "dismissed")."""
    return _DENIAL.search(text) is not None


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
    # Typed "person" only by the shape of its name: context may show it is a company.
    shape_typed: bool = False

    def to_actor(self, text: str) -> Actor:
        """The candidate as a record, every mention grounded by construction (a kind left open is other)."""
        return Actor(
            id=self.id,
            name=self.name,
            kind=self.kind or "other",
            title=self.title,
            aliases=self.aliases,
            mentions=[exact(text, s, e) for s, e in self.spans],
        )


@dataclass(frozen=True)
class SentenceCues:
    """What the rules see in one sentence: reporting verbs, hedges, denial, event triggers."""

    claim: bool
    hedged: bool
    denied: bool
    triggers: tuple[tuple[int, int, EventType], ...]
    planned: bool
    hypothetical: bool
    # The author's own claim: a passive hedge ("is believed to") or an unattributed forecast.
    authored: bool = False

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
        _acting_noun_phrases(text, sentence, clusters)
        _unnamed_sources(text, sentence, clusters)
    for actor in clusters.actors:
        actor.spans.sort()
        if actor.shape_typed and _owned_like_a_company(text, actor):
            actor.kind = "organization"
    return clusters.actors


# What only an organization has or is, next to its name: "Kessler's shares", "shares of Kessler",
# "Kessler, a German supplier", "Kessler's chief executive" (a kind lexicon: it types, never finds).
_COMPANY_HEADS = (
    "company|firm|group|maker|supplier|operator|manufacturer|retailer|carrier|airline|bank|insurer|lender|"
    "developer|producer|start-?up|conglomerate|chain|brand|subsidiary|unit|distributor|exporter|importer|"
    "shipyard|utility|publisher|broadcaster|platform|provider|contractor|consultancy|fund"
)
_OWNED = (
    r"shares|stock|chief\s+executive|ceo|chairman|chairwoman|board|spokes(?:man|woman|person)|factory|plant|"
    "headquarters|subsidiary|parent|customers|employees|workforce|profit|revenue|sales|shareholders|"
    "executives|products|brand"
)


_OWNED_AFTER = re.compile(rf"['’]s\s+(?:\w+\s+)?(?:{_OWNED})\b", re.IGNORECASE)
_DESCRIBED_AFTER = re.compile(
    rf",\s+(?:a|an|the)\s+(?:[\w-]+\s+){{0,3}}(?:{_COMPANY_HEADS})\b", re.IGNORECASE
)
_SHARES_BEFORE = re.compile(r"\bshares\s+(?:of|in)\s+$", re.IGNORECASE)


def _owned_like_a_company(text: str, actor: ActorCandidate) -> bool:
    """Whether a mention of ``actor`` has what only a company has or is, right beside it.

    Read at each mention, with patterns compiled once: the work grows with the mentions, not with
    the actors times the text.
    """
    for start, end in actor.spans:
        after = text[end : end + 80]
        if _OWNED_AFTER.match(after) or _DESCRIBED_AFTER.match(after):
            return True
        if _SHARES_BEFORE.search(text[max(0, start - 20) : start]):
            return True
    return False


# Words of a noun phrase before its head: quantities and determiners ("several", "two", "the").
_QUANTIFIERS = frozenset(
    """a an the some several many few most all both two three four five six seven eight nine ten dozens
    hundreds thousands other more fewer""".split()
)
_OBJECT_OF = frozenset(
    "of to in on at by for from with about against into over under between among than like".split()
)
_PHRASE_WORD = re.compile(r"[\w’'-]+")
_POSSESSOR = re.compile(rf"({_WORD}(?:\s+{_WORD})*)['’]s\s+$")


def _acting_noun_phrases(text: str, sentence: Span, clusters: _Clusters) -> None:
    """Unnamed groups and bodies that act or speak: the subject of a verb, in lower case.

    "Several analysts believe", "dockworkers walked out", "Vreeland shareholders voted", "South
    Korea's unification ministry said": a plural noun for people (an agent noun: "-ist", "-er",
    "-ent", ... or "people") or a body owned by a name, right before a verb. Which words are plural
    nouns and which are verbs is lemminflect's knowledge (``morphology``).
    """
    words = [
        (sentence.start + m.start(), sentence.start + m.end(), m.group())
        for m in _PHRASE_WORD.finditer(sentence.text)
    ]
    for i in range(len(words) - 1):
        _, end, head = words[i]
        lowered_head = head.lower()
        if not (head.islower() or i == 0):
            continue
        verb = _predicate_after(text, words, i)
        if verb is None:
            continue
        end = words[verb - 1][1]  # "diplomats in Seoul say": the phrase keeps its modifier
        first = i
        while (
            first > 0
            and _modifies(words[first - 1][2])
            and not words[first - 1][2].endswith(("'s", "’s"))
            and not text[words[first - 1][1] : words[first][0]].strip()
        ):
            first -= 1
        if first > 0 and words[first - 1][2].lower() in _OBJECT_OF:
            continue  # "people close to the talks said": the object of a preposition is not the subject
        while first < i and words[first][2].lower() in _QUANTIFIERS:
            first += 1  # "several analysts" are "analysts"
        possessed = _POSSESSOR.search(text, sentence.start, words[first][0])
        speaks = verb_forms(words[verb][2])[0] in REPORTING
        people = is_plural_noun(lowered_head) and (speaks or _names_people(lowered_head))
        if people or lowered_head in _COLLECTIVE:
            begin = words[first][0]
            kind: ActorKind = "group"
        elif possessed is not None and "NOUN" in lemmas(lowered_head):
            begin = possessed.start(1)  # "South Korea's unification ministry"
            kind = "organization"
        elif first == i and i > 0 and words[i - 1][2].lower() == "the" and _body_role(lowered_head):
            _role(text, (words[i - 1][0], end), lowered_head, clusters)
            continue
        else:
            continue
        begin, _ = _trim(text, begin, end)
        name = text[begin:end]
        lowered = [t.lower().strip("'’") for t in name.split()]
        if not name or lowered[-1] in _STOP_LEADING:
            continue
        if lowered_head in _GOVERNMENT or (kind != "group" and any(t in _GOVERNMENT for t in lowered)):
            kind = "government"  # "the police", "South Korea's unification ministry"
        elif kind != "group" and not any(t in _ORGANIZATION for t in lowered):
            continue  # "Russia's war said" is no body: owned bodies need a body word to be typed
        clusters.add(name, (begin, end), kind)


_SOURCE_AFTER = re.compile(
    r"\b[Aa]ccording\s+to\s+(?P<phrase>[a-z][\w’'-]*(?:\s+[a-z][\w’'-]*){0,7})",
)


def _unnamed_sources(text: str, sentence: Span, clusters: _Clusters) -> None:
    """Sources without a name: "according to two people familiar with the matter".

    The phrase after "according to" runs to the next punctuation mark or verb and must hold a noun
    for people (``_names_people``, or a title: "officials"); its quantity stays ("two people").
    """
    for m in _SOURCE_AFTER.finditer(text, sentence.start, sentence.end):
        words = list(re.finditer(r"[\w’'-]+", m.group("phrase")))
        lowered = [w.group().lower() for w in words]
        heads = [
            w
            for w, low in zip(words, lowered, strict=True)
            if low in _COLLECTIVE or (is_plural_noun(low) and (_names_people(low) or low in _TITLES))
        ]
        if not heads:
            continue
        head = min(heads, key=lambda w: w.start())
        # Up to the head, then a modifier ("familiar with the matter") unless a verb starts first.
        last = head
        for w in words[words.index(head) + 1 :]:
            if _opens_predicate(w.group(), "") or w.group().lower() in _OBJECT_OF - _POST_MODIFIERS:
                break
            last = w
        if last is not head and last.group().lower() in _POST_MODIFIERS | _STOP_LEADING:
            last = head
        begin, end = _trim(text, m.start("phrase"), m.start("phrase") + last.end())
        if end > begin:
            clusters.add(text[begin:end], (begin, end), "group")


_ROLE_HEADS = frozenset(_COMPANY_HEADS.replace("start-?up", "startup").split("|"))


def _body_role(head: str) -> bool:
    """Whether "the <head>" can stand for a body that acts: "the ministry", "the company"."""
    return head in _ROLE_HEADS or head in _GOVERNMENT - {"military", "army", "navy", "police"}


def body_role(name: str) -> tuple[str, bool] | None:
    """The head word of a role that stands for a body, and whether it is a company's; else None.

    "the ministry" is ("ministry", False), "the manufacturer" ("manufacturer", True); a name is None.
    """
    words = name.split()
    if words and words[0].lower() == "the":
        words = words[1:]
    if len(words) != 1 or not words[0].islower() or not _body_role(words[0]):
        return None
    return words[0], words[0] in _ROLE_HEADS


_ROLE_REACH = 30


def _role(text: str, span: tuple[int, int], head: str, clusters: _Clusters) -> None:
    """Resolve "the ministry said", "the company denied" to the latest body it can stand for.

    A government word goes to the latest actor whose name has it ("the ministry": the Justice
    Ministry); a company word to the latest organization. With none, the role is an actor of its own
    ("the government has the votes": the government of the article's country).
    """
    company = head in _ROLE_HEADS
    if company:
        # A role points back a little way; looking further would make long texts quadratic.
        recent = clusters.actors[-_ROLE_REACH:]
        owner = next((a for a in reversed(recent) if a.kind == "organization"), None)
    else:
        owner = next(reversed(clusters.by_word.get(_key(head), [])), None)
    if owner is not None:
        clusters.mention(owner, text[span[0] : span[1]], span)
        return
    begin = span[0] + len("the ")
    clusters.add(text[begin : span[1]], (begin, span[1]), "organization" if company else "government")


# Post-modifiers a group may carry between its head and its verb: "diplomats in Seoul say",
# "representatives of the industry said", "people familiar with the talks say".
_POST_MODIFIERS = frozenset("in at from of with familiar close across inside outside".split())


def _predicate_after(text: str, words: list[tuple[int, int, str]], head: int) -> int | None:
    """The index of the verb the phrase headed at ``head`` is the subject of, if one follows.

    Right after the head, or after a short modifier ("in Seoul", "familiar with the matter") that
    no punctuation interrupts.
    """

    def opens(k: int) -> bool:
        after = words[k + 1][2] if k + 1 < len(words) else ""
        return _opens_predicate(words[k][2], after)

    if opens(head + 1):
        return head + 1
    if words[head + 1][2].lower() not in _POST_MODIFIERS:
        return None
    for k in range(head + 2, min(head + 6, len(words))):
        if re.search(r"[,;:()\"“”]", text[words[k - 1][1] : words[k][0]]):
            return None
        if opens(k) and k > head + 2:
            return k
    return None


# Nouns for a body of people that take no plural ending ("Police said", "staff walked out").
_COLLECTIVE = frozenset("people staff police personnel".split())
_AGENT_SUFFIXES = ("ists", "ysts", "ers", "ors", "ians", "ants", "ents", "ees", "ives", "ats")


def _names_people(plural: str) -> bool:
    """Whether a plural noun names people: an agent noun ("analysts", "residents") or "people".

    A plural noun that speaks ("nurses said") names people whatever its ending; this test is for
    the ones that act.
    """
    return plural in _COLLECTIVE or plural.endswith(_AGENT_SUFFIXES)


def _modifies(word: str) -> bool:
    """Whether ``word`` can sit before a noun in its phrase: a quantity, an adjective, a name, a noun."""
    lowered = word.lower()
    if lowered in _QUANTIFIERS or lowered.isdigit():
        return True
    if word[:1].isupper():
        return lowered not in _STOP_LEADING
    found = lemmas(word)
    return "ADJ" in found or ("NOUN" in found and "VERB" not in found)


def _opens_predicate(word: str, after: str) -> bool:
    """Whether ``word`` (then ``after``) starts a predicate: a verb form, an auxiliary or a modal."""
    lowered = word.lower()
    if lowered in AUXILIARIES or lowered in MODALS:
        return True
    lemma, tags = verb_forms(word)
    return (bool(tags & {"VBD", "VBZ", "VB"}) and "NOUN" not in lemmas(word)) or lemma in REPORTING


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
    if _country(span) is not None:
        return False
    known = key in clusters.by_key
    # "a setback for Justice Minister ...", "a letter to the Interior Ministry": a title or a body
    # word makes the name an actor whatever preposition comes before it.
    titled = any(t.lower().strip(".") in _TITLES | _GOVERNMENT | _ORGANIZATION for t in span.split())
    located = _LOCATION_PREPOSITION.search(text[max(0, start - 8) : start]) and not titled
    if located and not known and not _ACCORDING_TO.search(text[max(0, start - 16) : start]):
        return True  # "in St. Petersburg": a place where something happens, not an actor
    first_word = text[sentence.start : end].lstrip("\"'“‘(").startswith(span)
    # A single capitalized word opening a sentence is an ordinary word when English has it ("Ties",
    # "Any"); a word the lexicon does not know is a name ("Putin met Xi").
    owner = clusters.surname_owner(key) or clusters.short_owner(key)
    ordinary = bool(lemmas(span)) or span.lower() in _STOP_LEADING
    return first_word and " " not in span and not known and owner is None and ordinary


def _country(name: str) -> str | None:
    """The country a name is (its name or another spelling); "the North" stays with the article."""
    return country(name.removeprefix("the ").removeprefix("The "))


def _descriptor_words(tokens: list[str]) -> set[int]:
    """Indices of words that describe rather than name: nationality ("North Korean", "Russian", "U.S.")."""
    found: set[int] = set()
    for i in range(len(tokens)):
        pair = " ".join(tokens[i : i + 2]).strip("'’")
        if i + 1 < len(tokens) and demonym_of(pair) is not None:
            found |= {i, i + 1}
        elif demonym_of(tokens[i].strip("'’")) is not None or (
            "." in tokens[i] and country(tokens[i]) is not None
        ):
            found.add(i)
    return found


def _classify(text: str, start: int, end: int, clusters: _Clusters) -> ActorCandidate | None:
    """Give a name span a kind hint (and a title) and add it; None when it is not an actor."""
    span = text[start:end]
    tokens = span.split()
    lowered = [t.lower().strip("'’") for t in tokens]
    if resolve_date(span, _ANY_DAY) is not None:
        return None  # "Monday", "September": a date, not an actor
    if (state := _country(span)) is not None:
        return clusters.add(state, (start, end), "country")
    if (state := capital_of(span)) is not None:
        # A capital standing for its government ("Pyongyang has denied"), not the city as a place.
        if _LOCATION_PREPOSITION.search(text[max(0, start - 8) : start]):
            return None
        return clusters.add(state, (start, end), "country")
    if lowered[-1] in _EVENT_NAMES:
        return None
    if lowered[-1] in _MEDIA or "news" in lowered:
        return clusters.add(span, (start, end), "media")
    if any(t in _GOVERNMENT for t in lowered):
        return clusters.add(span, (start, end), "government")
    if any(t in _ORGANIZATION for t in lowered):
        return clusters.add(span, (start, end), "organization")
    # "North Korean Foreign Minister Choe Son Hui": descriptor words, then the person's name.
    descriptive = _descriptor_words(tokens)
    last_title = max((i for i, t in enumerate(lowered) if t in _TITLES or i in descriptive), default=-1)
    if last_title >= 0:
        has_title = any(t in _TITLES for t in lowered[: last_title + 1])
        if last_title == len(tokens) - 1 or (not has_title and last_title == len(tokens) - 2):
            return None  # a descriptor ("Russian President") or a demonym phrase ("Korean Peninsula")
        name_start = start + span.index(tokens[last_title + 1], len(" ".join(tokens[: last_title + 1])))
        rest = text[name_start:end]
        if _country(rest) is not None or capital_of(rest) is not None:
            return _classify(text, name_start, end, clusters)
        title = " ".join(tokens[: last_title + 1]) if has_title else None
        return clusters.add(text[name_start:end], (name_start, end), "person" if has_title else None, title)
    if len(tokens) == 1 and len(span) <= 2 and not (span[:1].isupper() and span[1:].islower()):
        return None  # an initial or a stray capital; "Xi" is a name
    if len(tokens) >= 2 and lowered[0] in _HONORIFICS:
        return clusters.add(span, (start, end), "person")
    if 2 <= len(tokens) <= 4 and all(_PERSONAL.fullmatch(t) for t in tokens):
        # With no organization, government or media word, a run of title-case words is most often a
        # person in news copy; the model may still be asked about the rest (single words, acronyms).
        actor = clusters.add(span, (start, end), "person")
        actor.shape_typed = actor.shape_typed or len(actor.spans) == 1
        return actor
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


_FRAME = re.compile(r"^((?:[^,]\s*){1,70}?),\s+(?=\S)")
_FRAME_OPENERS = ("whatever ", "whether ", "however ", "although ", "though ", "while ")


def _has_finite_verb(phrase: str) -> bool:
    if phrase.lower().startswith(_FRAME_OPENERS):
        return False  # "Whatever the footage shows,": a frame, though it has a verb
    words = (w.group() for w in _WORDS.finditer(phrase))
    return any(verb_forms(w)[1] & {"VBD", "VBZ"} for w in words if w.islower())


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


# A second verb of saying coordinated with the first: "condemned the deliveries and warned that ...",
# "rejected the accusation, saying the plan was funded". Each is a claim of its own.
_COORDINATED = re.compile(
    r"(?:,\s*(?:and\s+)?|\s+and\s+|;\s*)(?:also\s+|later\s+)?(?=(?:said|saying|says|added|adding|warned|"
    r"warning|insisted|insisting|argued|arguing|denied|denying|rejected|rejecting|dismissed|accused|"
    r"called|calling|noted|noting|claimed|claiming|stressed|stressing)\b)",
    re.IGNORECASE,
)


def claim_spans(sentence: Span, *, authored: bool = False) -> list[tuple[int, int]]:
    """The content of each claim a sentence makes: one per coordinated verb of saying (``claim_span``).

    ``authored``: the article's own assessment; a short introductory frame ("For Moscow, ...",
    "Three years on, ...") is left out, as the guidelines say.
    """
    text = sentence.text
    if authored:
        frame = _FRAME.match(text)
        if frame is not None and not _has_finite_verb(frame.group(1)):
            start = sentence.start + frame.end()
            return [(start, sentence.start + len(text.rstrip(_EDGE)))]
    if _QUOTED.search(text):
        return [claim_span(sentence)]  # a quotation and its attribution are one claim
    cuts = [m for m in _COORDINATED.finditer(text) if m.start() > 0]
    if not cuts:
        return [claim_span(sentence)]
    spans = []
    start = 0
    for m in [*cuts, None]:
        end = m.start() if m is not None else len(text)
        piece = Span(sentence.start + start, sentence.start + end, text[start:end])
        if piece.text.strip():
            spans.append(claim_span(piece))
        if m is not None:
            start = m.end()
    return spans


def event_type(word: str, lemma: str = "") -> EventType:
    """The type a trigger word (or its lemma) suggests: the type lexicon labels an event, never finds one."""
    m = _TRIGGER.fullmatch(word) or (_TRIGGER.fullmatch(lemma) if lemma else None)
    if m is not None:
        return cast(EventType, next(k for k, v in m.groupdict().items() if v is not None))
    return _TYPE_OF_LEMMA.get(lemma.lower(), "other")


# Verbs by the kind of happening they usually report in news copy (labels, never discovery).
_TYPE_LEMMAS: dict[EventType, str] = {
    "meeting": "meet receive host gather convene confer negotiate discuss",
    "visit": "visit fly ride travel arrive depart return tour drive sail head",
    "agreement": "agree sign award license approve conclude settle ratify endorse accept",
    "transfer": "supply ship deliver send transfer move export import smuggle provide give hand share",
    "conflict": "attack fire shoot bomb strike kill wound invade clash fight shell raid hack breach",
    "sanction": "fine sanction penalize penalise impose ban bar expel blacklist",
    "legal": "arrest charge indict sentence convict acquit detain inspect sue try rule investigate "
    "prosecute appeal testify summon probe audit review raid",
    "election": "elect vote campaign poll nominate",
    "protest": "protest march rally strike demonstrate picket boycott blockade occupy",
    "economic": "buy sell acquire merge invest pay earn lose cut rise fall jump drop slump soar plunge "
    "recover grow shrink hire fire lay raise borrow lend spend cost price trade offer bid divert "
    "recall list float default",
    "disaster": "collapse flood burn crash explode erupt sink derail",
    "policy": "order pass adopt veto draft suspend reopen close overhaul reconsider enact decree "
    "legislate regulate announce introduce scrap abolish repeal impose",
}
_TYPE_OF_LEMMA: dict[str, EventType] = {
    lemma: kind for kind, listed in _TYPE_LEMMAS.items() for lemma in listed.split()
}


def sentence_cues(sentence: Span) -> SentenceCues:
    """Reporting verbs, hedges, denials and every event trigger of a sentence.

    Triggers are the predicates ``events`` finds likely (finite verbs, verbs after modals, nouns made
    from verbs after a determiner), outside quotations (the speaker's words are the claim).
    """
    text = sentence.text
    quoted = [(sentence.start + m.start(), sentence.start + m.end()) for m in _QUOTED.finditer(text)]
    triggers = tuple(
        (c.start, c.end, event_type(text[c.start - sentence.start : c.end - sentence.start], c.lemma))
        for c in event_candidates(sentence)
        if c.likely and not any(lo <= c.start < hi for lo, hi in quoted)
    )
    attributed = bool(_REPORTING.search(text)) or _reports(text)
    unquoted = _QUOTED.sub(" ", text)
    judged = bool(_FORECAST.search(unquoted)) or bool(_ASSESSMENT.match(unquoted))
    authored = bool(_PASSIVE_HEDGE.search(text)) or (not attributed and not quoted and judged)
    return SentenceCues(
        claim=attributed or bool(quoted) or authored,
        authored=authored,
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
