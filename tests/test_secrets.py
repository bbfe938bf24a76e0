"""API keys never reach a cassette, a log, an error message, a result or a report."""

from __future__ import annotations

import logging
import re
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner
from conftest import ROOT
from support.recording import scrub_request as _scrub_request

sys.path.insert(0, str(ROOT / "benchmarks"))
from fake_openai import FakeOpenAI  # noqa: E402

from llm_extract import Document, Extractor, Settings, extract_batch  # noqa: E402
from llm_extract.cli import main  # noqa: E402

KEY = "sk-test-" + "Zq3" * 10  # shaped like a real key, so pattern scans would catch a leak
KEY_LIKE = re.compile(r"sk-[A-Za-z0-9_-]{16,}|Bearer\s+[A-Za-z0-9._-]{8,}")


def _leaks(text: str) -> list[str]:
    return sorted({m.group(0)[:16] for m in KEY_LIKE.finditer(text)} | ({KEY} if KEY in text else set()))


def test_no_cassette_holds_a_key() -> None:
    cassettes = sorted((ROOT / "cassettes").rglob("*.yaml"))
    assert len(cassettes) > 30
    for path in cassettes:
        text = path.read_text(encoding="utf-8")
        assert _leaks(text) == [], path
        assert re.search(r"(?im)^\s*-?\s*authorization:", text) is None, path


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ({"Authorization": "Bearer abc"}, b"{}"),
        ({}, b'{"api_key": "anything"}'),
        ({}, ("{" + '"x": "' + KEY + '"}').encode()),
    ],
)
def test_recording_refuses_credentials(headers: dict[str, str], body: bytes) -> None:
    class Headers(dict[str, str]):
        pass

    request = SimpleNamespace(headers=Headers(headers), body=body)
    if headers:  # the scrubber removes the header itself; simulate a filter that missed it
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr("support.recording.SECRET_HEADERS", ())
            with pytest.raises(RuntimeError, match="credential header"):
                _scrub_request(request)
    else:
        with pytest.raises(RuntimeError, match="API key"):
            _scrub_request(request)


def test_a_run_with_a_key_leaks_it_nowhere(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("LLM_EXTRACT_TRANSPORT_RETRIES", "1")
    docs = [Document(id=f"d{i}", text="Kim Jong Un met Vladimir Putin, state media said.") for i in range(3)]
    outputs: list[str] = []
    with FakeOpenAI(faults=[(500, {}), (401, {})]) as fake:
        extractor = Extractor(base_url=fake.base_url, api_key=KEY, model="fake", strategy="single")
        outputs.append(repr(extractor.settings))
        outputs.append(repr(Settings(api_key=KEY)))
        results = list(extract_batch(docs, extractor=extractor, concurrency=1, cache=tmp_path / "cache"))
        outputs += [r.model_dump_json() for r in results]
        assert any(r.status == "error" for r in results)  # the 401 became an error record
        outputs += [r.error.message for r in results if r.error]
        source = tmp_path / "docs.jsonl"
        source.write_text("\n".join(d.model_dump_json() for d in docs), encoding="utf-8")
        out = tmp_path / "out.jsonl"
        monkeypatch.setenv("LLM_EXTRACT_API_KEY", KEY)
        cli = CliRunner().invoke(
            main,
            [
                *(
                    "extract",
                    str(source),
                    "--base-url",
                    fake.base_url,
                    "--model",
                    "fake",
                    "--strategy",
                    "single",
                ),
                *("--format", "jsonl", "--out", str(out), "--no-progress", "--no-cache"),
            ],
        )
        outputs += [cli.output, out.read_text(encoding="utf-8")]
        view = CliRunner().invoke(main, ["view", str(out), "--out", str(tmp_path / "v.html")])
        assert view.exit_code == 0
        outputs.append((tmp_path / "v.html").read_text(encoding="utf-8"))
    outputs.append(caplog.text)
    cache_db = (tmp_path / "cache" / "results.sqlite3").read_bytes().decode("utf-8", "replace")
    outputs.append(cache_db)
    for text in outputs:
        assert _leaks(text) == []
