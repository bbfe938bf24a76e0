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

from llm_extract.cost import Pricing
from llm_extract.errors import ExtractError
from llm_extract.evaluate import EvalReport, FieldScore, Floor, MatchConfig, Metric, evaluate
from llm_extract.extract import Extractor
from llm_extract.fixtures import Fixture, load_fixtures
from llm_extract.schema import Extraction, Usage

__all__ = ["Baseline", "compare_baseline", "make_baseline", "rule_floor", "run_eval"]

Scheme = Literal["strict", "partial"]


def run_eval(
    prompt: str | None = None,
    fixtures: str | Path | Iterable[Fixture] = "evals/fixtures",
    *,
    extractor: Extractor | None = None,
    config: MatchConfig | None = None,
    pricing: Pricing | None = None,
    floor: bool = True,
    on_document: Callable[[Fixture, Extraction | None, ExtractError | None], None] | None = None,
    **settings: Any,
) -> EvalReport:
    """Extract every fixture with ``prompt`` (and any extractor settings) and score the results.

    A document whose extraction fails scores as an empty prediction (every gold item a miss) and is
    counted in ``EvalReport.errors``; the tokens it spent still count. With ``floor`` (the default)
    the no-model ``rules`` strategy is scored on the same fixtures too, as ``EvalReport.floor``.
    """
    source = str(fixtures) if isinstance(fixtures, str | Path) else None
    items = load_fixtures(fixtures) if isinstance(fixtures, str | Path) else list(fixtures)
    owned = extractor is None
    if extractor is None:
        extractor = Extractor(prompt=prompt, **settings)
    predictions: dict[str, Extraction] = {}
    errors: dict[str, str] = {}
    spent = Usage()
    started = time.perf_counter()
    try:
        for fixture in items:
            try:
                result = extractor.extract(fixture.document)
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
        if owned:
            extractor.close()
    report = evaluate(predictions, items, errors=errors, config=config)
    usage = report.usage + spent
    if pricing is not None:
        cost: float | None = pricing.cost(usage)
    else:
        cost = 0.0 if extractor.settings.endpoint == "embedded" else None
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
            "floor": rule_floor(items, config=config) if floor else None,
        }
    )


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
