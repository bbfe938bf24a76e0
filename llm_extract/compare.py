"""Two eval runs over the same fixtures: per-type and per-field deltas, paired statistics, cost.

Pure: it compares two ``EvalReport`` objects (``harness.run_compare`` makes them).

Statistics are paired over documents, since both runs saw the same documents:

* the **delta** of a micro score (B minus A) is computed from per-document counts summed over the
  documents, exactly as the reports compute the scores themselves;
* its **95 % interval** comes from a paired percentile bootstrap (``scipy.stats.bootstrap`` with
  ``paired=True``): each resample draws documents with replacement and takes both runs' counts for
  those documents, seeded so the same inputs give the same interval;
* its **p-value** comes from a paired permutation test (sign flipping): under the null hypothesis that
  the versions are exchangeable, swapping A's and B's counts within any document is as likely as not.
  With 16 documents or fewer every one of the 2^n swaps is enumerated (an exact test); above that,
  ``resamples`` random swaps are drawn. Identical runs give delta 0 and p = 1.

B is **significantly worse** on a score when its delta is below ``-threshold`` and the permutation
p-value is below ``alpha`` (``Comparison.worse``, the ``--fail-if-worse`` gate).
"""

from __future__ import annotations

import difflib
import itertools
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from llm_extract.evaluate import FIELDS, ITEM_TYPES, DocumentEval, EvalReport, micro_statistic, prf

if TYPE_CHECKING:  # numpy and scipy load when a comparison is computed, not with the package
    import numpy as np

__all__ = ["Comparison", "Delta", "DocumentChange", "RunSummary", "compare_reports", "paired_test"]

Scheme = Literal["strict", "partial"]
_EXACT_UP_TO = 16  # documents; 2**16 sign patterns are still cheap to enumerate


class Delta(BaseModel):
    """B minus A for one score, with its paired 95 % interval and permutation p-value."""

    a: float | None
    b: float | None
    delta: float | None
    low: float | None = None
    high: float | None = None
    p_value: float | None = None

    def significant(self, alpha: float) -> bool:
        """Whether the difference is unlikely to be noise at level ``alpha``."""
        return self.p_value is not None and self.p_value < alpha


class RunSummary(BaseModel):
    """What one side of a comparison was and what it cost."""

    prompt: str | None
    prompt_hash: str | None
    model: str | None
    strategy: str | None
    documents: int
    errors: int
    total_tokens: int
    tokens_per_document: float
    cost_usd: float | None
    cost_per_document: float | None
    latency_per_document_s: float


class DocumentChange(BaseModel):
    """One document where B did better or worse than A, and what changed."""

    id: str
    delta: float = Field(description="B minus A: partial F1 summed over the three types")
    found: list[str] = Field(description="gold items B matches and A misses")
    lost: list[str] = Field(description="gold items A matches and B misses")
    changed: list[str] = Field(
        default_factory=list, description="fields of items both match that B labels differently"
    )
    spurious_change: int = Field(description="B's spurious items minus A's")
    relabel: int = Field(0, description="labels B got right that A had wrong, minus the reverse")


class Comparison(BaseModel):
    """Everything ``llm-extract compare`` reports."""

    a: RunSummary
    b: RunSummary
    fixtures: str | None = None
    split: str | None = Field(None, description="dev, test, all (both, see parts), or None")
    documents: list[str]
    f1: dict[str, dict[str, Delta]] = Field(description="type -> strict/partial -> delta")
    fields: dict[str, dict[str, Delta]] = Field(description="type -> field -> accuracy delta")
    wins: list[DocumentChange]
    losses: list[DocumentChange]
    prompt_diff: str = ""
    alpha: float = 0.05
    resamples: int = 2000
    seed: int = 20241117
    parts: list[Comparison] = Field(
        default_factory=list, description="split all: each split compared on its own"
    )

    def worse(self, threshold: float = 0.0, alpha: float | None = None) -> list[str]:
        """Each type and scheme whose F1 B lost by more than ``threshold`` with ``p < alpha``."""
        alpha = self.alpha if alpha is None else alpha
        return [
            f"{t} {scheme} F1 {d.delta:+.3f} (p = {d.p_value:.3g})"
            for t, schemes in self.f1.items()
            for scheme, d in schemes.items()
            if d.delta is not None and d.p_value is not None and d.delta < -threshold and d.p_value < alpha
        ]


# The reports' own statistic (full-credit, half-credit, predicted, gold arrays), so a delta is exactly
# the difference of the two reports' numbers.
_micro_f1 = micro_statistic("f1", 0.5)


def _accuracy(correct: Any, total: Any, axis: int = -1) -> Any:
    import numpy as np

    n = np.sum(total, axis=axis)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n > 0, np.sum(correct, axis=axis) / np.maximum(n, 1), np.nan)


def paired_test(
    a: tuple[np.ndarray, ...],
    b: tuple[np.ndarray, ...],
    statistic: Callable[..., Any],
    *,
    resamples: int = 2000,
    seed: int = 20241117,
) -> Delta:
    """Compare ``statistic(*b) - statistic(*a)`` over paired per-document arrays (same length, same order).

    ``statistic`` takes the arrays and an ``axis`` and sums over it (a micro score).
    """
    import numpy as np
    from scipy.stats import DegenerateDataWarning, bootstrap

    n = len(a[0])
    score_a, score_b = float(statistic(*a, axis=-1)), float(statistic(*b, axis=-1))
    if np.isnan(score_a) or np.isnan(score_b):
        return Delta(a=_num(score_a), b=_num(score_b), delta=None)
    delta = score_b - score_a
    low = high = p_value = None
    if n >= 2:
        k = len(a)

        def difference(*arrays: Any, axis: int = -1) -> Any:
            return statistic(*arrays[k:], axis=axis) - statistic(*arrays[:k], axis=axis)

        with warnings.catch_warnings():
            # An accuracy is undefined (NaN) in resamples without matched pairs; scipy then warns
            # and gives up on the interval. Those resamples are dropped below instead.
            warnings.simplefilter("ignore", DegenerateDataWarning)
            result = bootstrap(
                (*a, *b),
                difference,
                paired=True,
                vectorized=True,
                n_resamples=resamples,
                method="percentile",
                rng=np.random.default_rng(seed),
            )
        low, high = _num(result.confidence_interval.low), _num(result.confidence_interval.high)
        if low is None or high is None:
            samples = np.asarray(result.bootstrap_distribution, dtype=float)
            samples = samples[~np.isnan(samples)]
            if len(samples) >= resamples // 2:
                low, high = (float(v) for v in np.percentile(samples, [2.5, 97.5]))
        p_value = _permutation_p(a, b, difference, delta, resamples=resamples, seed=seed)
    return Delta(a=score_a, b=score_b, delta=delta, low=low, high=high, p_value=p_value)


def _num(value: Any) -> float | None:
    import numpy as np

    value = float(value)
    return None if np.isnan(value) else value


def _permutation_p(
    a: tuple[np.ndarray, ...],
    b: tuple[np.ndarray, ...],
    difference: Callable[..., Any],
    observed: float,
    *,
    resamples: int,
    seed: int,
) -> float:
    import numpy as np

    n = len(a[0])
    if n <= _EXACT_UP_TO:
        swaps = np.array(list(itertools.product((False, True), repeat=n)), dtype=bool)
    else:
        swaps = np.random.default_rng(seed).random((resamples, n)) < 0.5
    # Each row of ``swaps`` says, per document, whether A's and B's counts trade places.
    left = [np.where(swaps, y, x) for x, y in zip(a, b, strict=True)]
    right = [np.where(swaps, x, y) for x, y in zip(a, b, strict=True)]
    permuted = difference(*left, *right, axis=-1)
    # Ties count as extreme (>=), with a tolerance for floating point: identical runs give p = 1.
    extreme = np.abs(permuted) >= abs(observed) - 1e-12
    if n <= _EXACT_UP_TO:
        return float(np.mean(extreme))
    return float((np.sum(extreme) + 1) / (len(permuted) + 1))


def _count_arrays(documents: list[DocumentEval], item_type: str, scheme: Scheme) -> tuple[np.ndarray, ...]:
    import numpy as np

    counts = [d.counts[item_type] for d in documents]
    full = [c.strict if scheme == "strict" else c.exact for c in counts]
    half = [0 if scheme == "strict" else c.partial for c in counts]
    return tuple(
        np.array(v, dtype=float)
        for v in (full, half, [c.predicted for c in counts], [c.gold for c in counts])
    )


def _field_arrays(documents: list[DocumentEval], item_type: str, name: str) -> tuple[np.ndarray, ...]:
    import numpy as np

    scores = [d.fields[item_type][name] for d in documents]
    return np.array([s.correct for s in scores], dtype=float), np.array(
        [s.total for s in scores], dtype=float
    )


def _summary(report: EvalReport) -> RunSummary:
    n = max(len(report.documents), 1)
    return RunSummary(
        prompt=report.prompt,
        prompt_hash=report.prompt_hash,
        model=report.model,
        strategy=report.strategy,
        documents=len(report.documents),
        errors=report.errors,
        total_tokens=report.usage.total_tokens,
        tokens_per_document=report.usage.total_tokens / n,
        cost_usd=report.cost_usd,
        cost_per_document=None if report.cost_usd is None else report.cost_usd / n,
        latency_per_document_s=report.latency_s / n,
    )


def _matched(doc: DocumentEval, item_type: str) -> set[str]:
    return {m.gold_id for m in doc.matches[item_type]}


_COMPARED = {"actors": ("kind",), "events": ("type", "status"), "claims": ("polarity", "hedged")}


def _labels(doc: DocumentEval, item_type: str) -> dict[str, dict[str, Any]]:
    """For each matched gold id: the matched prediction's labels that can be compared across runs."""
    predicted = {i.id: i for i in getattr(doc.predicted, item_type)} if doc.predicted else {}
    return {
        m.gold_id: {name: getattr(predicted[m.predicted_id], name) for name in _COMPARED[item_type]}
        for m in doc.matches[item_type]
        if m.predicted_id in predicted
    }


def _relabelled(da: DocumentEval, db: DocumentEval, item_type: str) -> list[str]:
    gold = {i.id: i for i in getattr(da.gold, item_type)}
    before, after = _labels(da, item_type), _labels(db, item_type)
    out = []
    for gold_id in sorted(set(before) & set(after)):
        for name in _COMPARED[item_type]:
            old, new = before[gold_id][name], after[gold_id][name]
            if old != new:
                verdict = "now right" if new == getattr(gold[gold_id], name) else "now wrong"
                out.append(f"{item_type[:-1]} {gold_id} {name} {old}→{new} ({verdict})")
    return out


def _changes(a: list[DocumentEval], b: list[DocumentEval]) -> list[DocumentChange]:
    changes = []
    for da, db in zip(a, b, strict=True):
        delta = 0.0
        found: list[str] = []
        lost: list[str] = []
        changed: list[str] = []
        spurious = 0
        for t in ITEM_TYPES:
            ca, cb = da.counts[t], db.counts[t]
            delta += prf(cb.exact + 0.5 * cb.partial, cb.predicted, cb.gold)[2]
            delta -= prf(ca.exact + 0.5 * ca.partial, ca.predicted, ca.gold)[2]
            found += [f"{t[:-1]} {i}" for i in sorted(_matched(db, t) - _matched(da, t))]
            lost += [f"{t[:-1]} {i}" for i in sorted(_matched(da, t) - _matched(db, t))]
            changed += _relabelled(da, db, t)
            spurious += cb.spurious - ca.spurious
        changes.append(
            DocumentChange(
                id=da.id,
                delta=round(delta, 6),
                found=found,
                lost=lost,
                changed=changed,
                spurious_change=spurious,
                relabel=sum(c.endswith("(now right)") for c in changed)
                - sum(c.endswith("(now wrong)") for c in changed),
            )
        )
    return changes


def prompt_diff(a: Path | None, b: Path | None, labels: tuple[str, str] | None = None) -> str:
    """A unified diff of two prompt files (empty when either is unknown or they are the same file)."""
    if a is None or b is None or a == b:
        return ""
    lines_a = a.read_text(encoding="utf-8").splitlines(keepends=True)
    lines_b = b.read_text(encoding="utf-8").splitlines(keepends=True)
    names = labels or (a.name, b.name)
    return "".join(difflib.unified_diff(lines_a, lines_b, fromfile=names[0], tofile=names[1], n=2))


def compare_reports(
    a: EvalReport,
    b: EvalReport,
    *,
    resamples: int = 2000,
    seed: int = 20241117,
    alpha: float = 0.05,
    diff: str = "",
    top: int = 3,
) -> Comparison:
    """Paired comparison of two reports over the same documents (in any order)."""
    ids_a, ids_b = [d.id for d in a.documents], [d.id for d in b.documents]
    if sorted(ids_a) != sorted(ids_b):
        raise ValueError(
            f"the runs cover different documents: only in A {sorted(set(ids_a) - set(ids_b))}, "
            f"only in B {sorted(set(ids_b) - set(ids_a))}"
        )
    by_id = {d.id: d for d in b.documents}
    docs_a = sorted(a.documents, key=lambda d: d.id)
    docs_b = [by_id[d.id] for d in docs_a]
    f1 = {
        t: {
            scheme: paired_test(
                _count_arrays(docs_a, t, scheme),
                _count_arrays(docs_b, t, scheme),
                _micro_f1,
                resamples=resamples,
                seed=seed,
            )
            for scheme in ("strict", "partial")
        }
        for t in ITEM_TYPES
    }
    fields = {
        t: {
            name: paired_test(
                _field_arrays(docs_a, t, name),
                _field_arrays(docs_b, t, name),
                _accuracy,
                resamples=resamples,
                seed=seed,
            )
            for name in FIELDS[t]
        }
        for t in ITEM_TYPES
    }
    changes = _changes(docs_a, docs_b)
    # Ranked by F1 change, then by labels fixed or broken on items both runs found.
    wins = sorted(
        (c for c in changes if (c.delta, c.relabel) > (0, 0)), key=lambda c: (-c.delta, -c.relabel, c.id)
    )
    losses = sorted(
        (c for c in changes if (c.delta, c.relabel) < (0, 0)), key=lambda c: (c.delta, c.relabel, c.id)
    )
    wins, losses = wins[:top], losses[:top]
    return Comparison(
        a=_summary(a),
        b=_summary(b),
        fixtures=a.fixtures,
        split=a.split,
        documents=[d.id for d in docs_a],
        f1=f1,
        fields=fields,
        wins=wins,
        losses=losses,
        prompt_diff=diff,
        alpha=alpha,
        resamples=resamples,
        seed=seed,
    )
