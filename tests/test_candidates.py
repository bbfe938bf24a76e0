"""Deterministic candidates: name clustering, aliases, kind hints and sentence cues."""

from __future__ import annotations

import pytest

from llm_extract.candidates import MentionIndex, actor_candidates, attribution, claim_span, sentence_cues
from llm_extract.segment import Span, sentences


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
    # Only the group that speaks is an actor (GUIDELINES: unnamed groups that make a claim).
    assert _actors(text) == {"officials": ("group", [], ["officials"])}


def test_sentence_cues_see_reporting_denial_hedge_and_trigger() -> None:
    (sentence,) = sentences("Pyongyang has denied it is believed to be supplying munitions.")
    cues = sentence_cues(sentence)
    assert (cues.claim, cues.denied, cues.hedged) == (True, True, True)
    assert cues.trigger is not None
    start, end, kind = cues.trigger
    assert (sentence.text[start:end], kind) == ("supplying", "transfer")


def test_bylines_name_reporters_not_actors() -> None:
    text = "Choe Son Hui met Vladimir Putin, officials said.\nReporting by Ana Lúcia Pereira in Seoul."
    assert set(_actors(text)) == {"Choe Son Hui", "Vladimir Putin", "officials"}


def _content(sentence: str) -> str:
    start, end = claim_span(Span(0, len(sentence), sentence))
    return sentence[start:end]


@pytest.mark.parametrize(
    ("sentence", "content"),
    [
        # quoted speech: inside the quotation marks, curly or straight
        ("“The bridge is safe to use,” the mayor said.", "The bridge is safe to use"),
        (
            'He said the council had "lost track of every invoice since May."',
            "lost track of every invoice since May",
        ),
        # an interrupting attribution stays inside one continuous span
        (
            "“We were never told,” she added, “and nobody asked the residents.”",
            "We were never told,” she added, “and nobody asked the residents",
        ),
        # reported speech: the clause after "said (that)" or "told X that"
        ("The ministry said that exports rose by 4% in March.", "exports rose by 4% in March"),
        (
            "Finance chief Ana Ruiz said the deficit would narrow next year.",
            "the deficit would narrow next year",
        ),
        (
            "Ruiz told reporters in Madrid that the bank would not raise fees.",
            "the bank would not raise fees",
        ),
        ("The union accused the operator of hiring temporary staff.", "hiring temporary staff"),
        # trailing attribution and "according to"
        (
            "Prices will rise again in the spring, analysts at the firm said.",
            "Prices will rise again in the spring",
        ),
        (
            "According to the audit office, the contract was never tendered.",
            "the contract was never tendered",
        ),
        (
            "The contract was never tendered, according to the audit office.",
            "The contract was never tendered",
        ),
        # a denial: the denying clause itself
        (
            "The company denied moving jobs abroad, saying the plant would stay open.",
            "denied moving jobs abroad",
        ),
        # nothing to strip: the whole sentence
        ("Turnout is likely to be low.", "Turnout is likely to be low"),
    ],
)
def test_claim_span_is_the_content_without_the_attribution(sentence: str, content: str) -> None:
    assert _content(sentence) == content


def test_claim_span_offsets_are_absolute_and_fall_back_to_the_sentence() -> None:
    text = "Intro. Officials said it was fine."
    sentence = Span(7, len(text), text[7:])
    start, end = claim_span(sentence)
    assert text[start:end] == "it was fine"
    # a sentence with no content after its attribution keeps the whole sentence (minus the period)
    short = "He said."
    assert claim_span(Span(0, len(short), short)) == (0, len("He said"))


def test_kind_hints_for_personal_names_honorifics_and_organization_words() -> None:
    text = (
        "Marta Sobczak met Dr. Lena Holm at the hospital on Monday. Brightwater Foods and the Tarn "
        "Valley Research Institute signed the deal. Brightwater said the plant would stay open."
    )
    actors = _actors(text)
    # Two title-case words with no organization word: a person, as news copy usually means.
    assert actors["Marta Sobczak"][0] == "person"
    # A courtesy title stays in the name, as the article writes it, and marks a person.
    assert actors["Dr. Lena Holm"][0] == "person"
    assert actors["Brightwater Foods"][0] == "organization"
    assert actors["Tarn Valley Research Institute"][0] == "organization"
    # The company's short name later in the text is the same actor, not a new one.
    assert actors["Brightwater Foods"][1] == ["Brightwater"]
    assert "Brightwater" not in actors


def _attributed(text: str, index: int) -> str | None:
    spans = sentences(text)
    found = actor_candidates(text, spans)
    said_by = attribution(text, spans[index], MentionIndex(found), {a.id: a.kind for a in found})
    return said_by.name if said_by else None


@pytest.mark.parametrize(
    ("text", "index", "speaker"),
    [
        # the name right before the verb, or after it when it closes the clause
        ("“The hoses were safe,” spokeswoman Ines Carvalho said.", 0, "Ines Carvalho"),
        ("Prices will climb, said Dana Whitcombe, an analyst at Pierce.", 0, "Dana Whitcombe"),
        ("Prices will climb, according to Dana Whitcombe.", 0, "Dana Whitcombe"),
        ("Kevin Aldana, the public works director, said the changes were minor.", 0, "Kevin Aldana"),
        # a pronoun or "the company" stands for the latest person or organization named before
        ("Marjorie Tran chairs the audit. She said the invoices were doubled.", 1, "Marjorie Tran"),
        ("Quillon Systems cut 900 jobs. It said more cuts were possible.", 1, "Quillon Systems"),
        ("Keel Lines Group opened a depot. The company said it would hire 40.", 1, "Keel Lines Group"),
        (
            "The Russian Embassy hosted Air Koryo staff. The embassy said the flight was on time.",
            1,
            "Russian Embassy",
        ),
        # a verb inside the quotation is the speaker's own words, not the attribution
        ("“Anna Berg said nothing to us,” he told reporters.", 0, None),
        # the syntax leaves the speaker open: the model (or the first name, in rules) decides
        ("Marta Sobczak and Anna Berg met, and officials said talks went well.", 0, "officials"),
    ],
)
def test_attribution_names_the_speaker_only_when_the_syntax_does(
    text: str, index: int, speaker: str | None
) -> None:
    assert _attributed(text, index) == speaker


def test_every_trigger_of_a_sentence_is_a_cue_not_only_the_first() -> None:
    (sentence,) = sentences("The ministers met in Hanoi and signed a trade deal on Friday.")
    cues = sentence_cues(sentence)
    found = [(sentence.text[s:e], kind) for s, e, kind in cues.triggers]
    # Every predicate the rules keep: finite verbs (nouns stay candidates for a model to weigh).
    assert found == [("met", "meeting"), ("signed", "agreement")]
    assert cues.trigger == cues.triggers[0]
