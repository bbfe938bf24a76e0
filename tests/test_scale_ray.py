"""llm-extract on Ray Data, on a local two-CPU Ray (one cluster for the module: it takes ~5 s to start).

The endpoints are loopback servers in this process (the oracle, the fake); the actors reach them over
127.0.0.1 like any endpoint. Timings are measured in benchmarks/scale.py, never asserted here.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ray = pytest.importorskip("ray", reason="Ray is not installed: pip install -e '.[ray]'")
pa = pytest.importorskip("pyarrow")

import duckdb  # noqa: E402
import pandas as pd  # noqa: E402
from conftest import ROOT  # noqa: E402
from support.oracle import Oracle  # noqa: E402

from llm_extract.fixtures import load_fixtures  # noqa: E402
from llm_extract.output import run_batch  # noqa: E402
from llm_extract.scale import ray_data  # noqa: E402
from llm_extract.scale.rate import SharedLimiter, budget_actor  # noqa: E402
from llm_extract.scale.rows import ROW_SCHEMA, results_from_table, results_table  # noqa: E402
from llm_extract.scale.shards import compact, finished_ids, part_files, write_part  # noqa: E402
from llm_extract.schema import BatchResult, Document, ErrorRecord  # noqa: E402

pytestmark = [pytest.mark.timeout(240), pytest.mark.slow]

DEV = ROOT / "evals" / "fixtures"
DOCS = [f.document for f in load_fixtures(DEV)]
SETTINGS: dict[str, Any] = {"model": "oracle", "strategy": "single", "max_tokens": 8192, "cache": False}


@pytest.fixture(scope="module", autouse=True)
def local_ray() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def oracle() -> Iterator[Oracle]:
    with Oracle([DEV]) as served:
        yield served


def _input(tmp_path: Path, docs: list[Document], extra: list[dict[str, Any]] = ()) -> Path:  # type: ignore[assignment]
    path = tmp_path / "in.jsonl"
    rows = [json.loads(d.model_dump_json()) for d in docs] + list(extra)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _comparable(result: BatchResult) -> dict[str, Any]:
    data = result.model_dump(mode="json", exclude={"latency_s"})
    if data["extraction"] is not None:
        data["extraction"]["metadata"].pop("latency_s")
    return data


def _live(tmp_path: Path, oracle: Oracle, docs: list[Document]) -> dict[str, BatchResult]:
    out = tmp_path / "live.jsonl"
    settings = {k: v for k, v in SETTINGS.items() if k != "cache"}
    run_batch(docs, out, base_url=oracle.base_url, cache=False, **settings)
    return {r.document_id: r for r in map(BatchResult.model_validate_json, out.read_text().splitlines())}


def test_rows_equal_the_batch_runner_and_bad_rows_are_error_rows(tmp_path: Path, oracle: Oracle) -> None:
    items = [json.loads(d.model_dump_json()) for d in DOCS[:6]]
    items += [{"id": "empty", "text": "", "title": None, "published": None}]
    items += [{"id": None, "text": "An article without an id.", "title": None, "published": None}]
    ds = ray.data.from_items(items)
    rows = ray_data.extract_dataset(ds, base_url=oracle.base_url, batch_size=3, **SETTINGS)
    results = results_from_table(pa.Table.from_pylist(rows.take_all(), schema=ROW_SCHEMA))
    by_id = {r.document_id: r for r in results}
    live = _live(tmp_path, oracle, DOCS[:6])
    assert len(results) == 8
    for doc in DOCS[:6]:
        assert by_id[doc.id].status == "ok"
        assert _comparable(by_id[doc.id]) == _comparable(live[doc.id])
    assert by_id["empty"].error is not None
    assert by_id["empty"].error.type == "InputError"
    assert by_id["input"].error is not None
    assert by_id["input"].error.type == "InputError"


def test_an_unreachable_endpoint_gives_error_rows_not_a_failed_block() -> None:
    ds = ray.data.from_items([json.loads(d.model_dump_json()) for d in DOCS[:4]])
    rows = ray_data.extract_dataset(
        ds, base_url="http://127.0.0.1:9/v1", transport_retries=0, timeout=5, batch_size=2, **SETTINGS
    )
    results = results_from_table(pa.Table.from_pylist(rows.take_all(), schema=ROW_SCHEMA))
    assert sorted(r.document_id for r in results) == sorted(d.id for d in DOCS[:4])
    assert {r.error.type for r in results if r.error} == {"TransportError"}


def test_run_writes_parquet_that_pandas_duckdb_and_ray_read_field_for_field(
    tmp_path: Path, oracle: Oracle
) -> None:
    source = _input(tmp_path, DOCS, extra=[{"id": "blank", "text": " "}])
    out = tmp_path / "out"
    report = ray_data.run(str(source), str(out), base_url=oracle.base_url, batch_size=4, **SETTINGS)
    assert report.rows == len(DOCS) + 1
    assert report.compacted is not None
    assert report.compacted.dropped == 0
    frame = pd.read_parquet(out)
    assert sorted(frame["document_id"]) == sorted([d.id for d in DOCS] + ["blank"])
    assert set(frame.columns) == set(BatchResult.model_fields)
    counts = duckdb.sql(
        f"SELECT status, count(*), sum(usage.total_tokens) > 0 FROM read_parquet('{out}/*.parquet') GROUP BY 1 ORDER BY 1"
    ).fetchall()
    assert counts == [("error", 1, False), ("ok", len(DOCS), True)]
    assert ray.data.read_parquet(str(out)).count() == len(DOCS) + 1
    # Field for field what the JSONL of a one-process run says, the extraction included.
    live = _live(tmp_path, oracle, DOCS)
    table = pa.Table.from_pandas(frame, preserve_index=False).select(ROW_SCHEMA.names).cast(ROW_SCHEMA)
    for result in results_from_table(table):
        if result.document_id != "blank":
            assert _comparable(result) == _comparable(live[result.document_id])


def test_resume_skips_finished_documents_and_compact_keeps_one_row_each(
    tmp_path: Path, oracle: Oracle
) -> None:
    source = _input(tmp_path, DOCS[:5])
    out = str(tmp_path / "out")
    ray_data.run(str(source), out, base_url=oracle.base_url, batch_size=2, **SETTINGS)
    with pytest.raises(Exception, match="--resume"):
        ray_data.run(str(source), out, base_url=oracle.base_url, **SETTINGS)
    served = len(oracle.log)
    again = ray_data.run(str(source), out, resume=True, base_url=oracle.base_url, **SETTINGS)
    assert (again.skipped, again.rows) == (5, 0)
    assert len(oracle.log) == served, "nothing was asked twice"
    # Rows a retried task wrote in another grouping (a part of three ids, where the run wrote parts of
    # at most two): an error row for a document that is ok, and second ok rows for two others.
    stale = results_from_table(ray_data.read_rows(out).slice(0, 3))
    error = ErrorRecord(type="TransportError", message="stale", retryable=True)
    stale[0] = stale[0].model_copy(update={"status": "error", "extraction": None, "error": error})
    write_part(results_table(stale), out)
    report = compact(out)
    assert report.dropped == 3
    assert report.documents == 5
    after = results_from_table(ray_data.read_rows(out))
    assert sorted(r.document_id for r in after) == sorted(d.id for d in DOCS[:5])
    assert all(r.status == "ok" for r in after)
    assert finished_ids(out) == {d.id for d in DOCS[:5]}


def test_writing_the_same_part_twice_adds_nothing(tmp_path: Path) -> None:
    results = [
        BatchResult(
            document_id=f"d{n}", status="error", error=ErrorRecord(type="X", message="m", retryable=False)
        )
        for n in range(3)
    ]
    table = results_table(results)
    first = write_part(table, str(tmp_path))
    second = write_part(table.take([2, 0, 1]), str(tmp_path))  # the same rows in another order
    assert first == second
    assert len(part_files(str(tmp_path))) == 1
    assert results_from_table(ray_data.read_rows(str(tmp_path))) == results


def test_rpm_is_one_budget_for_the_pool_not_one_per_actor() -> None:
    budget = budget_actor(rpm=4, tpm=None)
    one, two = SharedLimiter(budget), SharedLimiter(budget)  # what two actors hold

    async def send(limiter: SharedLimiter) -> None:
        await limiter.before({"messages": [{"content": "hello"}]})

    async def scenario() -> bool:
        for limiter in (one, two, one, two):  # four requests fit a budget of four a minute
            await send(limiter)
        try:
            await asyncio.wait_for(send(two), timeout=2)  # the fifth waits ~15 s for room
        except TimeoutError:
            return True
        return False

    assert asyncio.run(scenario()), "a fifth request went through a budget of four"
    assert ray.get(budget.requests_granted.remote()) == 4
