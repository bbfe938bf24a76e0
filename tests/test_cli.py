"""The command line, over the public API: replayed extraction and clear errors for bad input."""

from __future__ import annotations

import gc
import json
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import EXAMPLES

from llm_extract.cli import main
from llm_extract.prompts import load_prompt


@pytest.mark.vcr
def test_extract_prints_grounded_json(endpoint: str) -> None:
    article = EXAMPLES / "choe_russia_trip.txt"
    args = [
        "extract",
        str(article),
        "--published",
        "2024-09-17",
        "--base-url",
        endpoint,
        "--strategy",
        "decomposed",
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    text = article.read_text(encoding="utf-8")
    assert data["document_id"] == "choe_russia_trip"
    assert data["metadata"]["prompt_version"] == load_prompt().version  # the default prompt
    spans = [m for a in data["actors"] for m in a["mentions"]] + [c["evidence"] for c in data["claims"]]
    assert spans
    assert all(text[s["start"] : s["end"]] == s["quote"] for s in spans)
    assert any(a["name"] == "Choe Son Hui" and a["kind"] == "person" for a in data["actors"])


def test_missing_file_is_a_clear_error() -> None:
    result = CliRunner().invoke(main, ["extract", "no/such/article.txt"])
    assert result.exit_code == 1
    assert "no/such/article.txt: no such file or directory" in result.output


def test_binary_and_non_utf8_input_are_refused_by_name(tmp_path: Path) -> None:
    binary = tmp_path / "photo.txt"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    latin = tmp_path / "latin.txt"
    latin.write_bytes("Jos\u00e9 said".encode("latin-1"))
    first = CliRunner().invoke(main, ["extract", str(binary)])
    second = CliRunner().invoke(main, ["extract", str(latin)])
    assert first.exit_code == 1
    assert "binary" in first.output
    assert "photo.txt" in first.output
    assert second.exit_code == 1
    assert "not UTF-8" in second.output
    assert "latin.txt" in second.output


def test_empty_document_is_refused_before_any_model_call(tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n\t ", encoding="utf-8")
    result = CliRunner().invoke(main, ["extract", str(empty), "--base-url", "http://127.0.0.1:9/v1"])
    assert result.exit_code == 1
    assert "empty.txt" in result.output
    assert "empty or whitespace only" in result.output


def test_version_and_help() -> None:
    assert CliRunner().invoke(main, ["--version"]).output.startswith("llm-extract, version")
    help_text = CliRunner().invoke(main, ["extract", "--help"]).output
    for option in ("--prompt", "--model", "--base-url", "--out", "--format", "--published", "--strategy"):
        assert option in help_text


def test_a_batch_runs_with_the_startup_heap_frozen_and_leaves_it_unfrozen(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Full collections during the batch skip what was alive before it (the imports); the process
    # running the command in-process (this one) gets its heap back afterwards.
    import llm_extract.batch as batch

    frozen: list[int] = []
    real = batch.extract_batch

    def recording(*args: Any, **kwargs: Any) -> Iterator[Any]:
        for result in real(*args, **kwargs):
            frozen.append(gc.get_freeze_count())
            yield result

    monkeypatch.setattr(batch, "extract_batch", recording)  # the command imports it when it runs
    article = EXAMPLES / "choe_russia_trip.txt"
    result = CliRunner().invoke(main, ["extract", str(article), "--strategy", "rules", "--no-cache"])
    assert result.exit_code == 0, result.output
    assert len(frozen) == 1
    assert frozen[0] > 10_000  # pydantic, click, the records and the rules (a rules run needs no client)
    assert gc.get_freeze_count() == 0


def test_ctrl_c_during_a_jsonl_batch_says_how_to_resume(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import llm_extract.cli as cli

    source = tmp_path / "articles"
    source.mkdir()
    for i in range(6):
        (source / f"a{i}.txt").write_text(
            f"Officials in Riga said on Monday that talks would resume. Note {i}.\n"
        )
    out = tmp_path / "out.jsonl"
    real = cli._BatchProgress.update

    def interrupted(self: Any, result: Any, summary: Any) -> None:
        real(self, result, summary)
        if summary.total == 3:
            raise KeyboardInterrupt  # Ctrl-C reaches the main thread (SIGTERM too, see cli.run)

    monkeypatch.setattr(cli._BatchProgress, "update", interrupted)
    args = ["extract", str(source), "--strategy", "rules", "--out", str(out), "--concurrency", "1"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 130, result.output
    assert "Aborted!" not in result.output
    assert "interrupted after 3 of 6 document(s)" in result.output
    assert "the finished results are in" in result.output
    command = result.output.strip().splitlines()[-1].strip()
    assert command.startswith("llm-extract extract ")
    assert command.endswith(" --resume")
    assert "--strategy rules" in command
    assert "--concurrency 1" in command
    assert len(out.read_text(encoding="utf-8").splitlines()) == 3
    # The command it prints finishes the run.
    monkeypatch.setattr(cli._BatchProgress, "update", real)
    resumed = CliRunner().invoke(main, shlex.split(command)[1:])
    assert resumed.exit_code == 0, resumed.output
    assert "3 already done" in resumed.output
    lines = out.read_text(encoding="utf-8").splitlines()
    assert sorted(json.loads(line)["document_id"] for line in lines) == [f"a{i}" for i in range(6)]
