"""Candidate recall: the share of gold items some candidate covers, the ceiling of choosing among them.

The candidate layer proposes more than the rules keep: every name and acting noun phrase, every
predicate that may name an event (``events``), every claim clause and every other sentence as a
possible claim of the author. A strategy that only chooses among candidates (``decomposed``) can find
no gold item none of them covers; ``guided`` can (its model adds what the candidates miss).

Covered means what the scorer calls a pair: a candidate that matches the gold item exactly or
partially (``evaluate``: names for actors, overlapping spans for events and claims).
"""

from __future__ import annotations

from collections.abc import Iterable

from llm_extract.candidates import actor_candidates, claim_spans, is_headline, sentence_cues
from llm_extract.events import event_candidates
from llm_extract.fixtures import Fixture
from llm_extract.grounding import exact
from llm_extract.injection import instruction_spans
from llm_extract.schema import Claim, Document, Event, Extraction, RunMetadata
from llm_extract.segment import Span, sentences

__all__ = ["candidate_recall", "propose"]

_META = RunMetadata(
    prompt_name="candidates",
    prompt_version="-",
    prompt_hash="-",
    model="candidates",
    endpoint="none",
    strategy="rules",
    grounding="constrained",
)


def propose(document: Document) -> Extraction:
    """Every candidate of ``document`` as an extraction (kinds, types and claimants left open)."""
    text = document.text
    every = sentences(text)
    blocked = set(instruction_spans(text, every))
    spans = [s for s in every if (s.start, s.end) not in blocked and not is_headline(s)]
    actors = [
        c.to_actor(text)
        for c in actor_candidates(text, [s for s in every if (s.start, s.end) not in blocked])
    ]
    events = [
        Event(id=f"E{n}", trigger=exact(text, c.start, c.end))
        for n, c in enumerate((c for s in spans for c in event_candidates(s)), 1)
    ]
    clauses = [span for s in spans for span in _clauses(s)]
    claims = [
        Claim(id=f"C{n}", statement=text[s:e], evidence=exact(text, s, e))
        for n, (s, e) in enumerate(clauses, 1)
    ]
    return Extraction(document_id=document.id, actors=actors, events=events, claims=claims, metadata=_META)


def _clauses(sentence: Span) -> list[tuple[int, int]]:
    """The claim clauses of a claim sentence; any other sentence as a possible claim of the author."""
    cues = sentence_cues(sentence)
    return claim_spans(sentence, authored=cues.authored or not cues.claim)


def candidate_recall(fixtures: Iterable[Fixture]) -> dict[str, float]:
    """Per type, the share of gold items that some candidate matches (exactly or in part)."""
    from llm_extract.evaluate import evaluate  # scipy: only when measured

    items = list(fixtures)
    report = evaluate([propose(f.document) for f in items], items)
    out = {}
    for item_type, scores in report.types.items():
        counts = scores.counts
        out[item_type] = (counts.exact + counts.partial) / counts.gold if counts.gold else 1.0
    return out
