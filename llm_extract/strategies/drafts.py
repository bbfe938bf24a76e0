"""From a model's answer (quotes, never offsets) to grounded records, for ``single`` and ``guided``.

A capable model answers with quotes; which occurrence of a quote it means is ours to find:

* a **mention** is the actor's name (or an alias) inside the quote it grounds to, as whole words; a
  quote that does not name the actor grounds nothing (another sentence, a fragment);
* a **trigger** is searched inside the event's sentence once that sentence is found (and only
  there), else in the whole text, as a whole word, preferring the body to the headline;
* a **claim** quote is searched in the whole text (or, under constrained grounding, inside the chosen
  sentence and the next one of its paragraph, since a quotation may run on), preferring the body;
  found outside a chosen sentence, it must share words with the claim's statement, itself or through
  the sentence it stands in (a quote from another sentence is no evidence of this claim);
* sentences addressed to a model are searched last (``injection``): whatever rests on them is
  removed later (``extract``).

A participant that names no actor is left out and counted (``RunMetadata.dropped``), as is a
duplicate item; the model is asked again only when a claimant names no actor.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from rapidfuzz import fuzz

from llm_extract.dates import find_dates, resolve_date
from llm_extract.grounding import Folded, align, exact, find_all, fold
from llm_extract.schema import Actor, Claim, Event, EventDate, Evidence, Participant
from llm_extract.segment import Span, sentences
from llm_extract.strategies import Tally

__all__ = ["Grounder", "event_date", "records"]


@dataclass
class Grounder:
    """Finds quotes of a model's answer in one text."""

    text: str
    threshold: float
    avoid: Sequence[tuple[int, int]] = ()  # the headline and instructions: searched last
    _folded: Folded | None = field(default=None, repr=False)
    _sentences: list[Span] | None = field(default=None, repr=False)

    def find(
        self, quote: str, window: tuple[int, int] | None = None, *, whole_words: bool = False
    ) -> Evidence:
        """``quote`` aligned in the text (or the window): exact, normalized, fuzzy or unmatched."""
        lo, hi = window if window is not None else (0, len(self.text))
        if self._folded is None and not (quote.strip() and self.text.find(quote, lo, hi) >= 0):
            self._folded = fold(self.text)  # folded once, and only when a quote is not found verbatim
        return align(
            quote,
            self.text,
            fuzzy_threshold=self.threshold,
            window=window,
            folded=self._folded,
            whole_words=whole_words,
            avoid=self.avoid,
        )

    def mention(self, quote: str, names: Iterable[str]) -> Evidence:
        """The actor's name (or an alias) inside the grounded quote, as whole words; else unmatched.

        A quote that holds none of the actor's names is not evidence that the actor is named there: a
        sentence quoted from elsewhere, a fragment ("Pyong"), or a description the model did not
        list as an alias ("the North Korean leader": list it among the aliases to have it found).
        """
        found = self.find(quote, whole_words=True)
        if not found.grounded or found.start is None or found.end is None:
            return Evidence(quote=quote)
        for name in sorted({n for n in names if n.strip()}, key=len, reverse=True):
            inside = self.find(name, (found.start, found.end), whole_words=True)
            if inside.grounded:
                return inside
        return Evidence(quote=quote)

    def short_form(self, quote: str, names: Iterable[str], claimed: Sequence[Evidence]) -> Evidence:
        """A shorter form of the actor's name, where no other mention already stands; else unmatched.

        "foreign ministry" of "China's foreign ministry" grounds at its first occurrence outside every
        other grounded mention: such a quote does not name the actor by itself, and inside "North
        Korea's foreign ministry" it is that actor's mention, not this one's.
        """
        short = _words(quote)
        longer = [n for n in names if short and f" {short} " in f" {_words(n)} "]
        if not longer:
            return Evidence(quote=quote)
        # Inside a full mention of the name first ("North Korea's foreign ministry" for "foreign
        # ministry"), then anywhere no other mention stands.
        places = [p for n in longer for p in find_all(n, self.text, folded=self._folded)]
        places += find_all(quote, self.text, folded=self._folded)
        spans = [(c.start, c.end) for c in claimed if c.start is not None and c.end is not None]
        for start, end in places:
            if not any(start < hi and lo < end for lo, hi in spans):
                found = self.find(quote, (start, end), whole_words=True)
                if found.grounded:
                    return found
        return Evidence(quote=quote)

    def sentence_around(self, found: Evidence) -> str:
        """The text of the sentences that ``found`` (grounded) stands in."""
        if self._sentences is None:
            self._sentences = sentences(self.text)
        start, end = found.start or 0, found.end or 0
        spans = [s for s in self._sentences if s.start < end and start < s.end]
        return self.text[spans[0].start : spans[-1].end] if spans else self.text[start:end]

    def trigger(self, word: str, sentence: str | None, window: tuple[int, int] | None = None) -> Evidence:
        """The trigger inside its sentence (a quote, or a window); anywhere only if the sentence is not found.

        A trigger missing from the sentence the model named is an inconsistent answer: unmatched,
        rather than the same word found in some other sentence.
        """
        if window is None and sentence:
            context = self.find(sentence)
            if context.start is not None and context.end is not None:
                window = (context.start, context.end)
        if window is not None:
            return self.find(word, window, whole_words=True)
        return self.find(word, whole_words=True)


def event_date(expression: str | None, published: date | None) -> EventDate | None:
    """An event's date as written, resolved when the expression (or a date inside it) is one."""
    if not expression:
        return None
    resolved = resolve_date(expression, published)
    if resolved is None:
        inside = find_dates(expression, published)
        resolved = inside[0] if inside else None
    if resolved is None:
        return EventDate(expression=expression)
    return EventDate(
        expression=expression, value=resolved.value, precision=resolved.precision, relative=resolved.relative
    )


def records(
    draft: Any,
    grounder: Grounder,
    published: date | None,
    *,
    sentences: dict[str, Span] | None = None,
    extra_actor_ids: Iterable[str] = (),
    taken: Iterable[Actor] = (),
    tally: Tally,
) -> tuple[list[Actor], list[Event], list[Claim]]:
    """Grounded records from a draft answer (``DraftExtraction`` or its constrained variant).

    ``sentences``: sentence id -> span, under constrained grounding (events and claims then name
    the sentence they come from). ``extra_actor_ids``: ids the answer may reference without listing
    them (the candidates ``guided`` showed the model). ``taken``: actors already kept, whose grounded
    mentions a short form of another actor's name may not take.
    """
    text = grounder.text
    named = [
        [grounder.mention(q, [a.name, *a.aliases]) for q in (a.mentions or [a.name])] for a in draft.actors
    ]
    # Where each actor's grounded mentions stand, by actor id.
    claimed = [(x.id, m) for x in taken for m in x.mentions]
    claimed += [(a.id, m) for a, ms in zip(draft.actors, named, strict=True) for m in ms]
    actors = []
    for a, found in zip(draft.actors, named, strict=True):
        mentions = []
        for m in found:
            if not m.grounded:
                others = [o for i, o in claimed if i != a.id]
                m = grounder.short_form(m.quote, [a.name, *a.aliases], others)
                claimed.append((a.id, m))
            mentions.append(m)
        actors.append(
            Actor(
                id=a.id,
                name=a.name,
                kind=a.kind,
                title=a.title,
                aliases=a.aliases,
                mentions=_unique(mentions),
            )
        )
    known = {a.id for a in actors} | set(extra_actor_ids)
    events = []
    for e in draft.events:
        window = _window(text, sentences, getattr(e, "sentence", None), follow=False)
        trigger = grounder.trigger(e.trigger, None if sentences else e.sentence, window)
        participants = [
            Participant(actor_id=p.actor_id, role=p.role) for p in e.participants if p.actor_id in known
        ]
        tally.dropped += len(e.participants) - len(participants)
        events.append(
            Event(
                id=e.id,
                type=e.type,
                trigger=trigger,
                summary=e.summary,
                participants=participants,
                date=event_date(e.date, published),
                location=e.location,
                status=e.status,
            )
        )
    claims = []
    for c in draft.claims:
        window = _window(text, sentences, getattr(c, "sentence", None), follow=True)
        evidence = _claim_evidence(grounder, c.statement, c.quote, window)
        if not evidence.grounded and window is not None and sentences is not None:
            # The sentence the model chose is the claim's evidence when its quote is not in it.
            sentence = sentences[c.sentence]
            evidence = exact(text, sentence.start, sentence.end)
        claimant = c.claimant if c.claimant in known else None
        tally.dropped += c.claimant is not None and claimant is None
        claims.append(
            Claim(
                id=c.id,
                statement=c.statement,
                claimant=claimant,
                polarity=c.polarity,
                hedged=c.hedged,
                evidence=evidence,
            )
        )
    return actors, events, claims


def _claim_evidence(
    grounder: Grounder, statement: str, quote: str, window: tuple[int, int] | None
) -> Evidence:
    """A claim's quote, grounded only where it fits the claim.

    Inside the sentence the model chose (``window``) the place vouches for it. Elsewhere the quote, or
    the sentence it stands in, must share words with the statement: a short quote ("rejected that
    suggestion") says little by itself, but its sentence names what was rejected.
    """
    found = grounder.find(quote, window)
    if window is not None or not found.grounded or _coheres(statement, quote):
        return found
    return found if _coheres(statement, grounder.sentence_around(found)) else Evidence(quote=quote)


def _words(text: str) -> str:
    """Lower-case words, apostrophes and quote marks folded, for comparing a quote with a name."""
    return " ".join(re.findall(r"\w+", text.casefold().replace("’", "'")))


def _coheres(statement: str, quote: str) -> bool:
    """Whether a claim's quote says something of what its statement says (shares its words).

    A quote from another sentence is real text but not this claim's evidence; a statement that shares
    almost no word with its quote is such a case.
    """
    return not statement.strip() or fuzz.token_set_ratio(statement.lower(), quote.lower()) >= _COHERENCE


_COHERENCE = 40.0


def _window(
    text: str, sentences: dict[str, Span] | None, sentence_id: Any, *, follow: bool
) -> tuple[int, int] | None:
    """The chosen sentence's span; with ``follow``, running on into the next sentence of its paragraph."""
    if not sentences or not isinstance(sentence_id, str) or sentence_id not in sentences:
        return None
    span = sentences[sentence_id]
    following = sentences.get(f"S{int(sentence_id[1:]) + 1}") if follow else None
    if following is not None and "\n" not in text[span.end : following.start]:
        return span.start, following.end
    return span.start, span.end


def _unique(mentions: list[Evidence]) -> list[Evidence]:
    seen: set[tuple[int | None, int | None, str]] = set()
    unique = []
    for m in mentions:
        key = (m.start, m.end, m.quote)
        if key not in seen:
            seen.add(key)
            unique.append(m)
    return unique
