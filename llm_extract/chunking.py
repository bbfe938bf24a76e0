"""Split a long document into overlapping chunks, and merge the per-chunk extractions back into one.

Planning (``plan_chunks``): a document longer than ``max_chars`` is cut into windows of at most
``max_chars`` characters. A chunk ends, in order of preference, in a paragraph break (a line break
and the whitespace around it) in the second half of its window, in any gap between two sentences
(``segment.sentences``) in the second half, in any gap between sentences, after the last whitespace
before the limit, and only then hard at the limit. A chunk may end anywhere inside the whitespace
between sentences, so it can carry trailing whitespace. The next chunk starts at the start of a
sentence at least ``overlap_chars`` before the previous end when there is one (else at the first
sentence start after that point, else at a word start, else at that point), so the overlap is made
of whole sentences and a sentence no longer than ``max_chars`` lies wholly inside at least one
chunk. Every chunk starts after the previous one starts and ends after it ends, which bounds the
loop; consecutive chunks overlap or touch, so together they cover the text.

Offsets (``merge_chunks``): an extraction made on ``text[chunk.start:chunk.end]`` carries evidence
offsets relative to that chunk text. Merging adds ``chunk.start`` to every evidence that has
offsets, so the result indexes the full text; unmatched evidence has none and is kept as is.

Merging: ids are local to a part (A1 of one chunk and A1 of the next are unrelated until merged).

* Actors are one actor when their normalized names or aliases intersect, transitively. Normalizing
  folds like grounding (case, accents, quote marks, dashes), drops possessive "'s", turns
  punctuation into spaces, collapses spaces and drops a leading "the". The merged actor keeps the
  first-seen name, unless a later name of the group is longer and contains it word for word; the
  other names and all aliases become aliases (one per normalized form, never the name itself);
  mentions are de-duplicated by offsets and sorted (unmatched ones follow, one per quote); kind and
  title come from the first actor with a kind other than "other" / with a title.
* Participants and claimants are remapped to the merged actor ids; an actor appears once among an
  event's participants, with the first role given, except that a later specific role (agent, target)
  replaces the generic "participant".
* Events whose triggers have the same offsets are one event: the first reported, with the union of
  participants. Claims whose evidence has the same offsets are one claim: the first reported. Items
  without offsets are never merged (nothing says they are the same).
* Ids are renumbered in text order: actors A1.. by first grounded mention, events E1.. by trigger,
  claims C1.. by evidence; items without offsets follow in input order.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from llm_extract.candidates import body_role
from llm_extract.grounding import fold
from llm_extract.schema import Actor, Claim, Event, Evidence, Participant
from llm_extract.segment import sentences

__all__ = ["MIN_CHUNK_CHARS", "Chunk", "adopt_known", "known_so_far", "merge_chunks", "plan_chunks"]

# Below this a chunk holds too few sentences to extract from, and sentence-sized cuts stop fitting.
MIN_CHUNK_CHARS = 200

_WHITESPACE = re.compile(r"\s+")
_POSSESSIVE = re.compile(r"'s\b")
_PUNCTUATION = re.compile(r"[^\w\s]+")

_T = TypeVar("_T")


@dataclass(frozen=True)
class Chunk:
    """A window ``text[start:end]`` of the document (end exclusive), numbered from 0 in text order."""

    index: int
    start: int
    end: int


# --- planning --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Cuts:
    """Admissible cut positions: sorted, disjoint, closed intervals ``lows[i]..highs[i]``."""

    lows: tuple[int, ...]
    highs: tuple[int, ...]

    @classmethod
    def of(cls, intervals: Iterable[tuple[int, int]]) -> _Cuts:
        """Cuts from ``(low, high)`` pairs already in text order."""
        pairs = list(intervals)
        return cls(tuple(lo for lo, _ in pairs), tuple(hi for _, hi in pairs))

    def latest(self, lo: int, hi: int) -> int | None:
        """The largest admissible position in ``(lo, hi]``."""
        i = bisect.bisect_right(self.lows, hi) - 1
        if i < 0:
            return None
        position = min(self.highs[i], hi)
        return position if position > lo else None

    def latest_start(self, lo: int, hi: int) -> int | None:
        """The largest interval end (a sentence or word start) in ``(lo, hi]``."""
        i = bisect.bisect_right(self.highs, hi) - 1
        return self.highs[i] if i >= 0 and self.highs[i] > lo else None

    def earliest_start(self, lo: int, hi: int) -> int | None:
        """The smallest interval end (a sentence or word start) in ``(lo, hi]``."""
        i = bisect.bisect_right(self.highs, lo)
        return self.highs[i] if i < len(self.highs) and self.highs[i] <= hi else None


def _cut_levels(text: str) -> tuple[_Cuts, _Cuts, _Cuts]:
    """Paragraph breaks, gaps between sentences and whitespace runs of ``text``, as cuts."""
    gaps: list[tuple[int, int]] = []
    previous_end = 0
    for span in sentences(text):
        gaps.append((previous_end, span.start))
        previous_end = span.end
    gaps.append((previous_end, len(text)))
    # sentences() ends a sentence at every line break, so paragraph breaks are sentence gaps.
    paragraphs = [(lo, hi) for lo, hi in gaps if "\n" in text[lo:hi]]
    words = [(m.start(), m.end()) for m in _WHITESPACE.finditer(text)]
    return _Cuts.of(paragraphs), _Cuts.of(gaps), _Cuts.of(words)


def plan_chunks(text: str, max_chars: int, overlap_chars: int = 400) -> list[Chunk]:
    """Cut ``text`` into overlapping chunks of at most ``max_chars`` at paragraph or sentence breaks."""
    if max_chars < MIN_CHUNK_CHARS:
        raise ValueError(f"max_chars must be at least {MIN_CHUNK_CHARS}, got {max_chars}")
    if not 0 <= overlap_chars < max_chars // 2:
        raise ValueError(f"overlap_chars must be in [0, {max_chars // 2}), got {overlap_chars}")
    n = len(text)
    if n <= max_chars:
        return [Chunk(0, 0, n)]

    paragraphs, gaps, words = _cut_levels(text)
    chunks: list[Chunk] = []
    start = previous_end = 0
    while True:
        limit = start + max_chars
        end = n if limit >= n else _choose_end(start, previous_end, limit, max_chars, paragraphs, gaps, words)
        chunks.append(Chunk(len(chunks), start, end))
        if end == n:
            return chunks
        start, previous_end = _choose_start(start, end, overlap_chars, gaps, words), end


def _choose_end(
    start: int, floor: int, limit: int, max_chars: int, paragraphs: _Cuts, gaps: _Cuts, words: _Cuts
) -> int:
    # The end must pass the previous chunk's end (floor), or a chunk could repeat inside the last one.
    # A break in the first half of the window would make a short chunk: try the second half first.
    half = max(floor, start + max_chars // 2)
    for cuts, lo in ((paragraphs, half), (gaps, half), (gaps, floor), (words, floor)):
        position = cuts.latest(lo, limit)
        if position is not None:
            return position
    return limit


def _choose_start(previous_start: int, previous_end: int, overlap: int, gaps: _Cuts, words: _Cuts) -> int:
    target = previous_end - overlap
    for cuts in (gaps, words):
        # Whole units of at least `overlap` characters if possible, else as many as fit after the target.
        position = cuts.latest_start(previous_start, target)
        if position is None:
            position = cuts.earliest_start(max(previous_start, target), previous_end)
        if position is not None:
            return position
    # No word starts in the previous chunk (one word longer than the window): cut inside it, or touch.
    return target if target > previous_start else previous_end


# --- merging ---------------------------------------------------------------------------------------


def merge_chunks(
    text: str,
    parts: Sequence[tuple[Chunk, Sequence[Actor], Sequence[Event], Sequence[Claim]]],
    *,
    tally: Any = None,
) -> tuple[list[Actor], list[Event], list[Claim]]:
    """Shift per-chunk evidence to full-text offsets, merge duplicates, renumber ids.

    ``tally`` (anything with a ``dropped`` count) counts the duplicates found inside one part: a model
    that reported an item twice, as opposed to the overlap of two chunks.
    """
    actors: list[tuple[int, Actor]] = []  # (part number, actor with shifted mentions)
    for k, (chunk, part_actors, _, _) in enumerate(parts):
        if not 0 <= chunk.start <= chunk.end <= len(text):
            raise ValueError(f"chunk {chunk.index} [{chunk.start}, {chunk.end}) is outside the text")
        for actor in part_actors:
            mentions = [_shift(m, chunk) for m in actor.mentions]
            actors.append((k, actor.model_copy(update={"mentions": mentions})))

    merged_actors, actor_ids = _merge_actors(actors)

    events: list[Event] = []
    by_trigger: dict[tuple[int, int], int] = {}
    trigger_part: dict[tuple[int, int], int] = {}
    claims: list[Claim] = []
    by_evidence: dict[tuple[int, int, str | None], int] = {}
    evidence_part: dict[tuple[int, int, str | None], int] = {}
    for k, (chunk, _, part_events, part_claims) in enumerate(parts):
        for event in part_events:
            trigger = _shift(event.trigger, chunk)
            where = f"event {event.id}"
            participants = [
                Participant(actor_id=_resolve(actor_ids, k, p.actor_id, chunk, where), role=p.role)
                for p in event.participants
            ]
            key = _offsets(trigger)
            if key is not None and key in by_trigger:
                _count_duplicate(tally, trigger_part, key, k)
                first = events[by_trigger[key]]
                union = _union_participants(first.participants, participants)
                events[by_trigger[key]] = first.model_copy(update={"participants": union})
                continue
            if key is not None:
                by_trigger[key] = len(events)
                trigger_part[key] = k
            union = _union_participants([], participants)
            events.append(event.model_copy(update={"trigger": trigger, "participants": union}))
        for claim in part_claims:
            evidence = _shift(claim.evidence, chunk)
            claimant = None
            if claim.claimant is not None:
                claimant = _resolve(actor_ids, k, claim.claimant, chunk, f"claim {claim.id}")
            # Who says it is part of the claim: two claimants on one quote (a joint statement) are two.
            offsets = _offsets(evidence)
            said: tuple[int, int, str | None] | None = None if offsets is None else (*offsets, claimant)
            if said is not None and said in by_evidence:
                _count_duplicate(tally, evidence_part, said, k)
                continue
            if said is not None:
                by_evidence[said] = len(claims)
                evidence_part[said] = k
            claims.append(claim.model_copy(update={"evidence": evidence, "claimant": claimant}))

    # Participants and claimants still name the provisional ids; renumber everything in text order.
    ordered = _in_text_order(merged_actors, _first_mention)
    final = {actor.id: f"A{n}" for n, actor in enumerate(ordered, 1)}
    out_actors = [actor.model_copy(update={"id": final[actor.id]}) for actor in ordered]
    out_events = [
        e.model_copy(update={"id": f"E{n}", "participants": [_renamed(p, final) for p in e.participants]})
        for n, e in enumerate(_in_text_order(events, lambda e: _offsets(e.trigger)), 1)
    ]
    out_claims = [
        c.model_copy(update={"id": f"C{n}", "claimant": None if c.claimant is None else final[c.claimant]})
        for n, c in enumerate(_in_text_order(claims, lambda c: _offsets(c.evidence)), 1)
    ]
    return out_actors, out_events, out_claims


def _count_duplicate(tally: Any, first_part: dict[Any, int], key: Any, part: int) -> None:
    if tally is not None and first_part.get(key) == part:
        tally.dropped += 1


def _renamed(participant: Participant, ids: dict[str, str]) -> Participant:
    return participant.model_copy(update={"actor_id": ids[participant.actor_id]})


def _shift(evidence: Evidence, chunk: Chunk) -> Evidence:
    if evidence.start is None or evidence.end is None:
        return evidence
    if evidence.end > chunk.end - chunk.start:
        # Offsets past the chunk mean the caller passed full-text offsets already (or another chunk's).
        raise ValueError(
            f"chunk {chunk.index}: evidence {evidence.quote!r} at [{evidence.start}, {evidence.end}) "
            f"lies outside the chunk text of {chunk.end - chunk.start} characters"
        )
    start, end = evidence.start + chunk.start, evidence.end + chunk.start
    return evidence.model_copy(update={"start": start, "end": end})


def _offsets(evidence: Evidence) -> tuple[int, int] | None:
    if evidence.start is None or evidence.end is None:
        return None
    return evidence.start, evidence.end


def _first_mention(actor: Actor) -> tuple[int, int] | None:
    # Mentions are sorted by offsets with unmatched ones last, so the first is the earliest if any.
    return _offsets(actor.mentions[0]) if actor.mentions else None


def _in_text_order(items: list[_T], offsets_of: Callable[[_T], tuple[int, int] | None]) -> list[_T]:
    def key(numbered: tuple[int, _T]) -> tuple[bool, tuple[int, int], int]:
        n, item = numbered
        offsets = offsets_of(item)
        return offsets is None, offsets or (0, 0), n

    return [item for _, item in sorted(enumerate(items), key=key)]


def _resolve(ids: dict[tuple[int, str], str], part: int, local_id: str, chunk: Chunk, where: str) -> str:
    merged = ids.get((part, local_id))
    if merged is None:
        raise ValueError(f"chunk {chunk.index}: {where} names {local_id!r}, not an actor id of that chunk")
    return merged


def _union_participants(first: Sequence[Participant], more: Iterable[Participant]) -> list[Participant]:
    out = list(first)
    where = {p.actor_id: i for i, p in enumerate(out)}
    for p in more:
        i = where.get(p.actor_id)
        if i is None:
            where[p.actor_id] = len(out)
            out.append(p)
        elif out[i].role == "participant" and p.role != "participant":
            # "participant" is the unspecific default; a chunk that saw who acted on whom knows more.
            out[i] = p
    return out


def _normalize(name: str) -> str:
    # The form under which two actor names or aliases count as the same actor.
    folded = _POSSESSIVE.sub("", fold(name).text)
    words = _WHITESPACE.sub(" ", _PUNCTUATION.sub(" ", folded)).strip()
    return words.removeprefix("the ")


def _merge_actors(actors: list[tuple[int, Actor]]) -> tuple[list[Actor], dict[tuple[int, str], str]]:
    """Group actors sharing a normalized name or alias; return merged actors and (part, id) → new id."""
    parent = list(range(len(actors)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[str, int] = {}
    for i, (part, actor) in enumerate(actors):
        # An actor's own name always identifies it; an alias only when it is a proper name: "the
        # party" is an alias of two different parties in one article, "Pyongyang" of one state.
        forms = [actor.name, *(a for a in actor.aliases if _proper(a))]
        # A dict, not a set: iteration order must not depend on string hashing.
        for key in dict.fromkeys(k for k in map(_normalize, forms) if k):
            if key not in owner:
                owner[key] = i
                continue
            other_part, other = actors[owner[key]]
            if other_part == part and _normalize(other.name) != _normalize(actor.name):
                continue  # two actors of one answer are two actors, unless they are the same name twice
            a, b = root(i), root(owner[key])
            # The smaller index stays the root, so groups come out in first-seen order.
            parent[max(a, b)] = min(a, b)

    groups: dict[int, list[Actor]] = {}
    for i, (_, actor) in enumerate(actors):
        groups.setdefault(root(i), []).append(actor)
    provisional = {r: f"_{n}" for n, r in enumerate(groups)}
    ids: dict[tuple[int, str], str] = {}
    for i, (part, actor) in enumerate(actors):
        ids.setdefault((part, actor.id), provisional[root(i)])
    return [_merge_group(provisional[r], group) for r, group in groups.items()], ids


def _proper(form: str) -> bool:
    """A name rather than a description: a capital letter or a digit after any leading "the"."""
    words = form.split()
    rest = words[1:] if words and words[0].lower() == "the" else words
    return any(c.isupper() or c.isdigit() for c in "".join(rest))


def _merge_group(actor_id: str, group: list[Actor]) -> Actor:
    name = group[0].name
    for actor in group[1:]:
        short, long = _normalize(name), _normalize(actor.name)
        if len(actor.name) > len(name) and short and f" {short} " in f" {long} ":
            name = actor.name
    seen = {_normalize(name)}
    aliases: list[str] = []
    for candidate in (n for actor in group for n in [actor.name, *actor.aliases]):
        key = _normalize(candidate)
        if key and key not in seen:
            seen.add(key)
            aliases.append(candidate)
    grounded: dict[tuple[int, int], Evidence] = {}
    unmatched: dict[str, Evidence] = {}
    for mention in (m for actor in group for m in actor.mentions):
        offsets = _offsets(mention)
        if offsets is None:
            unmatched.setdefault(mention.quote, mention)
        else:
            grounded.setdefault(offsets, mention)
    return Actor(
        id=actor_id,
        name=name,
        kind=next((a.kind for a in group if a.kind != "other"), "other"),
        title=next((a.title for a in group if a.title is not None), None),
        aliases=aliases,
        mentions=[grounded[k] for k in sorted(grounded)] + list(unmatched.values()),
    )


# --- names across chunks ---------------------------------------------------------------------------


def known_so_far(
    text: str, parts: list[tuple[Chunk, list[Actor], list[Event], list[Claim]]]
) -> tuple[Actor, ...]:
    """The actors of the chunks so far, merged, under ids K1, K2, ... for the next chunk to reuse."""
    merged, _, _ = merge_chunks(text, parts)
    return tuple(a.model_copy(update={"id": f"K{n}"}) for n, a in enumerate(merged, 1))


def adopt_known(actors: list[Actor], known: tuple[Actor, ...]) -> list[Actor]:
    """A chunk's actor listed under a known K id takes that actor's names, so merging joins the two."""
    by_id = {a.id: a for a in known}
    adopted = []
    for actor in actors:
        earlier = by_id.get(actor.id) or _owner_of_short_name(actor, known)
        if earlier is not None:
            names = dict.fromkeys([*earlier.aliases, actor.name, *actor.aliases])
            names.pop(earlier.name, None)
            actor = actor.model_copy(update={"name": earlier.name, "aliases": list(names)})
        adopted.append(actor)
    return adopted


def _owner_of_short_name(actor: Actor, known: tuple[Actor, ...]) -> Actor | None:
    """The one known actor a short name or a role in a later chunk stands for.

    A model reading one chunk names an actor as that chunk does; the full name is in an earlier one:
    "Brekke" is "Ingrid Brekke" (a person's first or last name), "Idroalpi" is "Idroalpi SpA" (a
    body's first word), "the ministry" is the one known body with "ministry" in its name, and "the
    manufacturer" the one known organization. Two candidates ("Sam Okafor", "Margaret Okafor")
    leave it alone.
    """
    role = body_role(actor.name)
    words = actor.name.split()
    if role is not None:
        head, company = role
        owners = [
            a for a in known if (a.kind == "organization" if company else head in a.name.casefold().split())
        ]
    elif len(words) != 1:
        return None
    elif actor.kind == "person":
        owners = [a for a in known if a.kind == "person" and words[0].casefold() in _first_and_last(a.name)]
    elif actor.kind in ("organization", "government", "media", "other"):
        first = words[0].casefold()
        owners = [
            a
            for a in known
            if a.kind in ("organization", "government", "media") and _first_and_last(a.name)[:1] == (first,)
        ]
    else:
        return None
    return owners[0] if len(owners) == 1 else None


def _first_and_last(name: str) -> tuple[str, ...]:
    words = name.casefold().split()
    return (words[0], words[-1]) if len(words) > 1 else ()
