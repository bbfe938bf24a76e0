"""The eval harness: run an extractor over fixtures, score the output, compare with a baseline.

``evaluate`` (pure scoring) lives in ``evaluate.py``; this module adds the model run around it, the
token, cost and time accounting, and the committed baselines that CI gates on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from llm_extract.errors import ExtractError
from llm_extract.evaluate import EvalReport, Floor, MatchConfig, Metric, evaluate
from llm_extract.extract import Extractor
from llm_extract.fixtures import Fixture, load_fixtures
from llm_extract.schema import Extraction, Usage

__all__ = ["Baseline", "Pricing", "compare_baseline", "make_baseline", "rule_floor", "run_eval"]

Scheme = Literal["strict", "partial"]


class Pricing(BaseModel):
    """US dollars per million prompt and completion tokens (the embedded model costs nothing)."""

    input_per_mtok: float = Field(ge=0)
    output_per_mtok: float = Field(ge=0)

    def cost(self, usage: Usage) -> float:
        """Dollars spent on ``usage``."""
        spent = usage.prompt_tokens * self.input_per_mtok + usage.completion_tokens * self.output_per_mtok
        return spent / 1e6


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
    """What a committed run scored: micro F1 with its interval per type and scheme."""

    prompt: str | None
    prompt_hash: str | None
    model: str | None
    strategy: str | None
    created: date
    documents: int
    f1: dict[str, dict[str, Metric]] = Field(description="type -> scheme -> micro F1 with 95 % CI")


def make_baseline(report: EvalReport, created: date | None = None) -> Baseline:
    """The baseline a report would set."""
    return Baseline(
        prompt=report.prompt,
        prompt_hash=report.prompt_hash,
        model=report.model,
        strategy=report.strategy,
        created=created or date.today(),
        documents=len(report.documents),
        f1={t: {"strict": s.strict.f1, "partial": s.partial.f1} for t, s in report.types.items()},
    )


def compare_baseline(report: EvalReport, baseline: Baseline) -> list[str]:
    """Regressions: every type and scheme whose F1 fell below the baseline's lower 95 % bound."""
    problems = []
    for item_type, schemes in baseline.f1.items():
        for scheme, then in schemes.items():
            now = report.f1(item_type, "strict" if scheme == "strict" else "partial")
            floor = then.low if then.low is not None else then.value
            if now < floor - 1e-9:
                problems.append(
                    f"{item_type} {scheme} F1 fell to {now:.3f}, below the baseline's lower bound "
                    f"{floor:.3f} (baseline {then.value:.3f})"
                )
    return problems
