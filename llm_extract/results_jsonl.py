"""Read a results JSONL (``llm-extract extract --format jsonl``) for analysis, never failing on a line.

Analysis must not stop at the first bad line of a 10,000-document run. Every line becomes a
``BatchResult``:

* a result line as written (``ok`` or ``error``);
* a bare extraction (``llm-extract extract --format json`` output, one per line): an ``ok`` result
  without its document;
* anything else (a torn last line, a line of another tool, invalid JSON): an ``error`` result of type
  ``UnreadableLine`` whose message says what is wrong, under the line's ``document_id`` if it has
  one (a torn line keeps the id it starts with), else ``line-N``.

One line counts per document id, as ``--resume`` counts them: its last ``ok`` line, else its last line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from llm_extract.schema import BatchResult, ErrorRecord, Extraction

__all__ = ["ResultLine", "parse_result_lines", "read_results_jsonl"]

UNREADABLE = "UnreadableLine"
_ID_AT_START = re.compile(r'\s*\{\s*"document_id"\s*:\s*"((?:[^"\\]|\\.)+)"')


@dataclass(frozen=True)
class ResultLine:
    """One kept line of a results file: its 1-based line number and the result it holds."""

    line: int
    result: BatchResult


def read_results_jsonl(path: str | Path) -> list[ResultLine]:
    """The results of a JSONL file, one per document id, in the order of their kept lines."""
    with Path(path).open("rb") as handle:
        return parse_result_lines(handle)


def parse_result_lines(lines: Iterable[bytes | str]) -> list[ResultLine]:
    """The results of JSON lines (bytes or text), one per document id (see the module docstring)."""
    kept: dict[str, ResultLine] = {}
    for number, raw in enumerate(lines, start=1):
        text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
        if not text.strip():
            continue
        result = _parse_line(text, number)
        previous = kept.get(result.document_id)
        if previous is None or result.status == "ok" or previous.result.status != "ok":
            kept.pop(result.document_id, None)  # re-insert: the kept line's position decides order
            kept[result.document_id] = ResultLine(number, result)
    return sorted(kept.values(), key=lambda r: r.line)


def _parse_line(text: str, number: int) -> BatchResult:
    """One line as a result: as written, a bare extraction, or an ``UnreadableLine`` error."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        found = _ID_AT_START.match(text)  # a torn line still starts with its document id
        document_id = found.group(1) if found else f"line-{number}"
        return _unreadable(document_id, f"line {number} is not JSON: {exc}")
    if not isinstance(data, dict):
        return _unreadable(f"line-{number}", f"line {number} is not a JSON object")
    try:
        if "status" in data:
            return BatchResult.model_validate(data)
        extraction = Extraction.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(map(str, first["loc"])) or "line"
        return _unreadable(
            _document_id(data, number), f"line {number} is not a result: {where}: {first['msg']}"
        )
    return BatchResult(document_id=extraction.document_id, status="ok", extraction=extraction)


def _document_id(data: dict[str, Any], number: int) -> str:
    value = data.get("document_id")
    return value if isinstance(value, str) and value else f"line-{number}"


def _unreadable(document_id: str, message: str) -> BatchResult:
    error = ErrorRecord(type=UNREADABLE, message=message, retryable=False)
    return BatchResult(document_id=document_id, status="error", error=error)
