"""Bad input: a clear error naming the document, or correct grounded output; nothing readable lost."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from llm_extract import Document, Extractor, InputError, extract_batch, load_documents
from llm_extract.cli import main
from llm_extract.documents import html_to_text
from llm_extract.grounding import align, verify

ARTICLE = "Kim Jong Un met Vladimir Putin in Vladivostok on Monday, state media said."


def _grounded_everywhere(doc: Document) -> None:
    result = Extractor(strategy="rules").extract(doc)
    evidence = [m for a in result.actors for m in a.mentions]
    evidence += [e.trigger for e in result.events] + [c.evidence for c in result.claims]
    assert evidence
    for item in evidence:
        assert item.start is not None
        assert item.end is not None
        assert doc.text[item.start : item.end] == item.quote
        assert verify(item, doc.text)


def test_html_is_reduced_to_its_text_and_offsets_index_that_text(tmp_path: Path) -> None:
    page = tmp_path / "story.html"
    page.write_text(
        "<html><head><title>Summit &amp; talks</title><style>p {color: red}</style>"
        "<script>var x = '<p>not text</p>';</script></head><body><h1>Summit</h1>"
        f"<p>{ARTICLE.replace('Putin', 'Putin&nbsp;')}</p><p>Analysts said  talks <b>could</b> resume.</p>"
        "</body></html>",
        encoding="utf-8",
    )
    [doc] = load_documents(page)
    assert doc.title == "Summit & talks"
    assert "not text" not in doc.text
    assert "color" not in doc.text
    assert doc.text.startswith("Summit\n\nKim Jong Un met Vladimir Putin")
    assert "talks could resume." in doc.text
    _grounded_everywhere(doc)
    assert html_to_text("") == ("", None)


@pytest.mark.parametrize(
    "text",
    [
        ARTICLE.replace(" ", "\r\n", 3),  # CRLF line ends
        "Kim Jong Un met Vladimir Putin in Vladivosto\u0301k on Monday, state media said.",  # NFD mark
        "\U0001f1f0\U0001f1f5 " + ARTICLE + " \U0001f680",  # emoji (astral code points)
        "\u0643\u064a\u0645 \u062c\u0648\u0646\u063a \u0623\u0648\u0646. "
        + ARTICLE,  # right-to-left text first
    ],
)
def test_offsets_index_the_original_string(text: str) -> None:
    _grounded_everywhere(Document(id="odd", text=text))
    evidence = align("Vladimir Putin", text)
    assert evidence.start is not None
    assert text[evidence.start : evidence.end] == "Vladimir Putin"


def test_a_hard_limit_refuses_huge_documents_by_name() -> None:
    big = Document(id="huge", text=ARTICLE * 100)
    with pytest.raises(
        InputError, match=r"7,400 characters, over the limit of 1,000.*document=huge"
    ) as caught:
        Extractor(strategy="rules", max_chars=1000).extract(big)
    assert "LLM_EXTRACT_MAX_CHARS" in str(caught.value)
    small = Document(id="small", text=ARTICLE)
    results = {
        r.document_id: r for r in extract_batch([big, small], strategy="rules", max_chars=1000, cache=False)
    }
    assert results["small"].status == "ok"
    assert results["huge"].error is not None
    assert results["huge"].error.type == "InputError"


def test_malformed_jsonl_lines_are_reported_and_the_rest_is_read(tmp_path: Path) -> None:
    source = tmp_path / "docs.jsonl"
    lines = [
        json.dumps({"id": "a", "text": ARTICLE}),
        '{"id": "b", "text": "unterminated',
        json.dumps({"id": "c", "text": "   "}),
        json.dumps(["not", "an", "object"]),
        json.dumps({"id": "d", "text": ARTICLE}),
    ]
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"docs.jsonl:2: invalid JSON"):
        list(load_documents(source))  # strict by default
    problems: list[InputError] = []
    docs = list(load_documents(source, errors=problems))
    assert [d.id for d in docs] == ["a", "d"]
    assert [str(p).split(":")[1] for p in problems] == ["2", "3", "4"]

    result = CliRunner().invoke(
        main, ["extract", str(source), "--strategy", "rules", "--format", "jsonl", "--no-progress"]
    )
    assert result.exit_code == 1
    assert "docs.jsonl:2: invalid JSON" in result.output
    assert "docs.jsonl:3: text: Value error, document text is empty" in result.output
    assert "3 input item(s) could not be read" in result.output
    records = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert sorted(r["document_id"] for r in records if r["status"] == "ok") == ["a", "d"]
    # Every unreadable line has its own error record, named by its id or by where it was.
    failed = sorted(r["document_id"] for r in records if r["status"] == "error")
    assert failed == sorted([f"{source}:2", "c", f"{source}:4"])


def test_a_directory_with_binary_and_latin1_files_keeps_the_good_ones(tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text(ARTICLE, encoding="utf-8")
    (tmp_path / "photo.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    (tmp_path / "latin.md").write_bytes("Jos\u00e9 said".encode("latin-1"))
    problems: list[InputError] = []
    docs = list(load_documents(tmp_path, errors=problems))
    assert [d.id for d in docs] == ["good"]
    assert sorted(str(p).split(":")[0].rsplit("/", 1)[-1] for p in problems) == ["latin.md", "photo.txt"]
