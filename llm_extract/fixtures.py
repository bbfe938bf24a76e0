"""Hand-labelled eval fixtures: one YAML file per article, its gold actors, events and claims.

A fixture file (see ``evals/GUIDELINES.md`` for how to label one)::

    id: biz-port-strike          # optional; must equal the file name's stem
    domain: business             # free text; reports group by it
    title: Dockworkers walk out  # optional
    published: 2025-03-04        # optional; relative dates resolve against it
    tags: [denial, relative-date]
    text: |
      The article, exactly as the model will see it ...
    gold:
      actors:
        - {id: A1, name: ..., kind: organization, aliases: [...], mentions: ["quote", ...]}
      events:
        - {id: E1, type: protest, trigger: "walked out", status: occurred,
           participants: [{actor_id: A1, role: agent}],
           date: {expression: on Monday, value: 2025-03-03, precision: day, relative: true}}
      claims:
        - {id: C1, claimant: A1, polarity: asserted, hedged: false, statement: ..., evidence: "quote"}

Evidence (a mention, trigger or claim evidence) is written either as the quote alone, which must then
occur exactly once in the text, or as ``{quote: ..., start: N}`` when it occurs more than once. Loading
resolves every quote to offsets and checks it against the text, so a gold item can never be ungrounded.

A fixture directory has two splits: **dev**, the files directly in it, which prompts and rules are
tuned on, and **test**, the files in its ``test/`` folder, held out to measure them. ``split="all"``
is both, dev first.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from llm_extract.errors import FixtureError
from llm_extract.schema import Actor, Claim, Document, Event, check_references

__all__ = [
    "SPLITS",
    "Fixture",
    "GoldLabels",
    "Split",
    "check_fixtures",
    "fixture_splits",
    "load_fixture",
    "load_fixtures",
    "split_directory",
]

Split = Literal["dev", "test", "all"]
# The splits a fixture directory holds, in order; "all" is both of them.
SPLITS: tuple[Literal["dev", "test"], ...] = ("dev", "test")
_TEST_DIR = "test"

_KEYS = {"id", "domain", "title", "published", "tags", "notes", "text", "gold"}
_PARTIAL_DATE = {"day": r"\d{4}-\d{2}-\d{2}", "month": r"\d{4}-\d{2}", "year": r"\d{4}"}


class GoldLabels(BaseModel):
    """The gold actors, events and claims of one fixture, in the output schema's own models."""

    model_config = ConfigDict(extra="forbid")

    actors: list[Actor] = Field(default_factory=list)
    events: list[Event] = Field(default_factory=list)
    claims: list[Claim] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> GoldLabels:
        for kind, items in (("actor", self.actors), ("event", self.events), ("claim", self.claims)):
            repeated = [i for i, n in Counter(item.id for item in items).items() if n > 1]
            if repeated:
                raise ValueError(f"repeated {kind} id(s): {', '.join(repeated)}")
        for actor in self.actors:
            if not actor.mentions:
                raise ValueError(f"actor {actor.id} needs at least one mention")
        for event in self.events:
            if event.date and event.date.value:
                pattern = _PARTIAL_DATE.get(event.date.precision or "", r"\d{4}(-\d{2}){0,2}")
                if not re.fullmatch(pattern, event.date.value):
                    raise ValueError(
                        f"event {event.id}: date value {event.date.value!r} does not fit precision "
                        f"{event.date.precision!r}"
                    )
        check_references(self)
        return self


class Fixture(BaseModel):
    """One labelled article: the document the extractor sees and the gold labels it is scored on."""

    model_config = ConfigDict(extra="forbid")

    id: str
    domain: str = "unspecified"
    title: str | None = None
    published: date | None = None
    tags: list[str] = Field(default_factory=list)
    notes: str | None = None
    text: str
    gold: GoldLabels

    @property
    def document(self) -> Document:
        """The fixture as the extractor's input: id, text, title and publication date."""
        return Document(id=self.id, text=self.text, title=self.title, published=self.published)


class _Loader(yaml.SafeLoader):
    """YAML without implicit timestamps: dates stay strings, so pydantic parses them as declared."""


def _mapping(loader: _Loader, node: yaml.MappingNode) -> dict[Any, Any]:
    # PyYAML keeps the last of two equal keys; two `actors:` blocks would silently lose labels.
    keys = [loader.construct_object(key) for key, _ in node.value]
    repeated = sorted({str(k) for k in keys if keys.count(k) > 1})
    if repeated:
        raise yaml.constructor.ConstructorError(
            None, None, f"repeated key(s) {', '.join(repeated)}", node.start_mark
        )
    return loader.construct_mapping(node)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
_Loader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass
class _Resolver:
    """Turns the shorthand evidence of a fixture file into offsets, collecting every problem."""

    text: str
    problems: list[str]

    def evidence(self, raw: Any, where: str) -> dict[str, Any] | None:
        if isinstance(raw, str):
            quote, start = raw, None
        elif (
            isinstance(raw, dict)
            and isinstance(raw.get("quote"), str)
            and set(raw) <= {"quote", "start", "end"}
        ):
            quote, start = raw["quote"], raw.get("start")
        else:
            self.problems.append(
                f"{where}: evidence must be a quote or {{quote: ..., start: N}}, not {raw!r}"
            )
            return None
        if not quote or quote != quote.strip():
            self.problems.append(f"{where}: quote {quote!r} is empty or has surrounding whitespace")
            return None
        if start is None:
            found = [m.start() for m in re.finditer(re.escape(quote), self.text)]
            if len(found) != 1:
                where_found = f"at {', '.join(map(str, found[:8]))}" if found else "nowhere"
                self.problems.append(
                    f"{where}: quote {quote!r} occurs {len(found)} times ({where_found}); "
                    + ("give start" if found else "copy it exactly from the text")
                )
                return None
            start = found[0]
        if not isinstance(start, int) or self.text[start : start + len(quote)] != quote:
            found = [m.start() for m in re.finditer(re.escape(quote), self.text)]
            self.problems.append(
                f"{where}: quote {quote!r} is not at offset {start!r} (it occurs at {found or 'no offset'})"
            )
            return None
        end = start + len(quote)
        if isinstance(raw, dict) and raw.get("end", end) != end:
            self.problems.append(f"{where}: end {raw['end']} should be {end} for quote {quote!r}")
            return None
        return {"quote": quote, "start": start, "end": end, "alignment": "exact", "score": 100.0}

    def labels(self, gold: Any) -> dict[str, Any]:
        if not isinstance(gold, dict) or not set(gold) <= {"actors", "events", "claims"}:
            self.problems.append("gold: must be a mapping with actors, events and claims")
            return {}
        out: dict[str, Any] = {}
        for key, field in (("actors", "mentions"), ("events", "trigger"), ("claims", "evidence")):
            items = gold.get(key) or []
            if not isinstance(items, list):
                self.problems.append(f"gold.{key}: must be a list")
                continue
            out[key] = []
            for n, item in enumerate(items):
                if not isinstance(item, dict):
                    self.problems.append(f"gold.{key}[{n}]: must be a mapping")
                    continue
                where = f"gold.{key}[{n}] ({item.get('id', 'no id')}).{field}"
                item = dict(item)
                if field == "mentions":
                    mentions = item.get("mentions") or []
                    resolved = [self.evidence(m, f"{where}[{i}]") for i, m in enumerate(mentions)]
                    item["mentions"] = [m for m in resolved if m is not None]
                elif field in item:
                    item[field] = self.evidence(item[field], where)
                out[key].append(item)
        return out


def load_fixture(path: str | Path) -> Fixture:
    """Load and check one fixture file; raise ``FixtureError`` listing every problem found."""
    fixture, problems = _load(Path(path))
    if fixture is None or problems:
        raise FixtureError(f"{path}: " + "; ".join(problems), document_id=Path(path).stem)
    return fixture


def load_fixtures(directory: str | Path, split: Split | None = None) -> list[Fixture]:
    """Load every ``*.yaml`` fixture in ``directory``, sorted by id; raise on the first bad file.

    ``split``: None or ``dev``, the files directly in ``directory``; ``test``, those in its ``test/``
    folder; ``all``, both (dev first, each sorted by id), every split the directory has.
    """
    if split == "all":
        splits = fixture_splits(directory)
        if not splits:
            raise FixtureError(f"no fixture files (*.yaml) in {directory} or {Path(directory) / _TEST_DIR}")
        fixtures = [f for s in splits for f in load_fixtures(directory, s)]
        ids = [f.id for f in fixtures]
        if repeated := sorted({i for i in ids if ids.count(i) > 1}):
            raise FixtureError(f"fixture id(s) in both splits of {directory}: {', '.join(repeated)}")
        return fixtures
    paths = _paths(split_directory(directory, split or "dev"))
    return [load_fixture(p) for p in paths]


def split_directory(directory: str | Path, split: str) -> Path:
    """Where the fixtures of ``split`` (dev or test) live in ``directory``."""
    if split not in SPLITS:
        choices = ", ".join((*SPLITS, *(s for s in get_args(Split) if s not in SPLITS)))
        raise FixtureError(f"unknown split {split!r} (choose from {choices})")
    return Path(directory) if split == "dev" else Path(directory) / _TEST_DIR


def fixture_splits(directory: str | Path) -> list[Literal["dev", "test"]]:
    """The splits that have fixture files in ``directory``: ``dev``, ``test``, both or neither."""
    return [
        s
        for s in SPLITS
        if (d := split_directory(directory, s)).is_dir()
        and any(p.suffix in (".yaml", ".yml") for p in d.iterdir())
    ]


def check_fixtures(directory: str | Path) -> Iterator[tuple[Path, list[str]]]:
    """Check every fixture file in ``directory``: yields each path with its problems (empty if fine)."""
    for path in _paths(Path(directory)):
        fixture, problems = _load(path)
        yield path, problems if fixture is not None or problems else ["could not be loaded"]


def _paths(directory: Path) -> list[Path]:
    if not directory.is_dir():
        raise FixtureError(f"fixture directory {directory} does not exist")
    paths = sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml"))
    if not paths:
        raise FixtureError(f"no fixture files (*.yaml) in {directory}")
    return paths


def _load(path: Path) -> tuple[Fixture | None, list[str]]:
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506 (a safe loader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        return None, [f"cannot read: {exc}"]
    if not isinstance(raw, dict):
        return None, ["not a YAML mapping"]
    problems: list[str] = []
    unknown = set(raw) - _KEYS
    if unknown:
        problems.append(f"unknown key(s): {', '.join(sorted(unknown))}")
    raw.setdefault("id", path.stem)
    if raw["id"] != path.stem:
        problems.append(f"id {raw['id']!r} must equal the file name {path.stem!r}")
    text = raw.get("text")
    if not isinstance(text, str) or not text.strip():
        return None, [*problems, "text is missing or empty"]
    resolver = _Resolver(text, problems)
    raw["gold"] = resolver.labels(raw.get("gold") or {})
    try:
        fixture = Fixture.model_validate({k: v for k, v in raw.items() if k in _KEYS})
    except ValidationError as exc:
        problems.extend(
            f"{'.'.join(map(str, e['loc'])) or 'fixture'}: {e['msg']}" for e in exc.errors(include_url=False)
        )
        return None, problems
    return fixture, problems
