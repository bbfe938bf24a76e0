"""Deterministic candidates: name clustering, aliases, kind hints and sentence cues."""

from __future__ import annotations

from llm_extract.candidates import actor_candidates, sentence_cues
from llm_extract.segment import sentences


def _actors(text: str) -> dict[str, tuple[str | None, list[str], list[str]]]:
    found = actor_candidates(text, sentences(text))
    return {a.name: (a.kind, a.aliases, [text[s:e] for s, e in a.spans]) for a in found}


def test_acronym_in_parentheses_is_an_alias_not_a_second_actor() -> None:
    text = "The Korean Central News Agency (KCNA) said the talks went well. KCNA added details."
    actors = _actors(text)
    assert list(actors) == ["Korean Central News Agency"]
    kind, aliases, mentions = actors["Korean Central News Agency"]
    assert kind == "media"
    assert aliases == ["KCNA"]
    assert mentions == ["Korean Central News Agency", "KCNA", "KCNA"]


def test_surname_and_metonym_join_earlier_actors_and_titles_are_split_off() -> None:
    text = (
        "SEOUL, Sept. 17 — Foreign Minister Choe Son Hui left for Russia on Monday. "
        "Choe met officials in Moscow. Pyongyang denied the reports."
    )
    actors = _actors(text)
    assert actors["Choe Son Hui"] == ("person", ["Choe"], ["Choe Son Hui", "Choe"])
    assert actors["North Korea"] == ("country", [], ["Pyongyang"])
    # "SEOUL," is a dateline and "in Moscow" a place: neither is an actor mention.
    assert "South Korea" not in actors
    assert actors["Russia"][2] == ["Russia"]


def test_headlines_and_capitalized_sentence_openers_are_not_actors() -> None:
    text = "Minister Heads To Russia For Women's Forums\nTies have deepened since June, officials said."
    assert _actors(text) == {}


def test_sentence_cues_see_reporting_denial_hedge_and_trigger() -> None:
    (sentence,) = sentences("Pyongyang has denied it is believed to be supplying munitions.")
    cues = sentence_cues(sentence)
    assert (cues.claim, cues.denied, cues.hedged) == (True, True, True)
    assert cues.trigger is not None
    start, end, kind = cues.trigger
    assert (sentence.text[start:end], kind) == ("supplying", "transfer")


def test_bylines_name_reporters_not_actors() -> None:
    text = "Choe Son Hui met Vladimir Putin, officials said.\nReporting by Ana Lúcia Pereira in Seoul."
    assert set(_actors(text)) == {"Choe Son Hui", "Vladimir Putin"}
