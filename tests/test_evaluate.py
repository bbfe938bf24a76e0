"""The scorer: hand-computed counts, identities (gold scores 1, nothing scores 0), invariance, nervaluate."""

from __future__ import annotations

import random

import pytest
from conftest import META
from nervaluate import Evaluator

from llm_extract.evaluate import MatchConfig, evaluate, prf
from llm_extract.fixtures import Fixture, GoldLabels
from llm_extract.schema import (
    Actor,
    Claim,
    Event,
    EventDate,
    Evidence,
    Extraction,
    Participant,
)

TEXT = (
    "Acme Corp fired 200 workers on Monday. The Dockers Union said the layoffs were illegal. "
    "Acme denied any wrongdoing. Talks with the Ministry of Labour are planned for Friday."
)


def ev(quote: str, text: str = TEXT, nth: int = 0) -> Evidence:
    start = -1
    for _ in range(nth + 1):
        start = text.index(quote, start + 1)
    return Evidence(quote=quote, start=start, end=start + len(quote), alignment="exact", score=100.0)


def gold_fixture() -> Fixture:
    return Fixture(
        id="layoffs",
        domain="business",
        text=TEXT,
        gold=GoldLabels(
            actors=[
                Actor(
                    id="A1",
                    name="Acme Corp",
                    kind="organization",
                    aliases=["Acme"],
                    mentions=[ev("Acme Corp")],
                ),
                Actor(id="A2", name="Dockers Union", kind="organization", mentions=[ev("Dockers Union")]),
                Actor(
                    id="A3", name="Ministry of Labour", kind="government", mentions=[ev("Ministry of Labour")]
                ),
            ],
            events=[
                Event(
                    id="E1",
                    type="economic",
                    trigger=ev("fired"),
                    participants=[Participant(actor_id="A1", role="agent")],
                    date=EventDate(
                        expression="on Monday", value="2025-03-03", precision="day", relative=True
                    ),
                    status="occurred",
                ),
                Event(
                    id="E2",
                    type="meeting",
                    trigger=ev("Talks"),
                    participants=[Participant(actor_id="A2"), Participant(actor_id="A3")],
                    status="planned",
                ),
            ],
            claims=[
                Claim(
                    id="C1",
                    statement="The layoffs were illegal.",
                    claimant="A2",
                    evidence=ev("the layoffs were illegal"),
                ),
                Claim(
                    id="C2",
                    statement="Acme did nothing wrong.",
                    claimant="A1",
                    polarity="denied",
                    evidence=ev("denied any wrongdoing"),
                ),
            ],
        ),
    )


def crafted_prediction() -> Extraction:
    """Counts written by hand in test_hand_computed_counts; change both together."""
    return Extraction(
        document_id="layoffs",
        metadata=META,
        actors=[
            Actor(id="P1", name="Acme", kind="organization", mentions=[ev("Acme", nth=1)]),  # exact via alias
            Actor(
                id="P2", name="Dockers Unions", kind="group", mentions=[ev("Dockers Union")]
            ),  # fuzzy: partial
            Actor(id="P3", name="Monday", kind="other", mentions=[ev("Monday")]),  # spurious
        ],
        events=[
            Event(  # overlaps "fired" without matching its boundaries: partial
                id="PE1",
                type="economic",
                trigger=ev("fired 200 workers"),
                participants=[Participant(actor_id="P1", role="agent")],
                date=EventDate(expression="on Monday", value="2025-03-03"),
                status="occurred",
            ),
            Event(  # "planned" does not overlap "Talks": spurious, and its quote is ungrounded
                id="PE2", type="policy", trigger=Evidence(quote="plans were made"), status="planned"
            ),
        ],
        claims=[
            Claim(  # whole sentence around C1: partial; claimant right, hedged wrong
                id="PC1",
                statement="The Dockers Union said the layoffs were illegal.",
                claimant="P2",
                hedged=True,
                evidence=ev("The Dockers Union said the layoffs were illegal."),
            ),
            Claim(  # exact span of C2; claimant (author) and polarity wrong, hedged right
                id="PC2", statement="Acme denied any wrongdoing.", evidence=ev("denied any wrongdoing")
            ),
        ],
    )


def as_prediction(fixture: Fixture) -> Extraction:
    return Extraction(
        document_id=fixture.id,
        metadata=META,
        actors=fixture.gold.actors,
        events=fixture.gold.events,
        claims=fixture.gold.claims,
    )


def test_hand_computed_counts() -> None:
    report = evaluate([crafted_prediction()], [gold_fixture()])
    actors, events, claims = (report.types[t] for t in ("actors", "events", "claims"))

    assert (actors.counts.exact, actors.counts.partial, actors.counts.missed, actors.counts.spurious) == (
        1,
        1,
        1,
        1,
    )
    assert (events.counts.exact, events.counts.partial, events.counts.missed, events.counts.spurious) == (
        0,
        1,
        1,
        1,
    )
    assert (claims.counts.exact, claims.counts.partial, claims.counts.missed, claims.counts.spurious) == (
        1,
        1,
        0,
        0,
    )

    # actors: strict 1/3; partial (1 + 0.5) / 3
    assert actors.strict.precision.value == pytest.approx(1 / 3)
    assert actors.strict.f1.value == pytest.approx(1 / 3)
    assert actors.partial.f1.value == pytest.approx(0.5)
    # events: strict 0; partial 0.5 / 2
    assert events.strict.f1.value == 0.0
    assert events.partial.precision.value == pytest.approx(0.25)
    assert events.partial.recall.value == pytest.approx(0.25)
    # claims: PC2 has C2's exact span but the wrong claimant (author, not Acme): exact, not strict
    assert (actors.counts.strict, events.counts.strict, claims.counts.strict) == (1, 0, 0)
    assert claims.strict.f1.value == 0.0
    assert claims.partial.f1.value == pytest.approx(0.75)

    assert actors.fields["kind"].accuracy == pytest.approx(0.5)
    assert [events.fields[f].accuracy for f in ("type", "status", "date", "participants")] == [
        1.0,
        1.0,
        1.0,
        1.0,
    ]
    assert [claims.fields[f].accuracy for f in ("claimant", "polarity", "hedged")] == [0.5, 0.5, 0.5]

    assert actors.grounding_rate == 1.0
    assert events.grounding_rate == 0.5  # PE2's quote is not in the text
    assert claims.grounding_rate == 1.0

    doc = report.documents[0]
    assert {(m.gold_id, m.predicted_id, m.exact) for m in doc.matches["actors"]} == {
        ("A1", "P1", True),
        ("A2", "P2", False),
    }
    assert {(m.gold_id, m.predicted_id, m.exact) for m in doc.matches["claims"]} == {
        ("C1", "PC1", False),
        ("C2", "PC2", True),
    }


def test_gold_as_prediction_scores_one() -> None:
    fixture = gold_fixture()
    report = evaluate([as_prediction(fixture)], [fixture])
    for item_type, scores in report.types.items():
        for scheme in (scores.strict, scores.partial):
            assert (scheme.precision.value, scheme.recall.value, scheme.f1.value, scheme.macro_f1) == (
                1,
                1,
                1,
                1,
            ), item_type
        assert all(f.accuracy == 1.0 for f in scores.fields.values() if f.total), item_type
        assert scores.grounding_rate == 1.0


def test_empty_prediction_scores_zero_recall() -> None:
    fixture = gold_fixture()
    for predictions in ([], [Extraction(document_id="layoffs", metadata=META)]):
        report = evaluate(predictions, [fixture])
        for scores in report.types.values():
            assert scores.strict.recall.value == 0.0
            assert scores.partial.recall.value == 0.0
            assert scores.strict.f1.value == 0.0
            assert scores.counts.missed == scores.counts.gold > 0
        assert report.errors == (1 if not predictions else 0)


def test_nothing_to_find_and_nothing_found_is_perfect() -> None:
    assert prf(0, 0, 0) == (1.0, 1.0, 1.0)
    assert prf(0, 3, 0) == (0.0, 0.0, 0.0)
    assert prf(0, 0, 3) == (0.0, 0.0, 0.0)
    assert prf(1.5, 3, 2) == pytest.approx((0.5, 0.75, 0.6))


def test_permutation_invariance() -> None:
    fixture = gold_fixture()
    prediction = crafted_prediction()
    base = evaluate([prediction], [fixture])
    rng = random.Random(7)
    for _ in range(10):
        gold = fixture.gold.model_copy(
            update={
                k: rng.sample(getattr(fixture.gold, k), len(getattr(fixture.gold, k)))
                for k in ("actors", "events", "claims")
            }
        )
        shuffled = prediction.model_copy(
            update={
                k: rng.sample(getattr(prediction, k), len(getattr(prediction, k)))
                for k in ("actors", "events", "claims")
            }
        )
        report = evaluate([shuffled], [fixture.model_copy(update={"gold": gold})])
        for item_type in ("actors", "events", "claims"):
            assert report.types[item_type].counts == base.types[item_type].counts
            assert report.types[item_type].fields == base.types[item_type].fields


def test_a_prediction_for_an_unknown_document_is_an_error() -> None:
    with pytest.raises(ValueError, match="no gold"):
        evaluate([Extraction(document_id="other", metadata=META)], [gold_fixture()])


def _many_documents() -> tuple[list[Fixture], list[Extraction]]:
    base, crafted = gold_fixture(), crafted_prediction()
    fixtures, predictions = [], []
    for n in range(6):
        fixture = base.model_copy(update={"id": f"doc{n}"})
        fixtures.append(fixture)
        source = crafted if n % 2 else as_prediction(base)
        predictions.append(source.model_copy(update={"document_id": fixture.id}))
    return fixtures, predictions


def test_bootstrap_intervals_are_seeded_and_bracket_the_score() -> None:
    fixtures, predictions = _many_documents()
    first = evaluate(predictions, fixtures)
    second = evaluate(predictions, fixtures)
    other_seed = evaluate(predictions, fixtures, config=MatchConfig(seed=1))
    for item_type in ("actors", "events", "claims"):
        f1 = first.types[item_type].strict.f1
        assert f1 == second.types[item_type].strict.f1
        assert f1.low is not None
        assert f1.high is not None
        assert f1.low <= f1.value <= f1.high
        assert f1.low < f1.high  # documents differ, so the interval has width
        assert other_seed.types[item_type].strict.f1.value == f1.value  # the seed moves bounds only
    # Micro F1 sums counts: half the documents perfect, half crafted.
    assert first.types["claims"].strict.f1.value == pytest.approx(prf(3 * 2 + 3 * 0, 12, 12)[2])
    assert first.types["claims"].partial.f1.value == pytest.approx(prf(3 * 2 + 3 * 1.5, 12, 12)[2])


def test_a_single_document_has_no_interval() -> None:
    report = evaluate([crafted_prediction()], [gold_fixture()])
    assert report.types["actors"].strict.f1.low is None


def test_report_round_trips_through_json() -> None:
    from llm_extract.evaluate import EvalReport

    report = evaluate([crafted_prediction()], [gold_fixture()])
    assert EvalReport.model_validate_json(report.model_dump_json()) == report


# --- nervaluate cross-check: the same spans, counted by both ---

FILLER = "x" * 2000  # letters only, so trimming punctuation never moves a boundary


def _random_case(rng: random.Random) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Non-overlapping gold spans; each prediction overlaps at most one gold span and no other prediction."""
    gold: list[tuple[int, int]] = []
    predicted: list[tuple[int, int]] = []
    at = 0
    for _ in range(rng.randint(0, 8)):
        at += rng.randint(30, 60)
        start, end = at, at + rng.randint(3, 20)
        gold.append((start, end))
        choice = rng.random()
        if choice < 0.35:
            predicted.append((start, end))
        elif choice < 0.7:  # shifted but still overlapping, staying inside the gap around this span
            shift = rng.randint(1, end - start - 1)
            predicted.append(
                (start + shift, end + shift) if rng.random() < 0.5 else (start - shift, end - shift)
            )
        at = end + 25
        if rng.random() < 0.3:  # a spurious span in the gap after this gold span
            predicted.append((end + 10, end + 18))
    return gold, predicted


LABELS = ("meeting", "visit")


def _events(spans: list[tuple[int, int, str]], prefix: str) -> list[Event]:
    return [
        Event(
            id=f"{prefix}{i}",
            type=label,  # type: ignore[arg-type]
            trigger=Evidence(quote=FILLER[s:e], start=s, end=e, alignment="exact", score=100.0),
        )
        for i, (s, e, label) in enumerate(spans)
    ]


def _labelled(rng: random.Random, spans: list[tuple[int, int]]) -> list[tuple[int, int, str]]:
    return [(s, e, rng.choice(LABELS)) for s, e in spans]


@pytest.mark.parametrize("seed", range(40))
def test_span_counts_agree_with_nervaluate(seed: int) -> None:
    rng = random.Random(seed)
    documents = []
    for _ in range(3):
        gold, pred = _random_case(rng)
        documents.append((_labelled(rng, gold), _labelled(rng, pred)))
    fixtures = [
        Fixture(id=f"d{i}", text=FILLER, gold=GoldLabels(events=_events(gold, "G")))
        for i, (gold, _) in enumerate(documents)
    ]
    predictions = [
        Extraction(document_id=f"d{i}", metadata=META, events=_events(pred, "P"))
        for i, (_, pred) in enumerate(documents)
    ]
    # nervaluate counts any overlap as partial: no minimum IoU here.
    ours = evaluate(predictions, fixtures, config=MatchConfig(min_iou=0.0)).types["events"]

    # nervaluate counts inclusive ends; ours are half-open. The event type is the label.
    true = [[{"label": t, "start": s, "end": e - 1} for s, e, t in gold] for gold, _ in documents]
    pred = [[{"label": t, "start": s, "end": e - 1} for s, e, t in p] for _, p in documents]
    theirs = Evaluator(true, pred, tags=list(LABELS), loader="dict").evaluate()["overall"]

    partial, strict = theirs["partial"], theirs["strict"]
    assert ours.counts.strict == strict.correct  # exact boundaries and the same type
    assert ours.counts.exact == partial.correct  # exact boundaries, any type
    assert ours.counts.partial == partial.partial
    assert ours.counts.missed == partial.missed
    assert ours.counts.spurious == partial.spurious
    if ours.counts.predicted and ours.counts.gold:
        assert ours.partial.precision.value == pytest.approx(partial.precision)
        assert ours.partial.recall.value == pytest.approx(partial.recall)
        assert ours.strict.precision.value == pytest.approx(strict.precision)
        assert ours.strict.recall.value == pytest.approx(strict.recall)


def test_strict_needs_the_type_too() -> None:
    """Same trigger span, different type: an exact pair, but not a strict one."""
    fixture = gold_fixture()
    wrong = [
        e.model_copy(update={"type": "legal", "status": "denied", "participants": []})
        for e in fixture.gold.events
    ]
    report = evaluate([Extraction(document_id="layoffs", metadata=META, events=wrong)], [fixture])
    events = report.types["events"]
    assert (events.counts.exact, events.counts.strict) == (2, 0)
    assert events.strict.f1.value == 0.0
    assert events.partial.f1.value == 1.0
    assert events.fields["type"].accuracy == 0.0
    wrong_kind = [a.model_copy(update={"kind": "person"}) for a in fixture.gold.actors]
    actors = evaluate([Extraction(document_id="layoffs", metadata=META, actors=wrong_kind)], [fixture]).types[
        "actors"
    ]
    assert (actors.counts.exact, actors.counts.strict, actors.strict.f1.value) == (3, 0, 0.0)


def _event(event_id: str, kind: str, start: int, end: int, text: str) -> Event:
    trigger = Evidence(quote=text[start:end], start=start, end=end, alignment="exact")
    return Event(id=event_id, type=kind, trigger=trigger)  # type: ignore[arg-type]


def test_assignment_never_trades_an_exact_pair_for_two_partial_ones() -> None:
    text = "x" * 40
    gold = [_event("E1", "economic", 10, 20, text), _event("E2", "legal", 18, 30, text)]
    # P_exact has E1's span but E2's type; P_near overlaps both and has E1's type.
    predicted = [_event("P_exact", "legal", 10, 20, text), _event("P_near", "economic", 11, 20, text)]
    fixture = Fixture(id="d", text=text, gold=GoldLabels(events=gold))
    report = evaluate([Extraction(document_id="d", metadata=META, events=predicted)], [fixture])
    pairs = {(m.gold_id, m.predicted_id) for m in report.documents[0].matches["events"]}
    assert ("E1", "P_exact") in pairs
    assert report.types["events"].counts.exact == 1


def test_a_claimant_that_matches_no_gold_actor_is_wrong() -> None:
    fixture = gold_fixture()
    prediction = crafted_prediction()
    # P3 ("Monday") matches no gold actor: a claim attributed to it has the wrong claimant.
    claims = [c.model_copy(update={"claimant": "P3"}) for c in prediction.claims]
    report = evaluate([prediction.model_copy(update={"claims": claims})], [fixture])
    assert report.types["claims"].fields["claimant"].accuracy == 0.0


def test_another_seed_moves_the_bounds_not_the_value() -> None:
    base = gold_fixture()
    fixtures, predictions = [], []
    for n in range(12):  # documents that each miss a different share of the gold actors
        fixture = base.model_copy(update={"id": f"doc{n}"})
        fixtures.append(fixture)
        kept = base.gold.actors[: n % 4]
        predictions.append(Extraction(document_id=fixture.id, metadata=META, actors=kept))
    first = evaluate(predictions, fixtures).types["actors"].strict.f1
    other = evaluate(predictions, fixtures, config=MatchConfig(seed=7)).types["actors"].strict.f1
    assert other.value == first.value
    assert (other.low, other.high) != (first.low, first.high)
