"""``guided``: the rules' candidates as numbered hints, and one call that corrects and completes them.

For capable models (the default when an API key or base URL is set). ``decomposed`` caps every model at
what the candidates propose; ``single`` ignores what the rules already know. Here the prompt lists the
candidates (actors, event triggers, claims, each with an id) and the model answers with the changes
only:

* ``drop``: ids of candidates that are wrong;
* ``actors``, ``events``, ``claims``: items the candidates missed (new ids), or a corrected candidate
  (its id reused: a kind, type, status, claimant or span put right). New items quote the article as in
  ``single``, and may name candidate actors as participants or claimants.

The records are the candidates less the dropped, with the corrections and additions grounded as in
``single``; items that end up on the same span are one. A model that only adds finds everything the
rules found plus what they missed; one that answers nothing returns the rules' output. Answers are
short when the candidates are good, so it costs fewer tokens than ``single`` on the same text.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel, Field, model_validator

from llm_extract.schema import (
    Actor,
    Claim,
    DraftActor,
    DraftClaim,
    DraftEvent,
    Event,
    StrategyName,
    _check_references,
)
from llm_extract.strategies import Context, Items, Plan, Question, known_actors, prompt_variables
from llm_extract.strategies.drafts import Grounder, records
from llm_extract.strategies.rules import Rules
from llm_extract.strategies.single import avoided

__all__ = ["Guided", "GuidedAnswer", "GuidedPlan"]


class GuidedAnswer(BaseModel):
    """Changes to the candidates: what to drop, and items to add or correct (a reused id corrects)."""

    candidate_actor_ids: ClassVar[frozenset[str]] = frozenset()

    drop: list[str] = Field(description="ids of candidates (A.., E.., C..) that are wrong")
    actors: list[DraftActor] = Field(description="actors the candidates missed, or corrected candidates")
    events: list[DraftEvent] = Field(description="events the candidates missed, or corrected candidates")
    claims: list[DraftClaim] = Field(description="claims the candidates missed, or corrected candidates")

    @model_validator(mode="after")
    def _claimants_resolve(self) -> GuidedAnswer:
        ids = {a.id for a in self.actors} | self.candidate_actor_ids
        _check_references(ids, [], [(c.id, c.claimant) for c in self.claims])
        return self


@functools.lru_cache(maxsize=512)
def answer_model(actor_ids: tuple[str, ...]) -> type[GuidedAnswer]:
    """``GuidedAnswer`` knowing which candidate actors a claimant may name (one class per id set)."""
    return type("GuidedAnswer", (GuidedAnswer,), {"candidate_actor_ids": frozenset(actor_ids)})


@dataclass
class GuidedPlan(Plan):
    """The rules' items, shown to the model as candidates."""

    context: Context | None = None
    actors: list[Actor] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    claims: list[Claim] = field(default_factory=list)


class Guided:
    """Candidates as hints; the model drops, corrects and adds."""

    name: StrategyName = "guided"

    def plan(self, context: Context) -> GuidedPlan:
        """The rules' items, and one question listing them."""
        rules = Rules()
        actors, events, claims = rules.assemble(rules.plan(context), [])
        doc, prompt = context.document, context.prompt
        hints = _hints(actors, events, claims)
        system = prompt.render("system", **prompt_variables(doc))
        user = prompt.render("guided", candidates=hints, known=known_actors(context), **prompt_variables(doc))
        model = answer_model(tuple(a.id for a in actors))
        messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        return GuidedPlan(
            questions=[Question(model, messages)],
            context=context,
            actors=actors,
            events=events,
            claims=claims,
        )

    def assemble(self, plan: GuidedPlan, answers: Sequence[Any]) -> Items:
        """The candidates less the dropped, with the corrections and additions grounded."""
        assert plan.context is not None
        context = plan.context
        answer = answers[0]
        text = context.document.text
        grounder = Grounder(text, context.settings.fuzzy_threshold, avoided(text, context.blocked))
        candidate_ids = {a.id for a in plan.actors}
        new_actors, new_events, new_claims = records(
            answer,
            grounder,
            context.document.published,
            extra_actor_ids=candidate_ids,
            taken=[a for a in plan.actors if a.id not in set(answer.drop)],
            tally=context.tally,
        )
        dropped = set(answer.drop)
        events = _replace(plan.events, new_events, dropped)
        claims = _replace(plan.claims, new_claims, dropped)
        actors = _replace(plan.actors, new_actors, dropped)
        # A dropped actor that a kept item still names stays, so no reference dangles.
        named = {p.actor_id for e in events for p in e.participants} | {
            c.claimant for c in claims if c.claimant
        }
        actors += [
            a for a in plan.actors if a.id in dropped and a.id in named and a.id not in {x.id for x in actors}
        ]
        return actors, events, claims


def _replace(candidates: list[Any], answered: list[Any], dropped: set[str]) -> list[Any]:
    """Candidates not dropped (a corrected one in its place), then the new items."""
    by_id = {item.id: item for item in answered}
    kept = [by_id.pop(c.id, c) for c in candidates if c.id not in dropped or c.id in by_id]
    return kept + list(by_id.values())


def _hints(actors: list[Actor], events: list[Event], claims: list[Claim]) -> dict[str, list[dict[str, Any]]]:
    """The candidates as the prompt lists them."""
    return {
        "actors": [{"id": a.id, "name": a.name, "kind": a.kind} for a in actors],
        "events": [
            {
                "id": e.id,
                "trigger": e.trigger.quote,
                "sentence": e.summary,
                "type": e.type,
                "status": e.status,
                "date": e.date.expression if e.date else "none",
                "participants": ", ".join(f"{p.actor_id} {p.role}" for p in e.participants) or "none",
            }
            for e in events
        ],
        "claims": [
            {
                "id": c.id,
                "quote": c.evidence.quote,
                "claimant": c.claimant or "author",
                "polarity": c.polarity,
                "hedged": "hedged" if c.hedged else "not hedged",
            }
            for c in claims
        ],
    }
