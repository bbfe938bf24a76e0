"""Event candidates from the structure of a sentence, not from a list of event words.

A happening is named by a predicate: a finite verb ("resigned", "collapsed"), a verb after a modal,
an auxiliary or "to" ("will visit", "has merged", "to postpone"), a gerund after a preposition or an
auxiliary ("of supplying"), or a noun made from a verb after a determiner ("the evacuation", "a
walkout", "the recount"). Which words are verbs, in which form, and which nouns come from verbs is
morphology (``morphology``, lemminflect's lexicon). Verbs of being, having, thinking and saying are
not events: saying belongs to a claim.

Every predicate of a sentence is a *candidate*: the ceiling of what a model choosing among them can
find. ``EventCandidate.likely`` marks the ones the rules strategy keeps (past-tense verbs, verbs after
"will", "would", "could" or "may", nouns after a support verb: "held talks"; gerunds and bare
infinitives only in the company of a modal or an auxiliary), trading recall for precision. The event
type comes from ``candidates`` (a type lexicon labels an event; it never decides whether there is
one).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from llm_extract.morphology import (
    AUXILIARIES,
    DETERMINERS,
    MODALS,
    NOT_HAPPENINGS,
    is_nominalization,
    lemmas,
    verb_forms,
)
from llm_extract.segment import Span

__all__ = ["EventCandidate", "event_candidates"]

_TOKEN = re.compile(r"[A-Za-z\u00c0-\u024f][A-Za-z\u00c0-\u024f'’-]*")
_PREPOSITIONS = frozenset(
    "of in on at by for from with without after before during since about against into over under "
    "through toward towards amid despite".split()
)
_INFINITIVE_MARKERS = MODALS | {"to", "not", "n't", "never"}
_PARTICLES = frozenset("up down out off over in back away".split())
# Words of closed classes that the lexicon also lists as verbs ("up the price", "near the border").
_CLOSED = _PREPOSITIONS | _PARTICLES | {"near", "like", "round", "down", "up", "further", "still", "even"}
_ABILITY = frozenset("can should must".split())
# Support ("light") verbs: in "held talks", "launched an inquiry", "staged a walkout" the verb adds
# little but tense and the noun names the happening. A closed grammatical class, not a domain list.
_SUPPORT = frozenset("hold conduct launch stage undertake carry make take give pay have".split())


@dataclass(frozen=True)
class EventCandidate:
    """A predicate that may name an event: its offsets, its verb (or noun) lemma and how it was found."""

    start: int
    end: int
    lemma: str
    form: str  # finite, participle, modal, infinitive, gerund, noun
    likely: bool


def _tokens(sentence: Span) -> list[tuple[int, int, str]]:
    at = sentence.start
    return [(at + m.start(), at + m.end(), m.group()) for m in _TOKEN.finditer(sentence.text)]


def event_candidates(sentence: Span, *, skip: frozenset[int] = frozenset()) -> list[EventCandidate]:
    """Every predicate of ``sentence`` that may name an event, in text order.

    ``skip``: token start offsets that belong to names (an actor's "Walker" is not a verb).
    """
    tokens = _tokens(sentence)
    found: list[EventCandidate] = []
    support: int | None = None  # the token index of the last support verb, while its object may follow
    for i, (start, end, word) in enumerate(tokens):
        if start in skip or (word[0].isupper() and i > 0):
            continue  # a capitalized word inside a sentence is a name or part of one
        previous = [t[2].lower() for t in tokens[max(0, i - 3) : i]]
        candidate = _verb(start, end, word, previous) or _noun(start, end, word, previous)
        if candidate is not None and candidate.form == "noun" and support is not None and i - support <= 3:
            # "held talks": the noun is the event, its support verb only carries the tense.
            candidate = replace(candidate, likely=True)
            if found and found[-1].start == tokens[support][0]:
                found[-1] = replace(found[-1], likely=False)
        if candidate is not None and candidate.form != "noun":
            support = None
        if verb_forms(word)[0].lower() in _SUPPORT and word.lower() not in AUXILIARIES:
            support = i
        if candidate is not None:
            found.append(candidate)
    return found


def _verb(start: int, end: int, word: str, previous: list[str]) -> EventCandidate | None:
    lemma, tags = verb_forms(word)
    lowered = word.lower()
    if not lemma or lemma.lower() in NOT_HAPPENINGS or lowered in AUXILIARIES | MODALS | _CLOSED:
        return None
    before = previous[-1] if previous else ""
    after_determiner = before in DETERMINERS
    if tags & {"VBD", "VBN"} and not after_determiner:
        # "the injured man": a participle after a determiner describes; elsewhere it happens.
        form = "finite" if "VBD" in tags else "participle"
        return EventCandidate(start, end, lemma, form, likely=form == "finite" or before in AUXILIARIES)
    if "VBZ" in tags and not after_determiner and "NOUN" not in lemmas(word):
        # The simple present in news copy states a habit or a standing fact ("the law bars",
        # "the company makes"); the happenings it reports are in the past or the future.
        return EventCandidate(start, end, lemma, "finite", likely=False)
    if "VB" in tags and (before in _INFINITIVE_MARKERS or any(p in MODALS for p in previous[-2:])):
        modals = [p for p in previous if p in MODALS]
        # "will visit", "could delay" say what happens; "can", "should", "must" say what is possible
        # or owed, which is no happening.
        likely = bool(modals) and modals[-1] not in _ABILITY
        return EventCandidate(start, end, lemma, "modal" if modals else "infinitive", likely=likely)
    if "VBG" in tags and (before in _PREPOSITIONS or before in AUXILIARIES):
        return EventCandidate(start, end, lemma, "gerund", likely=before in AUXILIARIES)
    return None


def _noun(start: int, end: int, word: str, previous: list[str]) -> EventCandidate | None:
    nouns = lemmas(word).get("NOUN")
    if not nouns or not is_nominalization(word):
        return None
    verb = lemmas(nouns[0]).get("VERB", (nouns[0],))[0]
    if verb.lower() in NOT_HAPPENINGS:
        return None
    # "the evacuation", "a second ballot", "its planned merger": a determiner a few words before
    # makes it likely; elsewhere ("held talks", "of war") it is a candidate for a model to weigh.
    # Nouns stay candidates: without a parser, "the vote" (an event) and "the statement" (a claim) or
    # "the government" look alike, and keeping them all costs the rules more precision than recall.
    return EventCandidate(start, end, verb, "noun", likely=False)
