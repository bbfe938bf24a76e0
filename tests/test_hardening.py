"""Hostile input and flaky surroundings (issue 17): each test reproduces a failure found by attacking
the CLI and the API, and holds the fix.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner
from test_client import Scripted, _error, _tool_reply

from llm_extract import (
    Document,
    Extractor,
    InputError,
    PromptError,
    extract_batch,
    load_documents,
    load_prompt,
)
from llm_extract.cli import main
from llm_extract.client import _retry_after
from llm_extract.documents import html_to_text
from llm_extract.evaluate import evaluate
from llm_extract.fixtures import Fixture
from llm_extract.report import eval_markdown

ARTICLE = "Kim Jong Un met Vladimir Putin in Vladivostok on Monday, state media said.\n"


# --- 1. A prompt file never runs code ----------------------------------------------------------


def _evil_prompt(tmp_path: Path, expression: str) -> Path:
    source = (Path(__file__).resolve().parent.parent / "prompts" / "news" / "v4.yaml").read_text()
    marker_line = "  You are a careful news analyst."
    assert marker_line in source
    path = tmp_path / "evil" / "v1.yaml"
    path.parent.mkdir()
    path.write_text(
        source.replace("version: v4", "version: v1")
        .replace("name: news", "name: evil")
        .replace(marker_line, marker_line + " {{ " + expression + " }}"),
        encoding="utf-8",
    )
    return path


PAYLOADS = [
    "document.__init__.__globals__['__builtins__']['__import__']('pathlib').Path('{marker}').touch()",
    "document.__class__.__mro__[1].__subclasses__()",
    "vocabulary.__class__.__init__.__globals__",
    "(document|attr('__init__')).__globals__['os'].system('touch {marker}')",
]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_prompt_file_cannot_run_code(tmp_path: Path, payload: str) -> None:
    marker = tmp_path / "pwned"
    path = _evil_prompt(tmp_path, payload.format(marker=marker))
    with pytest.raises(PromptError):
        Extractor(prompt=str(path), strategy="decomposed", base_url="http://127.0.0.1:9/v1").extract(ARTICLE)
    assert not marker.exists()


def test_the_cli_refuses_a_prompt_file_that_reaches_for_internals_even_with_rules(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = _evil_prompt(tmp_path, PAYLOADS[0].format(marker=marker))
    article = tmp_path / "a.txt"
    article.write_text(ARTICLE, encoding="utf-8")
    result = CliRunner().invoke(main, ["extract", str(article), "--strategy", "rules", "--prompt", str(path)])
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert not marker.exists()


def test_private_attributes_are_refused_when_the_prompt_is_loaded(tmp_path: Path) -> None:
    path = _evil_prompt(tmp_path, "document.__class__")
    with pytest.raises(PromptError, match="underscore"):
        load_prompt(path)


# --- 2. A cached result carries its own document's id ------------------------------------------


def test_wire_copies_with_one_text_keep_their_own_ids(tmp_path: Path) -> None:
    docs = [Document(id="reuters-1", text=ARTICLE), Document(id="ap-7", text=ARTICLE)]
    results = list(extract_batch(docs, strategy="rules", cache=tmp_path / "cache", concurrency=1))
    assert [r.document_id for r in results] == ["reuters-1", "ap-7"]
    assert [r.extraction.document_id for r in results if r.extraction] == ["reuters-1", "ap-7"]
    assert results[1].cached


def test_the_cli_json_output_names_each_wire_copy(tmp_path: Path) -> None:
    source = tmp_path / "wire.jsonl"
    source.write_text(
        "\n".join(json.dumps({"id": i, "text": ARTICLE}) for i in ("reuters-1", "ap-7")), encoding="utf-8"
    )
    result = CliRunner().invoke(
        main,
        ["extract", str(source), "--strategy", "rules", "--format", "json", "--cache-dir", str(tmp_path)],
    )
    assert result.exit_code == 0, result.output
    assert [e["document_id"] for e in json.loads(result.stdout)] == ["reuters-1", "ap-7"]


# --- 3. One bad line never stops a batch -------------------------------------------------------


def test_a_lone_surrogate_is_one_documents_error(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    lines = [
        json.dumps({"id": "good-1", "text": ARTICLE}),
        '{"id": "bad", "text": "Putin met Xi \\ud800 in Beijing."}',
        json.dumps({"id": "good-2", "text": ARTICLE.replace("Monday", "Tuesday")}),
    ]
    source.write_text("\n".join(lines), encoding="utf-8")
    for extra in ([], ["--no-cache"]):
        out = tmp_path / f"out{len(extra)}.jsonl"
        result = CliRunner().invoke(
            main,
            ["extract", str(source), "--strategy", "rules", "--format", "jsonl", "--out", str(out), *extra],
        )
        assert "Traceback" not in result.output
        assert result.exit_code == 1  # one document failed
        records = {r["document_id"]: r for r in map(json.loads, out.read_text().splitlines())}
        assert records["good-1"]["status"] == records["good-2"]["status"] == "ok"
        assert records["bad"]["status"] == "error"
        assert "surrogate" in records["bad"]["error"]["message"]


def test_a_lone_surrogate_is_refused_by_the_document_model() -> None:
    with pytest.raises(ValueError, match="surrogate"):
        Document(text="Putin met Xi \ud800 in Beijing.")


def test_deeply_nested_json_is_one_files_error_and_the_good_files_still_run(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text(ARTICLE, encoding="utf-8")
    (tmp_path / "b.json").write_text("[" * 200_000 + "]" * 200_000, encoding="utf-8")
    (tmp_path / "c.jsonl").write_text(
        json.dumps({"id": "c1", "text": ARTICLE}) + "\n" + "[" * 200_000 + "\n", encoding="utf-8"
    )
    errors: list[InputError] = []
    docs = list(load_documents(tmp_path, errors=errors))
    assert sorted(d.id for d in docs) == ["a", "c1"]
    assert len(errors) == 2
    assert all("nested" in str(e) for e in errors)


def test_unreadable_input_items_become_error_records_in_the_output(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"id": "ok", "text": ARTICLE}) + "\n{not json\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(
        main, ["extract", str(source), "--strategy", "rules", "--format", "jsonl", "--out", str(out)]
    )
    assert result.exit_code == 1
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert {r["status"] for r in records} == {"ok", "error"}
    [bad] = [r for r in records if r["status"] == "error"]
    assert bad["document_id"] == f"{source}:2"
    assert bad["error"]["type"] == "InputError"
    assert bad["error"]["retryable"] is False


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"\xff\xfe\x00garbage \x99\x98", "UTF-8"),
        (("[" * 100_000 + "]" * 100_000).encode(), "nested"),
        (b'{"document_id": "x", "status": "ok", "extraction": ', "line 1"),
    ],
)
def test_view_reports_bad_results_files_without_a_traceback(
    tmp_path: Path, content: bytes, expected: str
) -> None:
    path = tmp_path / "results.jsonl"
    path.write_bytes(content)
    result = CliRunner().invoke(main, ["view", str(path), "--out", str(tmp_path / "v.html")])
    assert result.exit_code != 0
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert expected in result.output


def test_view_names_the_torn_line(tmp_path: Path) -> None:
    good = tmp_path / "ok.jsonl"
    CliRunner().invoke(
        main,
        ["extract", str(_article(tmp_path)), "--strategy", "rules", "--format", "jsonl", "--out", str(good)],
    )
    path = tmp_path / "results.jsonl"
    line = good.read_text().splitlines()[0]
    path.write_text(line + "\n" + line[: len(line) // 2], encoding="utf-8")
    result = CliRunner().invoke(main, ["view", str(path), "--out", str(tmp_path / "v.html")])
    assert result.exit_code != 0
    assert "line 2" in result.output


def _article(tmp_path: Path) -> Path:
    path = tmp_path / "article.txt"
    path.write_text(ARTICLE, encoding="utf-8")
    return path


# --- 10. Smaller input and output faults -------------------------------------------------------


@pytest.mark.parametrize("value", ["soon", "", "Thu, 99 Foo 2026", "-5"])
def test_a_retry_after_that_is_not_a_time_is_ignored(value: str) -> None:
    failure = Exception("429")
    failure.response = SimpleNamespace(headers={"retry-after": value})  # type: ignore[attr-defined]
    assert _retry_after(failure) in (None, 0.0)


def test_a_batch_survives_an_unparseable_retry_after(tmp_path: Path) -> None:
    answer = {"actors": [], "events": [], "claims": []}
    with Scripted([_error(429, {"retry-after": "soon"}), _tool_reply("DraftExtraction", answer)]) as server:
        [result] = list(extract_batch([ARTICLE], base_url=server.base_url, strategy="single", cache=False))
    assert result.status == "ok", result.error


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_utf16_and_utf32_text_files_are_read(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "a.txt"
    text = "Søren Østergaard met Kim Jong Un in Kærby on Monday."
    path.write_bytes(text.encode(encoding))
    [doc] = load_documents(path)
    assert doc.text == text


def test_a_binary_file_is_still_called_binary(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes(bytes(range(256)) * 10)
    with pytest.raises(InputError, match="binary"):
        list(load_documents(path))


@pytest.mark.parametrize(("raw_id", "expected"), [(0, "0"), (42, "42"), ("a-1", "a-1"), (-3, "-3")])
def test_numeric_ids_keep_their_value(tmp_path: Path, raw_id: object, expected: str) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps({"id": raw_id, "text": ARTICLE}), encoding="utf-8")
    [doc] = load_documents(path)
    assert doc.id == expected


@pytest.mark.parametrize("raw_id", [[1, 2], {"a": 1}, True, 1.5])
def test_ids_that_are_not_strings_or_integers_are_refused(tmp_path: Path, raw_id: object) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps({"id": raw_id, "text": ARTICLE}), encoding="utf-8")
    errors: list[InputError] = []
    assert list(load_documents(path, errors=errors)) == []
    assert "id" in str(errors[0])


@pytest.mark.parametrize(
    ("published", "expected"),
    [
        ("2025-03-04", "2025-03-04"),
        ("2025-03-04T10:15:00Z", "2025-03-04"),
        ("2025-03-04T23:59:59+02:00", "2025-03-04"),
        ("2025-03-04 10:15", "2025-03-04"),
    ],
)
def test_published_accepts_iso_dates_and_datetimes(published: str, expected: str) -> None:
    assert str(Document(text=ARTICLE, published=published).published) == expected


@pytest.mark.parametrize("published", [0, 1700000000, 3.5, True, "yesterday", "04/03/2025"])
def test_published_refuses_numbers_and_free_text(published: object) -> None:
    with pytest.raises(ValueError, match="published"):
        Document(text=ARTICLE, published=published)


def test_stdin_text_that_starts_with_a_brace_is_text(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "{Breaking} Kim Jong Un met Vladimir Putin on Monday, state media said."
    result = CliRunner().invoke(main, ["extract", "-", "--strategy", "rules"], input=text)
    assert result.exit_code == 0, result.output
    assert any(a["name"] == "Vladimir Putin" for a in json.loads(result.stdout)["actors"])


def test_stdin_jsonl_is_still_jsonl() -> None:
    lines = "\n".join(json.dumps({"id": f"d{i}", "text": ARTICLE}) for i in range(2))
    result = CliRunner().invoke(main, ["extract", "-", "--strategy", "rules", "--no-cache"], input=lines)
    assert result.exit_code == 0, result.output
    assert [e["document_id"] for e in json.loads(result.stdout)] == ["d0", "d1"]


def test_a_script_inside_the_title_stays_out_of_it() -> None:
    _, title = html_to_text(
        "<html><head><title>Summit<script>alert('x')</script> talks</title></head></html>"
    )
    assert title == "Summit talks"


def test_eval_markdown_escapes_fixture_ids_and_domains() -> None:
    fixture = Fixture.model_validate(
        {"id": "a|b`c<img src=x>[l](http://x)", "domain": "x|y\nz", "text": ARTICLE, "gold": {}}
    )
    lines = eval_markdown(evaluate([], [fixture])).splitlines()
    header = lines.index("| document | domain | actors | events | claims | error |")
    [row] = [line for line in lines[header + 2 :] if line.startswith("| a")]

    def cells(line: str) -> int:
        return line.replace("\\|", "").count("|")

    assert cells(row) == cells(lines[header])
    assert "<img" not in row
    assert "](" not in row.replace("\\]", "")
    assert "\n" not in row


def test_an_oversized_document_is_not_cached_with_its_text(tmp_path: Path) -> None:
    big = Document(id="big", text="word " * 50_000)
    cache = tmp_path / "cache"
    [result] = list(extract_batch([big], strategy="rules", max_chars=10_000, cache=cache))
    assert result.status == "error"
    assert (cache / "results.sqlite3").stat().st_size < 100_000
    # Answered from the cache the second time, with the document attached again.
    [again] = list(extract_batch([big], strategy="rules", max_chars=10_000, cache=cache))
    assert again.cached
    assert again.document is not None
    assert again.document.text == big.text


if sys.platform != "linux":  # pragma: no cover
    pytestmark = pytest.mark.skip(reason="the hardening tests assume Linux")


# --- 10. A dead endpoint ends the batch early --------------------------------------------------


def test_a_dead_endpoint_ends_the_batch_early_with_retryable_records() -> None:
    docs = [Document(id=f"d{i}", text=ARTICLE.replace("Monday", f"day {i}")) for i in range(200)]
    results = list(
        extract_batch(
            docs,
            base_url="http://127.0.0.1:9/v1",  # nothing listens on the discard port
            strategy="single",
            transport_retries=0,
            cache=False,
            concurrency=4,
        )
    )
    assert sorted(r.document_id for r in results) == sorted(d.id for d in docs)  # one record each
    types = [r.error.type for r in results if r.error]
    assert len(types) == 200
    tried = types.count("TransportError")
    assert 8 <= tried <= 8 + 4  # the breaker's threshold plus the documents already in flight
    assert types.count("EndpointDown") == 200 - tried
    assert all(r.error.retryable for r in results if r.error)


def test_one_success_resets_the_breaker() -> None:
    answer = {"actors": [], "events": [], "claims": []}
    replies = [_error(503)] * 7 + [_tool_reply("DraftExtraction", answer)] + [_error(503)] * 7
    docs = [Document(id=f"d{i}", text=ARTICLE.replace("Monday", f"day {i}")) for i in range(15)]
    with Scripted(replies) as server:
        results = list(
            extract_batch(
                docs,
                base_url=server.base_url,
                strategy="single",
                transport_retries=0,
                cache=False,
                concurrency=1,
            )
        )
    assert [r.status for r in results].count("ok") == 1
    assert not [r for r in results if r.error and r.error.type == "EndpointDown"]
