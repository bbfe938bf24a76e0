"""Results files for the corpus tests: gold labels, rules extractions and every kind of bad line."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from conftest import ROOT

from llm_extract import Extractor, load_fixtures
from llm_extract.fixtures import Fixture
from llm_extract.gold import GOLD_METADATA, gold_results
from llm_extract.schema import Actor, BatchResult, Claim, Document, ErrorRecord, Evidence, Extraction, Usage

FIXTURE_DIRS = [
    ROOT / "evals" / "fixtures",
    ROOT / "evals" / "fixtures" / "test",
    ROOT / "evals" / "linking" / "articles",
]
CLUSTERS = ROOT / "evals" / "linking" / "clusters.yaml"
HOSTILE = '</script><script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">'


@cache
def fixtures() -> tuple[Fixture, ...]:
    """Every fixture the linking eval reads."""
    return tuple(f for d in FIXTURE_DIRS for f in load_fixtures(d))


def gold() -> list[BatchResult]:
    """The fixtures' gold labels as ok results (they have dates, claims, denials and aliases)."""
    return gold_results(fixtures())


def varied_results() -> list[BatchResult]:
    """Gold results, rules extractions, an error result and a result using every batch field."""
    docs = [f.document for f in fixtures()[:6]]
    extractor = Extractor(strategy="rules")
    rules = [
        BatchResult(
            document_id=f"rules-{d.id}",
            status="ok",
            document=d.model_copy(update={"id": f"rules-{d.id}"}),
            extraction=extractor.extract(d).model_copy(update={"document_id": f"rules-{d.id}"}),
        )
        for d in docs
    ]
    failed = BatchResult(
        document_id="failed-doc",
        status="error",
        document=Document(id="failed-doc", text="Nothing to see.", title=None),
        error=ErrorRecord(
            type="ModelOutputError", message="no JSON", attempts=3, raw_output="{", retryable=True
        ),
        usage=Usage(prompt_tokens=10, completion_tokens=2, total_tokens=12),
        cost_usd=0.5,
        latency_s=1.25,
    )
    first = gold()[0]
    busy = first.model_copy(
        update={
            "document_id": "busy",
            "cached": True,
            "usage": Usage(prompt_tokens=100, completion_tokens=50, total_tokens=150),
            "cost_usd": 0.001,
            "latency_s": 2.5,
            "key": "abc123",
            "document": first.document.model_copy(update={"id": "busy"}) if first.document else None,
            "extraction": first.extraction.model_copy(update={"document_id": "busy"})
            if first.extraction
            else None,
        }
    )
    return [*gold(), *rules, failed, busy]


def write_jsonl(path: Path, results: list[BatchResult], *, extra_lines: tuple[str, ...] = ()) -> Path:
    """A results file: one line per result, then ``extra_lines`` as written."""
    lines = [r.model_dump_json() for r in results] + list(extra_lines)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def hostile_results() -> list[BatchResult]:
    """One article whose actor is named like markup, with a claim and its denial."""
    text = (
        f"{HOSTILE} said on Monday that Acme had shipped rifles to Borduria.\n\nAcme denied shipping rifles."
    )
    doc = Document(id="hostile<doc>", text=text, title=HOSTILE)
    quote = "Acme had shipped rifles to Borduria"
    start = text.index(quote)
    extraction = Extraction(
        document_id=doc.id,
        actors=[
            Actor(
                id="A1",
                name=HOSTILE,
                kind="person",
                mentions=[Evidence(quote=HOSTILE, start=0, end=len(HOSTILE), alignment="exact", score=100)],
            ),
            Actor(id="A2", name="Acme", kind="organization"),
        ],
        claims=[
            Claim(
                id="C1",
                statement="Acme shipped rifles to Borduria.",
                claimant="A1",
                evidence=Evidence(
                    quote=quote, start=start, end=start + len(quote), alignment="exact", score=100
                ),
            ),
            Claim(
                id="C2",
                statement="Acme denied shipping rifles to Borduria.",
                claimant="A2",
                polarity="denied",
                evidence=Evidence(quote="Acme denied shipping rifles"),
            ),
        ],
        metadata=GOLD_METADATA,
    )
    return [BatchResult(document_id=doc.id, status="ok", document=doc, extraction=extraction)]
