"""The eval harness on the batch runner: one cache with extract, concurrency, failures, splits, gates."""

from __future__ import annotations

import asyncio
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT

from llm_extract import (
    ConfigError,
    Document,
    EvalReport,
    Extraction,
    Extractor,
    FixtureError,
    ModelOutputError,
    TransportError,
    aextract_batch,
    compare_baseline,
    evaluate,
    extract_batch,
    load_fixtures,
    make_baseline,
    rule_floor,
    run_compare,
    run_eval,
)
from llm_extract.schema import Usage

FIXTURES = ROOT / "evals" / "fixtures"


def _smallest(directory: Path, n: int) -> list[Path]:
    return sorted(directory.glob("*.yaml"), key=lambda p: p.stat().st_size)[:n]


@pytest.fixture
def splits(tmp_path: Path) -> Path:
    """A fixture directory with both splits: three dev fixtures and two test fixtures (the smallest)."""
    directory = tmp_path / "fixtures"
    (directory / "test").mkdir(parents=True)
    for path in _smallest(FIXTURES, 3):
        shutil.copy(path, directory / path.name)
    for path in _smallest(FIXTURES / "test", 2):
        shutil.copy(path, directory / "test" / path.name)
    return directory


class Counting(Extractor):
    """The rules strategy, counting the documents it is asked (and how many at once); some may fail."""

    def __init__(self, failures: dict[str, BaseException] | None = None, **settings: Any) -> None:
        super().__init__(strategy="rules", **settings)
        self.failures = failures or {}
        self.calls: list[str] = []
        self.running = 0
        self.most = 0

    async def aextract(self, document: Document | str, **fields: Any) -> Extraction:
        assert isinstance(document, Document)
        self.calls.append(document.id)
        self.running += 1
        self.most = max(self.most, self.running)
        try:
            await asyncio.sleep(0.01)
            if document.id in self.failures:
                raise self.failures[document.id]
            return await super().aextract(document)
        finally:
            self.running -= 1

    def extract(self, document: Document | str, **fields: Any) -> Extraction:
        raise AssertionError("the eval runs documents through the batch runner (aextract)")


def test_eval_runs_documents_concurrently_through_the_batch_runner(tmp_path: Path) -> None:
    fixtures = load_fixtures(FIXTURES)[:6]
    seen: list[str] = []
    with Counting() as extractor:
        report = run_eval(
            fixtures=fixtures,
            extractor=extractor,
            cache=False,
            concurrency=3,
            on_document=lambda f, r, e: seen.append(f.id),
        )
    assert sorted(extractor.calls) == sorted(f.id for f in fixtures)
    assert 1 < extractor.most <= 3
    assert sorted(seen) == sorted(f.id for f in fixtures)
    assert [d.id for d in report.documents] == [f.id for f in fixtures]
    assert report.errors == 0
    assert report.strategy == "rules"
    assert report.cost_usd == 0.0


def test_eval_reads_and_writes_the_cache_extract_uses(tmp_path: Path) -> None:
    fixtures = load_fixtures(FIXTURES)[:4]
    cache = tmp_path / "cache"
    with Counting() as first:
        report = run_eval(fixtures=fixtures, extractor=first, cache=cache)
    assert len(first.calls) == 4
    # A second eval, say for --report, pays nothing: every document comes from the cache.
    with Counting() as second:
        again = run_eval(fixtures=fixtures, extractor=second, cache=cache)
    assert second.calls == []
    assert make_baseline(again).f1 == make_baseline(report).f1
    # One record shape: a batch (what `llm-extract extract` runs) is answered from the eval's records.
    with Counting() as third:
        results = list(extract_batch([f.document for f in fixtures], extractor=third, cache=cache))
    assert third.calls == []
    assert all(r.cached and r.status == "ok" for r in results)
    # And the other way round: an eval reads what a batch wrote.
    more = load_fixtures(FIXTURES)[4:6]
    with Counting() as fourth:
        list(extract_batch([f.document for f in more], extractor=fourth, cache=cache))
    with Counting() as fifth:
        run_eval(fixtures=more, extractor=fifth, cache=cache)
    assert len(fourth.calls) == 2
    assert fifth.calls == []


def test_run_eval_reuses_the_default_cache(tmp_path: Path) -> None:
    fixtures = load_fixtures(FIXTURES)[:2]
    calls: list[str] = []

    class Spy(Counting):
        async def aextract(self, document: Document | str, **fields: Any) -> Extraction:
            assert isinstance(document, Document)
            calls.append(document.id)
            return await super().aextract(document)

    for _ in range(2):  # LLM_EXTRACT_CACHE_DIR is this test's own (conftest)
        with Spy() as extractor:
            run_eval(fixtures=fixtures, extractor=extractor)
    assert len(calls) == 2


def test_a_failed_document_scores_as_empty_and_its_tokens_count() -> None:
    fixtures = load_fixtures(FIXTURES)[:3]
    failing = fixtures[1].id
    error = ModelOutputError("still invalid after 2 re-asks", attempts=3, usage=Usage(prompt_tokens=70))
    calls: list[tuple[str, Any, Any]] = []
    with Counting({failing: error}) as extractor:
        report = run_eval(
            fixtures=fixtures,
            extractor=extractor,
            cache=False,
            on_document=lambda f, r, e: calls.append((f.id, r, e)),
        )
    assert report.errors == 1
    doc = next(d for d in report.documents if d.id == failing)
    assert doc.predicted is None
    assert doc.error is not None
    assert doc.error.startswith("still invalid after 2 re-asks")
    assert all(c.exact + c.partial == 0 for c in doc.counts.values())
    assert report.usage.prompt_tokens == 70  # rules spend nothing; the failure's tokens count
    (_, result, raised) = next(c for c in calls if c[0] == failing)
    assert result is None
    assert isinstance(raised, ModelOutputError)
    assert raised.document_id == failing
    assert raised.attempts == 3


def test_an_unreachable_endpoint_is_a_transport_error_per_document() -> None:
    fixtures = load_fixtures(FIXTURES)[:2]
    errors: list[Any] = []
    failures: dict[str, BaseException] = {
        f.id: TransportError("endpoint failed (HTTP 502)") for f in fixtures
    }
    with Counting(failures) as extractor:
        report = run_eval(
            fixtures=fixtures,
            extractor=extractor,
            cache=False,
            floor=False,
            on_document=lambda f, r, e: errors.append(e),
        )
    assert report.errors == 2
    assert all(isinstance(e, TransportError) for e in errors)


def test_overrides_next_to_an_object_are_refused(tmp_path: Path) -> None:
    fixtures = load_fixtures(FIXTURES)[:1]
    with Extractor(strategy="rules") as extractor:
        with pytest.raises(ConfigError, match="not both"):
            run_eval(fixtures=fixtures, extractor=extractor, model="other")
        with pytest.raises(ConfigError, match="prompt"):
            run_eval("news@v1", fixtures=fixtures, extractor=extractor)
        with pytest.raises(ConfigError, match="not both"):
            run_compare("news@v1", "news@v2", fixtures, extractors=(extractor, extractor), model="other")
        with pytest.raises(ConfigError, match="not both"):
            list(extract_batch([fixtures[0].document], extractor=extractor, model="other"))

        async def drain() -> None:
            async for _ in aextract_batch([fixtures[0].document], extractor=extractor, strategy="single"):
                pass

        with pytest.raises(ConfigError, match="strategy"):
            asyncio.run(drain())


def test_load_fixtures_by_split(splits: Path) -> None:
    dev, test = load_fixtures(splits, "dev"), load_fixtures(splits, "test")
    assert [f.id for f in dev] == [f.id for f in load_fixtures(splits)] == sorted(f.id for f in dev)
    assert len(dev) == 3
    assert len(test) == 2
    assert [f.id for f in load_fixtures(splits, "all")] == [f.id for f in dev + test]
    # The shipped fixtures: the dev split is the files in evals/fixtures, the test split evals/fixtures/test.
    assert len(load_fixtures(FIXTURES, "test")) == len(list((FIXTURES / "test").glob("*.yaml")))


def test_a_missing_split_or_an_id_in_both_is_an_error(splits: Path, tmp_path: Path) -> None:
    only_dev = tmp_path / "only-dev"
    only_dev.mkdir()
    shutil.copy(_smallest(FIXTURES, 1)[0], only_dev)
    with pytest.raises(FixtureError, match="does not exist"):
        load_fixtures(only_dev, "test")
    assert len(load_fixtures(only_dev, "all")) == 1  # all: the splits the directory has
    twin = splits / "test" / next(splits.glob("*.yaml")).name
    shutil.copy(next(splits.glob("*.yaml")), twin)
    with pytest.raises(FixtureError, match="both splits"):
        load_fixtures(splits, "all")


def test_split_all_scores_each_split_and_both_together(splits: Path) -> None:
    report = run_eval(fixtures=splits, split="all", strategy="rules", cache=False)
    assert report.split == "all"
    assert [p.split for p in report.parts] == ["dev", "test"]
    dev, test = report.parts
    assert [d.id for d in dev.documents] == [f.id for f in load_fixtures(splits, "dev")]
    assert [d.id for d in test.documents] == [f.id for f in load_fixtures(splits, "test")]
    assert [d.id for d in report.documents] == [d.id for d in dev.documents + test.documents]
    assert {d.split for d in report.documents} == {"dev", "test"}
    for t in ("actors", "events", "claims"):
        whole = report.types[t].counts
        assert whole.gold == dev.types[t].counts.gold + test.types[t].counts.gold
        assert whole.strict == dev.types[t].counts.strict + test.types[t].counts.strict
    assert report.floor is not None
    assert dev.floor is not None
    assert test.floor is not None
    # Every floor carries the candidates' recall, per split and for the whole, as rule_floor has it.
    assert dev.floor.candidate_recall == rule_floor(load_fixtures(splits, "dev")).candidate_recall
    assert set(report.floor.candidate_recall) == {"actors", "events", "claims"}
    assert make_baseline(test).candidate_recall == test.floor.candidate_recall
    # Each split is the same as running that split alone.
    alone = run_eval(fixtures=splits, split="test", strategy="rules", cache=False)
    assert alone.split == "test"
    assert make_baseline(alone).f1 == make_baseline(test).f1
    # A list of fixtures has no split to choose.
    with pytest.raises(ConfigError, match="split"):
        run_eval(fixtures=load_fixtures(splits), split="dev", strategy="rules")


def test_a_saved_report_keeps_its_splits_and_documents_once(splits: Path) -> None:
    report = run_eval(fixtures=splits, split="all", strategy="rules", cache=False)
    text = report.model_dump_json()
    assert text.count('"id":"' + report.documents[0].id + '"') == 1  # documents are saved once
    loaded = EvalReport.model_validate_json(text)
    assert loaded.model_dump() == report.model_dump()
    for name in ("dev", "test"):
        part, original = loaded.for_split(name), report.for_split(name)
        assert part is not None
        assert original is not None
        assert [d.id for d in part.documents] == [d.id for d in original.documents]
        assert part.f1("claims") == original.f1("claims")
    assert loaded.for_split("all") is loaded


def test_a_baseline_records_its_split_and_gates_like_with_like(splits: Path) -> None:
    report = run_eval(fixtures=splits, split="all", strategy="rules", cache=False)
    dev, test = report.parts
    dev_baseline = make_baseline(dev, created=date(2026, 1, 1))
    assert dev_baseline.split == "dev"
    # A run over both splits is gated on its dev part against a dev baseline.
    assert compare_baseline(report, dev_baseline) == []
    assert compare_baseline(report, make_baseline(test)) == []
    assert compare_baseline(report, make_baseline(report)) == []
    # A test-split run cannot be gated by a dev baseline.
    problems = compare_baseline(test, dev_baseline)
    assert problems == ["the baseline was made on the dev split, this run scored test"]
    # A baseline from before splits were recorded gates the part with its fixtures.
    legacy = dev_baseline.model_copy(update={"split": None})
    assert compare_baseline(report, legacy) == []
    nothing = evaluate([], load_fixtures(splits, "dev")).model_copy(
        update={"split": "dev", "prompt": dev.prompt, "model": dev.model, "strategy": dev.strategy}
    )
    worse = report.model_copy(update={"parts": [nothing, test]})
    assert any("fell to 0.000" in p for p in compare_baseline(worse, legacy))


def test_compare_by_split(splits: Path) -> None:
    comparison = run_compare("news@v1", "news@v2", splits, split="all", strategy="rules", cache=False)
    assert comparison.split == "all"
    assert [(p.split, len(p.documents)) for p in comparison.parts] == [("dev", 3), ("test", 2)]
    assert len(comparison.documents) == 5
    assert comparison.worse() == []  # the rules do not read the prompt: nothing differs
    only = run_compare("news@v1", "news@v2", splits, split="dev", strategy="rules", cache=False)
    assert only.split == "dev"
    assert only.parts == []
