"""Eval fixtures: the shipped set is valid and covers the hard cases; bad files fail with clear messages."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from llm_extract import FixtureError, check_fixtures, load_fixtures
from llm_extract.cli import main
from llm_extract.fixtures import load_fixture
from llm_extract.grounding import verify

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "evals" / "fixtures"
REQUIRED_TAGS = {
    "denial",
    "counter-claim",
    "hedge",
    "nested-attribution",
    "author-claim",
    "relative-date",
    "planned",
    "hypothetical",
    "alias",
    "coreference",
    "curly-quotes",
    "non-ascii",
    "long",
    "no-events",
    "prompt-injection",
}


def test_every_shipped_fixture_is_valid() -> None:
    results = list(check_fixtures(FIXTURES))
    assert [(path.name, problems) for path, problems in results if problems] == []


def test_shipped_fixtures_cover_the_hard_cases() -> None:
    fixtures = load_fixtures(FIXTURES)
    assert len(fixtures) >= 15
    assert len({f.domain for f in fixtures}) >= 4
    tags = {t for f in fixtures for t in f.tags}
    assert tags >= REQUIRED_TAGS, REQUIRED_TAGS - tags
    assert any(len(f.text) > 8000 for f in fixtures if "long" in f.tags)
    assert all(len(f.text) > 8000 for f in fixtures if "long" in f.tags)
    assert any(not f.gold.events for f in fixtures if "no-events" in f.tags)
    assert any(("\u201c" in f.text or "\u2019" in f.text) for f in fixtures if "curly-quotes" in f.tags)
    assert all(
        any(ord(ch) > 127 and ch.isalpha() for ch in f.text) for f in fixtures if "non-ascii" in f.tags
    )


def test_every_gold_quote_is_at_its_offsets() -> None:
    for fixture in load_fixtures(FIXTURES):
        evidence = [m for a in fixture.gold.actors for m in a.mentions]
        evidence += [e.trigger for e in fixture.gold.events] + [c.evidence for c in fixture.gold.claims]
        assert evidence, fixture.id
        for item in evidence:
            assert item.alignment == "exact"
            assert fixture.text[item.start : item.end] == item.quote
            assert verify(item, fixture.text)


def test_relative_dates_need_a_publication_date() -> None:
    for fixture in load_fixtures(FIXTURES):
        if any(e.date and e.date.relative for e in fixture.gold.events):
            assert fixture.published is not None, fixture.id


GOOD = """\
domain: test
published: 2025-03-04
text: |
  Acme Corp fired 200 workers on Monday. Acme said the cuts were needed.
gold:
  actors:
    - {id: A1, name: Acme Corp, kind: organization, aliases: [Acme], mentions: [Acme Corp]}
  events:
    - {id: E1, type: economic, trigger: fired, status: occurred, participants: [{actor_id: A1, role: agent}],
       date: {expression: on Monday, value: 2025-03-03, precision: day, relative: true}}
  claims:
    - {id: C1, claimant: A1, statement: The cuts were needed., evidence: the cuts were needed}
"""


def write(tmp_path: Path, content: str, name: str = "case.yaml") -> Path:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    return path


def test_shorthand_quotes_resolve_to_offsets(tmp_path: Path) -> None:
    fixture = load_fixture(write(tmp_path, GOOD))
    assert fixture.id == "case"
    assert str(fixture.published) == "2025-03-04"
    trigger = fixture.gold.events[0].trigger
    assert (trigger.start, trigger.end, trigger.alignment) == (10, 15, "exact")
    assert fixture.gold.events[0].date is not None
    assert fixture.gold.events[0].date.value == "2025-03-03"  # a string, not a YAML timestamp
    assert fixture.document.id == "case"
    assert fixture.document.text == fixture.text


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("mentions: [Acme Corp]", "mentions: [Acme]", "occurs 2 times (at 0, 39); give start"),
        (
            "mentions: [Acme Corp]",
            "mentions: [{quote: Acme, start: 5}]",
            "is not at offset 5 (it occurs at [0, 39])",
        ),
        ("trigger: fired", "trigger: sacked", "occurs 0 times (nowhere); copy it exactly"),
        ("trigger: fired", "trigger: ' fired'", "surrounding whitespace"),
        ("actor_id: A1, role", "actor_id: A7, role", "names participant 'A7', which is not an actor id"),
        ("claimant: A1", "claimant: Acme", "names claimant 'Acme'"),
        ("value: 2025-03-03, precision: day", "value: 2025-03, precision: day", "does not fit precision"),
        ("domain: test", "domain: test\nsource: somewhere", "unknown key(s): source"),
        ("domain: test", "id: other\ndomain: test", "must equal the file name"),
        ("{id: E1, type: economic", "{id: C1, type: economic", "repeated"),  # ids are per type: no clash
        ("kind: organization", "kind: company", "kind"),
    ],
)
def test_bad_fixtures_fail_with_a_clear_message(tmp_path: Path, old: str, new: str, message: str) -> None:
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new))
    if message == "repeated":  # an event and a claim may share an id string; it is not an error
        load_fixture(path)
        return
    with pytest.raises(FixtureError) as caught:
        load_fixture(path)
    assert message in str(caught.value)
    assert caught.value.document_id == "case"


def test_repeated_ids_within_a_type_are_rejected(tmp_path: Path) -> None:
    doubled = GOOD.replace(
        "  events:\n", "  events:\n    - {id: E1, type: economic, trigger: said, status: occurred}\n"
    )
    with pytest.raises(FixtureError, match="repeated event id"):
        load_fixture(write(tmp_path, doubled))


def test_unreadable_and_empty_files(tmp_path: Path) -> None:
    write(tmp_path, "text: [unclosed", "broken.yaml")
    write(tmp_path, "domain: x\n", "empty.yaml")
    (tmp_path / "latin1.yaml").write_bytes("text: caf\xe9\n".encode("latin-1"))
    problems = {path.name: p for path, p in check_fixtures(tmp_path)}
    assert "cannot read" in problems["broken.yaml"][0]
    assert "text is missing or empty" in problems["empty.yaml"][0]
    assert "cannot read" in problems["latin1.yaml"][0]
    with pytest.raises(FixtureError, match="does not exist"):
        list(check_fixtures(tmp_path / "nowhere"))
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(FixtureError, match=r"no fixture files"):
        load_fixtures(tmp_path / "empty_dir")


def test_check_fixtures_command(tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(main, ["check-fixtures", str(FIXTURES)])
    assert ok.exit_code == 0, ok.output
    assert ok.output.count(": ok") == len(list(FIXTURES.glob("*.yaml")))
    write(tmp_path, GOOD.replace("trigger: fired", "trigger: sacked"))
    bad = runner.invoke(main, ["check-fixtures", str(tmp_path)])
    assert bad.exit_code == 1
    assert "sacked" in bad.output
    assert "1 fixture file(s) have problems" in bad.output


def test_a_repeated_yaml_key_is_an_error_not_a_silent_loss(tmp_path: Path) -> None:
    doubled = GOOD.replace("  claims:\n", "  actors: []\n  claims:\n")
    problems = {p.name: probs for p, probs in check_fixtures(write(tmp_path, doubled).parent)}
    assert "repeated key(s) actors" in problems["case.yaml"][0]
