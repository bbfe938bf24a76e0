"""Score predictions against gold labels: pure functions, no I/O and no model calls.

How items are matched (one-to-one per type, per document, by optimal assignment with
``scipy.optimize.linear_sum_assignment``; the weights make it maximise first the number of eligible
pairs, then the number of exact pairs, then the total similarity):

* **Actors.** Names are normalized (accents, case, quote marks and dashes folded; a leading "the"
  and a possessive "'s" dropped; punctuation to spaces). Similarity is the best rapidfuzz
  ``token_sort_ratio`` between any name or alias of the gold actor and any of the predicted one.
  A pair is eligible at ``MatchConfig.actor_threshold`` (85) or above; it is **exact** when some name
  or alias is identical after normalization, otherwise **partial**. Its type is the actor's kind.
* **Events.** A pair is eligible when the trigger spans share at least ``MatchConfig.min_overlap``
  characters and their IoU is at least ``MatchConfig.min_iou``. Similarity: 0.5 x span IoU + 0.25 x
  same type + 0.25 x participants F1. Exact when the spans are identical once surrounding whitespace
  and punctuation are trimmed, otherwise partial. Its type is the event type.
* **Claims.** Eligible when the evidence spans overlap as for events. Similarity: 0.5 x span IoU +
  0.25 x statement similarity (rapidfuzz ``token_set_ratio``) + 0.25 x same claimant. Exact and
  partial as for events. Its type is the claimant (who makes a claim is part of what it is).

Participants and claimants are compared through the actor matching: a predicted actor id counts as
the gold actor it was matched to (an unmatched predicted actor equals no gold actor); the author (no
claimant) equals the author.

Scores follow nervaluate / SemEval-2013 task 9. With ACT predicted items, POS gold items, EXA pairs
with exact boundaries, STR exact pairs whose type also agrees, and PAR pairs that only overlap:
strict precision is STR / ACT and recall STR / POS (boundaries and type, as nervaluate's "strict");
partial precision is (EXA + 0.5 PAR) / ACT and recall (EXA + 0.5 PAR) / POS (boundaries only, half
credit for overlap, as nervaluate's "partial"). Nothing to find and nothing found scores 1.0; any
other empty denominator scores 0.0. Micro scores sum counts over documents;
macro scores average per-document F1 over the documents that have gold or predicted items of the type.
95 % confidence intervals come from a seeded percentile bootstrap over documents
(``scipy.stats.bootstrap``), so the same inputs always give the same intervals.

Per-field accuracy is computed on matched pairs only: actor kind; event type, status, date (pairs
where either side has a date value; equal values count) and participants (mean F1 over pairs where
either side has participants); claim claimant, polarity and hedged. The grounding rate is the share
of predicted items whose evidence re-verifies against the text (``grounding.verify``); an actor
counts when any of its mentions does.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal, NamedTuple

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializationInfo,
    computed_field,
    field_serializer,
    model_validator,
)
from rapidfuzz import fuzz

from llm_extract.fixtures import Fixture, GoldLabels
from llm_extract.grounding import fold, verify
from llm_extract.schema import Actor, Claim, Event, Evidence, Extraction, Usage

__all__ = [
    "FIELDS",
    "ITEM_TYPES",
    "Counts",
    "DocumentEval",
    "EvalReport",
    "FieldScore",
    "Floor",
    "Match",
    "MatchConfig",
    "Metric",
    "Scores",
    "Similarity",
    "TypeReport",
    "combine_reports",
    "evaluate",
    "match_items",
    "micro_statistic",
    "prf",
]

ItemType = Literal["actors", "events", "claims"]
ITEM_TYPES: tuple[ItemType, ...] = ("actors", "events", "claims")
FIELDS: dict[ItemType, tuple[str, ...]] = {
    "actors": ("kind",),
    "events": ("type", "status", "date", "participants"),
    "claims": ("claimant", "polarity", "hedged"),
}
_TRIM = " \t\r\n.,;:!?\"'\u201c\u201d\u2018\u2019()[]\u2013\u2014-"


class MatchConfig(BaseModel):
    """The thresholds that decide what counts as a match (documented in this module's docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    actor_threshold: float = Field(85.0, ge=0, le=100, description="min name similarity (0-100)")
    min_overlap: int = Field(1, ge=1, description="characters two spans must share to be matched")
    min_iou: float = Field(0.1, ge=0, le=1, description="min intersection over union of two matched spans")
    bootstrap_resamples: int = Field(2000, ge=100)
    seed: int = 20241117


class Counts(BaseModel):
    """Matching outcome counts, nervaluate-style."""

    gold: int = 0
    predicted: int = 0
    exact: int = Field(0, description="matched pairs with exact boundaries (or an identical name)")
    partial: int = Field(0, description="matched pairs that only overlap (or have a similar name)")
    strict: int = Field(0, description="exact pairs whose type (kind, event type, claimant) agrees too")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def missed(self) -> int:
        """Gold items with no predicted match."""
        return self.gold - self.exact - self.partial

    @computed_field  # type: ignore[prop-decorator]
    @property
    def spurious(self) -> int:
        """Predicted items with no gold match."""
        return self.predicted - self.exact - self.partial

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            gold=self.gold + other.gold,
            predicted=self.predicted + other.predicted,
            exact=self.exact + other.exact,
            partial=self.partial + other.partial,
            strict=self.strict + other.strict,
        )


class Metric(BaseModel):
    """A score with its 95 % bootstrap interval (None when there are fewer than two documents)."""

    value: float
    low: float | None = None
    high: float | None = None


class Scores(BaseModel):
    """Precision, recall and F1 under one scheme (strict or partial)."""

    precision: Metric
    recall: Metric
    f1: Metric
    macro_f1: float


class FieldScore(BaseModel):
    """Accuracy of one field over the matched pairs where it applies."""

    correct: float = 0.0
    total: int = 0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def accuracy(self) -> float | None:
        """Correct / total, or None when no matched pair carries the field."""
        return self.correct / self.total if self.total else None

    def __add__(self, other: FieldScore) -> FieldScore:
        return FieldScore(correct=self.correct + other.correct, total=self.total + other.total)


class Match(BaseModel):
    """One matched pair of a document: gold id, predicted id, exact or partial, similarity."""

    gold_id: str
    predicted_id: str
    exact: bool
    strict: bool = Field(description="exact, and the type (kind, event type, claimant) agrees")
    similarity: float


class TypeReport(BaseModel):
    """Everything measured for one item type over all documents."""

    counts: Counts
    strict: Scores
    partial: Scores
    fields: dict[str, FieldScore]
    grounded: int
    grounding_rate: float | None = Field(description="share of predicted items whose evidence verifies")

    def f1(self, scheme: Literal["strict", "partial"] = "strict") -> float:
        """Micro F1 under one scheme."""
        return (self.strict if scheme == "strict" else self.partial).f1.value


class DocumentEval(BaseModel):
    """One document's gold, prediction, matches and counts: what the report's drill-down shows."""

    id: str
    domain: str = "unspecified"
    split: str | None = Field(None, description="the fixture split the document belongs to: dev or test")
    text: str
    gold: GoldLabels
    predicted: Extraction | None = None
    error: str | None = None
    counts: dict[str, Counts]
    matches: dict[str, list[Match]]
    fields: dict[str, dict[str, FieldScore]]
    grounded: dict[str, int]


class Floor(BaseModel):
    """What the no-model ``rules`` strategy scores on the same fixtures: the bar a model must clear."""

    f1: dict[str, dict[str, float]] = Field(description="type -> strict/partial -> micro F1")
    fields: dict[str, dict[str, float | None]] = Field(description="type -> field -> accuracy")
    candidate_recall: dict[str, float] = Field(
        default_factory=dict,
        description="type -> share of gold items some candidate covers: the ceiling of choosing among them",
    )

    @classmethod
    def of(cls, report: EvalReport) -> Floor:
        """The floor summary of a report made with the rules strategy."""
        return cls(
            f1={t: {"strict": s.f1("strict"), "partial": s.f1("partial")} for t, s in report.types.items()},
            fields={t: {n: f.accuracy for n, f in s.fields.items()} for t, s in report.types.items()},
        )


class EvalReport(BaseModel):
    """Scores of one run over a set of fixtures, per type, with the documents behind them.

    ``split`` says which fixtures were scored: ``dev`` (the files directly in the fixture directory),
    ``test`` (its ``test/`` folder), ``all`` (both: ``parts`` then holds each split's own report,
    scored on its own, and this report scores them together), or None (a directory or a list of
    fixtures given as such). Saved as JSON, the parts leave out their documents, which are this
    report's documents of that split; loading puts them back.
    """

    prompt: str | None = None
    prompt_hash: str | None = None
    model: str | None = None
    strategy: str | None = None
    fixtures: str | None = None
    split: str | None = Field(None, description="dev, test, all (both, see parts), or None")
    config: MatchConfig = Field(default_factory=MatchConfig)
    types: dict[str, TypeReport]
    documents: list[DocumentEval]
    errors: int = 0
    usage: Usage = Field(default_factory=Usage)
    cost_usd: float | None = None
    latency_s: float = 0.0
    wall_time_s: float | None = None
    floor: Floor | None = Field(None, description="the rules strategy on the same fixtures")
    parts: list[EvalReport] = Field(
        default_factory=list, description="split all: the report of each split, scored on its own"
    )

    def f1(self, item_type: str, scheme: Literal["strict", "partial"] = "strict") -> float:
        """Micro F1 of one item type under one scheme."""
        report = self.types[item_type]
        return (report.strict if scheme == "strict" else report.partial).f1.value

    def for_split(self, split: str) -> EvalReport | None:
        """The report of one split: this one, one of its parts, or None when the run did not score it."""
        if self.split == split:
            return self
        return next((p for p in self.parts if p.split == split), None)

    @field_serializer("parts")
    def _parts_without_documents(self, parts: list[EvalReport], info: SerializationInfo) -> list[Any]:
        # A part's documents are this report's documents of its split: saved once, not twice.
        return [p.model_dump(mode=info.mode, exclude={"documents"}) for p in parts]

    @model_validator(mode="before")
    @classmethod
    def _documents_back_into_parts(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not data.get("parts"):
            return data
        documents = data.get("documents") or []

        def split_of(doc: Any) -> Any:
            return doc.get("split") if isinstance(doc, dict) else getattr(doc, "split", None)

        parts = [
            {**p, "documents": [d for d in documents if split_of(d) == p.get("split")]}
            if isinstance(p, dict) and "documents" not in p
            else p
            for p in data["parts"]
        ]
        return {**data, "parts": parts}


def prf(correct: float, predicted: int, gold: int) -> tuple[float, float, float]:
    """Precision, recall and F1 from a (possibly fractional) correct count."""
    if predicted == 0 and gold == 0:
        return 1.0, 1.0, 1.0
    precision = correct / predicted if predicted else 0.0
    recall = correct / gold if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


# --- similarity ---


@functools.lru_cache(maxsize=65536)
def _folded(text: str) -> str:
    """``fold(text).text``, once per text: matching compares every gold item with every prediction."""
    return fold(text).text


@functools.lru_cache(maxsize=65536)
def _norm_name(name: str) -> str:
    text = _folded(name)
    text = re.sub(r"'s\b", "", text)
    text = re.sub(r"[^\w]+", " ", text).strip()
    return re.sub(r"^the ", "", text)


def _names(actor: Actor) -> set[str]:
    return {n for n in (_norm_name(x) for x in [actor.name, *actor.aliases]) if n}


def _span(evidence: Evidence, text: str) -> tuple[int, int] | None:
    if evidence.start is None or evidence.end is None:
        return None
    start, end = evidence.start, min(evidence.end, len(text))
    while start < end and text[start] in _TRIM:
        start += 1
    while end > start and text[end - 1] in _TRIM:
        end -= 1
    return (start, end) if start < end else (evidence.start, evidence.end)


def _overlap(a: tuple[int, int] | None, b: tuple[int, int] | None) -> tuple[int, float]:
    if a is None or b is None:
        return 0, 0.0
    shared = max(0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    return shared, shared / union if union else 0.0


def _set_f1(gold: set[str], predicted: set[str]) -> float:
    return prf(len(gold & predicted), len(predicted), len(gold))[2]


class Similarity(NamedTuple):
    """How a gold and a predicted item compare."""

    eligible: bool
    exact: bool
    typed: bool  # the type agrees: kind, event type or claimant
    score: float


def match_items(
    gold: Sequence[Any], predicted: Sequence[Any], similarity: Callable[[Any, Any], Similarity]
) -> list[tuple[int, int, Similarity]]:
    """Optimal one-to-one pairs (gold index, predicted index, similarity) among eligible pairs."""
    if not gold or not predicted:
        return []
    import numpy as np  # numpy and scipy load when scoring starts, not with the package
    from scipy.optimize import linear_sum_assignment

    table = [[similarity(g, p) for p in predicted] for g in gold]
    # Lexicographic weights: most exact pairs first (an identical span is never traded away, as in
    # nervaluate), then most eligible pairs, then the highest total similarity (each score <= 1).
    unit = min(len(gold), len(predicted)) + 1.0
    weights = np.array(
        [[unit * unit * s.exact + unit + s.score if s.eligible else -(unit**3) for s in row] for row in table]
    )
    rows, cols = linear_sum_assignment(weights, maximize=True)
    return [(int(r), int(c), table[r][c]) for r, c in zip(rows, cols, strict=True) if table[r][c].eligible]


class _DocScorer:
    """Matches and counts one document; actors first, so events and claims can map actor ids."""

    def __init__(self, fixture: Fixture, predicted: Extraction | None, config: MatchConfig) -> None:
        self.text = fixture.text
        self.gold = fixture.gold
        self.pred_actors = predicted.actors if predicted else []
        self.pred_events = predicted.events if predicted else []
        self.pred_claims = predicted.claims if predicted else []
        self.config = config
        self.actor_map: dict[str, str] = {}  # predicted actor id -> gold actor id

    def _actor(self, g: Actor, p: Actor) -> Similarity:
        gold_names, pred_names = _names(g), _names(p)
        if gold_names & pred_names:
            return Similarity(True, True, g.kind == p.kind, 1.0)
        best = max((fuzz.token_sort_ratio(a, b) for a in gold_names for b in pred_names), default=0.0)
        return Similarity(best >= self.config.actor_threshold, False, g.kind == p.kind, best / 100)

    def _mapped(self, actor_id: str | None) -> str | None:
        return None if actor_id is None else self.actor_map.get(actor_id, f"unmatched:{actor_id}")

    def _participants(self, g: Event, p: Event) -> tuple[set[str], set[str]]:
        return {x.actor_id for x in g.participants}, {self._mapped(x.actor_id) or "" for x in p.participants}

    def _spans(self, g: Evidence, p: Evidence) -> tuple[bool, bool, float]:
        gs, ps = _span(g, self.text), _span(p, self.text)
        shared, iou = _overlap(gs, ps)
        eligible = shared >= self.config.min_overlap and iou >= self.config.min_iou
        return eligible, gs is not None and gs == ps, iou

    def _event(self, g: Event, p: Event) -> Similarity:
        eligible, exact, iou = self._spans(g.trigger, p.trigger)
        gold_ids, pred_ids = self._participants(g, p)
        score = 0.5 * iou + 0.25 * (g.type == p.type) + 0.25 * _set_f1(gold_ids, pred_ids)
        return Similarity(eligible, exact, g.type == p.type, score)

    def _claim(self, g: Claim, p: Claim) -> Similarity:
        eligible, exact, iou = self._spans(g.evidence, p.evidence)
        statement = fuzz.token_set_ratio(_folded(g.statement), _folded(p.statement)) / 100
        same_claimant = g.claimant == self._mapped(p.claimant)
        score = 0.5 * iou + 0.25 * statement + 0.25 * same_claimant
        return Similarity(eligible, exact, same_claimant, score)

    def score(self) -> tuple[dict[str, Counts], dict[str, list[Match]], dict[str, dict[str, FieldScore]]]:
        counts: dict[str, Counts] = {}
        matches: dict[str, list[Match]] = {}
        fields: dict[str, dict[str, FieldScore]] = {}
        for item_type, gold, pred, similarity in (
            ("actors", self.gold.actors, self.pred_actors, self._actor),
            ("events", self.gold.events, self.pred_events, self._event),
            ("claims", self.gold.claims, self.pred_claims, self._claim),
        ):
            pairs = match_items(gold, pred, similarity)
            if item_type == "actors":
                self.actor_map = {pred[pi].id: gold[gi].id for gi, pi, _ in pairs}
            exact = sum(1 for *_, s in pairs if s.exact)
            counts[item_type] = Counts(
                gold=len(gold),
                predicted=len(pred),
                exact=exact,
                partial=len(pairs) - exact,
                strict=sum(1 for *_, s in pairs if s.exact and s.typed),
            )
            matches[item_type] = [
                Match(
                    gold_id=gold[gi].id,
                    predicted_id=pred[pi].id,
                    exact=s.exact,
                    strict=s.exact and s.typed,
                    similarity=round(s.score, 4),
                )
                for gi, pi, s in pairs
            ]
            fields[item_type] = self._fields(item_type, [(gold[gi], pred[pi]) for gi, pi, _ in pairs])
        return counts, matches, fields

    def _fields(self, item_type: str, pairs: list[tuple[Any, Any]]) -> dict[str, FieldScore]:
        out = {name: FieldScore() for name in FIELDS[item_type]}  # type: ignore[index]

        def tally(name: str, correct: float) -> None:
            out[name] = out[name] + FieldScore(correct=correct, total=1)

        for g, p in pairs:
            if item_type == "actors":
                tally("kind", g.kind == p.kind)
            elif item_type == "events":
                tally("type", g.type == p.type)
                tally("status", g.status == p.status)
                gold_date = g.date.value if g.date else None
                pred_date = p.date.value if p.date else None
                if gold_date or pred_date:
                    tally("date", gold_date == pred_date)
                gold_ids, pred_ids = self._participants(g, p)
                if gold_ids or pred_ids:
                    tally("participants", _set_f1(gold_ids, pred_ids))
            else:
                tally("claimant", g.claimant == self._mapped(p.claimant))
                tally("polarity", g.polarity == p.polarity)
                tally("hedged", g.hedged == p.hedged)
        return out

    def grounded(self) -> dict[str, int]:
        return {
            "actors": sum(any(verify(m, self.text) for m in a.mentions) for a in self.pred_actors),
            "events": sum(verify(e.trigger, self.text) for e in self.pred_events),
            "claims": sum(verify(c.evidence, self.text) for c in self.pred_claims),
        }


def _score_document(
    fixture: Fixture, predicted: Extraction | None, error: str | None, config: MatchConfig
) -> DocumentEval:
    scorer = _DocScorer(fixture, predicted, config)
    counts, matches, fields = scorer.score()
    return DocumentEval(
        id=fixture.id,
        domain=fixture.domain,
        text=fixture.text,
        gold=fixture.gold,
        predicted=predicted,
        error=error,
        counts=counts,
        matches=matches,
        fields=fields,
        grounded=scorer.grounded(),
    )


def micro_statistic(kind: str, weight: float) -> Callable[..., Any]:
    """A vectorized statistic over per-document count arrays, for ``scipy.stats.bootstrap``."""
    index = {"precision": 0, "recall": 1, "f1": 2}[kind]

    def statistic(full: Any, partial: Any, predicted: Any, gold: Any, axis: int = -1) -> Any:
        import numpy as np

        hit = np.sum(full, axis=axis) + weight * np.sum(partial, axis=axis)
        act, pos = np.sum(predicted, axis=axis), np.sum(gold, axis=axis)
        with np.errstate(divide="ignore", invalid="ignore"):
            p = np.where(act > 0, hit / np.maximum(act, 1), np.where(pos > 0, 0.0, 1.0))
            r = np.where(pos > 0, hit / np.maximum(pos, 1), np.where(act > 0, 0.0, 1.0))
            f = np.where(p + r > 0, 2 * p * r / np.where(p + r > 0, p + r, 1), 0.0)
        return (p, r, f)[index]

    return statistic


def _hits(counts: Counts, scheme: Literal["strict", "partial"]) -> tuple[int, int]:
    """Full-credit and half-credit pairs under a scheme."""
    return (counts.strict, 0) if scheme == "strict" else (counts.exact, counts.partial)


def _scores(per_doc: list[Counts], scheme: Literal["strict", "partial"], config: MatchConfig) -> Scores:
    import numpy as np
    from scipy.stats import bootstrap

    weight = 0.5
    total = sum(per_doc, Counts())
    full, half = _hits(total, scheme)
    values = prf(full + weight * half, total.predicted, total.gold)
    data = (
        np.array([_hits(c, scheme)[0] for c in per_doc], dtype=float),
        np.array([_hits(c, scheme)[1] for c in per_doc], dtype=float),
        np.array([c.predicted for c in per_doc], dtype=float),
        np.array([c.gold for c in per_doc], dtype=float),
    )
    metrics = []
    for kind, value in zip(("precision", "recall", "f1"), values, strict=True):
        low = high = None
        if len(per_doc) >= 2:
            result = bootstrap(
                data,
                micro_statistic(kind, weight),
                paired=True,
                vectorized=True,
                n_resamples=config.bootstrap_resamples,
                method="percentile",
                rng=np.random.default_rng(config.seed),
            )
            low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
        metrics.append(Metric(value=value, low=low, high=high))
    informative = [c for c in per_doc if c.gold or c.predicted]
    macro = [
        prf(_hits(c, scheme)[0] + weight * _hits(c, scheme)[1], c.predicted, c.gold)[2] for c in informative
    ]
    return Scores(
        precision=metrics[0],
        recall=metrics[1],
        f1=metrics[2],
        macro_f1=float(np.mean(macro)) if macro else 1.0,
    )


def evaluate(
    predictions: Mapping[str, Extraction] | Iterable[Extraction],
    gold: Iterable[Fixture],
    *,
    errors: Mapping[str, str] | None = None,
    config: MatchConfig | None = None,
) -> EvalReport:
    """Score predictions (by document id) against gold fixtures; a missing prediction scores as empty."""
    config = config or MatchConfig()
    by_id = dict(predictions) if isinstance(predictions, Mapping) else {p.document_id: p for p in predictions}
    errors = dict(errors or {})
    fixtures = list(gold)
    unknown = set(by_id) - {f.id for f in fixtures}
    if unknown:
        raise ValueError(f"predictions for documents with no gold: {', '.join(sorted(unknown))}")
    documents = [_score_document(f, by_id.get(f.id), errors.get(f.id), config) for f in fixtures]
    usage = sum((d.predicted.metadata.usage for d in documents if d.predicted), Usage())
    latency = sum(d.predicted.metadata.latency_s for d in documents if d.predicted)
    first = next((d.predicted.metadata for d in documents if d.predicted), None)
    return EvalReport(
        prompt=f"{first.prompt_name}@{first.prompt_version}" if first else None,
        prompt_hash=first.prompt_hash if first else None,
        model=first.model if first else None,
        strategy=first.strategy if first else None,
        config=config,
        types=_types(documents, config),
        documents=documents,
        errors=sum(1 for d in documents if d.error or d.predicted is None),
        usage=usage,
        latency_s=round(latency, 3),
    )


def combine_reports(
    parts: Sequence[EvalReport], *, split: str = "all", floor: Floor | None = None
) -> EvalReport:
    """One report over the documents of several (each split's), scored together; ``parts`` keeps each.

    Tokens, cost, time and failures add up; the scores are computed again over all the documents
    (an F1 of the whole is not an average of the parts' F1). ``floor``: the rules floor over all of them.
    """
    if not parts:
        raise ValueError("no reports to combine")
    documents = [d for p in parts for d in p.documents]
    ids = [d.id for d in documents]
    if repeated := sorted({i for i in ids if ids.count(i) > 1}):
        raise ValueError(f"documents in more than one report: {', '.join(repeated)}")
    first, config = parts[0], parts[0].config
    costs = [p.cost_usd for p in parts]
    walls = [p.wall_time_s for p in parts]
    return EvalReport(
        prompt=first.prompt,
        prompt_hash=first.prompt_hash,
        model=first.model,
        strategy=first.strategy,
        fixtures=first.fixtures,
        split=split,
        config=config,
        types=_types(documents, config),
        documents=documents,
        errors=sum(p.errors for p in parts),
        usage=sum((p.usage for p in parts), Usage()),
        cost_usd=None if any(c is None for c in costs) else sum(c or 0.0 for c in costs),
        latency_s=round(sum(p.latency_s for p in parts), 3),
        wall_time_s=None if any(w is None for w in walls) else round(sum(w or 0.0 for w in walls), 3),
        floor=floor,
        parts=list(parts),
    )


def _types(documents: list[DocumentEval], config: MatchConfig) -> dict[str, TypeReport]:
    """The per-type scores over ``documents``, from their counts (with bootstrap intervals)."""
    types: dict[str, TypeReport] = {}
    for item_type in ITEM_TYPES:
        per_doc = [d.counts[item_type] for d in documents]
        total = sum(per_doc, Counts())
        grounded = sum(d.grounded[item_type] for d in documents)
        fields = {
            name: sum((d.fields[item_type][name] for d in documents), FieldScore())
            for name in FIELDS[item_type]
        }
        types[item_type] = TypeReport(
            counts=total,
            strict=_scores(per_doc, "strict", config),
            partial=_scores(per_doc, "partial", config),
            fields=fields,
            grounded=grounded,
            grounding_rate=grounded / total.predicted if total.predicted else None,
        )
    return types
