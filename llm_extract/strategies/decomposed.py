"""``decomposed``: deterministic candidates, then small questions whose answers are enums of them.

For small models (the embedded SmolLM2), where one free-form call does not finish. The candidates
(``candidates.py``: names, reporting-verb sentences, event triggers) decide what is found; every item
is a span of the source, grounded by construction. The model is asked only what the prompt hands it
(``ask:`` in the prompt file): the kinds of names the rules cannot classify, one call for all of them,
and per cue sentence the speaker (when the attribution's syntax leaves it open), polarity, hedging,
event type and status. The rules answer the rest. Dates come from ``dates.py``.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from types import SimpleNamespace
from typing import Any, Literal

from llm_extract.candidates import (
    ActorCandidate,
    MentionIndex,
    SentenceCues,
    actor_candidates,
    attribution,
    claim_spans,
    denies,
    is_headline,
    sentence_cues,
)
from llm_extract.dates import ResolvedDate, find_dates, resolve_date
from llm_extract.grounding import exact
from llm_extract.schema import (
    ActorKind,
    Claim,
    Event,
    EventDate,
    EventStatus,
    Participant,
    StrategyName,
)
from llm_extract.segment import Span, sentences
from llm_extract.strategies import Context, Items, Plan, Question, model_for, prompt_variables

__all__ = ["Decomposed", "DecomposedPlan"]

_ANY_DAY = date(2000, 1, 1)  # lets resolve_date recognize relative expressions too
_LOCATION = re.compile(r"\b(?:in|at)\s+((?:[A-Z][\w.’'-]*)(?:\s+[A-Z][\w.’'-]*)*)")


@dataclass
class _Sentence:
    """One cue sentence as planned: its cues, who is named in it, and the rules' answers."""

    span: Span
    cues: SentenceCues
    here: list[ActorCandidate]
    first: dict[ActorCandidate, int]
    answer: SimpleNamespace
    asked: tuple[str, ...] = ()  # the fields the model answers (a question of the plan)


@dataclass
class DecomposedPlan(Plan):
    """Candidates, cue sentences with the rules' answers, and which answers the model gives."""

    text: str = ""
    candidates: list[ActorCandidate] = field(default_factory=list)
    unknown: list[ActorCandidate] = field(default_factory=list)  # kinds asked of the model
    cue_sentences: list[_Sentence] = field(default_factory=list)
    dates: _Dates | None = None


class Decomposed:
    """Candidates from the rules; the model picks among them."""

    name: StrategyName = "decomposed"
    asks_model = True

    def plan(self, context: Context) -> DecomposedPlan:
        """Candidates and the rules' answers for every cue sentence; questions for what the prompt asks."""
        doc, prompt = context.document, context.prompt
        text = doc.text
        blocked = set(context.blocked)
        # Sentences addressed to a model are never read: no candidate, no question comes from them.
        spans = [s for s in sentences(text) if (s.start, s.end) not in blocked]
        candidates = actor_candidates(text, spans)
        plan = DecomposedPlan(text=text, candidates=candidates, dates=_Dates(find_dates(text, doc.published)))
        system = (
            {"role": "system", "content": prompt.render("system", **prompt_variables(doc))}
            if self.asks_model
            else {}
        )
        hints = {c.id: c.kind for c in candidates}  # the rules' kinds, before any model answer

        plan.unknown = [c for c in candidates if c.kind is None] if self.asks_model else []
        if plan.unknown:
            kinds_model = model_for("ActorKinds", **{c.id: (ActorKind, ...) for c in plan.unknown})
            question = prompt.render("steps.actors", candidates=plan.unknown, **prompt_variables(doc))
            plan.questions.append(Question(kinds_model, [system, {"role": "user", "content": question}]))

        mentions = MentionIndex(candidates)
        for index, sentence in enumerate(spans):
            cues = sentence_cues(sentence)
            if is_headline(sentence) or not (cues.claim or cues.trigger):
                continue
            previous = spans[index - 1] if index else None
            first = mentions.first_mentions(sentence)
            here = list(first)
            attributed = cues.claim and not cues.authored
            said_by = attribution(text, sentence, mentions, hints) if attributed else None
            first_named = None if cues.authored else (here[0] if here else None)
            rule = _rule_answer(cues, said_by or first_named)
            plan.cue_sentences.append(planned := _Sentence(sentence, cues, here, first, rule))
            nearby = (
                here + [c for c in mentions.first_mentions(previous) if c not in first] if previous else here
            )
            fields = self._fields(cues, said_by, nearby, prompt.ask)
            if not fields:
                continue
            planned.asked = tuple(fields)
            trigger = None
            if cues.trigger:
                trigger = {"word": text[cues.trigger[0] : cues.trigger[1]], "type": cues.trigger[2]}
            question = prompt.render(
                "steps.sentence",
                sentence=sentence.text,
                previous=previous.text if previous else None,
                actors=nearby,
                triggers=trigger,
                **prompt_variables(doc),
            )
            plan.questions.append(
                Question(
                    model_for("SentenceAnswer", **fields), [system, {"role": "user", "content": question}]
                )
            )
        return plan

    def _fields(
        self,
        cues: SentenceCues,
        said_by: ActorCandidate | None,
        nearby: list[ActorCandidate],
        asked: frozenset[str],
    ) -> dict[str, Any]:
        """The sentence's fields the model answers: those the prompt asks that the rules leave open."""
        if not self.asks_model:
            return {}
        fields: dict[str, Any] = {}
        if cues.claim and said_by is None and not cues.authored:
            # Only an attribution whose syntax leaves the speaker open goes to the model.
            fields["speaker"] = (Literal[tuple(["author", *(c.id for c in nearby)])], ...)
        if cues.claim:
            fields["polarity"] = (Literal["asserted", "denied"], ...)
            fields["hedged"] = (bool, ...)
        if cues.trigger:
            fields["event_type"] = (Literal[(cues.trigger[2], "other")], ...)
            fields["status"] = (EventStatus, ...)
        # The prompt says which decisions the model makes; cue words make the others.
        return {k: v for k, v in fields.items() if k in asked}

    def assemble(self, plan: DecomposedPlan, answers: Sequence[Any]) -> Items:
        """Records from the candidates, the rules' answers and the model's, all spans of the text."""
        text = plan.text
        replies = iter(answers)
        if plan.unknown:
            kinds = next(replies)
            for c in plan.unknown:
                c.kind = getattr(kinds, c.id)
        actors = [c.to_actor(text) for c in plan.candidates]
        events: list[Event] = []
        claims: list[Claim] = []
        for planned in plan.cue_sentences:
            answer = planned.answer
            if planned.asked:
                reply = next(replies)
                for name in planned.asked:
                    setattr(answer, name, getattr(reply, name))
            cues, sentence = planned.cues, planned.span
            # Only a claim has a speaker: in an event-only sentence every name is a participant.
            speaker = answer.speaker if cues.claim else None
            claimant = None if speaker in (None, "author") else speaker
            if cues.claim:
                for claim_start, claim_end in claim_spans(sentence, authored=cues.authored):
                    claims.append(
                        Claim(
                            id=f"C{len(claims) + 1}",
                            statement=" ".join(text[claim_start:claim_end].split()),
                            claimant=claimant,
                            polarity=_polarity(text[claim_start:claim_end], answer.polarity),
                            hedged=answer.hedged,
                            evidence=exact(text, claim_start, claim_end),
                        )
                    )
            for number, (start, end, suggested) in enumerate(cues.triggers):
                # The prompt asks about the sentence's first trigger; the cue word types the others.
                participants = [
                    Participant(actor_id=c.id, role="agent" if planned.first[c] < start else "target")
                    for c in planned.here
                    if c.id != claimant
                ]
                events.append(
                    Event(
                        id=f"E{len(events) + 1}",
                        type=answer.event_type if number == 0 else suggested,
                        trigger=exact(text, start, end),
                        summary=" ".join(sentence.text.split()),
                        participants=participants,
                        date=plan.dates.nearest(sentence.start, sentence.end, start) if plan.dates else None,
                        location=_location(text, sentence.start, sentence.end, start),
                        status=answer.status,
                    )
                )
        return actors, events, claims


def _polarity(content: str, answered: str) -> str:
    """A coordinated claim's own polarity: "rejected X, saying Y" denies X and asserts Y."""
    return "denied" if denies(content) else "asserted" if answered == "denied" else answered


def _rule_answer(cues: SentenceCues, first: ActorCandidate | None) -> SimpleNamespace:
    """What the rules answer in place of the model for one sentence.

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
        hedged=cues.hedged or cues.authored,
        event_type=cues.trigger[2] if cues.trigger else "other",
        status=status,
    )


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
