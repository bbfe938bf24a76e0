"""A prompt's ``ask`` list: the decomposed strategy asks the model only those fields, cue words the rest."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from llm_extract import Extractor
from llm_extract.schema import Document

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from fake_openai import FakeOpenAI  # noqa: E402

TEXT = (
    "Port operator Keel Lines denied that it had cut pilot pay, a spokeswoman said on Monday.\n\n"
    "Harbour chief Mira Olsen said the quay could reopen next month, according to local radio.\n\n"
    "The city council will vote on the harbour budget next week, according to a person briefed on the plan."
)


def _sentence_tools(fake: FakeOpenAI) -> list[dict[str, Any]]:
    functions = [r["tools"][0]["function"] for r in fake.requests if r.get("tools")]
    return [f["parameters"] for f in functions if f["name"] == "SentenceAnswer"]


def _run(prompt: str) -> tuple[Any, list[dict[str, Any]]]:
    with (
        FakeOpenAI() as fake,
        Extractor(prompt=prompt, base_url=fake.base_url, model="fake", strategy="decomposed") as ex,
    ):
        result = ex.extract(Document(id="harbour", text=TEXT))
        return result, _sentence_tools(fake)


def test_v3_asks_only_speaker_and_event_type_and_cue_words_decide_the_rest() -> None:
    result, schemas = _run("news@v3")
    assert schemas, "the sentence questions were asked"
    for schema in schemas:
        assert set(schema["properties"]) <= {"speaker", "event_type"}
    with Extractor(strategy="rules") as rules:
        floor = rules.extract(Document(id="harbour", text=TEXT))
    # Polarity, hedging and status are the cue words' answers exactly.
    assert [(c.polarity, c.hedged) for c in result.claims] == [(c.polarity, c.hedged) for c in floor.claims]
    assert [e.status for e in result.events] == [e.status for e in floor.events]
    assert ("denied", False) in [(c.polarity, c.hedged) for c in result.claims]
    assert any(c.hedged for c in result.claims)


def test_v4_asks_only_speakers_and_types_triggers_by_their_cue_words() -> None:
    result, schemas = _run("news@v4")
    assert schemas, "the open speakers were asked"
    for schema in schemas:
        assert set(schema["properties"]) == {"speaker"}
    with Extractor(strategy="rules") as rules:
        floor = rules.extract(Document(id="harbour", text=TEXT))
    assert [(e.trigger, e.type, e.status) for e in result.events] == [
        (e.trigger, e.type, e.status) for e in floor.events
    ]


def test_v1_still_asks_every_field() -> None:
    _, schemas = _run("news@v1")
    asked = set().union(*(set(s["properties"]) for s in schemas))
    assert {"speaker", "polarity", "hedged"} <= asked


def test_the_model_is_asked_the_speaker_only_where_the_attribution_leaves_it_open() -> None:
    text = (
        "Harbour chief Mira Olsen said the quay could reopen next month.\n\n"
        "Mira Olsen and Tomas Vik toured the quay, and the repairs were on schedule, they said."
    )
    with (
        FakeOpenAI() as fake,
        Extractor(base_url=fake.base_url, model="fake", strategy="decomposed") as ex,
    ):
        result = ex.extract(Document(id="quay", text=text))
        asked = [
            r["messages"][-1]["content"]
            for r in fake.requests
            if "speaker" in r["tools"][0]["function"]["parameters"]["properties"]
        ]
    # "Mira Olsen said": the syntax names the speaker, so the rules' answer stands and only the
    # second sentence, whose "they" could be either name, both or the author, reaches the model.
    assert len(asked) == 1
    assert "the repairs were on schedule, they said" in asked[0]
    olsen = next(a.id for a in result.actors if a.name == "Mira Olsen")
    assert result.claims[0].claimant == olsen
