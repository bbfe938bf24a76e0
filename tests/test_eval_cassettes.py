"""The whole eval, replayed offline from cassettes (one per fixture and prompt), held to a baseline.

Record again (starts the embedded SmolLM2 server; needs the [local] extra)::

    pytest tests/test_eval_cassettes.py --record-mode=rewrite
    LLM_EXTRACT_RECORD_ONLY=local-carrigmore-budget-portal pytest tests/test_eval_cassettes.py --record-mode=rewrite

Set the baselines (and the README's comparison table) again from the replayed runs, after a
deliberate change (say why in the commit)::

    pytest tests/test_eval_cassettes.py --update-baselines
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import vcr
from click.testing import CliRunner
from conftest import META, ROOT, _json_body

from llm_extract import (
    Baseline,
    Document,
    Extraction,
    Extractor,
    Pricing,
    compare_baseline,
    make_baseline,
    run_compare,
    run_eval,
)
from llm_extract.cli import main
from llm_extract.fixtures import load_fixtures
from llm_extract.prompts import DEFAULT_PROMPT
from llm_extract.report import compare_markdown, eval_markdown

MODEL = "smollm2-135m-instruct"
PROMPTS = ["news@v1", "news@v2", "news@v3", "news@v4"]
FIXTURES = ROOT / "evals" / "fixtures"
BASELINES = ROOT / "evals" / "baselines"
CASSETTES = ROOT / "cassettes" / "evals"


_VCR_CONFIG: dict[str, Any] = {}


def _recorder(vcr_config: dict[str, Any], recording: bool) -> vcr.VCR:
    _VCR_CONFIG.update(vcr_config)
    recorder = vcr.VCR(**vcr_config, record_mode="once" if recording else "none")
    recorder.register_matcher("json_body", _json_body)
    return recorder


@contextmanager
def _cassette(recorder: vcr.VCR, path: Path, recording: bool) -> Iterator[None]:
    if recording:
        path.unlink(missing_ok=True)
    with recorder.use_cassette(str(path)) as cassette:
        yield
    if not recording:
        assert cassette.all_played, f"{path}: not every recorded interaction was played"


class CassetteExtractor(Extractor):
    """An extractor that answers each document from its own cassette: cassettes/evals/<prompt>/<id>.yaml."""

    def __init__(self, recorder: vcr.VCR, recording: bool, **settings: Any) -> None:
        super().__init__(**settings)
        self.recorder, self.recording = recorder, recording
        self.replayer = _recorder(_VCR_CONFIG, False) if recording else recorder

    def extract(self, document: Document | str, **fields: Any) -> Extraction:
        assert isinstance(document, Document)
        path = CASSETTES / self.prompt.ref / f"{document.id}.yaml"
        # LLM_EXTRACT_RECORD_ONLY=id,id re-records just those fixtures; the others replay.
        only = {x for x in os.environ.get("LLM_EXTRACT_RECORD_ONLY", "").split(",") if x}
        recording = self.recording and (not only or document.id in only)
        recorder = self.recorder if recording or not self.recording else self.replayer
        with _cassette(recorder, path, recording):
            return super().extract(document, **fields)


@pytest.fixture
def recording(request: pytest.FixtureRequest) -> bool:
    return request.config.getoption("--record-mode") not in (None, "none")


@pytest.mark.parametrize("prompt", PROMPTS)
def test_eval_replays_offline_and_holds_the_baseline(
    prompt: str, endpoint: str, vcr_config: dict[str, Any], recording: bool, request: pytest.FixtureRequest
) -> None:
    fixtures = load_fixtures(FIXTURES)
    extractor = CassetteExtractor(
        _recorder(vcr_config, recording),
        recording,
        base_url=endpoint,
        model=MODEL,
        prompt=prompt,
        strategy="decomposed",
    )
    with extractor:
        # The embedded model costs nothing; the cassettes stand in for it.
        report = run_eval(
            fixtures=fixtures, extractor=extractor, pricing=Pricing(input_per_mtok=0, output_per_mtok=0)
        )

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
    # dropping items and this statement in the README no longer holds.
    assert report.floor is not None
    for item_type in ("actors", "events", "claims"):
        assert report.f1(item_type, "partial") == report.floor.f1[item_type]["partial"]

    baseline_path = BASELINES / f"{prompt}.json"
    if request.config.getoption("--update-baselines"):
        BASELINES.mkdir(parents=True, exist_ok=True)
        baseline_path.write_text(make_baseline(report).model_dump_json(indent=2) + "\n", encoding="utf-8")
        note = (
            "> Written by `pytest tests/test_eval_cassettes.py --update-baselines` from the cassettes recorded on\n"
            "> the embedded model: tokens and scores are the model's; times are the replay's, not the model's.\n\n"
        )
        (BASELINES / f"{prompt}.md").write_text(note + eval_markdown(report), encoding="utf-8")
    baseline = Baseline.model_validate_json(baseline_path.read_text(encoding="utf-8"))
    assert baseline.prompt == prompt
    assert baseline.documents == len(fixtures)
    assert compare_baseline(report, baseline) == []
    # The replay is deterministic, so any change at all is real: scores must equal the baseline's
    # exactly until it is deliberately set again with --update-baselines.
    now = make_baseline(report, created=baseline.created)
    assert now.f1 == baseline.f1
    assert now.fields == baseline.fields


def test_baseline_gate_fails_on_a_drop() -> None:
    baseline = Baseline.model_validate_json((BASELINES / "news@v1.json").read_text(encoding="utf-8"))
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
    baseline = Baseline.model_validate_json((BASELINES / "news@v1.json").read_text(encoding="utf-8"))
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
    with _cassette(
        _recorder(vcr_config, False), CASSETTES / DEFAULT_PROMPT / fixture.with_suffix(".yaml").name, False
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
    recorder = _recorder(vcr_config, False)
    extractors = tuple(
        CassetteExtractor(recorder, False, base_url=endpoint, model=MODEL, prompt=p, strategy="decomposed")
        for p in (a, b)
    )
    comparison = run_compare(a, b, FIXTURES, extractors=extractors)  # type: ignore[arg-type]
    for extractor in extractors:
        extractor.close()
    assert comparison.documents == sorted(f.id for f in load_fixtures(FIXTURES))
    assert comparison.prompt_diff.startswith(f"--- {a}\n+++ {b}\n")
    for side, prompt in (("a", a), ("b", b)):
        baseline = Baseline.model_validate_json((BASELINES / f"{prompt}.json").read_text(encoding="utf-8"))
        for item_type, schemes in baseline.f1.items():
            for scheme, metric in schemes.items():
                delta = comparison.f1[item_type][scheme]
                assert getattr(delta, side) == pytest.approx(metric.value), (prompt, item_type, scheme)
    block = compare_markdown(comparison, timings=False)
    assert f"news@v{b[-1]}" in block
    assert block == compare_markdown(comparison, timings=False)  # deterministic
