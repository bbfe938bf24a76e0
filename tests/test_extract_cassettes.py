"""End-to-end extraction replayed from cassettes recorded against the embedded SmolLM2 model.

Record again with ``pytest tests/test_extract_cassettes.py --record-mode=rewrite`` (starts the
embedded server; needs the [local] extra).
"""

from __future__ import annotations

import asyncio
from datetime import date

import pytest
from conftest import EXAMPLES

from llm_extract import Document, Extraction, Extractor, ModelOutputError, load_prompt
from llm_extract.candidates import (
    MentionIndex,
    actor_candidates,
    attribution,
    is_headline,
    sentence_cues,
)
from llm_extract.grounding import verify
from llm_extract.injection import is_instruction
from llm_extract.prompts import DEFAULT_PROMPT
from llm_extract.segment import sentences

MODEL = "smollm2-135m-instruct"
ARTICLES = {
    "choe_russia_trip": date(2024, 9, 17),
    "delegation_forum": date(2024, 2, 13),
    "primorye_talks": date(2024, 3, 6),
}


def _document(name: str) -> Document:
    text = (EXAMPLES / f"{name}.txt").read_text(encoding="utf-8")
    return Document(id=name, text=text, published=ARTICLES[name])


def _assert_grounded(result: Extraction, text: str) -> None:
    evidence = [m for a in result.actors for m in a.mentions]
    evidence += [e.trigger for e in result.events] + [c.evidence for c in result.claims]
    assert evidence
    for item in evidence:
        assert item.grounded, item
        assert verify(item, text), item
        assert item.alignment != "exact" or text[item.start : item.end] == item.quote


def _questions(text: str) -> int:
    spans = sentences(text)
    found = actor_candidates(text, spans)
    kinds = {a.id: a.kind for a in found}
    asked = 0
    for sentence in spans:
        if is_headline(sentence) or is_instruction(sentence):
            continue
        cues = sentence_cues(sentence)
        # The author's own claims ("is believed to") have no speaker to ask.
        attributed = cues.claim and not cues.authored
        open_speaker = attributed and attribution(text, sentence, MentionIndex(found), kinds) is None
        asked += bool(open_speaker)
    return int(None in kinds.values()) + asked


def _sentences_used(result: Extraction, text: str) -> set[int]:
    spans = sentences(text)
    hits = [(c.evidence.start, c.evidence.end) for c in result.claims]
    hits += [(e.trigger.start, e.trigger.end) for e in result.events]
    return {i for i, s in enumerate(spans) for start, end in hits if s.start <= start and end <= s.end}


@pytest.mark.vcr
@pytest.mark.parametrize("name", sorted(ARTICLES))
def test_decomposed_extraction_is_grounded(name: str, endpoint: str) -> None:
    doc = _document(name)
    with Extractor(base_url=endpoint, model=MODEL, strategy="decomposed") as extractor:
        result = extractor.extract(doc)

    _assert_grounded(result, doc.text)
    meta = result.metadata
    prompt = load_prompt()  # the default, which the embedded model runs
    assert (meta.prompt_name, meta.prompt_version, meta.prompt_hash) == (
        prompt.name,
        prompt.version,
        prompt.content_hash,
    )
    assert (meta.strategy, meta.grounding, meta.endpoint) == (
        "decomposed",
        "constrained",
        "openai-compatible",
    )
    # One call for the kinds the rules leave open, then one per sentence with a question left for the
    # model under the default prompt (`ask: [speaker]`): a speaker the attribution does not name.
    assert meta.model_calls == _questions(doc.text)
    assert meta.model_calls <= 1 + len(_sentences_used(result, doc.text))
    assert meta.attempts >= meta.model_calls
    assert meta.usage.prompt_tokens > 0
    assert meta.usage.completion_tokens > 0
    assert meta.usage.total_tokens == meta.usage.prompt_tokens + meta.usage.completion_tokens
    assert result.claims
    assert result.events
    assert len(result.actors) >= 5


@pytest.mark.vcr
def test_async_matches_sync_cassette_format(endpoint: str) -> None:
    doc = _document("delegation_forum")

    async def run() -> Extraction:
        with Extractor(base_url=endpoint, model=MODEL, strategy="decomposed") as extractor:
            return await extractor.aextract(doc)

    result = asyncio.run(run())
    _assert_grounded(result, doc.text)
    assert result.metadata.model_calls == _questions(doc.text)


SHORT = (
    "Choe Son Hui, North Korea's foreign minister, left for Russia on Monday, state media said. "
    "Washington accuses Pyongyang of supplying munitions to Moscow, which Pyongyang has denied."
)


@pytest.mark.vcr
@pytest.mark.parametrize("grounding", ["aligned", "constrained"])
def test_single_call_fails_loudly_on_the_tiny_model(grounding: str, endpoint: str) -> None:
    """One call with the whole nested schema: SmolLM2 runs out of tokens inside invalid JSON, twice.

    This is why ``decomposed`` is the embedded default. The failure must carry its context.
    """
    doc = Document(id="short", text=SHORT, published=date(2024, 9, 17))
    extractor = Extractor(
        base_url=endpoint, model=MODEL, strategy="single", grounding=grounding, max_tokens=600, max_reasks=1
    )
    with extractor, pytest.raises(ModelOutputError) as caught:
        extractor.extract(doc)
    error = caught.value
    assert (error.document_id, error.prompt, error.attempts) == ("short", DEFAULT_PROMPT, 2)
    assert error.raw_output
    assert error.raw_output.startswith('{ "actors"')
    assert "Invalid JSON" in str(error)
    # Both attempts ran to the 600-token limit: the tokens spent are reported with the failure.
    assert error.usage.completion_tokens == 1200
    assert error.usage.prompt_tokens > 0


@pytest.mark.parametrize("name", sorted(ARTICLES))
def test_rules_strategy_needs_no_model(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The no-model floor: same candidates as decomposed, answers from cue words, no endpoint at all."""
    monkeypatch.setenv("LLM_EXTRACT_BASE_URL", "http://127.0.0.1:9/v1")  # nothing listens: never used
    doc = _document(name)
    with Extractor(strategy="rules") as extractor:
        first = extractor.extract(doc)
        second = asyncio.run(extractor.aextract(doc))
        assert extractor.endpoint._client is None
        assert extractor.endpoint._server is None
    _assert_grounded(first, doc.text)
    meta = first.metadata
    assert (meta.strategy, meta.endpoint, meta.model, meta.model_calls) == ("rules", "none", "rules", 0)
    assert meta.usage.total_tokens == 0
    assert first.model_dump(exclude={"metadata"}) == second.model_dump(exclude={"metadata"})
    # Cue words decide: a claim is denied exactly when its sentence has a denial cue.
    from llm_extract.candidates import sentence_cues
    from llm_extract.segment import sentences

    spans = sentences(doc.text)
    for claim in first.claims:
        # the evidence is the claim's clause: the sentence holding it carries the cue words
        start = claim.evidence.start
        assert start is not None
        sentence = next(s for s in spans if s.start <= start < s.end)
        assert claim.polarity == ("denied" if sentence_cues(sentence).denied else "asserted")
