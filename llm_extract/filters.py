"""What an extraction keeps: nothing resting on instructions to a model; optionally nothing ungrounded.

Both filters keep references whole: an actor that a kept event or claim still names stays, flagged
(and, when its only mentions were inside an instruction, without them: ungrounded).
"""

from __future__ import annotations

from collections.abc import Sequence

from llm_extract.schema import Actor, Claim, Event, Evidence

__all__ = ["drop_unmatched", "outside"]

Items = tuple[list[Actor], list[Event], list[Claim]]


def outside(
    text: str,
    blocked: Sequence[tuple[int, int]],
    actors: list[Actor],
    events: list[Event],
    claims: list[Claim],
) -> Items:
    """Remove what rests on sentences addressed to a model (a prompt injection in the article)."""
    instructions = [text[lo:hi] for lo, hi in blocked]

    def touches(evidence: Evidence) -> bool:
        # Touching the instruction at all is enough: a quote running on from it is its payload.
        s, e = evidence.start, evidence.end
        if s is None or e is None:
            # Not placed (say, the quote did not fit its statement), yet copied from the instruction.
            quote = evidence.quote.strip()
            return len(quote) > 3 and any(quote in instruction for instruction in instructions)
        return any(s < hi and lo < e for lo, hi in blocked)

    events = [e for e in events if not touches(e.trigger)]
    claims = [c for c in claims if not touches(c.evidence)]
    referenced = _referenced(events, claims)
    kept = []
    for actor in actors:
        mentions = [m for m in actor.mentions if not touches(m)]
        if mentions or not actor.mentions or actor.id in referenced:
            # An actor named only inside the instruction stays only to keep a reference whole, and
            # then without those mentions: ungrounded, never reported as found in the text.
            kept.append(actor.model_copy(update={"mentions": mentions}))
    return kept, events, claims


def drop_unmatched(actors: list[Actor], events: list[Event], claims: list[Claim]) -> Items:
    """Drop ungrounded items; an ungrounded actor that others reference stays, flagged."""
    events = [e for e in events if e.grounded]
    claims = [c for c in claims if c.grounded]
    referenced = _referenced(events, claims)
    actors = [
        a.model_copy(update={"mentions": [m for m in a.mentions if m.grounded] or a.mentions})
        for a in actors
        if a.grounded or a.id in referenced
    ]
    return actors, events, claims


def _referenced(events: list[Event], claims: list[Claim]) -> set[str]:
    return {p.actor_id for e in events for p in e.participants} | {c.claimant for c in claims if c.claimant}
