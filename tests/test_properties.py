"""Property tests (hypothesis): the aligner never lies about offsets; scores stay in [0, 1]."""

from __future__ import annotations

from conftest import META
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llm_extract.evaluate import evaluate
from llm_extract.fixtures import Fixture, GoldLabels
from llm_extract.grounding import align, verify
from llm_extract.schema import Actor, Claim, Event, Evidence, Extraction

# Letters from several scripts, combining marks, emoji, curly quotes, dashes and every kind of space.
_OTHERS = (
    "\u00e9",
    "e\u0301",
    "\u0645",
    "\u05d0",
    "\u4e2d",
    "\U0001f680",
    "\u2019",
    "\u201c",
    "\u2014",
    "\u00a0",
)
ALPHABET = st.sampled_from([*"abcdefghijKLMNOP ,.-'\"\n\r\t", *_OTHERS])
TEXTS = st.lists(ALPHABET, min_size=1, max_size=120).map("".join)


@settings(max_examples=300, deadline=None)
@given(text=TEXTS, data=st.data())
def test_an_aligned_quote_is_where_it_says(text: str, data: st.DataObject) -> None:
    start = data.draw(st.integers(0, len(text) - 1))
    end = data.draw(st.integers(start + 1, len(text)))
    quote = text[start:end]
    if data.draw(st.booleans()):  # sometimes the model changes case or spacing
        quote = " ".join(quote.upper().split())
    evidence = align(quote, text)
    if evidence.alignment == "unmatched":
        assert evidence.start is None
        assert evidence.end is None
        return
    assert evidence.start is not None
    assert evidence.end is not None
    assert 0 <= evidence.start <= evidence.end <= len(text)
    if evidence.alignment == "exact":
        assert text[evidence.start : evidence.end] == quote
    assert verify(evidence, text)


@settings(max_examples=200, deadline=None)
@given(text=TEXTS, quote=TEXTS)
def test_any_quote_aligns_honestly(text: str, quote: str) -> None:
    evidence = align(quote, text)
    assert evidence.grounded == verify(evidence, text) or evidence.alignment == "unmatched"
    if evidence.grounded:
        assert evidence.start is not None
        assert evidence.end is not None
        assert 0 <= evidence.start <= evidence.end <= len(text)


WORDS = (
    "Acme Corp fired workers Monday union said layoffs illegal denied wrongdoing talks planned Friday".split()
)
TEXT = " ".join(WORDS)
STARTS = [TEXT.index(w) for w in WORDS]


def _evidence(i: int, j: int) -> Evidence:
    start, end = STARTS[i], STARTS[j] + len(WORDS[j])
    return Evidence(quote=TEXT[start:end], start=start, end=end, alignment="exact", score=100.0)


SPANS = st.tuples(st.integers(0, len(WORDS) - 1), st.integers(0, 3)).map(
    lambda p: (p[0], min(len(WORDS) - 1, p[0] + p[1]))
)


@st.composite
def labels(draw: st.DrawFn) -> GoldLabels:
    actors = [
        Actor(
            id=f"A{n}",
            name=WORDS[i],
            kind=draw(st.sampled_from(["person", "organization"])),
            mentions=[_evidence(i, i)],
        )
        for n, i in enumerate(draw(st.lists(st.integers(0, len(WORDS) - 1), max_size=5, unique=True)))
    ]
    ids = [a.id for a in actors]
    events = [
        Event(id=f"E{n}", type=draw(st.sampled_from(["economic", "meeting"])), trigger=_evidence(*span))
        for n, span in enumerate(draw(st.lists(SPANS, max_size=5)))
    ]
    claims = [
        Claim(
            id=f"C{n}",
            statement=TEXT[STARTS[span[0]] :],
            claimant=draw(st.sampled_from([None, *ids])),
            polarity=draw(st.sampled_from(["asserted", "denied"])),
            evidence=_evidence(*span),
        )
        for n, span in enumerate(draw(st.lists(SPANS, max_size=5)))
    ]
    return GoldLabels(actors=actors, events=events, claims=claims)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(gold=st.lists(labels(), min_size=1, max_size=3), predicted=st.lists(labels(), min_size=1, max_size=3))
def test_scores_are_bounded_and_gold_against_itself_is_perfect(
    gold: list[GoldLabels], predicted: list[GoldLabels]
) -> None:
    fixtures = [Fixture(id=f"d{i}", text=TEXT, gold=g) for i, g in enumerate(gold)]
    preds = [
        Extraction(document_id=f"d{i}", metadata=META, actors=p.actors, events=p.events, claims=p.claims)
        for i, p in enumerate(predicted[: len(fixtures)])
    ]
    report = evaluate(preds, fixtures)
    for scores in report.types.values():
        for scheme in (scores.strict, scores.partial):
            for metric in (scheme.precision, scheme.recall, scheme.f1):
                assert 0.0 <= metric.value <= 1.0
                if metric.low is not None and metric.high is not None:
                    assert 0.0 <= metric.low <= metric.value + 1e-9
                    assert metric.value - 1e-9 <= metric.high <= 1.0
        assert scores.counts.exact + scores.counts.partial <= min(scores.counts.gold, scores.counts.predicted)
        assert scores.counts.strict <= scores.counts.exact
    itself = [
        Extraction(
            document_id=f.id, metadata=META, actors=f.gold.actors, events=f.gold.events, claims=f.gold.claims
        )
        for f in fixtures
    ]
    perfect = evaluate(itself, fixtures)
    for scores in perfect.types.values():
        assert scores.strict.f1.value == 1.0
        assert scores.partial.f1.value == 1.0
