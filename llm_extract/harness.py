"""The eval harness: run an extractor over fixtures, score the output, compare with a baseline.

``evaluate`` (pure scoring) lives in ``evaluate.py``; this module adds the model run around it, the
token, cost and time accounting, and the committed baselines that CI gates on.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from llm_extract.cache import ResultCache, extractor_key, open_cache
from llm_extract.compare import Comparison, compare_reports, prompt_diff
from llm_extract.cost import Pricing, pricing_for
from llm_extract.errors import ExtractError
from llm_extract.evaluate import EvalReport, FieldScore, Floor, MatchConfig, Metric, evaluate
from llm_extract.extract import Extractor
from llm_extract.fixtures import Fixture, load_fixtures
from llm_extract.prompts import load_prompt
from llm_extract.schema import Extraction, Usage

__all__ = ["Baseline", "compare_baseline", "make_baseline", "rule_floor", "run_compare", "run_eval"]

Scheme = Literal["strict", "partial"]


def run_eval(
    prompt: str | None = None,
    fixtures: str | Path | Iterable[Fixture] = "evals/fixtures",
    *,
    extractor: Extractor | None = None,
    config: MatchConfig | None = None,
    pricing: Pricing | None = None,
    floor: bool = True,
    cache: ResultCache | str | Path | bool = False,
    on_document: Callable[[Fixture, Extraction | None, ExtractError | None], None] | None = None,
    **settings: Any,
) -> EvalReport:
    """Extract every fixture with ``prompt`` (and any extractor settings) and score the results.

    A document whose extraction fails scores as an empty prediction (every gold item a miss) and is
    counted in ``EvalReport.errors``; the tokens it spent still count. With ``floor`` (the default)
    the no-model ``rules`` strategy is scored on the same fixtures too, as ``EvalReport.floor``.
    With ``cache``, fixtures already extracted with the same settings (by an eval or a batch) are
    read from the result cache; the report still shows the tokens and time they originally took.
    """
    source = str(fixtures) if isinstance(fixtures, str | Path) else None
    items = load_fixtures(fixtures) if isinstance(fixtures, str | Path) else list(fixtures)
    # The floor first: it takes milliseconds, and a failure there must not follow a paid run.
    rules = rule_floor(items, config=config) if floor else None
    owned = extractor is None
    if extractor is None:
        extractor = Extractor(prompt=prompt, **settings)
    store = open_cache(cache, extractor.settings.cache_dir)
    predictions: dict[str, Extraction] = {}
    errors: dict[str, str] = {}
    spent = Usage()
    started = time.perf_counter()
    try:
        for fixture in items:
            key = extractor_key(fixture.document, extractor)
            if store is not None and (hit := _cached(store, key, fixture.id)) is not None:
                predictions[fixture.id] = hit
                if on_document:
                    on_document(fixture, hit, None)
                continue
            try:
                result = extractor.extract(fixture.document)
                if store is not None:
                    record = {
                        "document_id": fixture.id,
                        "status": "ok",
                        "extraction": result.model_dump(mode="json"),
                    }
                    store.put(key, fixture.id, record)
            except ExtractError as exc:
                errors[fixture.id] = str(exc)
                spent = spent + (exc.usage or Usage())
                if on_document:
                    on_document(fixture, None, exc)
                continue
            predictions[fixture.id] = result
            if on_document:
                on_document(fixture, result, None)
    finally:
        if store is not None and not isinstance(cache, ResultCache):
            store.close()
        if owned:
            extractor.close()
    report = evaluate(predictions, items, errors=errors, config=config)
    usage = report.usage + spent
    endpoint = "none" if extractor.strategy == "rules" else extractor.settings.endpoint
    prices = pricing_for(
        extractor.model, endpoint=endpoint, prices=extractor.settings.prices, explicit=pricing
    )
    cost = None if prices is None else prices.cost(usage)
    return report.model_copy(
        update={
            "prompt": extractor.prompt.ref,
            "prompt_hash": extractor.prompt.content_hash,
            "model": extractor.model,
            "strategy": extractor.strategy,
            "fixtures": source,
            "usage": usage,
            "cost_usd": cost,
            "wall_time_s": round(time.perf_counter() - started, 3),
            "floor": rules,
        }
    )


def _cached(store: ResultCache, key: str, fixture_id: str) -> Extraction | None:
    record = store.get(key)
    if not record or record.get("status") != "ok" or not isinstance(record.get("extraction"), dict):
        return None
    try:
        extraction = Extraction.model_validate(record["extraction"])
    except ValueError:
        return None
    return extraction.model_copy(update={"document_id": fixture_id})


def run_compare(
    prompt_a: str,
    prompt_b: str | None = None,
    fixtures: str | Path | Iterable[Fixture] = "evals/fixtures",
    *,
    settings_b: dict[str, Any] | None = None,
    extractors: tuple[Extractor, Extractor] | None = None,
    config: MatchConfig | None = None,
    cache: ResultCache | str | Path | bool = False,
    resamples: int = 2000,
    alpha: float = 0.05,
    on_document: Callable[[str, Fixture, Extraction | None, ExtractError | None], None] | None = None,
    **settings: Any,
) -> Comparison:
    """Run two prompt versions (or one prompt on two models: ``settings_b``) over the same fixtures.

    ``settings`` apply to both runs; ``settings_b`` overrides them for B (e.g. ``{"model": ...}``).
    """
    items = load_fixtures(fixtures) if isinstance(fixtures, str | Path) else list(fixtures)
    prompt_b = prompt_b or prompt_a
    reports = []
    for side, prompt, overrides in (("A", prompt_a, {}), ("B", prompt_b, settings_b or {})):
        hook = (lambda f, r, e, side=side: on_document(side, f, r, e)) if on_document else None
        extractor = extractors[0 if side == "A" else 1] if extractors else None
        report = run_eval(
            prompt,
            items,
            extractor=extractor,
            config=config,
            floor=False,
            cache=cache,
            on_document=hook,
            **{**settings, **overrides},
        )
        reports.append(report)
    a, b = load_prompt(prompt_a), load_prompt(prompt_b)
    diff = prompt_diff(a.path, b.path, labels=(a.ref, b.ref))
    comparison = compare_reports(reports[0], reports[1], resamples=resamples, alpha=alpha, diff=diff)
    if isinstance(fixtures, str | Path):
        comparison.fixtures = str(fixtures)
    return comparison


def rule_floor(fixtures: Iterable[Fixture], *, config: MatchConfig | None = None) -> Floor:
    """Score the no-model ``rules`` strategy on ``fixtures`` (milliseconds: no model is called)."""
    items = list(fixtures)
    with Extractor(strategy="rules") as rules:
        predictions = [rules.extract(f.document) for f in items]
    return Floor.of(evaluate(predictions, items, config=config))


class Baseline(BaseModel):
    """What a committed run scored: micro F1 with its interval, and per-field accuracy with its count."""

    prompt: str | None
    prompt_hash: str | None
    model: str | None
    strategy: str | None
    created: date
    documents: int
    fixture_ids: list[str] = Field(default_factory=list)
    f1: dict[str, dict[str, Metric]] = Field(description="type -> scheme -> micro F1 with 95 % CI")
    fields: dict[str, dict[str, FieldScore]] = Field(
        default_factory=dict, description="type -> field -> matched pairs and accuracy"
    )


def make_baseline(report: EvalReport, created: date | None = None) -> Baseline:
    """The baseline a report would set."""
    return Baseline(
        prompt=report.prompt,
        prompt_hash=report.prompt_hash,
        model=report.model,
        strategy=report.strategy,
        created=created or date.today(),
        documents=len(report.documents),
        fixture_ids=[d.id for d in report.documents],
        f1={t: {"strict": s.strict.f1, "partial": s.partial.f1} for t, s in report.types.items()},
        fields={t: dict(s.fields) for t, s in report.types.items()},
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
    """
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
