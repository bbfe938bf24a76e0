"""The results view: one standalone page, checked in headless Chromium driven by Playwright."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import EXAMPLES, ROOT

from llm_extract import BatchResult, Claim, Document, Evidence, Extractor, load_documents, render_html
from llm_extract.cli import main

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOT = ROOT / "docs" / "view.png"
HOSTILE = (
    "Officials deny the report\n\nSEOUL - The ministry said on Monday it rejected the report. "
    '<script>window.pwned = true; document.title = "pwned"</script> Analysts said talks could resume.'
)


def _results(tmp_path: Path) -> Path:
    """A results file: the three examples, plus a hostile article with one ungrounded claim."""
    docs = [*load_documents(EXAMPLES / "articles.jsonl"), Document(id="hostile", text=HOSTILE)]
    extractor = Extractor(strategy="rules")
    lines = []
    for doc in docs:
        extraction = extractor.extract(doc)
        if doc.id == "hostile":
            ghost = Claim(
                id="C99", statement="Talks collapsed.", evidence=Evidence(quote="talks collapsed for good")
            )
            extraction = extraction.model_copy(update={"claims": [*extraction.claims, ghost]})
        lines.append(BatchResult(document_id=doc.id, status="ok", document=doc, extraction=extraction))
    path = tmp_path / "results.jsonl"
    path.write_text("".join(r.model_dump_json() + "\n" for r in lines), encoding="utf-8")
    return path


def _grounded_keys(result: BatchResult) -> set[str]:
    e = result.extraction
    assert e is not None
    keys = {f"actors-{a.id}" for a in e.actors if a.grounded}
    keys |= {f"events-{x.id}" for x in e.events if x.grounded}
    return keys | {f"claims-{c.id}" for c in e.claims if c.grounded}


def test_view_escapes_the_article_and_lists_ungrounded_items(tmp_path: Path) -> None:
    results = [
        BatchResult.model_validate_json(x)
        for x in _results(tmp_path).read_text(encoding="utf-8").splitlines()
    ]
    page = render_html(results)
    assert "<script>window.pwned" not in page
    assert "&lt;script&gt;window.pwned = true;" in page
    assert "talks collapsed for good" in page  # in the warning list, not highlighted
    assert page.count('<section class="doc view"') == 4


def test_view_command_reads_results_or_extractions_with_documents(tmp_path: Path) -> None:
    results = _results(tmp_path)
    ok = CliRunner().invoke(main, ["view", str(results), "--out", str(tmp_path / "v.html")])
    assert ok.exit_code == 0, ok.output
    assert "wrote" in ok.output
    extraction = Extractor(strategy="rules").extract(Document(id="a", text="Kim Jong Un met Vladimir Putin."))
    bare = tmp_path / "bare.json"
    bare.write_text(extraction.model_dump_json(), encoding="utf-8")
    warned = CliRunner().invoke(main, ["view", str(bare), "--out", str(tmp_path / "b.html")])
    assert "carry no article text" in warned.output
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"status": "ok"}\n', encoding="utf-8")
    failed = CliRunner().invoke(main, ["view", str(broken)])
    assert failed.exit_code == 1
    assert "broken.jsonl" in failed.output


@pytest.fixture
def browser() -> Iterator[Any]:
    required = bool(os.environ.get("LLM_EXTRACT_REQUIRE_BROWSER"))
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if required:
            raise
        pytest.skip("playwright is not installed")
    if CHROMIUM is None:
        if required:
            pytest.fail("LLM_EXTRACT_REQUIRE_BROWSER is set but no Chromium is installed (see .ci/run)")
        pytest.skip("no Chromium on this machine (Debian: apt-get install chromium)")
    flags = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=[*flags, "--disable-sync"])
        yield launched
        launched.close()


def test_view_in_a_real_browser(tmp_path: Path, browser: Any, request: pytest.FixtureRequest) -> None:
    results_path = _results(tmp_path)
    out = tmp_path / "view.html"
    assert CliRunner().invoke(main, ["view", str(results_path), "--out", str(out)]).exit_code == 0
    results = {
        r.document_id: r for r in map(BatchResult.model_validate_json, results_path.read_text().splitlines())
    }
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(out.as_uri())
    assert page.evaluate("document.body.dataset.ready") == "1"

    # Every grounded item has highlighted spans, and nothing else is highlighted.
    for doc_id, result in results.items():
        section = page.locator(f'section[data-id="{doc_id}"]')
        keys = section.locator("mark[data-keys]").evaluate_all(
            "marks => [...new Set(marks.flatMap(m => m.dataset.keys.split(' ')))]"
        )
        assert set(keys) == _grounded_keys(result), doc_id

    # Clicking a claim's evidence shows its record, claimant included.
    result = results["choe_russia_trip"]
    assert result.extraction is not None
    claim = next(c for c in result.extraction.claims if c.claimant)
    names = {a.id: a.name for a in result.extraction.actors}
    section = page.locator('section[data-id="choe_russia_trip"]')
    mark = section.locator("mark.p-claim").filter(has_not=section.locator("mark.p-actor")).first
    section.locator(f'tr[data-key="claims-{claim.id}"]').click()
    assert section.locator('.record dd[data-field="claimant"]').inner_text() == names[claim.claimant or ""]
    mark.click()
    assert section.locator('.record dd[data-field="claim"]').inner_text().startswith("C")

    # The hostile article's script is text, never code.
    assert page.evaluate("typeof window.pwned") == "undefined"
    assert page.title() == "llm-extract results"
    hostile = page.locator('section[data-id="hostile"]')
    assert "<script>window.pwned = true;" in hostile.locator(".article").inner_text()
    assert "talks collapsed for good" in hostile.locator(".ungrounded-list").inner_text()

    shot = tmp_path / "view.png"
    section.locator(f'tr[data-key="claims-{claim.id}"]').click()
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if request.config.getoption("--update-baselines"):
        SCREENSHOT.parent.mkdir(exist_ok=True)
        shutil.copyfile(shot, SCREENSHOT)
    assert SCREENSHOT.is_file(), "run pytest tests/test_view.py --update-baselines to write docs/view.png"
