"""Read documents from files: .txt/.md, .html/.htm, .json (an object or a list), .jsonl (one per line).

HTML is reduced to its text (scripts, styles and markup dropped, entities decoded, block elements on
their own lines); offsets in the results index that text, which is the document's ``text``.
"""

from __future__ import annotations

import codecs
import html
import json
import re
import sys
from collections.abc import Iterator
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from llm_extract.errors import InputError
from llm_extract.schema import Document

__all__ = ["TEXT_SUFFIXES", "html_to_text", "load_documents"]

TEXT_SUFFIXES = (".txt", ".md")
_HTML_SUFFIXES = (".html", ".htm")
_JSON_SUFFIXES = (".json", ".jsonl")
_BLOCKS = {
    "p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "table", "section",
    "article", "header", "footer", "blockquote", "pre", "figcaption", "title", "dd", "dt",
}  # fmt: skip
_CODE = {"script", "style", "noscript", "template", "svg"}  # never text, not even inside <title>
_SKIP = _CODE | {"head"}


class _TextParser(HTMLParser):
    """Collects the visible text of an HTML page, one block element per line."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0
        self.code = 0
        self.title: list[str] = []
        self.in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self.in_title = True
        elif tag in _SKIP:
            self.skipping += 1
            self.code += tag in _CODE
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self.in_title = False
        elif tag in _SKIP:
            self.skipping = max(0, self.skipping - 1)
            self.code = max(0, self.code - (tag in _CODE))
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self.in_title and not self.code:
            self.title.append(data)
        elif not self.skipping:
            self.parts.append(data)


def html_to_text(markup: str) -> tuple[str, str | None]:
    """The visible text of an HTML page (paragraphs separated by blank lines) and its title."""
    parser = _TextParser()
    parser.feed(markup)
    parser.close()
    lines = [re.sub(r"[ \t\r\f\v]+", " ", line).strip() for line in "".join(parser.parts).split("\n")]
    text = "\n\n".join(line for line in lines if line)
    title = html.unescape(" ".join("".join(parser.title).split())) or None
    return text + "\n" if text else "", title


def load_documents(
    source: str | Path,
    *,
    published: date | str | None = None,
    errors: list[InputError] | None = None,
) -> Iterator[Document]:
    """Documents from a file, a directory of files, or ``-`` (standard input, text or JSONL).

    ``published`` applies to plain-text documents, which carry no date of their own.
    A file or line that cannot be read raises ``InputError`` naming it; with an ``errors`` list,
    it is appended there instead, its ``document_id`` set (the item's id, else ``file:line``), and
    the rest is still read (a batch loses nothing it can read; ``aextract_batch`` turns such errors
    into error records).
    """
    when = date.fromisoformat(published) if isinstance(published, str) else published
    if str(source) == "-":
        raw = sys.stdin.buffer.read()
        text = _decode(raw, "<stdin>")
        if _looks_like_jsonl(text):
            yield from _json_lines(text, "<stdin>", errors)
        else:
            yield _document("<stdin>", {"text": text, "published": when})
        return
    if re.match(r"^[a-z][a-z0-9+.-]*://", str(source), re.IGNORECASE):
        raise InputError(
            f"{source}: a URL; llm-extract reads files and fetches nothing. Save the page first "
            "(e.g. curl -o page.html URL) and give the file"
        )
    path = Path(source)
    if path.is_dir():
        suffixes = TEXT_SUFFIXES + _HTML_SUFFIXES + _JSON_SUFFIXES
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in suffixes)
        if not files:
            raise InputError(f"{path}: no .txt, .md, .html, .json or .jsonl files in this directory")
        for file in files:
            yield from _guard(load_documents(file, published=when, errors=errors), str(file), errors)
        return
    if not path.is_file():
        raise InputError(f"{path}: no such file or directory")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from exc
    text = _decode(raw, str(path))
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        yield from _json_lines(text, str(path), errors)
    elif suffix in _HTML_SUFFIXES:
        body, title = html_to_text(text)
        yield _document(str(path), {"text": body, "title": title, "published": when}, default_id=path.stem)
    elif suffix == ".json":
        data = _parse_json(text, str(path))
        for i, item in enumerate(data if isinstance(data, list) else [data]):
            yield _document(
                f"{path}[{i}]", item, default_id=f"{path.stem}-{i}" if isinstance(data, list) else path.stem
            )
    else:
        yield _document(str(path), {"text": text, "published": when}, default_id=path.stem)


# Byte-order marks, longest first (the UTF-32 LE mark begins with the UTF-16 LE one).
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def _decode(raw: bytes, where: str) -> str:
    """Text from bytes: UTF-8, or UTF-16/32 when a byte-order mark or the NUL pattern says so."""
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            return _decode_as(raw[len(bom) :], encoding, where)
    if b"\x00" not in raw[:8192]:
        return _decode_as(raw, "utf-8", where)
    utf16 = _utf16_without_bom(raw[:8192])
    if utf16 is None:
        raise InputError(f"{where}: looks like a binary file (NUL bytes), not text")
    return _decode_as(raw, utf16, where)


def _decode_as(raw: bytes, encoding: str, where: str) -> str:
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{where}: not {encoding.upper()} (byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
            "re-encode it as UTF-8"
        ) from exc


def _utf16_without_bom(head: bytes) -> str | None:
    """UTF-16 text with no mark: mostly ASCII, so every other byte is NUL, on one side only."""
    even, odd = head[0::2], head[1::2]
    if len(head) >= 4 and odd.count(0) >= 0.9 * len(odd) and not even.count(0):
        return "utf-16-le"
    if len(head) >= 4 and even.count(0) >= 0.9 * len(even) and not odd.count(0):
        return "utf-16-be"
    return None


def _parse_json(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{where}: invalid JSON at line {exc.lineno}: {exc.msg}") from exc
    except RecursionError as exc:
        raise InputError(f"{where}: JSON nested too deeply to read") from exc


def _looks_like_jsonl(text: str) -> bool:
    """Standard input is JSON lines when its first line is a JSON object, else plain text."""
    first = text.lstrip().split("\n", 1)[0]
    if not first.startswith("{"):
        return False
    try:
        return isinstance(json.loads(first), dict)
    except (ValueError, RecursionError):
        return False


def _guard(documents: Iterator[Document], where: str, errors: list[InputError] | None) -> Iterator[Document]:
    """Collect a file's error into ``errors`` (when given) instead of stopping the whole directory."""
    try:
        yield from documents
    except InputError as exc:
        if errors is None:
            raise
        _collect(errors, exc, where)


def _collect(errors: list[InputError], exc: InputError, where: str) -> None:
    # The item's id when it had one, else where it was: it names the item's error record.
    exc.document_id = exc.document_id or where
    errors.append(exc)


def _json_lines(text: str, where: str, errors: list[InputError] | None = None) -> Iterator[Document]:
    # Split on \n only: U+2028 and friends may appear raw inside JSON strings.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            yield _document(f"{where}:{number}", _parse_json(line, f"{where}:{number}"))
        except InputError as exc:
            if errors is None:
                raise
            _collect(errors, exc, f"{where}:{number}")  # this line is reported; the next ones are read


def _document_id(where: str, raw: Any, default_id: str) -> str:
    # Numeric ids are common in exports (0 included); anything else would become a Python repr.
    if raw is None or raw == "":
        return default_id
    if isinstance(raw, str) or (isinstance(raw, int) and not isinstance(raw, bool)):
        return str(raw)
    raise InputError(f"{where}: id must be a string or an integer, not {type(raw).__name__} {raw!r}")


def _document(where: str, item: Any, default_id: str = "") -> Document:
    if not isinstance(item, dict):
        raise InputError(f"{where}: expected an object with at least a 'text' field")
    fields = {k: v for k, v in item.items() if k in ("id", "text", "title", "published") and v is not None}
    fields["id"] = _document_id(where, fields.get("id"), default_id)
    try:
        return Document(**fields)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise InputError(f"{where}: {problems}", document_id=fields.get("id") or None) from exc
