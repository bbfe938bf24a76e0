"""Tests for llm_extract.schema: validation rules, computed fields and reference checks."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from llm_extract.schema import (
    Actor,
    Claim,
    Document,
    DraftActor,
    DraftClaim,
    DraftEvent,
    DraftExtraction,
    DraftParticipant,
    Event,
    Evidence,
    Extraction,
    Participant,
    RunMetadata,
    Usage,
)


def metadata() -> RunMetadata:
    return RunMetadata(
        prompt_name="news",
        prompt_version="v1",
        prompt_hash="sha256:0123456789abcdef",
        model="test-model",
        endpoint="openai-compatible",
        strategy="single",
        grounding="aligned",
    )


def exact(quote: str, start: int) -> Evidence:
    return Evidence(quote=quote, start=start, end=start + len(quote), alignment="exact", score=100.0)


def extraction(**fields: Any) -> Extraction:
    return Extraction(document_id="doc-1", metadata=metadata(), **fields)


ACTORS = [
    Actor(id="A1", name="Kim Jong Un", kind="person", mentions=[exact("Kim", 0)]),
    Actor(id="A2", name="Vladimir Putin", kind="person", mentions=[exact("Putin", 8)]),
]


# --- Document ------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   ", "\n\t\r\n"])
def test_document_rejects_blank_text(text: str) -> None:
    with pytest.raises(ValidationError, match="empty or whitespace"):
        Document(text=text)


def test_document_default_id_is_stable_hash_of_text() -> None:
    doc = Document(text="hello")
    # sha256(b"hello") = 2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824
    assert doc.id == "doc-2cf24dba5fb0"
    assert re.fullmatch(r"doc-[0-9a-f]{12}", Document(text="Kim met Putin.").id)
    assert Document(text="Kim met Putin.").id == Document(text="Kim met Putin.", title="x").id
    assert Document(text="Kim met Putin.").id != Document(text="Kim met Putin!").id


def test_document_keeps_explicit_id_and_parses_date() -> None:
    doc = Document(id="story-7", text="Kim met Putin.", published="2024-09-17")  # type: ignore[arg-type]
    assert doc.id == "story-7"
    assert doc.published == date(2024, 9, 17)


def test_document_forbids_unknown_fields() -> None:
    with pytest.raises(ValidationError, match="author"):
        Document(text="Kim met Putin.", author="someone")  # type: ignore[call-arg]


# --- Evidence ------------------------------------------------------------------------------------


def test_unmatched_evidence_with_offsets_is_rejected() -> None:
    with pytest.raises(ValidationError, match="unmatched evidence cannot carry offsets"):
        Evidence(quote="Kim", start=0, end=3, alignment="unmatched")
    with pytest.raises(ValidationError, match="unmatched"):
        Evidence(quote="Kim", start=0)


@pytest.mark.parametrize("alignment", ["exact", "normalized", "fuzzy"])
def test_matched_evidence_without_offsets_is_rejected(alignment: str) -> None:
    with pytest.raises(ValidationError, match="start <= end"):
        Evidence(quote="Kim", alignment=alignment)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="start <= end"):
        Evidence(quote="Kim", start=0, alignment=alignment)  # type: ignore[arg-type]


@pytest.mark.parametrize(("start", "end"), [(5, 2), (-1, 3)])
def test_evidence_rejects_bad_offsets(start: int, end: int) -> None:
    with pytest.raises(ValidationError, match="start <= end"):
        Evidence(quote="Kim", start=start, end=end, alignment="exact")


def test_evidence_score_is_bounded() -> None:
    with pytest.raises(ValidationError):
        Evidence(quote="Kim", start=0, end=3, alignment="exact", score=100.5)


def test_evidence_default_is_unmatched_and_ungrounded() -> None:
    ev = Evidence(quote="Kim")
    assert (ev.start, ev.end, ev.alignment, ev.score, ev.grounded) == (None, None, "unmatched", 0.0, False)


def test_grounded_appears_in_model_dump() -> None:
    assert exact("Kim", 0).model_dump() == {
        "quote": "Kim",
        "start": 0,
        "end": 3,
        "alignment": "exact",
        "score": 100.0,
        "grounded": True,
    }
    assert Evidence(quote="Xi").model_dump()["grounded"] is False


def test_actor_event_claim_grounded_in_dump() -> None:
    grounded_actor = Actor(id="A1", name="Kim", mentions=[Evidence(quote="Xi"), exact("Kim", 0)])
    ungrounded_actor = Actor(id="A2", name="Xi", mentions=[Evidence(quote="Xi")])
    assert grounded_actor.model_dump()["grounded"] is True
    assert ungrounded_actor.model_dump()["grounded"] is False
    assert Actor(id="A3", name="Nobody").model_dump()["grounded"] is False

    event = Event(id="E1", type="meeting", trigger=exact("met", 4))
    assert event.model_dump()["grounded"] is True
    assert event.model_dump()["trigger"]["grounded"] is True
    assert Event(id="E2", trigger=Evidence(quote="summit")).model_dump()["grounded"] is False

    claim = Claim(id="C1", statement="Talks went well.", evidence=Evidence(quote="went well"))
    assert claim.model_dump()["grounded"] is False
    assert claim.model_dump()["evidence"]["grounded"] is False


# --- Extraction references -----------------------------------------------------------------------


def test_extraction_accepts_resolved_references_and_author_claims() -> None:
    result = extraction(
        actors=ACTORS,
        events=[
            Event(
                id="E1",
                type="meeting",
                trigger=exact("met", 4),
                participants=[Participant(actor_id="A1", role="agent"), Participant(actor_id="A2")],
            )
        ],
        claims=[
            Claim(id="C1", statement="They met.", claimant="A2", evidence=exact("met", 4)),
            Claim(id="C2", statement="It was cold.", claimant=None, evidence=Evidence(quote="cold")),
        ],
    )
    assert [c.claimant for c in result.claims] == ["A2", None]
    assert result.metadata.schema_version == "1"


def test_extraction_rejects_unknown_claimant() -> None:
    claim = Claim(id="C1", statement="They met.", claimant="A9", evidence=exact("met", 4))
    with pytest.raises(ValidationError, match=r"claim C1 names claimant 'A9', which is not an actor id"):
        extraction(actors=ACTORS, claims=[claim])


def test_extraction_rejects_unknown_participant() -> None:
    event = Event(
        id="E1",
        trigger=exact("met", 4),
        participants=[Participant(actor_id="A1"), Participant(actor_id="A7")],
    )
    with pytest.raises(ValidationError, match=r"event E1 names participant 'A7'") as info:
        extraction(actors=ACTORS, events=[event])
    assert "'A1'" not in str(info.value)


def test_extraction_requires_metadata() -> None:
    with pytest.raises(ValidationError, match="metadata"):
        Extraction(document_id="doc-1")  # type: ignore[call-arg]


# --- DraftExtraction -----------------------------------------------------------------------------


def draft_actor(actor_id: str, name: str) -> DraftActor:
    return DraftActor(id=actor_id, name=name, kind="person", mentions=[name])


def test_draft_extraction_error_lists_problems_and_known_ids() -> None:
    with pytest.raises(ValidationError) as info:
        DraftExtraction(
            actors=[draft_actor("A2", "Putin"), draft_actor("A1", "Kim")],
            events=[
                DraftEvent(
                    id="E1",
                    type="meeting",
                    trigger="met",
                    summary="Kim met Putin.",
                    sentence="Kim met Putin.",
                    participants=[DraftParticipant(actor_id="A3")],
                    status="occurred",
                )
            ],
            claims=[
                DraftClaim(
                    id="C1", statement="x", claimant="Kim", polarity="asserted", hedged=False, quote="x"
                )
            ],
        )
    message = str(info.value)
    # A stray participant is dropped (and counted) when the records are assembled, not re-asked.
    assert "participant" not in message
    assert "claim C1 names claimant 'Kim', which is not an actor id (use null for the author)" in message
    assert "Known actor ids: A1, A2." in message


def test_draft_extraction_without_actors_says_none() -> None:
    claim = DraftClaim(id="C1", statement="x", claimant="A1", polarity="denied", hedged=True, quote="x")
    with pytest.raises(ValidationError, match=r"Known actor ids: none\."):
        DraftExtraction(actors=[], events=[], claims=[claim])


def test_draft_extraction_accepts_valid_draft() -> None:
    draft = DraftExtraction(
        actors=[draft_actor("A1", "Kim")],
        claims=[
            DraftClaim(id="C1", statement="x", claimant="A1", polarity="asserted", hedged=False, quote="x"),
            DraftClaim(id="C2", statement="y", claimant=None, polarity="asserted", hedged=False, quote="y"),
        ],
        events=[],
    )
    assert len(draft.claims) == 2


def test_draft_extraction_lists_are_required() -> None:
    # A grammar-constrained model must not be able to answer "{}".
    with pytest.raises(ValidationError) as info:
        DraftExtraction.model_validate_json("{}")
    assert sorted(e["loc"][0] for e in info.value.errors() if e["type"] == "missing") == [
        "actors",
        "claims",
        "events",
    ]


def test_draft_extraction_validates_from_json() -> None:
    payload = '{"actors": [], "events": [], "claims": [{"id": "C1", "statement": "s", "claimant": "A5",'
    payload += ' "polarity": "asserted", "hedged": false, "quote": "q"}]}'
    with pytest.raises(ValidationError, match="'A5'"):
        DraftExtraction.model_validate_json(payload)


# --- Usage, extra fields -------------------------------------------------------------------------


def test_usage_addition() -> None:
    total = Usage(prompt_tokens=1, completion_tokens=2, total_tokens=3) + Usage(
        prompt_tokens=10, completion_tokens=20, total_tokens=30
    )
    assert total == Usage(prompt_tokens=11, completion_tokens=22, total_tokens=33)
    assert Usage() + Usage() == Usage(prompt_tokens=0, completion_tokens=0, total_tokens=0)


def test_usage_sum_with_start_value() -> None:
    parts = [Usage(prompt_tokens=5, completion_tokens=1, total_tokens=6)] * 3
    assert sum(parts, Usage()) == Usage(prompt_tokens=15, completion_tokens=3, total_tokens=18)


def test_actor_forbids_unknown_fields() -> None:
    with pytest.raises(ValidationError) as info:
        Actor(id="A1", name="Kim", nationality="KP")  # type: ignore[call-arg]
    errors = info.value.errors()
    assert [(e["type"], e["loc"]) for e in errors] == [("extra_forbidden", ("nationality",))]


def test_actor_kind_is_a_closed_vocabulary() -> None:
    with pytest.raises(ValidationError):
        Actor(id="A1", name="Kim", kind="dictator")  # type: ignore[arg-type]
    assert Actor(id="A1", name="Kim").kind == "other"


def test_extraction_json_round_trips_with_computed_flags() -> None:
    """Output JSON (which carries computed ``grounded`` flags) reads back into the same Extraction."""
    from llm_extract.schema import Actor, Evidence, Extraction

    found = Evidence(quote="Acme", start=0, end=4, alignment="exact", score=100.0)
    extraction = Extraction(
        document_id="d",
        actors=[Actor(id="A1", name="Acme", mentions=[found, Evidence(quote="Acne Corp")])],
        metadata=metadata(),
    )
    data = extraction.model_dump(mode="json")
    assert data["actors"][0]["grounded"] is True
    assert data["actors"][0]["mentions"][1]["grounded"] is False
    assert Extraction.model_validate_json(extraction.model_dump_json()) == extraction
    # A stored flag is never trusted: it is re-derived from the alignment.
    data["actors"][0]["mentions"][1]["grounded"] = True
    assert Extraction.model_validate(data).actors[0].mentions[1].grounded is False


def test_actor_looks_up_a_claimant_or_participant_by_id() -> None:
    claim = Claim(
        id="C1", statement="Kim met Putin.", claimant="A2", polarity="asserted", evidence=exact("Kim", 0)
    )
    result = extraction(actors=ACTORS, claims=[claim])
    found = result.actor(claim.claimant)
    assert found is ACTORS[1]
    assert found.name == "Vladimir Putin"
    assert result.actor(None) is None  # no claimant: the author
    assert result.actor("A9") is None
    assert "actor" not in result.model_dump()  # a method, not a field
