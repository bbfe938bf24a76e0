"""The linker's eval: gold actors of many fixtures, hand-labelled entity clusters, B-cubed and pairwise.

The linker is scored on *gold* actors, so its quality is measured apart from the extractor's. The
gold partition comes from a clusters file (``evals/linking/clusters.yaml``)::

    north-korea: [diplo-choe-st-petersburg#A2, diplo-kozhemyako-arms-denial#A3]
    selim-aksoy: [crossing-ankara-talks-announced#A2, crossing-baku-guarantees#A7]

Every actor not listed is an entity of its own. The same run scores the linker and the
normalized-exact-name baseline (``baseline_linking``), so the two numbers are always comparable.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from llm_extract.errors import FixtureError
from llm_extract.fixtures import Fixture, load_fixtures
from llm_extract.linking import Linking, baseline_linking, link_actors
from llm_extract.schema import Actor

__all__ = [
    "DEFAULT_CLUSTERS",
    "DEFAULT_FIXTURE_DIRS",
    "LinkingEval",
    "PartitionScores",
    "evaluate_linking",
    "gold_actors",
    "linking_markdown",
    "linking_table",
    "load_clusters",
    "score_partition",
]

DEFAULT_FIXTURE_DIRS = ("evals/fixtures", "evals/fixtures/test", "evals/linking/articles")
DEFAULT_CLUSTERS = "evals/linking/clusters.yaml"


@dataclass(frozen=True)
class PartitionScores:
    """How a predicted partition of actors agrees with the gold one."""

    bcubed_precision: float
    bcubed_recall: float
    bcubed_f1: float
    pairwise_precision: float
    pairwise_recall: float
    pairwise_f1: float
    predicted_pairs: int
    gold_pairs: int
    correct_pairs: int
    entities: int


@dataclass
class LinkingEval:
    """One eval run: the scores of each system on the same actors and gold clusters."""

    documents: int
    actors: int
    gold_entities: int
    gold_multi: int
    systems: dict[str, PartitionScores]
    links_by_rule: dict[str, int] = field(default_factory=dict)
    errors: dict[str, list[tuple[str, str]]] = field(default_factory=dict)


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def score_partition(predicted: Sequence[Sequence[str]], gold: Sequence[Sequence[str]]) -> PartitionScores:
    """B-cubed and pairwise precision, recall and F1 of ``predicted`` clusters against ``gold``.

    Both partitions must cover the same items. B-cubed averages, over items, the share of an item's
    predicted cluster that is in its gold cluster (precision) and the reverse (recall); pairwise
    counts pairs of items put together. Computed from the contingency table, so it is linear in the
    number of items.
    """
    pred_of = {item: i for i, cluster in enumerate(predicted) for item in cluster}
    gold_of = {item: j for j, cluster in enumerate(gold) for item in cluster}
    if set(pred_of) != set(gold_of):
        missing = sorted(set(pred_of) ^ set(gold_of))[:5]
        raise ValueError(f"the partitions cover different items, e.g. {missing}")
    cells = Counter((pred_of[item], gold_of[item]) for item in pred_of)
    pred_size = Counter(pred_of.values())
    gold_size = Counter(gold_of.values())
    n = len(pred_of) or 1
    bp = sum(c * c / pred_size[i] for (i, _), c in cells.items()) / n
    br = sum(c * c / gold_size[j] for (_, j), c in cells.items()) / n
    correct = sum(c * (c - 1) // 2 for c in cells.values())
    predicted_pairs = sum(s * (s - 1) // 2 for s in pred_size.values())
    gold_pairs = sum(s * (s - 1) // 2 for s in gold_size.values())
    pp = correct / predicted_pairs if predicted_pairs else 1.0
    pr = correct / gold_pairs if gold_pairs else 1.0
    return PartitionScores(
        bp, br, _f1(bp, br), pp, pr, _f1(pp, pr), predicted_pairs, gold_pairs, correct, len(pred_size)
    )


def load_clusters(path: str | Path, actor_keys: Iterable[str]) -> list[list[str]]:
    """The gold partition: the clusters file's entities, then every other actor alone.

    Raises ``FixtureError`` naming each member that is not a known actor or is listed twice.
    """
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise FixtureError(f"{path}: cannot read the clusters file: {exc}") from exc
    if not isinstance(raw, dict):
        raise FixtureError(f"{path}: must map each entity to a list of document_id#actor_id")
    known = list(actor_keys)
    known_set = set(known)
    problems: list[str] = []
    seen: dict[str, str] = {}
    clusters: list[list[str]] = []
    for entity, members in raw.items():
        if not isinstance(members, list) or not members:
            problems.append(f"{entity}: needs a non-empty list of members")
            continue
        for member in members:
            if member not in known_set:
                problems.append(f"{entity}: {member} is not an actor of the fixtures")
            elif member in seen:
                problems.append(f"{entity}: {member} is already in {seen[member]}")
            seen.setdefault(str(member), str(entity))
        clusters.append([str(m) for m in members if m in known_set])
    if problems:
        raise FixtureError(f"{path}: " + "; ".join(problems))
    return clusters + [[key] for key in known if key not in seen]


def gold_actors(fixtures: Iterable[Fixture]) -> list[tuple[str, Actor]]:
    """(document_id, actor) for every gold actor of the fixtures, in fixture order."""
    return [(f.id, a) for f in fixtures for a in f.gold.actors]


def evaluate_linking(
    fixture_dirs: Sequence[str | Path] = DEFAULT_FIXTURE_DIRS,
    clusters: str | Path = DEFAULT_CLUSTERS,
    *,
    systems: dict[str, Callable[[list[tuple[str, Actor]]], Linking]] | None = None,
) -> LinkingEval:
    """Score the linker and the exact-name baseline on the gold actors of ``fixture_dirs``."""
    fixtures = [f for d in fixture_dirs for f in load_fixtures(d)]
    repeated = [i for i, n in Counter(f.id for f in fixtures).items() if n > 1]
    if repeated:
        raise FixtureError(f"fixture ids repeated across directories: {', '.join(repeated)}")
    actors = gold_actors(fixtures)
    keys = [f"{doc}#{a.id}" for doc, a in actors]
    gold = load_clusters(clusters, keys)
    systems = systems or {"exact-name baseline": baseline_linking, "linker": link_actors}
    scores: dict[str, PartitionScores] = {}
    errors: dict[str, list[tuple[str, str]]] = {}
    links_by_rule: dict[str, int] = {}
    names = {f"{doc}#{a.id}": a.name for doc, a in actors}
    for name, system in systems.items():
        linking = system(actors)
        predicted = linking.clusters()
        scores[name] = score_partition(predicted, gold)
        errors[name] = _errors(predicted, gold, names)
        if name == "linker":
            links_by_rule = dict(Counter(link.rule for link in linking.links))
    return LinkingEval(
        documents=len(fixtures),
        actors=len(actors),
        gold_entities=len(gold),
        gold_multi=sum(1 for c in gold if len(c) > 1),
        systems=scores,
        links_by_rule=links_by_rule,
        errors=errors,
    )


def _errors(
    predicted: Sequence[Sequence[str]], gold: Sequence[Sequence[str]], names: dict[str, str]
) -> list[tuple[str, str]]:
    """Wrongly joined and wrongly split pairs, as readable ("joined"/"split", "a ~ b") rows."""
    gold_of = {item: j for j, cluster in enumerate(gold) for item in cluster}
    pred_of = {item: i for i, cluster in enumerate(predicted) for item in cluster}
    rows: list[tuple[str, str]] = []
    for cluster in predicted:
        for x, a in enumerate(cluster):
            rows += [
                ("joined", f"{a} {names[a]!r} ~ {b} {names[b]!r}")
                for b in cluster[x + 1 :]
                if gold_of[a] != gold_of[b]
            ]
    for cluster in gold:
        for x, a in enumerate(cluster):
            rows += [
                ("split", f"{a} {names[a]!r} ~ {b} {names[b]!r}")
                for b in cluster[x + 1 :]
                if pred_of[a] != pred_of[b]
            ]
    return rows


def linking_table(result: LinkingEval) -> object:
    """A rich table of the eval: one row per system, B-cubed and pairwise P/R/F1."""
    from rich.table import Table

    table = Table(
        title=f"actor linking · {result.documents} documents · {result.actors} gold actors · "
        f"{result.gold_entities} gold entities ({result.gold_multi} in more than one document)"
    )
    table.add_column("system")
    for column in (
        "B³ P",
        "B³ R",
        "B³ F1",
        "pair P",
        "pair R",
        "pair F1",
        "pairs (correct/pred/gold)",
        "entities",
    ):
        table.add_column(column, justify="right")
    for name, s in result.systems.items():
        table.add_row(
            name,
            *(f"{100 * v:.1f}" for v in (s.bcubed_precision, s.bcubed_recall, s.bcubed_f1)),
            *(f"{100 * v:.1f}" for v in (s.pairwise_precision, s.pairwise_recall, s.pairwise_f1)),
            f"{s.correct_pairs}/{s.predicted_pairs}/{s.gold_pairs}",
            str(s.entities),
        )
    return table


def linking_markdown(result: LinkingEval) -> str:
    """The eval as a Markdown table (for docs and pull requests)."""
    lines = [
        f"{result.documents} documents, {result.actors} gold actors, {result.gold_entities} gold entities "
        f"({result.gold_multi} in more than one document).",
        "",
        "| system | B³ P | B³ R | B³ F1 | pairwise P | pairwise R | pairwise F1 "
        "| pairs correct / predicted / gold |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, s in result.systems.items():
        cells = [
            f"{100 * v:.1f}"
            for v in (
                s.bcubed_precision,
                s.bcubed_recall,
                s.bcubed_f1,
                s.pairwise_precision,
                s.pairwise_recall,
                s.pairwise_f1,
            )
        ]
        lines.append(
            f"| {name} | "
            + " | ".join(cells)
            + f" | {s.correct_pairs} / {s.predicted_pairs} / {s.gold_pairs} |"
        )
    return "\n".join(lines) + "\n"
