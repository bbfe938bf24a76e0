"""Storage faults (issue 17, items 4-6): a cache that degrades, output that survives a full disk or an
interrupted run, one writer per output file, and a ``--resume`` that never deletes silently.

Faults are real where the machine allows it without privileges (SQLite's own "database or disk is
full", a corrupted page, a read-only directory, a second process) and simulated where it does not
(``ENOSPC`` from ``os.write`` for the output file only).
"""

from __future__ import annotations

import errno
import json
import os
import re
import signal
import sqlite3
import stat
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from conftest import ROOT
from test_batch import Flaky, _docs

sys.path.insert(0, str(ROOT / "benchmarks"))
from fake_openai import FakeOpenAI  # noqa: E402

from llm_extract import (  # noqa: E402
    BatchResult,
    Document,
    ExtractError,
    Extractor,
    ResultCache,
    TransportError,
    extract_batch,
    run_batch,
)
from llm_extract.cache import extractor_key  # noqa: E402
from llm_extract.cli import main  # noqa: E402

CLI = [sys.executable, "-c", "from llm_extract.cli import main; main()"]


# --- helpers -------------------------------------------------------------------------------------


def _write_docs(path: Path, docs: list[Document]) -> Path:
    path.write_text("".join(d.model_dump_json() + "\n" for d in docs), encoding="utf-8")
    return path


def _lines(path: Path) -> list[BatchResult]:
    return [BatchResult.model_validate_json(line) for line in path.read_bytes().splitlines()]


def _ids(path: Path) -> list[str]:
    return sorted(r.document_id for r in _lines(path))


def _extract(*args: str) -> Result:
    return CliRunner().invoke(main, ["extract", *args, "--strategy", "rules", "--no-progress"])


def _no_traceback(result: Result) -> None:
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output


def _cache_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in caught if "cache" in str(w.message).lower()]


@pytest.fixture
def readonly_dir(tmp_path: Path) -> Iterator[Path]:
    """A directory no file can be created in: chmod for a user, the immutable attribute for root."""
    path = tmp_path / "readonly"
    path.mkdir()
    if os.geteuid() != 0:
        path.chmod(0o555)
        yield path
        path.chmod(0o755)
        return
    if subprocess.run(["chattr", "+i", str(path)], capture_output=True, check=False).returncode != 0:
        pytest.skip("root cannot make a read-only directory here (no chattr)")
    try:
        yield path
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def _disk_full_after(monkeypatch: pytest.MonkeyPatch, target: Path, budget: int) -> None:
    """Writes to ``target`` (or its temporary siblings) store ``budget`` more bytes, then fail with
    ENOSPC the way a full disk does: a short write first, then the error."""
    real = os.write
    left = [budget]
    prefix = str(target.resolve())

    def write(fd: int, data: Any) -> int:
        try:
            name = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            name = ""
        if not name.startswith(prefix):
            return real(fd, data)
        if left[0] <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        written = real(fd, bytes(data[: left[0]]))
        left[0] -= written
        return written

    monkeypatch.setattr(os, "write", write)


def _corrupt_the_middle(db: Path) -> None:
    """Overwrite pages in the middle of a SQLite file (its header page stays intact)."""
    data = bytearray(db.read_bytes())
    assert len(data) > 8 * 4096, "the cache must span many pages"
    data[3 * 4096 : len(data) // 2] = b"\x5a" * (len(data) // 2 - 3 * 4096)
    db.write_bytes(bytes(data))


# --- 4. the cache degrades to "no cache" ---------------------------------------------------------


def test_a_full_cache_disk_turns_the_cache_off_and_the_batch_finishes(tmp_path: Path) -> None:
    docs = _docs(60)
    cache = ResultCache(tmp_path / "cache")
    # SQLite's own SQLITE_FULL ("database or disk is full"), as on a full disk: no page past the 4th.
    cache._db.execute("PRAGMA max_page_count = 4")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = list(extract_batch(docs, extractor=Flaky({}), cache=cache, concurrency=4))
    assert sorted(r.document_id for r in results) == [d.id for d in docs]
    assert all(r.status == "ok" for r in results)
    [message] = _cache_warnings(caught)
    assert "full" in message
    cache.close()


def test_a_corrupted_cache_page_never_stops_the_batch(tmp_path: Path) -> None:
    docs = _docs(200)
    list(extract_batch(docs, extractor=Flaky({}), cache=tmp_path / "cache"))
    _corrupt_the_middle(tmp_path / "cache" / "results.sqlite3")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = list(extract_batch(docs, extractor=Flaky({}), cache=tmp_path / "cache", concurrency=8))
    assert sorted(r.document_id for r in results) == [d.id for d in docs]
    assert all(r.status == "ok" for r in results)
    assert len(_cache_warnings(caught)) == 1


@pytest.mark.parametrize("where", ["a file", "read-only"])
def test_a_cache_that_cannot_be_opened_is_off_with_one_warning(
    tmp_path: Path, readonly_dir: Path, where: str
) -> None:
    if where == "a file":
        directory = tmp_path / "not-a-directory"
        directory.write_text("x", encoding="utf-8")
    else:
        directory = readonly_dir / "cache"
    docs = _docs(5)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = list(extract_batch(docs, extractor=Flaky({}), cache=directory))
    assert sorted(r.document_id for r in results) == [d.id for d in docs]
    assert len(_cache_warnings(caught)) == 1


def test_the_cli_prints_the_cache_warning_once_and_keeps_every_result(tmp_path: Path) -> None:
    source = _write_docs(tmp_path / "in.jsonl", _docs(200))
    cache = tmp_path / "cache"
    assert _extract(str(source), "--format", "jsonl", "--cache-dir", str(cache)).exit_code == 0
    _corrupt_the_middle(cache / "results.sqlite3")
    out = tmp_path / "out.jsonl"
    result = _extract(str(source), "--out", str(out), "--format", "jsonl", "--cache-dir", str(cache))
    _no_traceback(result)
    assert result.exit_code == 0, result.output
    assert result.stderr.count("warning:") == 1
    assert "cache" in result.stderr
    assert _ids(out) == [d.id for d in _docs(200)]


# --- 4. output faults ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["out.jsonl", "out.json"])
def test_an_output_in_a_read_only_directory_is_refused_before_any_document_runs(
    tmp_path: Path, readonly_dir: Path, name: str
) -> None:
    source = _write_docs(tmp_path / "in.jsonl", _docs(5))
    cache = tmp_path / "cache"
    result = _extract(str(source), "--out", str(readonly_dir / name), "--cache-dir", str(cache))
    _no_traceback(result)
    assert result.exit_code == 1
    assert "cannot write" in result.output
    assert str(readonly_dir / name) in result.output
    assert not (cache / "results.sqlite3").exists()  # no document ran


def test_a_full_output_disk_leaves_whole_lines_and_says_how_to_resume(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = _docs(12)
    source = _write_docs(tmp_path / "in.jsonl", docs)
    out = tmp_path / "out.jsonl"
    args = [str(source), "--out", str(out), "--format", "jsonl", "--cache-dir", str(tmp_path / "cache")]
    args += ["--concurrency", "1"]
    first, second, third = _first_lines(tmp_path, 3)
    _disk_full_after(monkeypatch, out, budget=len(first) + len(second) + len(third) // 2)
    full = _extract(*args)
    _no_traceback(full)
    assert full.exit_code == 1
    assert "No space left on device" in full.output
    assert "--resume" in full.output
    assert out.read_bytes().endswith(b"\n")  # the half-written line was cut back
    assert len(_lines(out)) == 2
    monkeypatch.undo()  # space freed
    resumed = _extract(*args, "--resume")
    assert resumed.exit_code == 0, resumed.output
    assert _ids(out) == [d.id for d in docs]


def test_documents_in_flight_when_the_output_fills_up_are_not_paid_for_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = _docs(40)
    out = tmp_path / "out.jsonl"
    _disk_full_after(monkeypatch, out, budget=sum(len(line) for line in _first_lines(tmp_path, 3)))
    first = Flaky({})
    with pytest.raises(ExtractError, match="--resume"):
        run_batch(docs, out, extractor=first, cache=tmp_path / "cache", concurrency=8)
    monkeypatch.undo()
    second = Flaky({})
    run_batch(docs, out, resume=True, extractor=second, cache=tmp_path / "cache", concurrency=8)
    assert set(first.calls).isdisjoint(second.calls)  # what started before the failure reached the cache
    assert _ids(out) == [d.id for d in docs]


def _first_lines(tmp_path: Path, n: int) -> list[bytes]:
    out = tmp_path / "probe.jsonl"
    run_batch(_docs(n), out, extractor=Extractor(strategy="rules"), cache=False, concurrency=1)
    return out.read_bytes().splitlines(keepends=True)


def test_json_out_is_written_as_documents_finish_and_survives_ctrl_c(tmp_path: Path) -> None:
    docs = _docs(200)  # 20 s of requests: the run is interrupted well before its end
    source = _write_docs(tmp_path / "in.jsonl", docs)
    out = tmp_path / "out.json"
    cache = tmp_path / "cache"
    with FakeOpenAI(latency=0.2) as fake:
        args = [*CLI, "extract", str(source), "--format", "json", "--out", str(out), "--no-progress"]
        args += ["--base-url", fake.base_url, "--model", "fake", "--strategy", "single"]
        args += ["--concurrency", "2", "--cache-dir", str(cache)]
        process = subprocess.Popen(args, stderr=subprocess.PIPE)
        seen = 0
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and process.poll() is None and seen < 2:
            time.sleep(0.05)
            seen = len(_json_array(out))
        assert seen >= 2, "no extraction reached the file while the run went on"
        assert process.poll() is None, "the run ended before it could be interrupted"
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)
    written = [e["document_id"] for e in _json_array(out)]
    order = [d.id for d in docs]
    assert written == sorted(written, key=order.index)  # document order
    assert seen <= len(written) < len(docs)
    with sqlite3.connect(cache / "results.sqlite3") as db:
        finished = {row[0] for row in db.execute("SELECT document_id FROM results")}
    db.close()
    assert set(written) <= finished
    assert len(finished - set(written)) <= 2  # at most the results in flight to the writer


def _json_array(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    data = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(data, list)
    return data


def test_json_out_holds_every_finished_extraction_when_the_batch_fails(tmp_path: Path) -> None:
    docs = _docs(20)
    out = tmp_path / "out.json"

    def unreadable_after_13() -> Iterator[Document]:
        yield from docs[:13]
        raise OSError("the input disk went away")

    with pytest.raises(OSError, match="went away"):
        run_batch(unreadable_after_13(), out, format="json", extractor=Flaky({}), cache=False, concurrency=3)
    written = [e["document_id"] for e in _json_array(out)]
    assert written == [f"doc{i:03d}" for i in range(13)]


@pytest.mark.parametrize(("name", "fmt"), [("out.jsonl", "jsonl"), ("out.json", "json")])
def test_the_format_follows_the_out_extension(tmp_path: Path, name: str, fmt: str) -> None:
    source = _write_docs(tmp_path / "in.jsonl", _docs(3))
    out = tmp_path / name
    result = _extract(str(source), "--out", str(out), "--no-cache")
    assert result.exit_code == 0, result.output
    if fmt == "jsonl":
        assert _ids(out) == ["doc000", "doc001", "doc002"]
    else:
        assert [e["document_id"] for e in _json_array(out)] == ["doc000", "doc001", "doc002"]


@pytest.mark.parametrize("out", [None, "out.json"])
def test_the_summary_line_reports_the_wall_time(tmp_path: Path, out: str | None) -> None:
    source = _write_docs(tmp_path / "in.jsonl", _docs(2))
    with FakeOpenAI(latency=0.3) as fake:
        args = ["extract", str(source), "--base-url", fake.base_url, "--model", "fake"]
        args += ["--strategy", "single", "--no-cache", "--no-progress", "--concurrency", "1"]
        args += ["--out", str(tmp_path / out)] if out else []
        result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    seconds = re.search(r"([0-9.]+) s$", result.stderr.strip().splitlines()[-1])
    assert seconds is not None, result.stderr
    assert float(seconds.group(1)) >= 0.5  # two requests of at least 0.3 s each, one at a time


# --- 5. one writer per output file -----------------------------------------------------------------


def test_a_second_writer_is_refused_while_the_first_holds_the_file(tmp_path: Path) -> None:
    from llm_extract.output import JsonlWriter

    out = tmp_path / "out.jsonl"
    source = _write_docs(tmp_path / "in.jsonl", _docs(3))
    with JsonlWriter(out):
        for extra in ([], ["--resume"], ["--overwrite"]):
            second = _extract(str(source), "--out", str(out), "--no-cache", *extra)
            _no_traceback(second)
            assert second.exit_code == 1
            assert str(out) in second.output
            assert "another" in second.output
        with pytest.raises(ExtractError, match="another"):
            JsonlWriter(out, resume=True)
    assert out.read_bytes() == b""


def _slow_run(tmp_path: Path, base_url: str, source: Path, out: Path) -> list[str]:
    args = [*CLI, "extract", str(source), "--format", "jsonl", "--out", str(out), "--no-progress"]
    args += ["--base-url", base_url, "--model", "fake", "--strategy", "single"]
    return [*args, "--concurrency", "2", "--cache-dir", str(tmp_path / "cache")]


def test_two_runs_started_together_on_one_out_never_duplicate(tmp_path: Path) -> None:
    docs = _docs(40)
    source = _write_docs(tmp_path / "in.jsonl", docs)
    out = tmp_path / "out.jsonl"
    with FakeOpenAI(latency=0.05) as fake:
        args = _slow_run(tmp_path, fake.base_url, source, out)
        runs = [subprocess.Popen(args, stderr=subprocess.PIPE, text=True) for _ in range(2)]
        errors = [run.communicate(timeout=90)[1] for run in runs]
    assert sorted(run.returncode for run in runs) == [0, 1], errors
    refused = errors[[run.returncode for run in runs].index(1)]
    assert str(out) in refused
    assert "Traceback" not in refused
    assert _ids(out) == [d.id for d in docs]  # exactly once each


@pytest.mark.parametrize("flag", ["--resume", "--overwrite"])
def test_a_second_run_never_replaces_the_file_under_the_first(tmp_path: Path, flag: str) -> None:
    docs = _docs(40)
    source = _write_docs(tmp_path / "in.jsonl", docs)
    out = tmp_path / "out.jsonl"
    with FakeOpenAI(latency=0.25) as fake:  # 5 s of requests: the second run starts meanwhile
        args = _slow_run(tmp_path, fake.base_url, source, out)
        first = subprocess.Popen(args, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (not out.exists() or out.read_bytes().count(b"\n") < 4):
            time.sleep(0.02)
        inode = out.stat().st_ino
        second = subprocess.run([*args, flag], capture_output=True, text=True, timeout=60)
        assert first.poll() is None, "the first run ended before the second started"
        _, first_err = first.communicate(timeout=60)
    assert first.returncode == 0, first_err
    assert "40 ok" in first_err
    assert second.returncode == 1
    assert str(out) in second.stderr
    assert "Traceback" not in second.stderr
    assert out.stat().st_ino == inode  # never replaced under the first run
    assert _ids(out) == [d.id for d in docs]  # all 40 the first run reported, once each


# --- 6. --resume never deletes silently ------------------------------------------------------------


def test_resume_refuses_a_file_that_is_not_a_results_file(tmp_path: Path) -> None:
    source = _write_docs(tmp_path / "in.jsonl", _docs(3))
    notes = tmp_path / "notes.txt"
    notes.write_text("call Anna about the Seoul story\n\nbudget: 40 USD\n", encoding="utf-8")
    before = notes.read_bytes()
    result = _extract(str(source), "--out", str(notes), "--format", "jsonl", "--resume", "--no-cache")
    _no_traceback(result)
    assert result.exit_code == 1
    assert "not an llm-extract results file" in result.output
    assert notes.read_bytes() == before


def test_resume_refuses_a_foreign_line_in_the_middle(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    run_batch(_docs(3), out, extractor=Flaky({}), cache=False)
    lines = out.read_bytes().splitlines(keepends=True)
    out.write_bytes(lines[0] + b'{"note": "mine"}\n' + lines[1] + lines[2][:40])
    before = out.read_bytes()
    with pytest.raises(ExtractError, match="line 2"):
        run_batch(_docs(5), out, resume=True, extractor=Flaky({}), cache=False)
    assert out.read_bytes() == before


@pytest.mark.parametrize("flag", ["--resume", "--overwrite"])
def test_the_input_file_is_never_the_output(tmp_path: Path, flag: str) -> None:
    source = _write_docs(tmp_path / "in.jsonl", _docs(3))
    before = source.read_bytes()
    result = _extract(str(source), "--out", str(source), "--format", "jsonl", flag, "--no-cache")
    _no_traceback(result)
    assert result.exit_code != 0
    assert "input" in result.output
    assert source.read_bytes() == before


def test_resume_reports_what_it_drops(tmp_path: Path) -> None:
    docs = _docs(6)
    source = _write_docs(tmp_path / "in.jsonl", docs)
    out = tmp_path / "out.jsonl"
    cache = ["--cache-dir", str(tmp_path / "cache")]
    run_batch(docs[:4], out, extractor=Flaky({"doc001": TransportError("HTTP 502")}), cache=False)
    with out.open("ab") as f:
        f.write(out.read_bytes().splitlines()[0][:50])  # a torn last line
    result = _extract(str(source), "--out", str(out), "--format", "jsonl", "--resume", *cache)
    assert result.exit_code == 0, result.output
    assert "3 finished" in result.stderr
    assert "1 torn last line" in result.stderr
    assert "1 error line" in result.stderr
    assert _ids(out) == [d.id for d in docs]


def test_resume_refuses_lines_of_another_schema_version(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    run_batch(_docs(2), out, extractor=Flaky({}), cache=False)
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    lines[1]["extraction"]["schema_version"] = "0"
    out.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    before = out.read_bytes()
    source = _write_docs(tmp_path / "in.jsonl", _docs(4))
    result = _extract(str(source), "--out", str(out), "--format", "jsonl", "--resume", "--no-cache")
    _no_traceback(result)
    assert result.exit_code == 1
    assert "schema version" in result.output
    assert "--overwrite" in result.output
    assert out.read_bytes() == before


def test_each_result_line_records_its_cache_key(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    extractor = Extractor(strategy="rules")
    run_batch(_docs(3), out, extractor=extractor, cache=False)
    keys = {r.document_id: r.key for r in _lines(out)}
    assert keys == {d.id: extractor_key(d, extractor) for d in _docs(3)}


def test_resume_reruns_an_edited_document_and_keeps_one_line_per_id(tmp_path: Path) -> None:
    docs = _docs(6)
    out = tmp_path / "out.jsonl"
    cache = ["--cache-dir", str(tmp_path / "cache")]
    cache += ["--format", "jsonl"]
    assert _extract(str(_write_docs(tmp_path / "in.jsonl", docs)), "--out", str(out), *cache).exit_code == 0
    edited = [*docs[:2], docs[2].model_copy(update={"text": docs[2].text + " Corrected."}), *docs[3:]]
    source = _write_docs(tmp_path / "in.jsonl", edited)
    result = _extract(str(source), "--out", str(out), "--resume", *cache)
    assert result.exit_code == 0, result.output
    assert "1 ok" in result.stderr
    assert "5 already done" in result.stderr
    assert "1 stale" in result.stderr
    results = _lines(out)
    assert sorted(r.document_id for r in results) == [d.id for d in docs]  # one line per id
    [line] = [r for r in results if r.document_id == "doc002"]
    assert line.document is not None
    assert line.document.text.endswith("Corrected.")


def test_resume_reruns_everything_when_a_setting_changes(tmp_path: Path) -> None:
    docs = _docs(4)
    source = _write_docs(tmp_path / "in.jsonl", docs)
    out = tmp_path / "out.jsonl"
    args = [str(source), "--out", str(out), "--format", "jsonl", "--no-cache"]
    assert _extract(*args).exit_code == 0
    result = _extract(*args, "--resume", "--unmatched", "drop")
    assert result.exit_code == 0, result.output
    assert "4 ok" in result.stderr
    assert "4 stale" in result.stderr
    assert _ids(out) == [d.id for d in docs]
    changed = Extractor(strategy="rules", unmatched="drop")
    assert {r.key for r in _lines(out)} == {extractor_key(d, changed) for d in docs}


def test_resume_counts_one_line_per_id_preferring_a_finished_one(tmp_path: Path) -> None:
    from llm_extract.resume import read_results

    out = tmp_path / "out.jsonl"
    run_batch(_docs(3), out, extractor=Flaky({"doc001": TransportError("HTTP 502")}), cache=False)
    first, failed, third = sorted(out.read_bytes().splitlines(keepends=True))
    out.write_bytes(first + failed + third + first + failed)  # doc000 twice, doc001 failed twice
    found = read_results(out)
    assert (found.report.kept, found.report.retried, found.report.superseded) == (2, 1, 2)
    assert set(found.done) == {"doc000", "doc002"}
    assert found.changed


def test_after_a_crash_the_last_line_of_an_id_counts_and_resume_removes_the_rest(tmp_path: Path) -> None:
    docs = _docs(3)
    out = tmp_path / "out.jsonl"
    run_batch(docs, out, extractor=Flaky({}), cache=False)
    edited = [docs[0].model_copy(update={"text": docs[0].text + " Corrected."}), *docs[1:]]
    run_batch(edited[:1], tmp_path / "new.jsonl", extractor=Flaky({}), cache=False)
    # A resumed run killed after writing the new line of doc000, before removing the old one:
    out.write_bytes(out.read_bytes() + (tmp_path / "new.jsonl").read_bytes())
    extractor = Flaky({})
    summary = run_batch(edited, out, resume=True, extractor=extractor, cache=False)
    assert extractor.calls == []  # the new line of doc000 has the current key: nothing runs
    assert summary.resumed is not None
    assert summary.resumed.superseded == 1
    results = _lines(out)
    assert sorted(r.document_id for r in results) == [d.id for d in docs]
    [line] = [r for r in results if r.document_id == "doc000"]
    assert line.document is not None
    assert line.document.text.endswith("Corrected.")


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_a_pipe_as_out_is_written_in_place_never_replaced(tmp_path: Path, fmt: str) -> None:
    # /dev/stdout and /dev/null are special files like this pipe: replacing one would break the system.
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(pipe.read_bytes()))
    reader.start()
    source = _write_docs(tmp_path / "in.jsonl", _docs(3))
    result = _extract(str(source), "--out", str(pipe), "--format", fmt, "--no-cache")
    reader.join(timeout=30)
    assert result.exit_code == 0, result.output
    assert stat.S_ISFIFO(pipe.stat().st_mode)
    assert not (tmp_path / "pipe.lock").exists()
    text = b"".join(received).decode("utf-8")
    ids = (
        [e["document_id"] for e in json.loads(text)]
        if fmt == "json"
        else [json.loads(line)["document_id"] for line in text.splitlines()]
    )
    assert sorted(ids) == ["doc000", "doc001", "doc002"]
