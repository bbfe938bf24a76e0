"""Extraction strategies, one module each. Every strategy reads one text in three phases.

* **plan**: everything the text alone decides: candidates, the rules' answers, and the questions for
  the model, rendered from the prompt file;
* **ask**: the model answers every question of the plan; they are independent, so an asynchronous
  caller sends them at once (``run``);
* **assemble**: the records, each grounded in the text.

The caller owns the ask phase through an ``Ask`` callable: live requests (``ModelClient``), a
cassette, an oracle, or a store of OpenAI Batch API answers. Strategies never touch an endpoint.

``guided`` (for capable models): the rules' candidates as numbered hints, and one call that returns the
complete records, adding what the candidates missed. ``single``: one call with no hints. ``decomposed``
(for small models): the candidates decide what is found; small questions whose answers are enums of
them decide the rest. ``rules``: decomposed with every answer from the rules; no model.
"""

from __future__ import annotations

import asyncio
import typing
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel, create_model

from llm_extract._config import Settings
from llm_extract.prompts import Prompt
from llm_extract.schema import (
    Actor,
    ActorKind,
    Claim,
    Document,
    Event,
    EventStatus,
    EventType,
    GroundingMode,
    StrategyName,
)

__all__ = [
    "VOCABULARY",
    "Ask",
    "Context",
    "Items",
    "Plan",
    "Question",
    "Strategy",
    "Tally",
    "known_actors",
    "model_for",
    "prompt_variables",
    "run",
    "strategy_for",
]

Items = tuple[list[Actor], list[Event], list[Claim]]
Ask = Callable[[type[BaseModel], list[dict[str, str]]], Awaitable[BaseModel]]


@dataclass(frozen=True)
class Question:
    """One structured call: the response model the answer must validate against, and the messages."""

    model: type[BaseModel]
    messages: list[dict[str, str]]


@dataclass
class Tally:
    """What assembling left out and said so: model references to no actor, duplicate items."""

    dropped: int = 0


@dataclass(frozen=True)
class Context:
    """What a strategy reads: the text (a document or one chunk of it) and how to read it."""

    document: Document
    prompt: Prompt
    settings: Settings
    grounding: GroundingMode
    # Actors found in earlier chunks of the same document, so a chunk reuses their names.
    known: tuple[Actor, ...] = ()
    # Offsets of sentences addressed to a model (``injection``): never read as evidence.
    blocked: tuple[tuple[int, int], ...] = ()
    tally: Tally = field(default_factory=Tally)


@dataclass
class Plan:
    """What a strategy decided before asking: the questions, and whatever ``assemble`` needs."""

    questions: list[Question] = field(default_factory=list)


P = TypeVar("P", bound=Plan)


class Strategy(Protocol, Generic[P]):
    """A strategy: ``plan`` a text, then ``assemble`` records from the plan and the model's answers."""

    name: StrategyName

    def plan(self, context: Context) -> P:
        """Everything decided from the text, and the questions for the model."""

    def assemble(self, plan: P, answers: Sequence[Any]) -> Items:
        """Grounded records from the plan and one answer per question, in order."""


async def run(strategy: Strategy[Any], context: Context, ask: Ask, *, concurrent: bool = True) -> Items:
    """Plan, ask every question (all at once when ``concurrent``), assemble."""
    plan = strategy.plan(context)
    if concurrent and len(plan.questions) > 1:
        answers = await asyncio.gather(*(ask(q.model, q.messages) for q in plan.questions))
    else:
        # In order and one at a time: the sync path drives this coroutine without an event loop.
        answers = [await ask(q.model, q.messages) for q in plan.questions]
    return strategy.assemble(plan, list(answers))


def strategy_for(name: StrategyName) -> Strategy[Any]:
    """The strategy called ``name``."""
    from llm_extract.strategies import decomposed, guided, rules, single

    found: dict[str, Strategy[Any]] = {
        "guided": guided.Guided(),
        "single": single.Single(),
        "decomposed": decomposed.Decomposed(),
        "rules": rules.Rules(),
    }
    return found[name]


_MODELS: dict[tuple[str, str], type[BaseModel]] = {}


def model_for(name: str, **fields: Any) -> type[BaseModel]:
    """``create_model``, once per field spec (field order and Literal value order included)."""
    # A fresh class per question made every request rebuild its JSON schema and left garbage for the
    # collector. repr keeps the order of Literal values, which reaches the request; Literal equality
    # ignores it.
    key = (name, repr(tuple(fields.items())))
    model = _MODELS.get(key)
    if model is None:
        if len(_MODELS) > 4096:
            _MODELS.clear()
        model = _MODELS[key] = create_model(name, **fields)
    return model


def known_actors(context: Context) -> list[dict[str, Any]]:
    """Actors of earlier chunks as a prompt lists them: a K id to reuse, the name, the other names."""
    return [{"id": a.id, "name": a.name, "aliases": a.aliases} for a in context.known]


def prompt_variables(document: Document) -> dict[str, Any]:
    """The variables every prompt template may use: the document and the vocabularies."""
    return {"document": document, "vocabulary": VOCABULARY}


VOCABULARY = {
    "actor_kinds": typing.get_args(ActorKind),
    "event_types": typing.get_args(EventType),
    "event_statuses": typing.get_args(EventStatus),
}
