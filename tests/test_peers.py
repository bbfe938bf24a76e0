"""The peer benchmark's parts: schema conversions, the counting proxy, the table and RESULTS.md."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import openai
import pytest
from conftest import META

from llm_extract.evaluate import evaluate
from llm_extract.fixtures import load_fixtures
from llm_extract.grounding import verify
from llm_extract.schema import Extraction

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from fake_openai import FakeOpenAI  # noqa: E402
from peers import (  # noqa: E402
    END,
    EXAMPLE_TEXT,
    START,
    CountingProxy,
    NaiveActor,
    NaiveClaim,
    NaiveEvent,
    NaiveOutput,
    Row,
    Tally,
    from_langextract,
    from_naive,
    table,
    target_lines,
    write_section,
)

TEXT = (
    "Harbour Authority chief Mira Olsen said the quay would reopen in May. "
    "The operator, Keel Lines, denied cutting pilot pay."
)


def _lx(cls: str, text: str, span: tuple[int, int] | None, **attributes: Any) -> SimpleNamespace:
    interval = None if span is None else SimpleNamespace(start_pos=span[0], end_pos=span[1])
    return SimpleNamespace(
        extraction_class=cls, extraction_text=text, char_interval=interval, attributes=attributes
    )


def _at(quote: str) -> tuple[int, int]:
    start = TEXT.index(quote)
    return start, start + len(quote)


def test_langextract_extractions_map_onto_the_schema() -> None:
    items = [
        _lx("actor", "Mira Olsen", _at("Mira Olsen"), kind="person"),
        _lx("actor", "Keel Lines", _at("Keel Lines"), kind="Organization"),
        _lx("actor", "Harbour Authority", _at("Harbour Authority"), kind="port body"),  # not a kind we know
        _lx("event", "reopen", _at("reopen"), type="policy", status="planned", participants="Harbour Authority; Olsen"),
        _lx("claim", "the quay would reopen in May", _at("the quay would reopen in May"), claimant="Mira Olsen"),
        _lx("claim", "denied cutting pilot pay", _at("denied cutting pilot pay"), claimant="Keel Lines", polarity="denied", hedged="false"),
        _lx("claim", "Pay talks will resume", None, claimant="author"),  # LangExtract could not align it
        _lx("location", "quay", _at("quay")),  # a class we do not map
    ]  # fmt: skip
    result = from_langextract("d1", TEXT, items, model="m")
    actors = {a.name: a for a in result.actors}
    assert set(actors) == {"Mira Olsen", "Keel Lines", "Harbour Authority"}
    assert (actors["Mira Olsen"].kind, actors["Keel Lines"].kind, actors["Harbour Authority"].kind) == (
        "person",
        "organization",
        "other",
    )
    (event,) = result.events
    assert (event.type, event.status, event.trigger.alignment) == ("policy", "planned", "exact")
    # "Olsen" resolves to the actor named "Mira Olsen"
    assert {p.actor_id for p in event.participants} == {
        actors["Harbour Authority"].id,
        actors["Mira Olsen"].id,
    }
    first, second, third = result.claims
    assert first.claimant == actors["Mira Olsen"].id
    assert first.polarity == "asserted"
    assert not first.hedged
    assert second.claimant == actors["Keel Lines"].id
    assert second.polarity == "denied"
    assert third.claimant is None
    assert not third.evidence.grounded
    assert third.evidence.start is None
    for claim in (first, second):
        assert verify(claim.evidence, TEXT)


def test_a_peer_span_that_does_not_hold_its_quote_is_not_reported_as_grounded() -> None:
    wrong = _lx("claim", "the quay would reopen in May", _at("denied cutting pilot pay"), claimant="author")
    off_end = _lx("actor", "Keel Lines", (len(TEXT) - 3, len(TEXT) + 20))
    near = _lx(
        "claim",
        "The operator Keel Lines denied cutting pilot pay",
        _at("The operator, Keel Lines, denied cutting pilot pay"),
    )
    result = from_langextract("d1", TEXT, [wrong, off_end, near])
    assert not result.claims[0].evidence.grounded
    assert not result.actors[0].grounded
    # a near miss LangExtract located is kept when llm-extract's own verify accepts it
    assert result.claims[1].evidence.alignment in ("normalized", "fuzzy")
    assert verify(result.claims[1].evidence, TEXT)


def test_a_claimant_never_extracted_as_an_actor_becomes_one_without_mentions() -> None:
    result = from_langextract("d1", TEXT, [_lx("claim", "the quay would reopen in May", _at("the quay would reopen in May"), claimant="Port officials")])  # fmt: skip
    (actor,) = result.actors
    assert actor.name == "Port officials"
    assert actor.mentions == []
    assert not actor.grounded
    assert result.claims[0].claimant == actor.id


def test_naive_answers_are_located_with_the_aligner_and_misses_stay_ungrounded() -> None:
    output = NaiveOutput(
        actors=[
            NaiveActor(name="Mira Olsen", kind="person"),
            NaiveActor(name="Port of Tallinn", kind="organization"),
        ],
        events=[NaiveEvent(trigger="reopen", type="policy", participants=["Mira Olsen", "nobody"])],
        claims=[
            NaiveClaim(quote="THE QUAY WOULD REOPEN IN MAY", claimant="Mira Olsen"),
            NaiveClaim(quote="Pilots will strike on Friday.", claimant=None, polarity="asserted"),
        ],
    )
    result = from_naive("d1", TEXT, output, model="m")
    olsen, tallinn = result.actors[:2]
    assert olsen.grounded
    assert not tallinn.grounded
    assert result.events[0].trigger.alignment == "exact"
    assert olsen.id in {p.actor_id for p in result.events[0].participants}
    found, invented = result.claims
    assert found.evidence.alignment == "normalized"
    assert found.claimant == olsen.id
    assert not invented.evidence.grounded
    assert invented.claimant is None


def test_the_proxy_counts_calls_and_tokens_and_keeps_bodies_only_while_recording() -> None:
    with FakeOpenAI() as fake, CountingProxy(fake.base_url) as proxy:
        client = openai.OpenAI(base_url=proxy.base_url, api_key="unused", max_retries=0)
        first = client.chat.completions.create(
            model="fake-model", messages=[{"role": "user", "content": "one"}]
        )
        proxy.recording = []
        second = client.chat.completions.create(
            model="fake-model", messages=[{"role": "user", "content": "two"}]
        )
        kept = proxy.recording
        proxy.recording = None
        assert client.models.list().data  # not a chat call: forwarded, not counted
        tally = proxy.snapshot()
    assert first.usage is not None
    assert second.usage is not None
    assert tally.calls == 2
    assert fake.served == 2
    assert tally.prompt_tokens == first.usage.prompt_tokens + second.usage.prompt_tokens
    assert tally.completion_tokens == first.usage.completion_tokens + second.usage.completion_tokens
    assert tally.http_errors == 0
    assert tally.server_s > 0
    assert [e.body["messages"][0]["content"] for e in kept] == ["two"]


def test_the_proxy_passes_errors_through_and_counts_them() -> None:
    with FakeOpenAI(faults=[(503, {})]) as fake, CountingProxy(fake.base_url) as proxy:
        client = openai.OpenAI(base_url=proxy.base_url, api_key="unused", max_retries=0)
        with pytest.raises(openai.InternalServerError):
            client.chat.completions.create(model="fake-model", messages=[{"role": "user", "content": "x"}])
        assert proxy.snapshot().http_errors == 1


def _rows() -> tuple[Row, Row]:
    fixtures = load_fixtures(ROOT / "evals" / "fixtures")[:2]
    perfect = [
        Extraction(
            document_id=f.id, actors=f.gold.actors, events=f.gold.events, claims=f.gold.claims, metadata=META
        )
        for f in fixtures
    ]
    good = Row("llm-extract", evaluate(perfect, fixtures), {}, 2, Tally(calls=4, prompt_tokens=100), 3.0)
    empty = Row("peer", evaluate({}, fixtures), {fixtures[0].id: "Boom: it failed"}, 2, Tally(), 1.0)
    return good, empty


def test_table_and_target_read_the_reports() -> None:
    good, empty = _rows()
    text = table([good, empty])
    lines = text.splitlines()
    assert lines[0].startswith("| system | actors strict F1")
    assert lines[2].startswith("| llm-extract | 100.0")
    assert "| 2.0 | 1.50 | 0/2 |" in lines[2]
    assert lines[3].startswith("| peer | 0.0")
    assert "1/2" in lines[3]
    verdict = target_lines(good, [empty])
    assert all("met" in line and "NOT" not in line for line in verdict[:6])
    assert verdict[-1].startswith("- every reported item grounded: yes")
    assert all("NOT met" in line for line in target_lines(empty, [good])[:6])


def test_results_section_is_replaced_in_place_or_appended(tmp_path: Path) -> None:
    path = tmp_path / "RESULTS.md"
    path.write_text("# Results\n\nthroughput numbers\n", encoding="utf-8")
    write_section(path, "first run")
    write_section(path, "second run")
    text = path.read_text(encoding="utf-8")
    assert text.count(START) == 1
    assert text.count(END) == 1
    assert "second run" in text
    assert "first run" not in text
    assert text.startswith("# Results\n\nthroughput numbers\n")
    path.write_text(text + "\n## Later section\n", encoding="utf-8")
    write_section(path, "third run")
    assert path.read_text(encoding="utf-8").endswith("third run\n" + END + "\n\n## Later section\n")


def test_langextract_example_is_grounded_in_its_own_text() -> None:
    pytest.importorskip("langextract")
    from peers import langextract_examples

    (example,) = langextract_examples()
    assert example.text == EXAMPLE_TEXT
    for extraction in example.extractions:
        assert extraction.extraction_text in EXAMPLE_TEXT


def test_dropped_chunks_are_counted_by_reason() -> None:
    import logging

    from peers import _counting_warnings

    log = logging.getLogger("absl")
    with _counting_warnings("absl", "Chunk omitted") as dropped:
        log.warning("Chunk omitted from results (parse error): Unterminated string. Set resolver_params=...")
        log.warning("Chunk omitted from results (schema error): Extraction text must be a string.")
        log.warning("Something else entirely")
    log.warning("Chunk omitted from results (parse error): after the block, not counted")
    assert dropped == ["parse error", "schema error"]


def test_a_failure_is_one_readable_line() -> None:
    from peers import _failure_text

    last = ValueError("Invalid JSON: EOF while parsing a string\nline two")
    wrapped = RuntimeError("<failed_attempts>\n<attempt 1>...")
    wrapped.failed_attempts = [SimpleNamespace(exception=ValueError("x")), SimpleNamespace(exception=last)]  # type: ignore[attr-defined]
    assert _failure_text(wrapped) == (
        "RuntimeError after 2 attempt(s), last: ValueError: Invalid JSON: EOF while parsing a string"
    )
    assert _failure_text(KeyError("k")) == "KeyError: 'k'"
