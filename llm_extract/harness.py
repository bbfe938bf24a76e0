"""The eval harness: run an extractor over fixtures, score the output, compare with a baseline.

``evaluate`` (pure scoring) lives in ``evaluate.py``; this module adds the model run around it, the
token, cost and time accounting, and the committed baselines that CI gates on. Documents run through
the batch runner (``batch.extract_batch``): the same result cache as ``llm-extract extract`` (one
record shape), bounded concurrency, and the same pricing.

A fixture directory has a ``dev`` split (its files) and a ``test`` split (its ``test/`` folder):
``split="all"`` runs each split on its own and scores them together too (``EvalReport.parts``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from llm_extract import errors as error_types
from llm_extract.batch import extract_batch, prices_of
from llm_extract.cache import ResultCache
from llm_extract.compare import Comparison, compare_reports, prompt_diff
from llm_extract.cost import Pricing
from llm_extract.errors import ConfigError, ExtractError
from llm_extract.evaluate import EvalReport, FieldScore, Floor, MatchConfig, Metric, combine_reports, evaluate
from llm_extract.extract import Extractor
from llm_extract.fixtures import Fixture, Split, fixture_splits, load_fixtures
from llm_extract.prompts import load_prompt
from llm_extract.schema import BatchResult, Extraction, Usage

__all__ = [
    "Baseline",
    "compare_baseline",
    "make_baseline",
    "rule_floor",
    "run_compare",
    "run_eval",
    "score_predictions",
]

Scheme = Literal["strict", "partial"]
OnDocument = Callable[[Fixture, Extraction | None, ExtractError | None], None]


def run_eval(
    prompt: str | None = None,
    fixtures: str | Path | Iterable[Fixture] = "evals/fixtures",
    *,
    split: Split | None = None,
    extractor: Extractor | None = None,
    config: MatchConfig | None = None,
    pricing: Pricing | None = None,
    floor: bool = True,
    cache: ResultCache | str | Path | bool = True,
    concurrency: int = 4,
    on_document: OnDocument | None = None,
    **settings: Any,
) -> EvalReport:
    """Extract every fixture with ``prompt`` (and any extractor settings) and score the results.

    ``fixtures``: a directory or the fixtures themselves. ``split`` (a directory only): ``dev``, its
    files (also what None loads); ``test``, its ``test/`` folder; ``all``, each split the directory
    has, run and scored on its own (``EvalReport.parts``) and together (the report returned).
    Documents run ``concurrency`` at a time through the batch runner. With ``cache`` (the default:
    True for the default directory, or a directory, or a ``ResultCache``), documents already
    extracted with the same settings, by an eval, a comparison or ``extract``, are read from the
    result cache; the report still shows the tokens and time they originally took.
    A document whose extraction fails scores as an empty prediction (every gold item a miss) and is
    counted in ``EvalReport.errors``; the tokens it spent still count. With ``floor`` (the default)
    the no-model ``rules`` strategy is scored on the same fixtures too, as ``EvalReport.floor``.
    ``on_document(fixture, extraction, error)`` is called as each document finishes.
    Pass ``extractor`` or ``prompt`` and settings, not both (``ConfigError``).
    """
    if extractor is not None and (prompt is not None or settings):
        given = sorted([*(["prompt"] if prompt is not None else []), *settings])
        raise ConfigError(
            f"pass an extractor or a prompt and settings, not both (got an extractor and {', '.join(given)})"
        )
    groups = _fixture_groups(fixtures, split)
    source = str(fixtures) if isinstance(fixtures, str | Path) else None
    # The floors first: they take milliseconds, and a failure there must not follow a paid run.
    floors = [_rules_report(items, config) for _, items in groups] if floor else []
    owned = extractor is None
    if extractor is None:
        extractor = Extractor(prompt=prompt, **settings)
    parts = []
    try:
        for i, (name, items) in enumerate(groups):
            report = _run_split(
                items,
                extractor,
                config=config,
                pricing=pricing,
                cache=cache,
                concurrency=concurrency,
                on_document=on_document,
            )
            parts.append(_labelled(report, name, source, floors[i] if floors else None, items))
    finally:
        if owned:
            extractor.close()
    return _whole(parts, floors, [f for _, items in groups for f in items])


def score_predictions(
    predictions: Iterable[Extraction],
    fixtures: str | Path | Iterable[Fixture] = "evals/fixtures",
    *,
    split: Split | None = None,
    config: MatchConfig | None = None,
    floor: bool = True,
) -> EvalReport:
    """Score extractions made elsewhere against the fixtures, by split as ``run_eval`` does.

    A fixture with no prediction scores as empty; a prediction with no fixture is a ``ValueError``.
    """
    groups = _fixture_groups(fixtures, split)
    source = str(fixtures) if isinstance(fixtures, str | Path) else None
    by_id = {p.document_id: p for p in predictions}
    unknown = set(by_id) - {f.id for _, items in groups for f in items}
    if unknown:
        raise ValueError(f"predictions for documents with no gold: {', '.join(sorted(unknown))}")
    parts, floors = [], []
    for name, items in groups:
        rules = _rules_report(items, config) if floor else None
        report = evaluate([by_id[f.id] for f in items if f.id in by_id], items, config=config)
        parts.append(_labelled(report, name, source, rules, items))
        floors += [rules] if rules else []
    return _whole(parts, floors, [f for _, items in groups for f in items])


def _labelled(
    report: EvalReport,
    split: str | None,
    source: str | None,
    rules: EvalReport | None,
    fixtures: list[Fixture],
) -> EvalReport:
    """``report`` marked with its fixture directory, its split (each document too) and its floor."""
    documents = [d.model_copy(update={"split": split}) for d in report.documents]
    floor = _floor(rules, fixtures) if rules is not None else None
    return report.model_copy(
        update={"fixtures": source, "split": split, "documents": documents, "floor": floor}
    )


def _whole(parts: list[EvalReport], floors: list[EvalReport], fixtures: list[Fixture]) -> EvalReport:
    """The one report, or every split's scored together with the parts kept (``split="all"``).

    The floor of the whole comes from the rules' reports of the parts, scored together.
    """
    if len(parts) == 1:
        return parts[0]
    floor = _floor(combine_reports(floors), fixtures) if floors else None
    return combine_reports(parts, floor=floor)


def _floor(rules: EvalReport, fixtures: list[Fixture]) -> Floor:
    """The rules' scores on ``fixtures`` and the recall of the candidates they chose from."""
    from llm_extract.coverage import candidate_recall

    return Floor.of(rules).model_copy(update={"candidate_recall": candidate_recall(fixtures)})


def _fixture_groups(
    fixtures: str | Path | Iterable[Fixture], split: Split | None
) -> list[tuple[str | None, list[Fixture]]]:
    """The fixtures to run, by split: one group, or one per split of the directory for ``all``."""
    if not isinstance(fixtures, str | Path):
        if split is not None:
            raise ConfigError("split needs a fixture directory; the fixtures were given as a list")
        return [(None, list(fixtures))]
    if split != "all":
        return [(split, load_fixtures(fixtures, split))]
    names = fixture_splits(fixtures) or ["dev"]  # none: load_fixtures says what is missing
    return [(name, load_fixtures(fixtures, name)) for name in names]


def _run_split(
    items: list[Fixture],
    extractor: Extractor,
    *,
    config: MatchConfig | None,
    pricing: Pricing | None,
    cache: ResultCache | str | Path | bool,
    concurrency: int,
    on_document: OnDocument | None,
) -> EvalReport:
    """One batch over ``items``, scored: the report of one split (or of the fixtures given)."""
    by_id = {f.id: f for f in items}
    predictions: dict[str, Extraction] = {}
    errors: dict[str, str] = {}
    spent = Usage()
    started = time.perf_counter()
    documents = [f.document for f in items]
    for result in extract_batch(
        documents, extractor=extractor, cache=cache, pricing=pricing, concurrency=concurrency
    ):
        fixture = by_id[result.document_id]
        if result.extraction is not None:
            predictions[fixture.id] = result.extraction
            if on_document:
                on_document(fixture, result.extraction, None)
            continue
        error = _failure(result, extractor.prompt.ref)
        errors[fixture.id] = str(error)
        spent = spent + result.usage
        if on_document:
            on_document(fixture, None, error)
    report = evaluate(predictions, items, errors=errors, config=config)
    usage = report.usage + spent
    prices = prices_of(extractor, pricing)
    return report.model_copy(
        update={
            "prompt": extractor.prompt.ref,
            "prompt_hash": extractor.prompt.content_hash,
            "model": extractor.model,
            "strategy": extractor.strategy,
            "usage": usage,
            "cost_usd": None if prices is None else prices.cost(usage),
            "wall_time_s": round(time.perf_counter() - started, 3),
        }
    )


def _failure(result: BatchResult, prompt: str) -> ExtractError:
    """A failed document's error record as the exception it stands for (progress hooks get it)."""
    record = result.error
    kind = getattr(error_types, record.type, None) if record else None
    cls = kind if isinstance(kind, type) and issubclass(kind, ExtractError) else ExtractError
    message = "no extraction" if record is None else record.message
    if record is not None and cls is ExtractError and record.type != "ExtractError":
        message = f"{record.type}: {message}"  # BudgetExceeded, EndpointDown, or an unexpected error
    return cls(
        message,
        document_id=result.document_id,
        prompt=prompt,
        attempts=record.attempts if record else None,
        raw_output=record.raw_output if record else None,
        usage=result.usage,
    )


def run_compare(
    prompt_a: str,
    prompt_b: str | None = None,
    fixtures: str | Path | Iterable[Fixture] = "evals/fixtures",
    *,
    split: Split | None = None,
    settings_b: dict[str, Any] | None = None,
    extractors: tuple[Extractor, Extractor] | None = None,
    config: MatchConfig | None = None,
    cache: ResultCache | str | Path | bool = True,
    concurrency: int = 4,
    resamples: int = 2000,
    alpha: float = 0.05,
    on_document: Callable[[str, Fixture, Extraction | None, ExtractError | None], None] | None = None,
    **settings: Any,
) -> Comparison:
    """Run two prompt versions (or one prompt on two models: ``settings_b``) over the same fixtures.

    ``settings`` apply to both runs; ``settings_b`` overrides them for B (e.g. ``{"model": ...}``).
    ``extractors`` run A and B instead (then no settings: ``ConfigError``). ``split`` as in
    ``run_eval``: with ``all``, ``Comparison.parts`` compares each split on its own.
    """
    if extractors is not None and (settings or settings_b):
        given = sorted([*settings, *(["settings_b"] if settings_b else [])])
        raise ConfigError(f"pass extractors or settings, not both (got extractors and {', '.join(given)})")
    prompt_b = prompt_b or prompt_a
    reports = []
    for side, prompt, overrides in (("A", prompt_a, {}), ("B", prompt_b, settings_b or {})):
        hook = (lambda f, r, e, side=side: on_document(side, f, r, e)) if on_document else None
        if extractors:
            run: dict[str, Any] = {"extractor": extractors[0 if side == "A" else 1]}
        else:
            run = {"prompt": prompt, **settings, **overrides}
        report = run_eval(
            fixtures=fixtures,
            split=split,
            config=config,
            floor=False,
            cache=cache,
            concurrency=concurrency,
            on_document=hook,
            **run,
        )
        reports.append(report)
    a, b = load_prompt(prompt_a), load_prompt(prompt_b)
    diff = prompt_diff(a.path, b.path, labels=(a.ref, b.ref))
    comparison = compare_reports(reports[0], reports[1], resamples=resamples, alpha=alpha, diff=diff)
    comparison.parts = [
        compare_reports(part, other, resamples=resamples, alpha=alpha)
        for part in reports[0].parts
        if (other := reports[1].for_split(part.split or "")) is not None
    ]
    return comparison


def rule_floor(fixtures: Iterable[Fixture], *, config: MatchConfig | None = None) -> Floor:
    """Score the no-model ``rules`` strategy on ``fixtures``, with the candidates' recall (no model)."""
    items = list(fixtures)
    return _floor(_rules_report(items, config), items)


def _rules_report(items: list[Fixture], config: MatchConfig | None) -> EvalReport:
    """The rules strategy's report on ``items``; a floor needs its scores, not their intervals."""
    with Extractor(strategy="rules") as rules:
        predictions = [rules.extract(f.document) for f in items]
    quick = (config or MatchConfig()).model_copy(update={"bootstrap_resamples": 100})
    return evaluate(predictions, items, config=quick)


class Baseline(BaseModel):
    """What a committed run scored: micro F1 with its interval, and per-field accuracy with its count."""

    prompt: str | None
    prompt_hash: str | None
    model: str | None
    strategy: str | None
    split: str | None = Field(None, description="the split it was made on: dev, test, all, or None")
    created: date
    documents: int
    fixture_ids: list[str] = Field(default_factory=list)
    f1: dict[str, dict[str, Metric]] = Field(description="type -> scheme -> micro F1 with 95 % CI")
    fields: dict[str, dict[str, FieldScore]] = Field(
        default_factory=dict, description="type -> field -> matched pairs and accuracy"
    )
    floor: dict[str, dict[str, float]] = Field(
        default_factory=dict, description="type -> scheme -> the rules floor's micro F1 on the same fixtures"
    )
    candidate_recall: dict[str, float] = Field(
        default_factory=dict, description="type -> share of gold items some candidate covers"
    )


def make_baseline(report: EvalReport, created: date | None = None) -> Baseline:
    """The baseline a report would set."""
    return Baseline(
        prompt=report.prompt,
        prompt_hash=report.prompt_hash,
        model=report.model,
        strategy=report.strategy,
        split=report.split,
        created=created or date.today(),
        documents=len(report.documents),
        fixture_ids=[d.id for d in report.documents],
        f1={t: {"strict": s.strict.f1, "partial": s.partial.f1} for t, s in report.types.items()},
        fields={t: dict(s.fields) for t, s in report.types.items()},
        floor=report.floor.f1 if report.floor else {},
        candidate_recall=report.floor.candidate_recall if report.floor else {},
    )


def _wilson_low(accuracy: float, n: int, z: float = 1.96) -> float:
    """Lower end of the Wilson 95 % interval of a proportion (fractional successes allowed)."""
    centre = accuracy + z * z / (2 * n)
    spread = z * math.sqrt(accuracy * (1 - accuracy) / n + z * z / (4 * n * n))
    return max(0.0, (centre - spread) / (1 + z * z / n))


def compare_baseline(report: EvalReport, baseline: Baseline) -> list[str]:
    """Why ``report`` fails ``baseline``: a different run, or a drop beyond the baseline's 95 % bounds.

    F1 may not fall below the baseline's bootstrap lower bound; a field's accuracy may not fall below
    the Wilson lower bound of the baseline's accuracy. The run must cover the same fixtures with the
    same prompt, model and strategy: anything else is a comparison of two runs, not a gate.

    Like is compared with like: a run over several splits (``EvalReport.parts``) is gated on the part
    of the baseline's split (or, for a baseline that records none, on the part with its fixtures).
    """
    matching = _like(report, baseline)
    if matching is None:
        return [
            f"the baseline was made on the {baseline.split} split, this run scored "
            + " and ".join(p.split or "?" for p in report.parts or [report])
        ]
    report = matching
    problems = []
    for name, then, now in (
        ("prompt", baseline.prompt, report.prompt),
        ("model", baseline.model, report.model),
        ("strategy", baseline.strategy, report.strategy),
    ):
        if then is not None and now is not None and then != now:
            problems.append(f"the baseline was made with {name} {then}, this run used {now}")
    ids = [d.id for d in report.documents]
    if baseline.fixture_ids and sorted(baseline.fixture_ids) != sorted(ids):
        missing = sorted(set(baseline.fixture_ids) - set(ids))
        extra = sorted(set(ids) - set(baseline.fixture_ids))
        problems.append(f"the fixtures differ from the baseline's (missing {missing}, new {extra})")
    for item_type, schemes in baseline.f1.items():
        for scheme, then_f1 in schemes.items():
            value = report.f1(item_type, "strict" if scheme == "strict" else "partial")
            floor = then_f1.low if then_f1.low is not None else then_f1.value
            if value < floor - 1e-9:
                problems.append(
                    f"{item_type} {scheme} F1 fell to {value:.3f}, below the baseline's lower bound "
                    f"{floor:.3f} (baseline {then_f1.value:.3f})"
                )
    for item_type, fields in baseline.fields.items():
        for field, then_field in fields.items():
            now_field = report.types[item_type].fields.get(field)
            if then_field.accuracy is None or not then_field.total or now_field is None:
                continue
            floor = _wilson_low(then_field.accuracy, then_field.total)
            if now_field.accuracy is not None and now_field.accuracy < floor - 1e-9:
                problems.append(
                    f"{item_type}.{field} accuracy fell to {now_field.accuracy:.3f}, below the baseline's "
                    f"lower bound {floor:.3f} (was {then_field.accuracy:.3f} on {then_field.total} pairs)"
                )
    return problems


def _like(report: EvalReport, baseline: Baseline) -> EvalReport | None:
    """The report, or the part of it, that ``baseline`` gates: same split, else the same fixtures."""
    if baseline.split is not None:
        if report.split is None and not report.parts:
            return report  # fixtures given as such: their ids are checked against the baseline's
        return report.for_split(baseline.split)
    if report.parts and baseline.fixture_ids:
        wanted = sorted(baseline.fixture_ids)
        for part in report.parts:
            if sorted(d.id for d in part.documents) == wanted:
                return part
    return report
