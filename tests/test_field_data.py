"""The candidate layer's field data: morphology (lemminflect), countries (countryinfo), events, quality."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from llm_extract import Document, extract, load_fixtures
from llm_extract.coverage import candidate_recall, propose
from llm_extract.dates import find_dates
from llm_extract.events import event_candidates
from llm_extract.gazetteer import capital_of, country, demonym_of
from llm_extract.morphology import is_nominalization, is_plural_noun, verb_forms
from llm_extract.quality import input_warnings
from llm_extract.segment import Span


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("U.S.", "United States"),
        ("USA", "United States"),
        ("Czechia", "Czech Republic"),
        ("Britain", "United Kingdom"),
        ("U.K.", "United Kingdom"),
        ("Holland", "Netherlands"),
        ("Tuvalu", "Tuvalu"),
        ("TV", None),  # two-letter codes only with full stops
        ("AI", None),
        ("us", None),
    ],
)
def test_countries_come_from_the_dataset(name: str, expected: str | None) -> None:
    assert country(name) == expected


def test_capitals_and_demonyms() -> None:
    assert capital_of("Pyongyang") == "North Korea"
    assert capital_of("Washington") == "United States"
    assert demonym_of("North Korean") == "North Korea"
    assert demonym_of("American") == "United States"  # the larger of the countries sharing it
    assert capital_of("Springfield") is None


def test_morphology_knows_forms_and_derivations() -> None:
    assert verb_forms("postponed") == ("postpone", frozenset({"VBD", "VBN"}))
    assert "VBZ" in verb_forms("resigns")[1]
    assert is_plural_noun("residents")
    assert not is_plural_noun("resident")
    for noun in ("evacuation", "recount", "walkout", "vote", "clearance"):
        assert is_nominalization(noun), noun
    for noun in ("company", "mountain"):
        assert not is_nominalization(noun), noun


def _candidates(text: str) -> list[tuple[str, str, bool]]:
    return [(text[c.start : c.end], c.form, c.likely) for c in event_candidates(Span(0, len(text), text))]


def test_events_come_from_predicates_not_a_word_list() -> None:
    text = "The mayor resigned, the bridge collapsed and the vote was postponed until the recount ends."
    found = {w for w, _, likely in _candidates(text) if likely}
    assert {"resigned", "collapsed", "postponed"} <= found
    # Nouns from verbs are candidates a model may choose; saying and being are never events.
    assert ("recount", "noun", False) in _candidates(text)
    assert not {w for w, _, _ in _candidates("He said the plan was good.")} & {"said", "was"}


def test_a_support_verb_hands_the_event_to_its_noun() -> None:
    # "held talks", "launched an inquiry": the noun names the happening, the verb only carries tense.
    found = _candidates("The ministers held talks and the regulator launched a formal inquiry.")
    assert ("talks", "noun", True) in found
    assert ("inquiry", "noun", True) in found
    assert ("held", "finite", False) in found
    assert ("launched", "finite", False) in found
    # Without a support verb before it, a noun stays a candidate for a model to weigh.
    assert ("inquiry", "noun", False) in _candidates("The inquiry will report next year.")


def test_modal_verbs_and_the_future() -> None:
    found = _candidates("The council will vote next week and could delay the project.")
    assert ("vote", "modal", True) in found
    assert ("delay", "modal", True) in found


def test_ability_and_obligation_and_the_simple_present_are_not_kept() -> None:
    found = _candidates("The law bars strikes, so the union can appeal and the court must rule.")
    assert ("bars", "finite", False) in found
    assert ("appeal", "modal", False) in found
    assert ("rule", "modal", False) in found


def _actors(text: str) -> list[tuple[str, str, list[str]]]:
    return [(a.name, a.kind, a.aliases) for a in propose(Document(id="d", text=text)).actors]


@pytest.mark.parametrize(
    ("text", "actor"),
    [
        # Capital letters beyond Latin-1 open names ("Š", "Ł", "Ż").
        ("Šimánek told reporters after the vote.", ("Šimánek", "other")),
        ("Łukasz Żak resigned on Monday.", ("Łukasz Żak", "person")),
        # A title or a body word makes a name an actor whatever preposition comes before it.
        ("It was a setback for Justice Minister Radek Šimánek.", ("Radek Šimánek", "person")),
        ("He wrote to the Interior Ministry.", ("Interior Ministry", "government")),
        # Groups keep a short post-modifier; sources after "according to" are actors too.
        ("Diplomats in Seoul say Choe will return.", ("Diplomats in Seoul", "group")),
        ("Military planners in Seoul say drills are likely.", ("Military planners in Seoul", "group")),
        (
            "The unit is for sale, according to two people familiar with the matter.",
            ("two people familiar with the matter", "group"),
        ),
        ("Police said two men were arrested.", ("Police", "government")),
        # A role with no named body before it is an actor of its own.
        ("The government has the votes, she said.", ("government", "government")),
    ],
)
def test_actor_candidates_read_the_sentence(text: str, actor: tuple[str, str]) -> None:
    assert actor in [(name, kind) for name, kind, _ in _actors(text)]


def test_a_role_resolves_to_the_body_it_names() -> None:
    actors = _actors("The Justice Ministry drafted the bill. The ministry said it was confident.")
    assert actors == [("Justice Ministry", "government", ["The ministry"])]
    # A place after a preposition is still no actor.
    assert _actors("She flew to St. Petersburg on Monday.") == []


def test_weekdays_in_the_future_resolve_forward() -> None:
    thursday = date(2025, 5, 15)
    (monday,) = find_dates("The council will hold a meeting on Monday.", thursday)
    assert monday.value == "2025-05-19"
    (past,) = find_dates("The council met on Monday.", thursday)
    assert past.value == "2025-05-12"
    wednesday, _ = find_dates("The forums run from Wednesday to Friday.", thursday)
    assert wednesday.value == "2025-05-21"


def test_quality_warnings() -> None:
    german = Document(
        text="Die Regierung kündigte am Montag neue Regeln für Häfen an, sagte der Minister in Berlin. "
        "Am Freitag treffen sich die Vertreter der Länder, um über die neuen Regeln zu sprechen."
    )
    assert "English" in input_warnings(german)[0]
    html = Document(text="<p>The mayor said on Monday that <b>the bridge</b> would close.</p><div>x</div>")
    assert any("HTML" in w for w in input_warnings(html))
    undated = Document(text="The mayor said on Monday that the bridge would close next week.")
    assert any("publication date" in w for w in input_warnings(undated))
    dated = undated.model_copy(update={"published": date(2025, 5, 15)})
    assert input_warnings(dated) == []
    assert extract(german, strategy="rules").metadata.warnings == input_warnings(german)


def test_a_url_is_refused_with_a_clear_error() -> None:
    from llm_extract import InputError, load_documents

    with pytest.raises(InputError, match="fetches nothing"):
        list(load_documents("https://example.com/story.html"))


def test_candidates_cover_more_than_the_rules_keep() -> None:
    fixtures = load_fixtures("evals/fixtures")
    recall = candidate_recall(fixtures)
    assert set(recall) == {"actors", "events", "claims"}
    assert all(0.0 <= v <= 1.0 for v in recall.values())
    proposed = propose(fixtures[0].document)
    rules = extract(fixtures[0].document, strategy="rules")
    assert len(proposed.events) > len(rules.events)
    assert len(proposed.claims) >= len(rules.claims)


def test_the_lexicon_tables_are_cached_as_data_and_a_damaged_copy_is_rebuilt(tmp_path: Path) -> None:
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    probe = (
        "import sys; from llm_extract.morphology import verb_forms; "
        "print(sorted(verb_forms('resigned')[1]), 'lemminflect' in sys.modules, 'numpy' in sys.modules)"
    )

    def run() -> str:
        done = subprocess.run(
            [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
        )
        return done.stdout.strip()

    assert run() == "['VBD', 'VBN'] True True"  # the first run builds the tables with lemminflect
    (table,) = (tmp_path / "llm-extract").glob("lemminflect-*-tables.marshal")
    assert run() == "['VBD', 'VBN'] False False"  # later runs read the copy: no lemminflect, no numpy
    table.write_bytes(b"not a table")
    assert run() == "['VBD', 'VBN'] True True"  # a damaged copy is rebuilt, not trusted
