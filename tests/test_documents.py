"""Tests for llm_extract.documents.load_documents: files, directories, standard input and bad input."""

from __future__ import annotations

import io
import json
import sys
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import pytest

from llm_extract.documents import load_documents
from llm_extract.errors import InputError
from llm_extract.schema import Document


def load(source: str | Path, **kwargs: object) -> list[Document]:
    return list(load_documents(source, **kwargs))  # type: ignore[arg-type]


def jsonl(*items: object) -> str:
    return "".join(json.dumps(item) + "\n" for item in items)


def fake_stdin(monkeypatch: pytest.MonkeyPatch, data: bytes) -> None:
    monkeypatch.setattr(sys, "stdin", SimpleNamespace(buffer=io.BytesIO(data)))


# --- single files --------------------------------------------------------------------------------


def test_text_file_is_one_document(tmp_path: Path) -> None:
    path = tmp_path / "kim-putin.txt"
    path.write_text("Kim met Putin.\nThey talked.\n", encoding="utf-8")
    [doc] = load(path, published="2024-09-17")
    assert doc.id == "kim-putin"
    assert doc.text == "Kim met Putin.\nThey talked.\n"
    assert doc.published == date(2024, 9, 17)
    assert doc.title is None


def test_text_file_accepts_date_object_and_no_date(tmp_path: Path) -> None:
    path = tmp_path / "a.md"
    path.write_text("Kim met Putin.", encoding="utf-8")
    assert load(path, published=date(2021, 3, 3))[0].published == date(2021, 3, 3)
    assert load(str(path))[0].published is None


def test_jsonl_skips_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "batch.jsonl"
    path.write_text(
        json.dumps({"id": "a", "title": "First", "published": "2024-09-16", "text": "One."})
        + "\n\n"
        + json.dumps({"id": "b", "title": "Second", "text": "Two."})
        + "\n   \n"
        + json.dumps({"id": "c", "published": "2024-01-02", "text": "Three.", "url": "ignored"})
        + "\n",
        encoding="utf-8",
    )
    docs = load(path, published="2020-01-01")
    assert [(d.id, d.title, d.published, d.text) for d in docs] == [
        ("a", "First", date(2024, 9, 16), "One."),
        ("b", "Second", None, "Two."),
        ("c", None, date(2024, 1, 2), "Three."),
    ]


def test_jsonl_without_id_gets_text_hash(tmp_path: Path) -> None:
    path = tmp_path / "batch.jsonl"
    path.write_text(jsonl({"text": "hello"}), encoding="utf-8")
    # sha256(b"hello") starts 2cf24dba5fb0.
    assert load(path)[0].id == "doc-2cf24dba5fb0"


def test_malformed_jsonl_line_names_line_number(tmp_path: Path) -> None:
    path = tmp_path / "batch.jsonl"
    path.write_text(jsonl({"id": "a", "text": "One."}) + '{"id": "b", "text": \n', encoding="utf-8")
    with pytest.raises(InputError, match=r"batch\.jsonl:2: invalid JSON"):
        load(path)


def test_jsonl_line_that_is_not_an_object(tmp_path: Path) -> None:
    path = tmp_path / "batch.jsonl"
    path.write_text(jsonl({"id": "a", "text": "One."}, ["not", "an", "object"]), encoding="utf-8")
    with pytest.raises(InputError, match=r":2: expected an object"):
        load(path)


def test_json_list(tmp_path: Path) -> None:
    path = tmp_path / "set.json"
    path.write_text(
        json.dumps([{"text": "One.", "title": "T1"}, {"id": "x", "text": "Two.", "published": "2024-09-17"}]),
        encoding="utf-8",
    )
    docs = load(path)
    assert [(d.id, d.title, d.published, d.text) for d in docs] == [
        ("set-0", "T1", None, "One."),
        ("x", None, date(2024, 9, 17), "Two."),
    ]


def test_json_object(tmp_path: Path) -> None:
    path = tmp_path / "single.json"
    path.write_text(json.dumps({"text": "One."}), encoding="utf-8")
    [doc] = load(path)
    assert (doc.id, doc.text) == ("single", "One.")


def test_invalid_json_names_line(tmp_path: Path) -> None:
    path = tmp_path / "set.json"
    path.write_text('[\n{"text": "One."},\n{oops}\n]', encoding="utf-8")
    with pytest.raises(InputError, match="invalid JSON at line 3"):
        load(path)


# --- directories ---------------------------------------------------------------------------------


def test_directory_reads_known_suffixes_sorted_by_name(tmp_path: Path) -> None:
    (tmp_path / "c.txt").write_text("Text C.", encoding="utf-8")
    (tmp_path / "a.jsonl").write_text(jsonl({"id": "a1", "text": "A1."}, {"id": "a2", "text": "A2."}))
    (tmp_path / "b.json").write_text(json.dumps({"text": "B."}), encoding="utf-8")
    (tmp_path / "d.md").write_text("Markdown D.", encoding="utf-8")
    (tmp_path / "notes.csv").write_text("id,text\nx,ignored\n", encoding="utf-8")
    (tmp_path / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    (tmp_path / "README").write_text("ignored", encoding="utf-8")
    docs = load(tmp_path, published="2024-09-17")
    assert [(d.id, d.text) for d in docs] == [
        ("a1", "A1."),
        ("a2", "A2."),
        ("b", "B."),
        ("c", "Text C."),
        ("d", "Markdown D."),
    ]
    assert docs[3].published == date(2024, 9, 17)


def test_empty_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"no \.txt, \.md, \.html, \.json or \.jsonl files"):
        load(tmp_path)


def test_directory_with_only_other_files(tmp_path: Path) -> None:
    (tmp_path / "notes.csv").write_text("a,b\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"no \.txt"):
        load(tmp_path)


# --- bad input -----------------------------------------------------------------------------------


def test_latin1_file_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "cafe.txt"
    path.write_bytes("Le café est fermé.".encode("latin-1"))
    with pytest.raises(InputError, match=r"not UTF-8 \(byte 0xe9 at offset 6\).*UTF-8") as info:
        load(path)
    assert "cafe.txt" in str(info.value)


def test_binary_file_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "blob.txt"
    path.write_bytes(b"Kim met\x00Putin.")
    with pytest.raises(InputError, match="binary"):
        load(path)


def test_utf8_bom_is_stripped(tmp_path: Path) -> None:
    txt = tmp_path / "bom.txt"
    txt.write_bytes(b"\xef\xbb\xbfKim met Putin.")
    assert load(txt)[0].text == "Kim met Putin."
    lines = tmp_path / "bom.jsonl"
    lines.write_bytes(b"\xef\xbb\xbf" + jsonl({"id": "a", "text": "One."}).encode("utf-8"))
    assert [d.id for d in load(lines)] == ["a"]


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file or directory"):
        load(tmp_path / "missing.txt")


def test_empty_text_file_names_document(tmp_path: Path) -> None:
    path = tmp_path / "blank-story.txt"
    path.write_text("  \n\t\n", encoding="utf-8")
    with pytest.raises(InputError, match="empty or whitespace") as info:
        load(path)
    assert info.value.document_id == "blank-story"
    assert "document=blank-story" in str(info.value)


def test_empty_text_in_jsonl_names_document(tmp_path: Path) -> None:
    path = tmp_path / "batch.jsonl"
    path.write_text(jsonl({"id": "ok", "text": "Fine."}, {"id": "empty-one", "text": ""}), encoding="utf-8")
    with pytest.raises(InputError, match=r"batch\.jsonl:2: text") as info:
        load(path)
    assert info.value.document_id == "empty-one"
    assert "empty-one" in str(info.value)


def test_jsonl_object_without_text(tmp_path: Path) -> None:
    path = tmp_path / "batch.jsonl"
    path.write_text(jsonl({"id": "no-text", "title": "T"}), encoding="utf-8")
    with pytest.raises(InputError, match="text") as info:
        load(path)
    assert info.value.document_id == "no-text"


def test_bad_published_argument_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("Kim met Putin.", encoding="utf-8")
    with pytest.raises(ValueError, match="Invalid isoformat"):
        load(path, published="17/09/2024")


# --- standard input ------------------------------------------------------------------------------


def test_stdin_plain_text(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_stdin(monkeypatch, "\ufeffJosé met Putin.\n".encode())
    [doc] = load("-", published="2024-09-17")
    assert doc.text == "José met Putin.\n"
    assert doc.published == date(2024, 9, 17)
    assert doc.id.startswith("doc-")


def test_stdin_jsonl(monkeypatch: pytest.MonkeyPatch) -> None:
    data = jsonl({"id": "a", "text": "One."}, {"id": "b", "title": "B", "text": "Two."})
    fake_stdin(monkeypatch, ("\n" + data + "\n").encode("utf-8"))
    docs = load("-", published="2024-09-17")
    assert [(d.id, d.title, d.text, d.published) for d in docs] == [
        ("a", None, "One.", None),
        ("b", "B", "Two.", None),
    ]


def test_stdin_malformed_jsonl(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_stdin(monkeypatch, b'{"id": "a", "text": "One."}\n{broken\n')
    with pytest.raises(InputError, match=r"<stdin>:2: invalid JSON"):
        load("-")


def test_stdin_binary(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_stdin(monkeypatch, b"\x00\x01\x02")
    with pytest.raises(InputError, match=r"<stdin>: looks like a binary file"):
        load("-")


def test_jsonl_keeps_unicode_line_separators_inside_strings_and_numeric_ids(tmp_path: Path) -> None:
    path = tmp_path / "batch.jsonl"
    path.write_text(
        json.dumps({"id": 7, "text": "one\u2028two"}, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    (doc,) = load_documents(path)
    assert doc.id == "7"
    assert doc.text == "one\u2028two"
