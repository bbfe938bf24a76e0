"""Reports: the HTML page's structure, its drill-down in headless Chromium, Markdown and the rich table."""

from __future__ import annotations

import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from rich.console import Console
from test_evaluate import as_prediction, crafted_prediction, gold_fixture

from llm_extract import eval_html, eval_markdown, eval_table, evaluate
from llm_extract.evaluate import EvalReport
from llm_extract.report import highlight

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def _report() -> EvalReport:
    good = gold_fixture().model_copy(update={"id": "perfect"})
    hostile = gold_fixture()
    # The article text is data: markup in it must be shown, never interpreted.
    text = hostile.text.replace("Friday.", "Friday <script>document.title='pwned'</script><b>x</b>.")
    hostile = hostile.model_copy(update={"text": text})
    return evaluate([crafted_prediction(), as_prediction(good)], [hostile, good])


class _Collector(HTMLParser):
    """Collects the elements the tests look for: sections, marks, drill-down rows, the body's state."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: list[dict[str, str | None]] = []
        self.marks: list[str] = []
        self.rows: list[str] = []
        self.body: dict[str, str | None] = {}
        self.scripts = 0
        self.text: list[str] = []
        self.in_shown = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "section":
            self.sections.append(a)
        elif tag == "mark":
            self.marks.append(a.get("class") or "")
        elif tag == "tr" and "row" in (a.get("class") or "").split():
            self.rows.append((a.get("class") or "").split()[1])
        elif tag == "body":
            self.body = a
        elif tag == "script":
            self.scripts += 1
        self.in_shown = a.get("id") == "shown"

    def handle_data(self, data: str) -> None:
        if self.in_shown:
            self.text.append(data)
            self.in_shown = False


def _parse(html: str) -> _Collector:
    collector = _Collector()
    collector.feed(html)
    return collector


def test_html_structure_matches_the_report() -> None:
    report = _report()
    page = _parse(eval_html(report))
    assert [s.get("data-id") for s in page.sections] == ["layoffs", "perfect"]
    assert page.scripts == 1  # one inline script, nothing fetched
    # one drill-down row per matched pair, missed gold item and spurious prediction
    expected = sum(
        c.exact + c.partial + c.missed + c.spurious for d in report.documents for c in d.counts.values()
    )
    assert len(page.rows) == expected
    crafted = report.documents[0].counts
    assert page.rows.count("spurious") == sum(c.spurious for c in crafted.values())
    assert page.rows.count("missed") == sum(c.missed for c in crafted.values())
    assert any("g-event" in m for m in page.marks)
    assert any("p-claim" in m for m in page.marks)


def test_article_markup_is_escaped() -> None:
    html = eval_html(_report())
    assert "<script>document.title" not in html
    assert "&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;&lt;b&gt;x&lt;/b&gt;" in html


def test_highlight_handles_overlapping_spans() -> None:
    segments = highlight("abcdefgh", [(1, 5, "g-event", "g1"), (3, 7, "p-event", "p1")])
    assert [(s.text, s.classes) for s in segments] == [
        ("a", []),
        ("bc", ["g-event"]),
        ("de", ["g-event", "p-event"]),
        ("fg", ["p-event"]),
        ("h", []),
    ]
    assert "".join(s.text for s in segments) == "abcdefgh"


def test_markdown_and_table() -> None:
    report = _report()
    markdown = eval_markdown(report)
    assert "| claims | 4 | 4 | 2 | 3 | 1 | 0 | 0 |" in markdown  # strict, exact, partial, missed, spurious
    assert "| layoffs | business |" in markdown
    console = Console(width=200, record=True)
    console.print(eval_table(report))
    text = console.export_text()
    assert "strict F1 [95% CI]" in text
    assert "events.participants" in text
    assert "failed documents 0" in text


@pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("LLM_EXTRACT_REQUIRE_BROWSER"),
    reason="headless Chromium not installed",
)
def test_report_renders_and_runs_in_headless_chromium(tmp_path: Path) -> None:
    """The page opens in a real browser, its script runs, and the drill-down and highlights exist."""
    assert CHROMIUM is not None, (
        "LLM_EXTRACT_REQUIRE_BROWSER is set but no Chromium is installed (see .ci/run)"
    )
    path = tmp_path / "report.html"
    path.write_text(eval_html(_report()), encoding="utf-8")
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    done = subprocess.run(
        [CHROMIUM, *flags, "--dump-dom", path.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    page = _parse(done.stdout)
    assert page.body.get("data-ready") == "1", "the report's script did not run to the end"
    assert "".join(page.text) == "2 of 2 documents shown"
    assert [s.get("data-id") for s in page.sections] == ["layoffs", "perfect"]
    assert any("g-claim" in m for m in page.marks)
    assert "pwned" not in done.stdout.split("<title>")[1].split("</title>")[0]

    shot = tmp_path / "report.png"
    subprocess.run(
        [CHROMIUM, *flags, "--window-size=1280,1600", f"--screenshot={shot}", path.as_uri()],
        capture_output=True,
        timeout=120,
        check=True,
    )
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 10_000
