"""Results as tables: every format is written by its library and reads back equal to the JSONL."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from corpus_helpers import gold, varied_results, write_jsonl

from llm_extract.cli import main
from llm_extract.corpus import Corpus
from llm_extract.export import FORMATS, read_tables, write_tables
from llm_extract.results_jsonl import read_results_jsonl
from llm_extract.schema import BatchResult, ErrorRecord
from llm_extract.tables import KEYS, SCHEMA, TABLES, results_from_tables, to_tables

TORN = '{"document_id": "torn", "status": "ok", "extraction": {"document_id": "to'
NOT_A_RESULT = '{"document_id": "wrong-shape", "status": "ok", "extraction": {"actors": 3}}'


@pytest.fixture(scope="module")
def results_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tables") / "results.jsonl"
    results = varied_results()
    # A document that failed, then succeeded on a rerun: its ok line counts, once.
    error = ErrorRecord(type="TransportError", message="timed out", retryable=True)
    retried = BatchResult(document_id=results[0].document_id, status="error", error=error)
    return write_jsonl(path, [retried, *results], extra_lines=("[1, 2]", NOT_A_RESULT, TORN))


def test_bad_lines_become_error_documents_not_crashes(results_file: Path) -> None:
    kept = read_results_jsonl(results_file)
    by_id = {k.result.document_id: k for k in kept}
    assert by_id[gold()[0].document_id].result.status == "ok"  # the rerun's ok line wins
    assert len(by_id) == len(kept) == len(varied_results()) + 3
    for doc_id, why in (("wrong-shape", "extraction"), ("torn", "not JSON")):
        error = by_id[doc_id].result.error
        assert error is not None
        assert error.type == "UnreadableLine"
        assert why in error.message
    array_line = next(k for k in kept if k.result.document_id.startswith("line-"))
    assert array_line.result.document_id == f"line-{array_line.line}"
    documents = Corpus.from_jsonl(results_file).to_tables()["documents"].to_pylist()
    statuses = {d["document_id"]: (d["status"], d["error_type"]) for d in documents}
    assert statuses["torn"] == ("error", "UnreadableLine")
    assert statuses["failed-doc"] == ("error", "ModelOutputError")
    assert sum(1 for s, _ in statuses.values() if s == "error") == 4


def test_tables_have_their_schema_and_unique_keys(results_file: Path) -> None:
    tables = Corpus.from_jsonl(results_file).to_tables()
    assert set(tables) == set(TABLES)
    for name, table in tables.items():
        assert table.column_names == [c for c, _ in SCHEMA[name]], name
        keys = [tuple(row[k] for k in KEYS[name]) for row in table.select(list(KEYS[name])).to_pylist()]
        assert len(keys) == len(set(keys)), f"{name}: repeated keys"
    results = [k.result for k in read_results_jsonl(results_file)]
    assert tables["actors"].num_rows == sum(len(r.extraction.actors) for r in results if r.extraction)
    assert tables["mentions"].num_rows == sum(
        len(a.mentions) for r in results if r.extraction for a in r.extraction.actors
    )
    # Every actor is in exactly one entity; entity_members and actors.entity_id agree.
    members = {
        (m["document_id"], m["actor_id"]): m["entity_id"] for m in tables["entity_members"].to_pylist()
    }
    actors = {(a["document_id"], a["actor_id"]): a["entity_id"] for a in tables["actors"].to_pylist()}
    assert members == actors


def test_tables_rebuild_the_results(results_file: Path) -> None:
    kept = read_results_jsonl(results_file)
    results = [k.result for k in kept]
    rebuilt = results_from_tables(to_tables(results, lines=[k.line for k in kept]))
    assert [r.model_dump() for r in rebuilt] == [r.model_dump() for r in results]


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_reads_back_equal_to_the_jsonl(results_file: Path, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"out.{fmt}"
    ran = CliRunner().invoke(main, ["export", str(results_file), "--to", fmt, str(out)])
    assert ran.exit_code == 0, ran.output
    assert "rows/s" in ran.output
    tables = read_tables(out, fmt)  # type: ignore[arg-type]
    expected = Corpus.from_jsonl(results_file).to_tables()
    for name in TABLES:
        assert tables[name].schema.equals(expected[name].schema), name
        assert tables[name].to_pylist() == expected[name].to_pylist(), name
    original = [k.result.model_dump() for k in read_results_jsonl(results_file)]
    assert [r.model_dump() for r in results_from_tables(tables)] == original


def test_export_refuses_to_overwrite_unless_asked(results_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "db.sqlite"
    out.write_text("keep me", encoding="utf-8")
    refused = CliRunner().invoke(main, ["export", str(results_file), "--to", "sqlite", str(out)])
    assert refused.exit_code != 0
    assert "--overwrite" in refused.output
    assert out.read_text(encoding="utf-8") == "keep me"
    done = CliRunner().invoke(main, ["export", str(results_file), "--to", "sqlite", str(out), "--overwrite"])
    assert done.exit_code == 0, done.output


def test_sqlite_answers_analyst_questions(tmp_path: Path) -> None:
    out = write_tables(Corpus(gold()).to_tables(), tmp_path / "corpus.sqlite", "sqlite")
    with sqlite3.connect(out) as db:
        # Which entities appear in the most documents? North Korea and Russia, via their capitals too.
        rows = db.execute(
            "SELECT e.name, COUNT(DISTINCT m.document_id) FROM entities e "
            "JOIN entity_members m ON m.entity_id = e.entity_id GROUP BY e.entity_id ORDER BY 2 DESC, 1"
        ).fetchall()
        top = dict(rows[:12])
        assert top["North Korea"] == 4
        assert top["Russia"] == 5
        # Which claims were denied, and by whom?
        denied = db.execute(
            "SELECT a.name FROM claims c JOIN actors a ON a.document_id = c.document_id "
            "AND a.actor_id = c.claimant_id WHERE c.polarity = 'denied' AND c.document_id = ?",
            ("diplo-kozhemyako-arms-denial",),
        ).fetchall()
        assert sorted(n for (n,) in denied) == ["Dmitry Peskov", "North Korea’s defence ministry"]
        aliases = db.execute(
            "SELECT aliases FROM actors WHERE document_id = 'diplo-kozhemyako-arms-denial' AND actor_id = 'A3'"
        ).fetchone()[0]
        assert json.loads(aliases) == ["Pyongyang"]
    db.close()


def test_duckdb_keeps_lists_and_dates(tmp_path: Path) -> None:
    import duckdb

    out = write_tables(Corpus(gold()).to_tables(), tmp_path / "corpus.duckdb", "duckdb")
    with duckdb.connect(str(out), read_only=True) as db:
        aliases = db.execute(
            "SELECT aliases FROM actors WHERE document_id = 'diplo-kozhemyako-arms-denial' AND actor_id = 'A3'"
        ).fetchone()
        assert aliases == (["Pyongyang"],)
        first = db.execute("SELECT min(date_start), count(date_start) FROM events").fetchone()
        # "in 1938" (the painting's sale) is the oldest resolved date, a year: its first day.
        assert first is not None
        assert str(first[0]) == "1938-01-01"
        assert first[1] > 100


def test_to_pandas_gives_one_frame_per_table() -> None:
    frames = Corpus(gold()[:5]).to_pandas()
    assert list(frames) == list(TABLES)
    assert list(frames["claims"].columns) == [c for c, _ in SCHEMA["claims"]]
    assert len(frames["documents"]) == 5
    assert frames["events"]["date_start"].notna().any()
