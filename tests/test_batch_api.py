"""The OpenAI Batch API cycle against a loopback fake of /v1/files and /v1/batches (tests/support).

Nothing of ours is mocked: prepare, submit, status, collect and resubmit talk to the fake through
the openai SDK, and the fake answers with the oracle (the gold labels), live and in batches alike.
"""

from __future__ import annotations

import functools
import json
import operator
from pathlib import Path
from typing import Any

import openai
import pytest
from click.testing import CliRunner
from conftest import ROOT
from support.batch_api_server import BatchAPIServer, Scenario
from support.oracle import Noise, Oracle

from llm_extract.cli import main
from llm_extract.cost import Pricing
from llm_extract.fixtures import load_fixture
from llm_extract.output import run_batch
from llm_extract.scale import batch_api
from llm_extract.scale.batch_files import MAX_LINES, custom_id, parse_outcomes, request_line, split_lines
from llm_extract.schema import BatchResult, Document

pytestmark = pytest.mark.timeout(120)

DEV = ROOT / "evals" / "fixtures"
NAMES = ["biz-gdansk-port-strike", "biz-quillon-layoffs", "court-lefevre-fraud-verdict"]
DOCS = [load_fixture(DEV / f"{name}.yaml").document for name in NAMES]
PRICE = Pricing(input_per_mtok=1.0, output_per_mtok=4.0)


def _settings(server: BatchAPIServer, strategy: str = "single") -> dict[str, Any]:
    return {
        "base_url": server.base_url,
        "model": "oracle",
        "strategy": strategy,
        "api_key": "sk-test",
        "max_tokens": 8192,
    }


def _results(path: Path) -> dict[str, BatchResult]:
    lines = [BatchResult.model_validate_json(line) for line in path.read_text().splitlines()]
    by_id = {r.document_id: r for r in lines}
    assert len(by_id) == len(lines), "one line per document"
    return by_id


def _comparable(result: BatchResult) -> dict[str, Any]:
    """A result without what differs between any two runs (wall time) or by price (cost)."""
    data = result.model_dump(mode="json", exclude={"latency_s", "cost_usd"})
    if data["extraction"] is not None:
        data["extraction"]["metadata"].pop("latency_s")
    return data


def _until_done(run: Path, rounds: int = 60) -> list[batch_api.RoundReport]:
    """submit -> status (until every batch ended) -> collect, until every document is finished.

    A pipeline that asks its questions one after another needs a round per question; one that asks
    them at once (the strategies) a round per re-ask depth.
    """
    reports = []
    for _ in range(rounds):
        batch_api.submit(run)
        while not all(s.ended for s in batch_api.status(run) if s.batch_id):
            pass
        _, report = batch_api.collect(run)
        reports.append(report)
        if report.complete:
            return reports
    raise AssertionError(f"not finished after {rounds} rounds: {reports[-1]}")


def _submitted_bodies(server: BatchAPIServer) -> list[dict[str, Any]]:
    bodies = []
    for batch in server.batches.values():
        bodies += [line["body"] for line in batch.lines]
    return bodies


@pytest.mark.parametrize("strategy", ["single", "decomposed"])
def test_results_equal_a_live_run_on_the_same_answers(tmp_path: Path, strategy: str) -> None:
    # Every first answer names an actor id that does not exist: each question is re-asked once, so
    # the batch run needs a round for the re-asks, as a live run needs a second request.
    oracle = Oracle([DEV], noise=Noise("id-unknown", 1.0, seed=3))
    with BatchAPIServer(answer=oracle.answer) as server:
        settings = _settings(server, strategy)
        live = run_batch(DOCS, tmp_path / "live.jsonl", cache=False, pricing=PRICE, **settings)
        live_bodies = list(server.chat_requests)
        report = batch_api.prepare(
            DOCS, tmp_path / "run", out=tmp_path / "batch.jsonl", cache=False, pricing=PRICE, **settings
        )
        assert report.waiting == len(DOCS)
        assert report.shards
        reports = _until_done(tmp_path / "run")
        sent = _submitted_bodies(server)
    assert live.ok == len(DOCS)
    assert len(reports) >= 2, "the re-asks took a round of their own"
    # The request lines are exactly the live requests, re-asks included, and nothing more.
    canonical = sorted(json.dumps(b, sort_keys=True) for b in sent)
    assert canonical == sorted(json.dumps(b, sort_keys=True) for b in live_bodies)
    live_results, batch_results = _results(tmp_path / "live.jsonl"), _results(tmp_path / "batch.jsonl")
    assert set(batch_results) == {d.id for d in DOCS}
    for doc_id, result in batch_results.items():
        assert result.status == "ok"
        assert result.extraction is not None
        assert result.extraction.metadata.attempts > 1
        assert _comparable(result) == _comparable(live_results[doc_id])
        # The batch price is half the list price, on the same tokens.
        assert result.cost_usd == pytest.approx((live_results[doc_id].cost_usd or 0) / 2)


def test_partial_failure_a_400_line_and_a_retry(tmp_path: Path) -> None:
    bad, flaky = DOCS[0].id, DOCS[1].id

    def status_for(line: dict[str, Any]) -> int | None:
        return {bad: 400, flaky: 500}.get(line["custom_id"].split("~")[0])

    with BatchAPIServer(answer=Oracle([DEV]).answer, scenarios=[Scenario(status_for=status_for)]) as server:
        batch_api.prepare(
            DOCS, tmp_path / "run", out=tmp_path / "out.jsonl", cache=False, **_settings(server)
        )
        reports = _until_done(tmp_path / "run")
        submitted = server.submitted()
    results = _results(tmp_path / "out.jsonl")
    # The 500 was sent again, alone; the 400 was not: its document has the error a live run gives.
    assert len(submitted) == 2
    assert [cid.split("~")[0] for cid in submitted[1]] == [flaky]
    assert results[flaky].status == "ok"
    assert results[DOCS[2].id].status == "ok"
    error = results[bad].error
    assert results[bad].status == "error"
    assert error is not None
    assert error.type == "TransportError"
    assert error.message.startswith("endpoint failed (HTTP 400)")
    assert reports[0].finished == 2
    assert reports[-1].complete


def test_expiry_keeps_the_finished_lines_and_resubmit_sends_only_the_misses(tmp_path: Path) -> None:
    docs = [
        Document(id=f"{d.id}-{n}", text=d.text, title=d.title, published=d.published)
        for d in DOCS
        for n in (1, 2)
    ]
    with BatchAPIServer(answer=Oracle([DEV]).answer, scenarios=[Scenario(expire_after=2)]) as server:
        run = tmp_path / "run"
        batch_api.prepare(docs, run, out=tmp_path / "out.jsonl", cache=False, **_settings(server))
        batch_api.submit(run)
        shards = batch_api.status(run)
        shards = batch_api.status(run)
        assert [s.status for s in shards] == ["expired"]
        intake, new = batch_api.resubmit(run)
        assert intake.answered == 2
        assert intake.failed == 4
        assert len(new) == 1
        first, second = server.submitted()
        answered = set(first[:2])  # the fake runs lines in order: the first two made it
        assert set(second) == set(first) - answered, "only the misses are sent again"
        while not all(s.ended for s in batch_api.status(run)):
            pass
        _, report = batch_api.collect(run)
        assert report.complete
        assert report.ok == len(docs)
        # Collecting again finds everything done: nothing is extracted, queued or sent again.
        _, again = batch_api.collect(run)
        assert again.already_done == len(docs)
        assert again.finished == 0
        assert not again.shards
        assert batch_api.submit(run) == []
        assert len(server.submitted()) == 2
    assert set(_results(tmp_path / "out.jsonl")) == {d.id for d in docs}


def test_collect_while_batches_run_takes_nothing_and_queues_nothing_twice(tmp_path: Path) -> None:
    with BatchAPIServer(answer=Oracle([DEV]).answer, scenarios=[Scenario(polls=5)]) as server:
        run = tmp_path / "run"
        batch_api.prepare(DOCS, run, out=tmp_path / "out.jsonl", cache=False, **_settings(server))
        batch_api.submit(run)
        intake, report = batch_api.collect(run)
        assert intake.batches == 0
        assert report.waiting == len(DOCS)
        assert report.shards == []
        assert not (tmp_path / "out.jsonl").read_text()
        _until_done(run)
        assert len(server.submitted()) == 1


def test_duplicate_custom_ids_fail_a_batch_and_its_requests_go_again_in_a_clean_shard(tmp_path: Path) -> None:
    with BatchAPIServer(answer=Oracle([DEV]).answer) as server:
        run = tmp_path / "run"
        report = batch_api.prepare(
            [*DOCS, DOCS[0]], run, out=tmp_path / "out.jsonl", cache=False, **_settings(server)
        )
        assert report.repeated_ids == [DOCS[0].id], "a repeated document id is skipped, not asked twice"
        shard = run / "shards" / report.shards[0]
        lines = shard.read_bytes().splitlines(keepends=True)
        assert len({json.loads(line)["custom_id"] for line in lines}) == len(lines) == len(DOCS)
        shard.write_bytes(b"".join([*lines, lines[0]]))  # as if a line had been written twice
        batch_api.submit(run)
        (failed,) = batch_api.status(run)
        assert failed.status == "failed"
        intake, _ = batch_api.collect(run)  # the API refused the file whole: every request goes again
        assert intake.unanswered == len(DOCS)
        _until_done(run)
    assert all(r.status == "ok" for r in _results(tmp_path / "out.jsonl").values())


def test_repeated_output_lines_are_taken_once(tmp_path: Path) -> None:
    with BatchAPIServer(answer=Oracle([DEV]).answer, scenarios=[Scenario(repeat_output=True)]) as server:
        run = tmp_path / "run"
        batch_api.prepare(DOCS, run, out=tmp_path / "out.jsonl", cache=False, **_settings(server))
        batch_api.submit(run)
        while not all(s.ended for s in batch_api.status(run)):
            pass
        intake, report = batch_api.collect(run)
    assert intake.answered == len(DOCS)
    assert intake.repeated == len(DOCS)
    assert report.complete
    assert len(_results(tmp_path / "out.jsonl")) == len(DOCS)


def test_a_crash_between_creating_a_batch_and_recording_it_does_not_pay_twice(tmp_path: Path) -> None:
    class Crash(Exception):
        pass

    with BatchAPIServer(answer=Oracle([DEV]).answer) as server:
        run = tmp_path / "run"
        batch_api.prepare(DOCS, run, out=tmp_path / "out.jsonl", cache=False, **_settings(server))
        client = openai.OpenAI(base_url=server.base_url, api_key="sk-test")
        create = client.batches.create

        def create_then_crash(**kwargs: Any) -> Any:
            create(**kwargs)
            raise Crash

        client.batches.create = create_then_crash  # type: ignore[method-assign]
        with pytest.raises(Crash):
            batch_api.submit(run, client=client)
        manifest = json.loads((run / "manifest.json").read_text())
        assert manifest[0]["input_file_id"]
        assert manifest[0]["batch_id"] is None
        (_shard,) = batch_api.submit(run)  # finds the batch by its metadata instead of creating another
        assert len(server.batches) == 1
        _until_done(run)
    assert len(_results(tmp_path / "out.jsonl")) == len(DOCS)


def test_shards_split_at_the_line_and_byte_limits(tmp_path: Path) -> None:
    with BatchAPIServer(answer=Oracle([DEV]).answer) as server:
        report = batch_api.prepare(
            DOCS, tmp_path / "a", out=tmp_path / "a.jsonl", cache=False, max_lines=2, **_settings(server)
        )
        assert len(report.shards) == 2
        small = batch_api.prepare(
            DOCS, tmp_path / "b", out=tmp_path / "b.jsonl", cache=False, max_bytes=1000, **_settings(server)
        )
        assert len(small.shards) == len(DOCS), "a line over the byte limit still gets a file of its own"
    lines = [request_line(custom_id(str(n), {"n": n}), {"n": n}) for n in range(7)]
    groups = list(split_lines(lines, max_lines=3, max_bytes=10_000))
    assert [len(g) for g in groups] == [3, 3, 1]
    assert functools.reduce(operator.iadd, groups, []) == lines
    size = len(lines[0])
    assert [len(g) for g in split_lines(lines, max_bytes=2 * size)] == [2, 2, 2, 1]
    assert MAX_LINES == 50_000


def test_custom_ids_are_per_document_and_per_body() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "x"}]}
    assert custom_id("a", body) == custom_id("a", dict(reversed(list(body.items()))))
    assert custom_id("a", body) != custom_id("b", body)
    assert custom_id("a", body) != custom_id("a", {**body, "temperature": 0})
    long = custom_id("a/long id with spaces" * 5, body)
    assert long.startswith("h")
    assert len(long) < 64


def test_error_file_lines_are_read_in_both_shapes() -> None:
    data = (
        b"".join(
            json.dumps(line).encode() + b"\n"
            for line in [
                {
                    "custom_id": "a",
                    "response": {"status_code": 400, "body": {"error": {"message": "bad"}}},
                    "error": None,
                },
                {"custom_id": "b", "response": None, "error": {"code": "batch_expired", "message": "late"}},
                {
                    "custom_id": "c",
                    "response": {"status_code": 200, "body": {"choices": [{}]}},
                    "error": None,
                },
            ]
        )
        + b"not json\n"
    )
    a, b, c = parse_outcomes(data)
    assert (a.what, a.retryable, a.message) == ("HTTP 400", False, "bad")
    assert (b.what, b.retryable, b.answered) == ("batch_expired", True, False)
    assert c.answered


def test_the_rules_strategy_finishes_in_round_one_without_a_request(tmp_path: Path) -> None:
    report = batch_api.prepare(
        DOCS, tmp_path / "run", out=tmp_path / "out.jsonl", cache=False, strategy="rules"
    )
    assert report.complete
    assert report.ok == len(DOCS)
    assert report.shards == []


def test_the_commands_run_a_full_cycle(tmp_path: Path) -> None:
    source = tmp_path / "docs.jsonl"
    source.write_text("".join(d.model_dump_json() + "\n" for d in DOCS))
    run, out = str(tmp_path / "run"), str(tmp_path / "out.jsonl")
    runner = CliRunner()
    with BatchAPIServer(answer=Oracle([DEV]).answer, scenarios=[Scenario(expire_after=1)]) as server:
        options = ["--base-url", server.base_url, "--model", "oracle", "--strategy", "single", "--no-cache"]
        env = {"OPENAI_API_KEY": "sk-test", "LLM_EXTRACT_MAX_TOKENS": "8192"}
        steps = [
            ["prepare", str(source), run, "--out", out, *options],
            ["submit", run],
            ["status", run],
            ["status", run],
            ["resubmit", run],
            ["status", run],
            ["status", run],
            ["collect", run],
        ]
        outputs = []
        for step in steps:
            result = runner.invoke(main, ["batch-api", *step], env=env)
            assert result.exit_code == 0, (step, result.output)
            outputs.append(result.output)
    assert "expired" in outputs[3]
    assert "every document is finished" in outputs[-1]
    assert set(_results(Path(out))) == {d.id for d in DOCS}


def test_the_cli_and_the_core_never_import_ray_or_pyarrow() -> None:
    import subprocess
    import sys

    code = (
        "import sys; import llm_extract, llm_extract.cli, llm_extract.scale.batch_api; "
        "from click.testing import CliRunner; CliRunner().invoke(llm_extract.cli.main, ['--help']); "
        "print(sorted(m for m in ('ray', 'pyarrow') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert done.stdout.strip() == "[]"
