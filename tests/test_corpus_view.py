"""The corpus page in headless Chromium (system browser, driven by Playwright; no browser download).

Clicks through an entity, a timeline entry and a claim pair, and checks the filters and paging.
``LLM_EXTRACT_WRITE_SCREENSHOTS=1`` also writes docs/corpus.png (never written otherwise).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import ROOT
from corpus_helpers import gold, hostile_results, write_jsonl

from llm_extract.cli import main

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOT = ROOT / "docs" / "corpus.png"


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


def filter_actor(page: Any, text: str) -> None:
    """Type into the actor filter, then leave it, so its suggestion list does not cover the rows."""
    page.fill("#f-actor", text)
    page.locator("#f-actor").evaluate("input => input.blur()")


def _page(tmp_path: Path, browser: Any) -> tuple[Any, dict[str, Any], list[str]]:
    results = write_jsonl(tmp_path / "results.jsonl", [*gold(), *hostile_results()], extra_lines=("{torn",))
    out = tmp_path / "corpus.html"
    ran = CliRunner().invoke(main, ["corpus", str(results), "--out", str(out)])
    assert ran.exit_code == 0, ran.output
    page = browser.new_page(viewport={"width": 1400, "height": 950})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(out.as_uri())
    data = json.loads(page.locator("#corpus-data").text_content())
    assert requests == [out.as_uri()]  # standalone: the page fetches nothing
    return page, data, errors


def test_corpus_page_in_a_real_browser(tmp_path: Path, browser: Any) -> None:
    page, data, errors = _page(tmp_path, browser)
    assert page.evaluate("document.body.dataset.ready") == "1"
    assert page.evaluate("typeof window.pwned") == "undefined"
    assert page.locator("#detail img").count() == 0

    # Entities: 50 rows a page, and the next page continues the list.
    rows = page.locator("#rows-entities tr")
    assert rows.count() == 50
    first_page = rows.first.inner_text()
    page.click("#next")
    assert rows.first.inner_text() != first_page
    assert "page 2 of" in page.locator("#page").inner_text()

    # Click an entity: its mentions in every document, in context.
    filter_actor(page, "pyongyang")  # an alias: the capital standing for the state
    page.select_option("#f-kind", "country")
    page.wait_for_function("document.querySelectorAll('#rows-entities tr').length === 1")
    page.locator("[data-testid=entity-row]").first.click()
    detail = page.locator("#detail")
    assert detail.get_attribute("data-kind") == "entity"
    assert detail.locator("h2").inner_text() == "North Korea"
    assert detail.locator("[data-testid=member]").count() == 4
    assert "Pyongyang" in detail.locator(".ctx mark").all_inner_texts()

    # Timeline: filter by type and date, click an entry, then one of its participants.
    page.click("#f-clear")
    page.click(".tabs [data-tab=timeline]")
    page.select_option("#f-type", "visit")
    page.fill("#f-from", "2024-01-01")
    page.fill("#f-to", "2024-12-31")
    page.wait_for_function("document.querySelectorAll('#rows-timeline tr[data-index]').length > 0")
    shown = page.locator("#rows-timeline tr[data-index]")
    indexes = [int(i) for i in shown.evaluate_all("rows => rows.map(r => r.dataset.index)")]
    assert indexes
    assert all(data["timeline"][i][4] == "visit" for i in indexes)
    assert all("2024-01-01" <= data["timeline"][i][9] <= "2024-12-31" for i in indexes)
    expected = sum(1 for t in data["timeline"] if t[4] == "visit" and "2024-01-01" <= t[9] <= "2024-12-31")
    assert len(indexes) == expected
    shown.first.click()
    event = data["timeline"][indexes[0]]
    assert detail.get_attribute("data-kind") == "event"
    assert detail.locator(".ctx mark").inner_text() == event[6][1]
    participant = next(p for p in event[8] if p[1] >= 0)
    detail.locator(f'button[data-entity="{participant[1]}"]').first.click()
    assert detail.get_attribute("data-kind") == "entity"
    assert detail.locator("h2").inner_text() == data["entities"][participant[1]][1]

    # Claim pairs: click one; both sides show their claimant, quote and document.
    page.click("#f-clear")
    page.click(".tabs [data-tab=pairs]")
    filter_actor(page, "Müller")
    page.wait_for_function("document.querySelectorAll('#rows-pairs tr[data-index]').length > 0")
    row = page.locator("#rows-pairs tr[data-index]").first
    pair = data["pairs"][int(row.get_attribute("data-index"))]
    row.click()
    assert detail.get_attribute("data-kind") == "pair"
    for side, values in (("claim", pair[3]), ("denial", pair[4])):
        box = detail.locator(f"[data-testid=side-{side}]")
        assert values[2] in box.inner_text()
        assert box.locator("blockquote").inner_text() == f"“{values[6]}”"
        assert data["docs"][values[0]][0] in box.inner_text()
    assert "Jürgen Müller" in detail.inner_text()

    # The hostile article's name is text, never markup, wherever it is shown.
    page.click("#f-clear")
    page.click(".tabs [data-tab=entities]")
    filter_actor(page, "onerror")
    page.wait_for_function("document.querySelectorAll('#rows-entities tr[data-index]').length === 1")
    page.locator("[data-testid=entity-row]").first.click()
    assert "</script><script>" in detail.locator("h2").inner_text()
    assert page.evaluate("typeof window.pwned") == "undefined"
    assert errors == []

    page.click("#f-clear")
    filter_actor(page, "pyongyang")  # an alias: the capital standing for the state
    page.select_option("#f-kind", "country")
    page.wait_for_function("document.querySelectorAll('#rows-entities tr').length === 1")
    page.locator("[data-testid=entity-row]").first.click()
    page.click("#f-clear")  # the entity stays in the panel beside the whole index
    page.wait_for_function("document.querySelectorAll('#rows-entities tr').length === 50")
    shot = tmp_path / "corpus.png"
    page.screenshot(path=str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("LLM_EXTRACT_WRITE_SCREENSHOTS") == "1":
        SCREENSHOT.parent.mkdir(exist_ok=True)
        shutil.copyfile(shot, SCREENSHOT)
