"""The path real users take, replayed offline: a capable endpoint through extract, batch, eval and compare.

The endpoint is the ORACLE (tests/support/oracle.py): a loopback server that answers with the gold
labels, in whatever shape the request asks. Its answers are a perfect model's, so these runs prove
the pipeline (requests, grounding, chunking, merging, batching, scoring), not a model's quality.
Record again (starts the oracle, no model needed)::

    pytest tests/test_capable_path.py --record-mode=rewrite
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import REPLAY_BASE_URL, ROOT
from support.oracle import Oracle

from llm_extract import Document, Extractor, extract_batch, load_fixtures, run_compare, run_eval
from llm_extract.cli import main
from llm_extract.fixtures import load_fixture
from llm_extract.grounding import verify

DEV = ROOT / "evals" / "fixtures"
TEST = DEV / "test"
# A short article, and the long one that is cut into chunks under the default answer budget.
SHORT = "biz-gdansk-port-strike"
LONG = "diplo-nk-russia-analysis-long"
EVAL_IDS = ["biz-quillon-layoffs", "health-kaerby-legionella", "pol-czech-lobbying-bill"]


@pytest.fixture
def oracle_url(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The oracle while recording; a dead URL on replay (the cassette must answer everything)."""
    if request.config.getoption("--record-mode") in (None, "none"):
        monkeypatch.setenv("LLM_EXTRACT_TRANSPORT_RETRIES", "0")
        yield REPLAY_BASE_URL
    else:
        with Oracle([DEV, TEST]) as oracle:
            yield oracle.base_url
    cassette = request.getfixturevalue("vcr")
    if request.config.getoption("--record-mode") in (None, "none"):
        assert cassette.all_played, f"{cassette._path}: not every recorded interaction was played"


def _settings(url: str, **more: object) -> dict[str, object]:
    return {"base_url": url, "model": "oracle", "api_key": "oracle", **more}


def _perfect(report_f1: dict[str, float]) -> None:
    for item_type, f1 in report_f1.items():
        assert f1 == pytest.approx(1.0), item_type


@pytest.mark.vcr
@pytest.mark.parametrize("name", [SHORT, LONG])
def test_guided_is_the_default_and_reaches_the_gold(name: str, oracle_url: str) -> None:
    fixture = load_fixture(DEV / f"{name}.yaml")
    with Extractor(prompt="news@v5", **_settings(oracle_url)) as extractor:  # type: ignore[arg-type]
        assert extractor.strategy == "guided"
        result = extractor.extract(fixture.document)
    assert result.metadata.chunks == (1 if name == SHORT else 2)
    evidence = [m for a in result.actors for m in a.mentions] + [e.trigger for e in result.events]
    for item in (e for e in evidence if e.grounded):
        assert verify(item, fixture.text)
    assert {(a.name, a.kind) for a in result.actors if a.grounded} >= {
        (a.name, a.kind) for a in fixture.gold.actors
    } - {(a.name, a.kind) for a in fixture.gold.actors if not any(m.start is not None for m in a.mentions)}
    gold_triggers = {(e.trigger.start, e.trigger.end, e.type) for e in fixture.gold.events}
    assert {(e.trigger.start, e.trigger.end, e.type) for e in result.events} == gold_triggers
    gold_claims = {(c.evidence.start, c.evidence.end, c.polarity) for c in fixture.gold.claims}
    assert {(c.evidence.start, c.evidence.end, c.polarity) for c in result.claims} == gold_claims


@pytest.mark.vcr
@pytest.mark.parametrize("grounding", ["aligned", "constrained"])
def test_single_reaches_the_gold_with_either_grounding(grounding: str, oracle_url: str) -> None:
    fixture = load_fixture(DEV / f"{SHORT}.yaml")
    settings = _settings(oracle_url, strategy="single", grounding=grounding)
    with Extractor(prompt="news@v5", **settings) as extractor:  # type: ignore[arg-type]
        result = extractor.extract(fixture.document)
    assert result.metadata.grounding == grounding
    assert all(c.grounded for c in result.claims)
    assert {(c.evidence.start, c.evidence.end) for c in result.claims} == {
        (c.evidence.start, c.evidence.end) for c in fixture.gold.claims
    }


@pytest.mark.vcr
def test_the_cli_extracts_from_a_capable_endpoint(oracle_url: str, tmp_path: Path) -> None:
    fixture = load_fixture(DEV / f"{SHORT}.yaml")
    source = tmp_path / "in.jsonl"
    source.write_text(
        json.dumps({"id": fixture.id, "text": fixture.text, "published": str(fixture.published)}),
        encoding="utf-8",
    )
    out = tmp_path / "out.jsonl"
    args = ["extract", str(source), "--out", str(out), "--base-url", oracle_url, "--model", "oracle"]
    result = CliRunner().invoke(main, [*args, "--prompt", "news@v5", "--no-cache"])
    assert result.exit_code == 0, result.output
    [line] = out.read_text(encoding="utf-8").splitlines()
    record = json.loads(line)
    assert record["status"] == "ok"
    assert record["extraction"]["metadata"]["strategy"] == "guided"
    assert len(record["extraction"]["claims"]) == len(fixture.gold.claims)


@pytest.mark.vcr
def test_a_batch_runs_concurrently_on_a_capable_endpoint(oracle_url: str) -> None:
    fixtures = [f for f in load_fixtures(DEV) if f.id in EVAL_IDS]
    docs = [f.document for f in fixtures]
    results = list(extract_batch(docs, concurrency=3, cache=False, prompt="news@v5", **_settings(oracle_url)))
    assert sorted(r.document_id for r in results) == sorted(EVAL_IDS)
    assert all(r.status == "ok" for r in results)
    by_id = {f.id: f for f in fixtures}
    for r in results:
        assert r.extraction is not None
        assert len(r.extraction.events) == len(by_id[r.document_id].gold.events)
        assert r.usage.total_tokens > 0


@pytest.mark.vcr
def test_eval_and_compare_on_a_capable_endpoint(oracle_url: str) -> None:
    fixtures = [f for f in load_fixtures(DEV) if f.id in EVAL_IDS]
    report = run_eval("news@v5", fixtures=fixtures, cache=False, floor=True, **_settings(oracle_url))
    assert report.strategy == "guided"
    assert report.errors == 0
    _perfect({t: report.f1(t) for t in ("actors", "events", "claims")})
    assert report.floor is not None
    assert report.floor.f1["events"]["strict"] < 1.0  # the oracle's ceiling is above the rules
    comparison = run_compare(
        "news@v5",
        fixtures=fixtures,
        settings_b={"strategy": "single"},
        resamples=200,
        **_settings(oracle_url),
    )
    assert comparison.worse() == []
    assert set(comparison.documents) == set(EVAL_IDS)


def test_documents_named_here_exist() -> None:
    ids = {f.id for f in load_fixtures(DEV)}
    assert {SHORT, LONG, *EVAL_IDS} <= ids
    assert Document(text="x").id
