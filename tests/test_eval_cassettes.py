"""The whole eval, replayed offline from cassettes (one per fixture and prompt), held to a baseline.

Record again (starts the embedded SmolLM2 server; needs the [local] extra)::

    pytest tests/test_eval_cassettes.py --record-mode=rewrite
    LLM_EXTRACT_RECORD_ONLY=local-carrigmore-budget-portal pytest tests/test_eval_cassettes.py --record-mode=rewrite

Then set the baselines from the replayed runs (tests never write files) and say why in the CHANGELOG::

    python scripts/baselines.py
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import META
from support.eval_replay import (
    BASELINES,
    CASSETTES,
    FIXTURES,
    MODEL,
    RUNS,
    CassetteExtractor,
    cassette,
    recorder,
)
from support.eval_replay import replay as replay_eval

from llm_extract import Baseline, compare_baseline, make_baseline, run_compare
from llm_extract.cli import main
from llm_extract.fixtures import load_fixtures
from llm_extract.prompts import DEFAULT_PROMPT
from llm_extract.report import compare_markdown


@pytest.fixture
def recording(request: pytest.FixtureRequest) -> bool:
    return request.config.getoption("--record-mode") not in (None, "none")


@pytest.mark.parametrize(("prompt", "split"), RUNS, ids=[f"{p}-{s}" for p, s in RUNS])
def test_eval_replays_offline_and_holds_the_baseline(
    prompt: str, split: str, endpoint: str, recording: bool
) -> None:
    fixtures = load_fixtures(FIXTURES, split=split)  # type: ignore[arg-type]
    report = replay_eval(prompt, split, endpoint, recording=recording)

    assert [d.id for d in report.documents] == [f.id for f in fixtures]
    assert report.prompt == prompt
    assert report.model == MODEL
    assert report.strategy == "decomposed"
    # Every document either produced an extraction or recorded why not; failures still count tokens.
    assert all((d.predicted is None) == (d.error is not None) for d in report.documents)
    assert report.usage.total_tokens > 0
    # Decomposed extraction is grounded by construction: every predicted item re-verifies.
    for item_type, scores in report.types.items():
        assert scores.grounding_rate in (None, 1.0), item_type
        assert scores.counts.gold > 0

    # The rules floor rides along. Decomposed takes its items from the same rules, so its partial F1
    # (boundaries only) must equal the floor's: if it ever differs, the model started adding or
    # dropping items and this statement in the docs no longer holds.
    assert report.floor is not None
    for item_type in ("actors", "events", "claims"):
        assert report.f1(item_type, "partial") == report.floor.f1[item_type]["partial"]

    if recording:
        return  # baselines are set from the new cassettes by scripts/baselines.py
    baseline = Baseline.model_validate_json(
        (BASELINES / split / f"{prompt}.json").read_text(encoding="utf-8")
    )
    assert baseline.prompt == prompt
    assert baseline.documents == len(fixtures)
    assert compare_baseline(report, baseline) == []
    # The replay is deterministic, so any change at all is real: scores must equal the baseline's
    # exactly until it is deliberately set again (scripts/baselines.py).
    now = make_baseline(report, created=baseline.created)
    assert now.f1 == baseline.f1
    assert now.fields == baseline.fields


def test_baseline_gate_fails_on_a_drop() -> None:
    baseline = Baseline.model_validate_json((BASELINES / "dev" / "news@v1.json").read_text(encoding="utf-8"))
    fixtures = load_fixtures(FIXTURES)
    from llm_extract import evaluate

    nothing = evaluate([], fixtures)  # every gold item missed
    problems = compare_baseline(nothing, baseline)
    # Every type and scheme whose lower bound is above zero must be reported; a zero bound cannot be undercut.
    scored = [
        (t, s)
        for t, schemes in baseline.f1.items()
        for s, m in schemes.items()
        if (m.value if m.low is None else m.low) > 0
    ]
    assert len(problems) == len(scored) > 0
    assert "below the baseline's lower bound" in problems[0]
    assert make_baseline(nothing, created=date(2026, 1, 1)).created == date(2026, 1, 1)


def test_baseline_gate_checks_fields_and_refuses_a_different_run() -> None:
    baseline = Baseline.model_validate_json((BASELINES / "dev" / "news@v1.json").read_text(encoding="utf-8"))
    fixtures = load_fixtures(FIXTURES)
    from llm_extract import evaluate
    from llm_extract.schema import Extraction

    # Gold as prediction, but every claim's polarity flipped: F1 is perfect, polarity accuracy is 0.
    flipped = [
        Extraction(
            document_id=f.id,
            metadata=META,
            actors=f.gold.actors,
            events=f.gold.events,
            claims=[
                c.model_copy(update={"polarity": "asserted" if c.polarity == "denied" else "denied"})
                for c in f.gold.claims
            ],
        )
        for f in fixtures
    ]
    report = evaluate(flipped, fixtures).model_copy(
        update={"prompt": baseline.prompt, "model": baseline.model, "strategy": baseline.strategy}
    )
    problems = compare_baseline(report, baseline)
    assert any(p.startswith("claims.polarity accuracy fell to 0.000") for p in problems), problems
    assert not any("F1" in p for p in problems)
    other = report.model_copy(update={"prompt": "news@v9", "documents": report.documents[:3]})
    problems = compare_baseline(other, baseline)
    assert "the baseline was made with prompt news@v1, this run used news@v9" in problems
    assert any(p.startswith("the fixtures differ from the baseline's") for p in problems)


def test_eval_command_replays_one_fixture(
    tmp_path: Path, endpoint: str, vcr_config: dict[str, Any], recording: bool
) -> None:
    """The CLI runs the model over a fixture directory, prints the table and writes every report."""
    if recording:
        pytest.skip("replays the cassette recorded by test_eval_replays_offline_and_holds_the_baseline")
    fixture = FIXTURES / "local-harlan-falls-bridge-audit.yaml"  # one the model is asked about
    (tmp_path / "fixtures").mkdir()
    (tmp_path / "fixtures" / fixture.name).write_text(fixture.read_text(encoding="utf-8"), encoding="utf-8")
    out = tmp_path / "out"
    args = ["eval", "--fixtures", str(tmp_path / "fixtures"), "--base-url", endpoint, "--model", MODEL]
    args += [
        "--strategy",
        "decomposed",
        "--json",
        f"{out}.json",
        "--markdown",
        f"{out}.md",
        "--report",
        f"{out}.html",
    ]
    with cassette(
        recorder(False, vcr_config), CASSETTES / DEFAULT_PROMPT / fixture.with_suffix(".yaml").name, False
    ):
        result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "llm-extract eval" in result.output
    assert "strict F1" in result.output
    data = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    assert [d["id"] for d in data["documents"]] == [fixture.stem]
    assert data["usage"]["total_tokens"] > 0
    assert "| events |" in (tmp_path / "out.md").read_text(encoding="utf-8")
    assert f'id="doc-{fixture.stem}"' in (tmp_path / "out.html").read_text(encoding="utf-8")


# Pairs of prompt versions whose comparison the prompt history (CHANGELOG) reports.
COMPARISONS = [("news@v1", "news@v2"), ("news@v1", "news@v3"), ("news@v3", "news@v4")]


@pytest.mark.parametrize(("a", "b"), COMPARISONS)
def test_compare_replays_and_agrees_with_the_baselines(
    a: str, b: str, endpoint: str, vcr_config: dict[str, Any], recording: bool
) -> None:
    """A comparison replayed from cassettes has the baselines' scores on both sides, and renders."""
    if recording:
        pytest.skip("replays the cassettes recorded by test_eval_replays_offline_and_holds_the_baseline")
    replayer = recorder(False, vcr_config)
    extractors = tuple(
        CassetteExtractor(replayer, False, base_url=endpoint, model=MODEL, prompt=p, strategy="decomposed")
        for p in (a, b)
    )
    comparison = run_compare(a, b, FIXTURES, extractors=extractors)  # type: ignore[arg-type]
    for extractor in extractors:
        extractor.close()
    assert comparison.documents == sorted(f.id for f in load_fixtures(FIXTURES))
    assert comparison.prompt_diff.startswith(f"--- {a}\n+++ {b}\n")
    for side, prompt in (("a", a), ("b", b)):
        baseline = Baseline.model_validate_json(
            (BASELINES / "dev" / f"{prompt}.json").read_text(encoding="utf-8")
        )
        for item_type, schemes in baseline.f1.items():
            for scheme, metric in schemes.items():
                delta = comparison.f1[item_type][scheme]
                assert getattr(delta, side) == pytest.approx(metric.value), (prompt, item_type, scheme)
    block = compare_markdown(comparison, timings=False)
    assert f"news@v{b[-1]}" in block
    assert block == compare_markdown(comparison, timings=False)  # deterministic
