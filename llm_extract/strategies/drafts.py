"""From a model's answer (quotes, never offsets) to grounded records, for ``single`` and ``guided``.

A capable model answers with quotes; which occurrence of a quote it means is ours to find:

* a **mention** is the actor's name (or an alias) inside the quote it grounds to; a quote that does
  not name the actor grounds nothing (a quote from another sentence is not a mention);
* a **trigger** is searched inside the event's sentence once that sentence is found, else in the
  whole text, as a whole word, preferring the body to the headline (which repeats its words);
* a **claim** quote is searched in the whole text (or, under constrained grounding, inside the chosen
  sentence and the next one of its paragraph, since a quotation may run on), preferring the body;
* sentences addressed to a model are searched last (``injection``): whatever rests on them is
  removed later (``extract``).

A participant that names no actor is left out and counted (``RunMetadata.dropped``), as is a
duplicate item; the model is asked again only when a claimant names no actor.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from llm_extract.dates import find_dates, resolve_date
from llm_extract.grounding import Folded, align, exact, fold
from llm_extract.schema import Actor, Claim, Event, EventDate, Evidence, Participant
from llm_extract.segment import Span
from llm_extract.strategies import Tally

__all__ = ["Grounder", "event_date", "records"]

# A mention that does not contain the actor's name may still describe it ("the North Korean leader"),
# in a few words; a longer one is a sentence from elsewhere.
_DESCRIPTION_WORDS = 5


@dataclass
class Grounder:
    """Finds quotes of a model's answer in one text."""

    text: str
    threshold: float
    avoid: Sequence[tuple[int, int]] = ()  # the headline and instructions: searched last
    _folded: Folded | None = field(default=None, repr=False)

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
        """The actor's name inside the grounded quote; a short quote naming it otherwise is kept whole.

        A longer quote that contains none of its names is not a mention (a sentence quoted from
        elsewhere): unmatched.
        """
        found = self.find(quote)
        if not found.grounded or found.start is None or found.end is None:
            return found
        for name in sorted({n for n in names if n.strip()}, key=len, reverse=True):
            inside = self.find(name, (found.start, found.end), whole_words=True)
            if inside.grounded:
                return inside
        return found if len(quote.split()) <= _DESCRIPTION_WORDS else Evidence(quote=quote)

    def trigger(self, word: str, sentence: str | None, window: tuple[int, int] | None = None) -> Evidence:
        """The trigger inside its sentence (a quote, or a window), else anywhere as a whole word."""
        if window is None and sentence:
            context = self.find(sentence)
            if context.start is not None and context.end is not None:
                window = (context.start, context.end)
        if window is not None:
            inside = self.find(word, window, whole_words=True)
            if inside.grounded:
                return inside
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
    tally: Tally,
) -> tuple[list[Actor], list[Event], list[Claim]]:
    """Grounded records from a draft answer (``DraftExtraction`` or its constrained variant).

    ``sentences``: sentence id -> span, under constrained grounding (events and claims then name
    the sentence they come from). ``extra_actor_ids``: ids the answer may reference without listing
    them (the candidates ``guided`` showed the model).
    """
    text = grounder.text
    actors = []
    for a in draft.actors:
        names = [a.name, *a.aliases]
        mentions = [grounder.mention(q, names) for q in (a.mentions or [a.name])]
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
        evidence = grounder.find(c.quote, window)
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
