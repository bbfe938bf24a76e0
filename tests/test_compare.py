"""Paired statistics with hand-known answers, and comparisons of two eval reports."""

from __future__ import annotations

import numpy as np
import pytest
from test_evaluate import as_prediction, crafted_prediction, gold_fixture

from llm_extract import evaluate
from llm_extract.compare import _accuracy, _micro_f1, compare_reports, paired_test


def _counts(full: list[int], gold: list[int], predicted: list[int] | None = None) -> tuple[np.ndarray, ...]:
    predicted = gold if predicted is None else predicted
    return tuple(np.array(v, dtype=float) for v in (full, [0] * len(full), predicted, gold))


def test_identical_runs_have_delta_zero_and_p_one() -> None:
    a = _counts([3, 1, 4, 1, 5, 2], [5, 5, 5, 5, 5, 5])
    result = paired_test(a, a, _micro_f1)
    assert result.delta == 0.0
    assert (result.low, result.high) == (0.0, 0.0)
    assert result.p_value == 1.0


def test_a_strictly_better_run_has_a_positive_interval_and_an_exact_p_value() -> None:
    gold = [4] * 8
    a = _counts([1] * 8, gold)
    b = _counts([3] * 8, gold)  # better on every one of 8 documents
    result = paired_test(a, b, _micro_f1)
    assert result.a == pytest.approx(0.25)
    assert result.b == pytest.approx(0.75)
    assert result.delta == pytest.approx(0.5)
    assert result.low is not None
    assert result.low > 0
    # Exact sign-flip test: only "no swap" and "swap all" are as extreme as observed: 2 / 2**8.
    assert result.p_value == pytest.approx(2 / 256)


def test_one_document_of_difference_is_not_significant() -> None:
    gold = [4] * 8
    a = _counts([2] * 8, gold)
    b = _counts([2] * 7 + [3], gold)
    result = paired_test(a, b, _micro_f1)
    assert result.delta is not None
    assert result.delta > 0
    assert result.p_value == pytest.approx(
        1.0
    )  # every swap pattern is as extreme: half move it up, half down
    assert result.low is not None
    assert result.low <= 0 <= (result.high or 0)


def test_large_samples_use_random_swaps_with_a_floor_on_p() -> None:
    rng = np.random.default_rng(0)
    gold = [5] * 40
    full_a = rng.integers(0, 3, 40).tolist()
    a = _counts(full_a, gold)
    b = _counts([x + 2 for x in full_a], gold)
    result = paired_test(a, b, _micro_f1, resamples=999)
    assert result.p_value == pytest.approx(1 / 1000)  # nothing as extreme: (0 + 1) / (999 + 1)


def test_accuracy_delta_and_undefined_fields() -> None:
    a = (np.array([1.0, 1.0, 0.0]), np.array([2.0, 2.0, 1.0]))
    b = (np.array([2.0, 2.0, 1.0]), np.array([2.0, 2.0, 1.0]))
    result = paired_test(a, b, _accuracy)
    assert result.a == pytest.approx(0.4)
    assert result.b == pytest.approx(1.0)
    empty = (np.zeros(3), np.zeros(3))
    undefined = paired_test(empty, b, _accuracy)
    assert undefined.delta is None
    assert undefined.a is None


def _reports() -> tuple[object, object]:
    base = gold_fixture()
    fixtures = [base.model_copy(update={"id": f"doc{i}"}) for i in range(8)]
    good = [as_prediction(f).model_copy(update={"document_id": f.id}) for f in fixtures]
    crafted = crafted_prediction()
    mixed = [
        crafted.model_copy(update={"document_id": f.id})
        if i < 6
        else as_prediction(f).model_copy(update={"document_id": f.id})
        for i, f in enumerate(fixtures)
    ]
    return evaluate(good, fixtures), evaluate(mixed, fixtures)


def test_compare_reports_finds_the_worse_version_and_its_losses() -> None:
    good, mixed = _reports()
    comparison = compare_reports(good, mixed)  # type: ignore[arg-type]
    claims = comparison.f1["claims"]["partial"]
    assert claims.delta is not None
    assert claims.delta < 0
    assert claims.high is not None
    assert claims.high < 0
    assert [c.id for c in comparison.losses] == ["doc0", "doc1", "doc2"]  # top three, tied, by id
    assert comparison.wins == []
    loss = comparison.losses[0]
    assert "event E2" in loss.lost  # the crafted prediction misses the planned talks
    assert loss.spurious_change == 2  # "Monday" as an actor and the ungrounded planned event
    # 6 of 8 documents worse, 2 the same: only "swap none" and "swap all six" are as extreme, times
    # the 4 patterns of the unchanged pair: p = 2 * 4 / 2**8.
    assert claims.p_value == pytest.approx(8 / 256)
    assert comparison.worse(alpha=0.05)
    assert comparison.worse(threshold=0.9) == []
    reverse = compare_reports(mixed, good)  # type: ignore[arg-type]
    assert reverse.worse() == []
    assert [c.id for c in reverse.wins] == ["doc0", "doc1", "doc2"]


def test_comparing_a_report_with_itself_changes_nothing() -> None:
    good, _ = _reports()
    comparison = compare_reports(good, good)  # type: ignore[arg-type]
    for schemes in comparison.f1.values():
        for delta in schemes.values():
            assert (delta.delta, delta.p_value) == (0.0, 1.0)
    assert comparison.wins == comparison.losses == []


def test_different_documents_cannot_be_compared() -> None:
    good, _ = _reports()
    fewer = good.model_copy(update={"documents": good.documents[:2]})  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="different documents"):
        compare_reports(good, fewer)  # type: ignore[arg-type]


def test_relabelled_items_are_reported_as_fixed_or_broken() -> None:
    fixture = gold_fixture()
    a = crafted_prediction()
    # B labels PC2 (matched to gold C2, which is a denial) as denied: a fix; PC1 as not hedged: a fix too.
    claims = [
        c.model_copy(update={"polarity": "denied"} if c.id == "PC2" else {"hedged": False}) for c in a.claims
    ]
    b = a.model_copy(update={"claims": claims})
    comparison = compare_reports(evaluate([a], [fixture]), evaluate([b], [fixture]))
    [win] = comparison.wins
    assert win.delta == 0.0  # the same items are found; only their labels changed
    assert win.relabel == 2
    assert "claim C2 polarity asserted→denied (now right)" in win.changed
    assert "claim C1 hedged True→False (now right)" in win.changed
    assert comparison.losses == []
