"""The cross-document actor linker: each rule, each constraint, blocking, and its eval on gold clusters."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from corpus_helpers import CLUSTERS, FIXTURE_DIRS

from llm_extract.cli import main
from llm_extract.errors import FixtureError
from llm_extract.linking import Linking, baseline_linking, link_actors
from llm_extract.linking_eval import evaluate_linking, load_clusters, score_partition
from llm_extract.schema import Actor, ActorKind


def actor(actor_id: str, name: str, kind: ActorKind, *aliases: str, title: str | None = None) -> Actor:
    return Actor(id=actor_id, name=name, kind=kind, aliases=list(aliases), title=title)


def together(linking: Linking, a: str, b: str) -> bool:
    entity = linking.entity_by_key()
    return entity[a].id == entity[b].id


def member(linking: Linking, key: str) -> tuple[str, float, str]:
    found = next(m for e in linking.entities for m in e.members if m.key == key)
    return found.rule, found.score, found.evidence


def test_capital_metonyms_and_official_names_link_countries() -> None:
    linking = link_actors(
        [
            ("d1", actor("A1", "North Korea", "country")),
            ("d2", actor("A1", "Pyongyang", "country")),
            ("d3", actor("A2", "Democratic People's Republic of Korea", "country")),
            ("d4", actor("A1", "South Korea", "country", "Seoul")),
            ("d5", actor("A1", "Seoul", "country")),
        ]
    )
    assert together(linking, "d1#A1", "d2#A1")
    assert together(linking, "d1#A1", "d3#A2")
    assert together(linking, "d4#A1", "d5#A1")
    assert not together(linking, "d1#A1", "d4#A1")
    rule, score, evidence = member(linking, "d2#A1")
    assert rule == "country"
    assert score == 0.95
    assert "North Korea (KP)" in evidence
    entity = linking.entity_by_key()["d2#A1"]
    assert entity.name == "North Korea"
    assert entity.kind == "country"


def test_a_capital_named_as_a_place_kind_is_not_a_country() -> None:
    # A person called "Lisbon" or a company called "Moscow Exchange" never becomes a state.
    linking = link_actors(
        [
            ("d1", actor("A1", "Portugal", "country")),
            ("d2", actor("A1", "Lisbon", "person")),
            ("d3", actor("A1", "Moscow Exchange", "organization")),
            ("d4", actor("A1", "Russia", "country")),
        ]
    )
    assert not together(linking, "d1#A1", "d2#A1")
    assert not together(linking, "d3#A1", "d4#A1")


def test_titles_are_dropped_and_surnames_link_within_and_across_documents() -> None:
    linking = link_actors(
        [
            ("d1", actor("A1", "President Vladimir Putin", "person")),
            ("d2", actor("A1", "Vladimir Putin", "person")),
            ("d3", actor("A1", "Kremlin spokesman Dmitry Peskov", "person", title="Kremlin spokesman")),
            ("d4", actor("A1", "Dmitry Peskov", "person")),
            # A rules extractor may report the surname as its own actor next to the full name.
            ("d5", actor("A1", "Sergei Shoigu", "person")),
            ("d5", actor("A2", "Shoigu", "other")),
            ("d6", actor("A1", "Shoigu", "person")),
        ]
    )
    assert together(linking, "d1#A1", "d2#A1")
    assert member(linking, "d1#A1")[0] == "title"
    assert together(linking, "d3#A1", "d4#A1")
    assert together(linking, "d5#A1", "d5#A2")
    assert member(linking, "d5#A2")[0] == "short-in-document"
    assert together(linking, "d5#A1", "d6#A1")
    rule, score, evidence = member(linking, "d6#A1")
    assert rule == "short-form"
    assert score == 0.75
    assert "Sergei Shoigu" in evidence


def test_a_surname_owned_by_two_people_links_to_neither() -> None:
    linking = link_actors(
        [
            ("d1", actor("A1", "Margaret Okafor", "person")),
            ("d2", actor("A1", "Sam Okafor", "person")),
            ("d3", actor("A1", "Okafor", "person")),
        ]
    )
    assert len(linking.entity_by_key()["d3#A1"].members) == 1
    assert linking.stats["ambiguous_short_forms"] == 1


def test_acronyms_link_to_the_one_name_they_abbreviate() -> None:
    linking = link_actors(
        [
            ("d1", actor("A1", "Korean Central News Agency", "media")),
            ("d2", actor("A1", "KCNA", "media")),
            ("d3", actor("A1", "Organization for Security and Co-operation in Europe", "organization")),
            ("d4", actor("A1", "OSCE", "organization")),
            ("d5", actor("A1", "World Health Organization", "organization", "WHO")),
            ("d6", actor("A1", "WHO", "organization")),
        ]
    )
    assert together(linking, "d1#A1", "d2#A1")
    assert "acronym" in member(linking, "d2#A1")[2]
    assert together(linking, "d3#A1", "d4#A1")
    assert together(linking, "d5#A1", "d6#A1")


def test_kinds_constrain_links() -> None:
    linking = link_actors(
        [
            ("d1", actor("A1", "Halvorsen Shipping", "organization")),
            ("d2", actor("A1", "Tom Halvorsen", "person")),
            ("d3", actor("A1", "Halvorsen", "organization")),
            ("d4", actor("A1", "Halvorsen", "person")),
            ("d5", actor("A1", "Jordan", "country")),
            ("d6", actor("A1", "Jordan", "person")),
        ]
    )
    assert together(linking, "d1#A1", "d3#A1")  # the company's short name goes to the company
    assert together(linking, "d2#A1", "d4#A1")  # the surname goes to the person
    assert not together(linking, "d1#A1", "d2#A1")
    assert not together(linking, "d5#A1", "d6#A1")


def test_groups_and_common_nouns_never_link_but_the_baseline_joins_them() -> None:
    pairs = [
        ("d1", actor("A1", "analysts", "group")),
        ("d2", actor("A1", "analysts", "group")),
        ("d3", actor("A1", "city council", "government")),
        ("d4", actor("A1", "city council", "government")),
    ]
    linking = link_actors(pairs)
    assert len(linking.entities) == 4
    assert len(baseline_linking(pairs).entities) == 2


def test_bodies_of_different_countries_stay_apart() -> None:
    linking = link_actors(
        [
            ("d1", actor("A1", "North Korea’s foreign ministry", "government")),
            ("d2", actor("A1", "South Korea’s foreign ministry", "government")),
            ("d3", actor("A1", "North Korea's foreign ministry", "government")),
        ]
    )
    assert not together(linking, "d1#A1", "d2#A1")
    assert together(linking, "d1#A1", "d3#A1")  # curly and straight apostrophes are one name


def test_transliterations_link_but_other_people_do_not() -> None:
    linking = link_actors(
        [
            ("d1", actor("A1", "Sergei Shoigu", "person")),
            ("d2", actor("A1", "Sergey Shoygu", "person")),
            ("d3", actor("A1", "Ingrid Solheim", "person")),
            ("d4", actor("A1", "Ingrid Solheim-Aas", "person")),
            ("d5", actor("A1", "Guillermo Ayala", "person")),
            ("d6", actor("A1", "G. Ayala", "person")),
            ("d7", actor("A1", "Helena Marsh", "person")),
            ("d8", actor("A1", "Denise Marsh", "person")),
        ]
    )
    assert together(linking, "d1#A1", "d2#A1")
    rule, score, evidence = member(linking, "d2#A1")
    assert rule == "similar-name"
    assert 0.7 < score <= 0.9
    assert "rapidfuzz" in evidence
    assert together(linking, "d5#A1", "d6#A1")
    assert not together(linking, "d3#A1", "d4#A1")
    assert not together(linking, "d7#A1", "d8#A1")


def test_two_actors_of_one_document_are_not_merged_by_similarity() -> None:
    linking = link_actors(
        [("d1", actor("A1", "Kim Jong Un", "person")), ("d1", actor("A2", "Kim Jong-un", "person"))]
    )
    assert len(linking.entities) == 2


def test_every_actor_is_in_one_entity_with_stable_ids() -> None:
    pairs = [
        (f"d{i}", actor("A1", name, "country"))
        for i, name in enumerate(["Russia", "Moscow", "Ukraine", "Kyiv"])
    ]
    first, second = link_actors(pairs), link_actors(list(reversed(pairs)))
    assert sorted(m.key for e in first.entities for m in e.members) == sorted(f"{d}#A1" for d, _ in pairs)
    assert {e.id for e in first.entities} == {e.id for e in second.entities}
    assert all(0 < link.score <= 1 and link.evidence for link in first.links)


def test_blocking_compares_a_small_share_of_all_pairs() -> None:
    given = ["Anna", "Boris", "Chen", "Dara", "Elif", "Farid", "Greta", "Hugo", "Ines", "Jonas"]
    family = [f"{a}{b}{c}" for a in "BKMPRST" for b in "aeiou" for c in ("lov", "nen", "rez", "sen")]
    pairs = [
        (f"doc{n}", actor("A1", f"{given[n % len(given)]} {family[n // len(given) % len(family)]}", "person"))
        for n in range(1400)
    ]
    linking = link_actors(pairs)
    everything = len(pairs) * (len(pairs) - 1) // 2
    assert 0 < linking.stats["compared_pairs"] < everything / 20
    assert len(linking.entities) == len(pairs)  # all distinct people, none merged


def test_score_partition_by_hand() -> None:
    scores = score_partition([["a", "b"], ["c"]], [["a"], ["b", "c"]])
    assert scores.bcubed_precision == pytest.approx(2 / 3)
    assert scores.bcubed_recall == pytest.approx(2 / 3)
    assert (scores.correct_pairs, scores.predicted_pairs, scores.gold_pairs) == (0, 1, 1)
    perfect = score_partition([["a", "b"], ["c"]], [["b", "a"], ["c"]])
    assert perfect.bcubed_f1 == perfect.pairwise_f1 == 1.0
    with pytest.raises(ValueError, match="different items"):
        score_partition([["a"]], [["b"]])


def test_clusters_file_names_unknown_and_repeated_members(tmp_path: Path) -> None:
    path = tmp_path / "clusters.yaml"
    path.write_text("x: [d1#A1, d2#A9]\ny: [d1#A1, d3#A1]\n", encoding="utf-8")
    with pytest.raises(FixtureError) as raised:
        load_clusters(path, ["d1#A1", "d3#A1"])
    assert "d2#A9 is not an actor" in str(raised.value)
    assert "d1#A1 is already in x" in str(raised.value)


def test_linker_beats_the_exact_name_baseline_on_the_gold_clusters() -> None:
    result = evaluate_linking(FIXTURE_DIRS, CLUSTERS)
    assert result.documents >= 30
    assert result.gold_multi >= 30
    linker, baseline = result.systems["linker"], result.systems["exact-name baseline"]
    assert linker.bcubed_f1 > baseline.bcubed_f1
    assert linker.pairwise_f1 > baseline.pairwise_f1 + 0.05
    assert linker.pairwise_precision >= 0.95  # a wrong merge costs an analyst more than a missed one
    assert {"country", "short-form", "similar-name"} <= set(result.links_by_rule)


def test_eval_linking_command_prints_both_systems(tmp_path: Path) -> None:
    args = ["eval-linking", "--clusters", str(CLUSTERS), "--markdown", str(tmp_path / "linking.md")]
    for d in FIXTURE_DIRS:
        args += ["--fixtures", str(d)]
    ran = CliRunner().invoke(main, args)
    assert ran.exit_code == 0, ran.output
    assert "exact-name baseline" in ran.output
    assert "linker" in ran.output
    assert "B³ F1" in ran.output
    assert "| linker |" in (tmp_path / "linking.md").read_text(encoding="utf-8")
