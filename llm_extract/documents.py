"""Read documents from files: .txt/.md (one article), .json (an object or a list), .jsonl (one per line)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from llm_extract.errors import InputError
from llm_extract.schema import Document

__all__ = ["TEXT_SUFFIXES", "load_documents"]

TEXT_SUFFIXES = (".txt", ".md")
_JSON_SUFFIXES = (".json", ".jsonl")


def load_documents(source: str | Path, *, published: date | str | None = None) -> Iterator[Document]:
    """Documents from a file, a directory of files, or ``-`` (standard input, text or JSONL).

    ``published`` applies to plain-text documents, which carry no date of their own.
    A file that cannot be read raises ``InputError`` naming it.
    """
    when = date.fromisoformat(published) if isinstance(published, str) else published
    if str(source) == "-":
        raw = sys.stdin.buffer.read()
        text = _decode(raw, "<stdin>")
        if text.lstrip().startswith("{"):
            yield from _json_lines(text, "<stdin>")
        else:
            yield _document("<stdin>", {"text": text, "published": when})
        return
    path = Path(source)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in TEXT_SUFFIXES + _JSON_SUFFIXES)
        if not files:
            raise InputError(f"{path}: no .txt, .md, .json or .jsonl files in this directory")
        for file in files:
            yield from load_documents(file, published=when)
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
        yield from _json_lines(text, str(path))
    elif suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}: invalid JSON at line {exc.lineno}: {exc.msg}") from exc
        for i, item in enumerate(data if isinstance(data, list) else [data]):
            yield _document(
                f"{path}[{i}]", item, default_id=f"{path.stem}-{i}" if isinstance(data, list) else path.stem
            )
    else:
        yield _document(str(path), {"text": text, "published": when}, default_id=path.stem)


def _decode(raw: bytes, where: str) -> str:
    if b"\x00" in raw[:8192]:
        raise InputError(f"{where}: looks like a binary file (NUL bytes), not text")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{where}: not UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start}); re-encode it as UTF-8"
        ) from exc


def _json_lines(text: str, where: str) -> Iterator[Document]:
    # Split on \n only: U+2028 and friends may appear raw inside JSON strings.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{where}:{number}: invalid JSON: {exc.msg}") from exc
        yield _document(f"{where}:{number}", item)


def _document(where: str, item: Any, default_id: str = "") -> Document:
    if not isinstance(item, dict):
        raise InputError(f"{where}: expected an object with at least a 'text' field")
    fields = {k: v for k, v in item.items() if k in ("id", "text", "title", "published") and v is not None}
    fields["id"] = str(fields.get("id") or default_id)  # numeric ids are common in exports
    try:
        return Document(**fields)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise InputError(f"{where}: {problems}", document_id=fields.get("id") or None) from exc
