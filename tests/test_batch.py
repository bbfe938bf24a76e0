"""Batch extraction: exactly-once results, error records, the cache, resumable JSONL, budgets."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import EXAMPLES

from llm_extract import (
    BatchResult,
    Document,
    Extraction,
    Extractor,
    InputError,
    ModelOutputError,
    ResultCache,
    TransportError,
    aextract_batch,
    extract_batch,
    load_documents,
    run_batch,
)
from llm_extract.cli import main
from llm_extract.output import JsonlWriter
from llm_extract.schema import Usage

ARTICLES = list(load_documents(EXAMPLES / "articles.jsonl"))


def _docs(n: int) -> list[Document]:
    """n distinct documents made from the example articles."""
    return [
        Document(
            id=f"doc{i:03d}", text=f"{ARTICLES[i % 3].text}\n\nNote {i}.", published=ARTICLES[i % 3].published
        )
        for i in range(n)
    ]


class Flaky(Extractor):
    """The rules strategy, but chosen documents fail the way a model or an endpoint would."""

    def __init__(self, failures: dict[str, BaseException], **settings: Any) -> None:
        super().__init__(strategy="rules", **settings)
        self.failures = failures
        self.calls: list[str] = []

    async def aextract(self, document: Document | str, **fields: Any) -> Extraction:
        assert isinstance(document, Document)
        self.calls.append(document.id)
        await asyncio.sleep(
            0.002 * ((7 * int(document.id[3:])) % 5)
        )  # finish out of order, deterministically
        if document.id in self.failures:
            raise self.failures[document.id]
        return await super().aextract(document)


def test_every_document_yields_exactly_one_result(tmp_path: Path) -> None:
    docs = _docs(40)
    failures: dict[str, BaseException] = {
        "doc003": ModelOutputError("invalid JSON", attempts=3, raw_output="{", usage=Usage(total_tokens=7)),
        "doc017": TransportError("endpoint failed (HTTP 503)"),
        "doc029": RuntimeError("a bug"),
    }
    results = list(extract_batch(docs, extractor=Flaky(failures), concurrency=8, cache=tmp_path / "c"))
    assert sorted(r.document_id for r in results) == [d.id for d in docs]
    by_id = {r.document_id: r for r in results}
    for doc_id, exc in failures.items():
        result = by_id[doc_id]
        assert result.status == "error"
        assert result.extraction is None
        assert result.error is not None
        assert result.error.type == type(exc).__name__
    assert by_id["doc003"].error.raw_output == "{"  # type: ignore[union-attr]
    assert by_id["doc003"].usage.total_tokens == 7  # a failure still costs its tokens
    assert by_id["doc003"].error.retryable is False  # type: ignore[union-attr]
    assert by_id["doc017"].error.retryable is True  # type: ignore[union-attr]
    assert by_id["doc029"].error.retryable is True  # type: ignore[union-attr]
    assert all(
        r.status == "ok" and r.extraction and r.error is None
        for r in results
        if r.document_id not in failures
    )


def test_results_stream_in_completion_order() -> None:
    async def collect() -> list[str]:
        return [
            r.document_id
            async for r in aextract_batch(_docs(12), extractor=Flaky({}), concurrency=12, cache=False)
        ]

    order = asyncio.run(collect())
    assert sorted(order) == [d.id for d in _docs(12)]
    assert order != sorted(order)  # not input order: each result comes out when it is done


def test_a_repeated_id_is_an_error_record_not_a_second_extraction() -> None:
    docs = [*_docs(3), _docs(1)[0]]
    results = list(extract_batch(docs, extractor=Flaky({}), cache=False))
    assert len(results) == 4
    errors = [r for r in results if r.status == "error"]
    assert len(errors) == 1
    assert errors[0].error is not None
    assert errors[0].error.type == "DuplicateId"


def test_second_run_is_answered_from_the_cache(tmp_path: Path) -> None:
    docs = _docs(10)
    failures: dict[str, BaseException] = {
        "doc002": ModelOutputError("bad", attempts=3),  # permanent: cached
        "doc005": TransportError("HTTP 503"),  # transient: retried next time
    }
    first = Flaky(failures)
    list(extract_batch(docs, extractor=first, cache=tmp_path / "c"))
    assert len(first.calls) == 10
    second = Flaky({})
    results = {r.document_id: r for r in extract_batch(docs, extractor=second, cache=tmp_path / "c")}
    assert second.calls == ["doc005"]  # only the transient failure runs again
    assert all(results[d].cached for d in results if d != "doc005")
    assert results["doc002"].status == "error"
    assert results["doc005"].status == "ok"
    assert all(r.usage.total_tokens == 0 and r.cost_usd == 0.0 for r in results.values() if r.cached)
    with ResultCache(tmp_path / "c") as cache:
        assert len(cache) == 10


def test_the_cache_key_covers_the_settings(tmp_path: Path) -> None:
    docs = _docs(2)
    list(extract_batch(docs, extractor=Flaky({}), cache=tmp_path / "c"))
    other = Flaky({}, fuzzy_threshold=80.0)
    list(extract_batch(docs, extractor=other, cache=tmp_path / "c"))
    assert len(other.calls) == 2  # a different setting is a different key
    edited = [d.model_copy(update={"text": d.text + " Updated."}) for d in docs]
    again = Flaky({})
    list(extract_batch(edited, extractor=again, cache=tmp_path / "c"))
    assert len(again.calls) == 2  # so is a different text


def test_resume_keeps_finished_lines_and_drops_a_torn_one(tmp_path: Path) -> None:
    docs = _docs(12)
    out = tmp_path / "out.jsonl"
    run_batch(docs[:5], out, extractor=Flaky({"doc004": TransportError("HTTP 502")}), cache=tmp_path / "c")
    lines = out.read_bytes().splitlines()
    assert len(lines) == 5
    # Simulate a crash mid-write: half a line at the end.
    with out.open("ab") as f:
        f.write(lines[0][: len(lines[0]) // 2])
    extractor = Flaky({})
    summary = run_batch(docs, out, resume=True, extractor=extractor, cache=tmp_path / "c")
    assert sorted(extractor.calls) == ["doc004", *(d.id for d in docs[5:])]  # finished ones never rerun
    results = [BatchResult.model_validate_json(line) for line in out.read_bytes().splitlines()]
    assert sorted(r.document_id for r in results) == [d.id for d in docs]  # exactly once each
    assert all(r.status == "ok" for r in results)
    assert summary.total == 8


def test_an_existing_output_is_never_overwritten_silently(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    out.write_text("something\n", encoding="utf-8")
    with pytest.raises(InputError, match="--resume"):
        JsonlWriter(out)
    with JsonlWriter(out, overwrite=True):
        pass
    assert out.read_text(encoding="utf-8") == ""


def test_breaking_out_of_the_iterator_stops_the_batch() -> None:
    extractor = Flaky({})
    for _ in extract_batch(_docs(50), extractor=extractor, concurrency=2, cache=False):
        break
    assert len(extractor.calls) < 50


def test_cli_jsonl_batch_and_resume(tmp_path: Path) -> None:
    source = tmp_path / "docs.jsonl"
    source.write_text("\n".join(d.model_dump_json() for d in _docs(6)) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    args = [
        "extract",
        str(source),
        "--format",
        "jsonl",
        "--out",
        str(out),
        "--strategy",
        "rules",
        "--no-progress",
    ]
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0, first.output
    assert "6 ok, 0 failed" in first.output
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 1
    assert "--resume" in again.output
    resumed = CliRunner().invoke(main, [*args, "--resume"])
    assert resumed.exit_code == 0, resumed.output
    assert "6 already done" in resumed.output
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert sorted(line["document_id"] for line in lines) == [d.id for d in _docs(6)]
    assert {line["status"] for line in lines} == {"ok"}


def test_cli_second_run_uses_the_cache(tmp_path: Path) -> None:
    source = tmp_path / "docs.jsonl"
    source.write_text("\n".join(d.model_dump_json() for d in _docs(3)) + "\n", encoding="utf-8")
    args = ["extract", str(source), "--format", "jsonl", "--strategy", "rules", "--no-progress"]
    first = CliRunner().invoke(main, args)
    second = CliRunner().invoke(main, args)
    assert "0 from cache" in first.output
    assert "3 from cache" in second.output
    no_cache = CliRunner().invoke(main, [*args, "--no-cache"])
    assert "0 from cache" in no_cache.output


def test_resume_needs_a_jsonl_output() -> None:
    result = CliRunner().invoke(main, ["extract", str(EXAMPLES / "articles.jsonl"), "--resume"])
    assert result.exit_code == 2
    assert "--resume needs --out" in result.output


def test_a_long_document_is_chunked_and_merged_back_into_full_text_offsets() -> None:
    from llm_extract.grounding import verify
    from llm_extract.schema import Extraction as Result

    text = "\n\n".join(a.text for a in ARTICLES) * 3  # about 12,000 characters, names repeated
    whole = Extractor(strategy="rules").extract(Document(id="long", text=text))
    chunked = Extractor(strategy="rules", chunk_chars=2500, chunk_overlap=300).extract(
        Document(id="long", text=text)
    )
    assert whole.metadata.chunks == 1
    assert chunked.metadata.chunks >= 5
    evidence = [m for a in chunked.actors for m in a.mentions]
    evidence += [e.trigger for e in chunked.events] + [c.evidence for c in chunked.claims]
    assert evidence
    for item in evidence:
        assert item.start is not None
        assert item.end is not None
        assert text[item.start : item.end] == item.quote  # offsets index the whole document
        assert verify(item, text)
    # The same actor in many chunks is one actor.
    names = [a.name for a in chunked.actors]
    assert len(names) == len(set(names))
    assert names.count("Choe Son Hui") == 1
    # Claims in the overlap are not doubled: every evidence span is distinct.
    spans = [(c.evidence.start, c.evidence.end) for c in chunked.claims]
    assert len(spans) == len(set(spans))
    # Nothing of the unchunked result's claims is lost at a chunk boundary.
    assert {(c.evidence.start, c.evidence.end) for c in whole.claims} <= set(spans)
    Result.model_validate(chunked.model_dump())


class Reading:
    """An input iterator that counts what is taken and can fail once at item ``bad`` (1-based), then
    would go on: nothing may be taken after a failure."""

    def __init__(self, docs: list[Document], bad: int | None = None) -> None:
        self.docs, self.bad, self.taken = docs, bad, 0

    def __iter__(self) -> Reading:
        return self

    def __next__(self) -> Document:
        self.taken += 1
        if self.taken == self.bad:
            raise InputError(f"item {self.bad} is unreadable")
        if self.taken > len(self.docs):
            raise StopIteration
        return self.docs[self.taken - 1]


def test_unreadable_input_is_raised_after_the_started_documents_are_out() -> None:
    source, extractor = Reading(_docs(6), bad=7), Flaky({})  # the line after the last one is bad
    out: list[BatchResult] = []
    with pytest.raises(InputError, match="item 7"):
        out.extend(extract_batch(source, extractor=extractor, concurrency=4, cache=False))  # keeps what came
    # Every document read before the bad line was extracted once and came out; none is lost.
    ids = [d.id for d in _docs(6)]
    assert sorted(r.document_id for r in out) == sorted(extractor.calls) == ids


def test_a_slow_consumer_holds_the_workers_back() -> None:
    # Results wait in a queue as long as the concurrency; workers then wait for the consumer
    # instead of reading (and extracting) the whole input ahead of it.
    source = Reading(_docs(100))

    async def first_then_wait() -> int:
        batch = aextract_batch(source, extractor=Flaky({}), concurrency=4, cache=False)
        await anext(batch)
        await asyncio.sleep(0.3)  # ample time for 100 documents of 2 to 8 ms each
        read = source.taken
        await batch.aclose()
        return read

    read = asyncio.run(first_then_wait())
    assert read <= 1 + 4 + 4 + 1  # the one consumed, a full queue, one held by each worker, one peek


class Boom(BaseException):
    """Not an Exception: nothing in a document's extraction should swallow it."""


def test_a_base_exception_in_a_worker_ends_the_batch_and_is_raised() -> None:
    async def collect() -> list[BatchResult]:
        extractor = Flaky({"doc005": Boom("stop")})
        batch = aextract_batch(_docs(20), extractor=extractor, concurrency=4, cache=False)
        return [r async for r in batch]

    with pytest.raises(Boom):
        asyncio.run(asyncio.wait_for(collect(), 30))  # the bound only keeps a regression from hanging


def test_no_document_is_taken_after_the_input_fails() -> None:
    source, extractor = Reading(_docs(12), bad=4), Flaky({})
    out: list[BatchResult] = []
    with pytest.raises(InputError, match="item 4"):
        out.extend(extract_batch(source, extractor=extractor, concurrency=2, cache=False))
    assert sorted(r.document_id for r in out) == ["doc000", "doc001", "doc002"]
    assert source.taken == 4


class Slow(Flaky):
    """doc000 answers at once; every other document waits until it is cancelled."""

    def __init__(self) -> None:
        super().__init__({})
        self.started: list[str] = []
        self.cancelled = 0

    async def aextract(self, document: Document | str, **fields: Any) -> Extraction:
        assert isinstance(document, Document)
        self.started.append(document.id)
        try:
            if document.id != "doc000":
                await asyncio.sleep(60)
            return await super().aextract(document)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise


def test_breaking_out_of_the_sync_iterator_cancels_the_documents_in_flight() -> None:
    extractor = Slow()
    for result in extract_batch(_docs(10), extractor=extractor, concurrency=3, cache=False):
        assert result.document_id == "doc000"
        break
    # The two others started with it, and the one taken after it, were cancelled, not abandoned.
    assert extractor.cancelled == len(extractor.started) - 1 >= 2
