"""``single``: one call with the whole nested schema (``DraftExtraction``), no hints.

Grounding ``aligned`` (the default): the model quotes, ``drafts`` finds the quotes. ``constrained``:
events and claims also name the id of their sentence from an ``enum`` of the document's sentence ids,
so the search is confined to that sentence (a claim's quotation may run on into the next one);
documents with more than ``MAX_ENUM`` sentences fall back to aligned quotes. Ids, not sentence
strings: llama.cpp's grammar compiler fails on enum strings that contain quotes.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field, create_model

from llm_extract.candidates import is_headline
from llm_extract.prompts import close_article
from llm_extract.schema import DraftClaim, DraftEvent, DraftExtraction, StrategyName
from llm_extract.segment import Span, sentences
from llm_extract.strategies import Context, Items, Plan, Question, known_actors, prompt_variables
from llm_extract.strategies.drafts import Grounder, records

__all__ = ["MAX_ENUM", "Single", "SinglePlan", "avoided", "constrained_model", "numbered_sentences"]

# OpenAI structured outputs cap enum sizes; beyond this many sentences constrained mode falls back.
MAX_ENUM = 250


@dataclass
class SinglePlan(Plan):
    """The one question, and what grounding its answer needs."""

    context: Context | None = None
    sentences: dict[str, Span] | None = None


class Single:
    """One call; the model reports everything it finds, with quotes."""

    name: StrategyName = "single"

    def plan(self, context: Context) -> SinglePlan:
        """Render the one question (with numbered sentences under constrained grounding)."""
        doc, prompt = context.document, context.prompt
        system = prompt.render("system", **prompt_variables(doc))
        ids = numbered_sentences(doc.text) if context.grounding == "constrained" else None
        if ids is not None:
            system += _sentence_list(ids)
        user = prompt.render(
            "user", examples=list(prompt.examples), known=known_actors(context), **prompt_variables(doc)
        )
        model = constrained_model(tuple(ids)) if ids is not None else DraftExtraction
        messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        return SinglePlan(questions=[Question(model, messages)], context=context, sentences=ids)

    def assemble(self, plan: SinglePlan, answers: Sequence[Any]) -> Items:
        """Ground the answer's quotes."""
        assert plan.context is not None
        context = plan.context
        grounder = Grounder(
            context.document.text,
            context.settings.fuzzy_threshold,
            avoided(context.document.text, context.blocked),
        )
        return records(
            answers[0], grounder, context.document.published, sentences=plan.sentences, tally=context.tally
        )


def numbered_sentences(text: str) -> dict[str, Span] | None:
    """Sentence id (S1, S2, ...) -> span, or None when there are too many for an enum."""
    spans = sentences(text)
    return {f"S{i + 1}": span for i, span in enumerate(spans)} if len(spans) <= MAX_ENUM else None


def _sentence_list(ids: dict[str, Span]) -> str:
    # The article's words again, so they pass the same filter as inside <article>: no line of it
    # can close the data block.
    lines = "\n".join(f"{k}: {close_article(' '.join(v.text.split()))}" for k, v in ids.items())
    return f"\n\nSentences by id:\n{lines}"


def avoided(text: str, blocked: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Where a quote is looked for last: the headline (it repeats the body's words) and instructions."""
    spans = list(blocked)
    first_line = text.split("\n", 1)[0]
    if first_line.strip() and is_headline(Span(0, len(first_line), first_line)):
        spans.append((0, len(first_line)))
    return spans


@functools.lru_cache(maxsize=MAX_ENUM + 1)
def constrained_model(sentence_ids: tuple[str, ...]) -> type[BaseModel]:
    """A draft schema whose events and claims name their sentence from an enum of sentence ids."""
    # The ids are S1..Sn, so documents with as many sentences share one class: its tool schema is built
    # once (client._tool_request caches it per class).
    sentence_id = Literal[sentence_ids]  # type: ignore[valid-type]
    event = create_model(
        "DraftEvent",
        __base__=DraftEvent,
        sentence=(sentence_id, Field(description="id of the sentence in which the trigger names the event")),
    )
    claim = create_model(
        "DraftClaim",
        __base__=DraftClaim,
        sentence=(sentence_id, Field(description="id of the sentence where the claim's quote starts")),
    )
    return create_model(
        "DraftExtraction", __base__=DraftExtraction, events=(list[event], ...), claims=(list[claim], ...)
    )
