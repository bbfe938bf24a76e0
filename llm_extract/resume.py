"""What ``--resume`` finds in an existing results file: what it keeps, drops and refuses to touch.

A results file is ours when every line is a ``BatchResult`` of this schema version; the one exception
is a torn last line (the start of a result, cut short by a killed process). Anything else (notes,
an input file, lines of another schema version) is refused: the file is left exactly as it was.

Of our lines, one per document id counts: its last ``ok`` line, which is kept, else its last line,
an error line, which is dropped so that the document runs again. The other lines of the id are
superseded and dropped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from llm_extract.errors import OutputError
from llm_extract.schema import SCHEMA_VERSION, BatchResult

__all__ = ["Resumable", "ResumeReport", "read_results"]

# How every result line starts (``BatchResult``'s first field): a torn line starts like this too.
_LINE_START = b'{"document_id":'


class ResumeReport(BaseModel):
    """What resuming a results file kept and dropped, and why (counts of lines)."""

    path: Path
    kept: int = 0
    """Finished (``ok``) lines kept: their documents are skipped while their key is the same."""
    torn: int = 0
    """A torn last line, left by a killed run: dropped (its document runs again, from the cache)."""
    retried: int = 0
    """Error lines dropped so that their documents run again."""
    superseded: int = 0
    """Earlier lines of a document id that has a later line: dropped."""
    stale: int = 0
    """Kept lines whose document ran again because its key changed (edited text, another model,
    prompt or setting, another llm-extract version): replaced by the new line at the end of the run."""

    def describe(self) -> str:
        """One line for the user: what the resume kept and dropped."""
        dropped = [
            f"{n} {what}"
            for n, what in (
                (self.torn, "torn last line"),
                (self.retried, "error line(s) to run again"),
                (self.superseded, "superseded line(s) of a repeated id"),
            )
            if n
        ]
        return f"resuming {self.path}: {self.kept} finished line(s) kept; dropped " + (
            ", ".join(dropped) if dropped else "nothing"
        )

    def describe_stale(self) -> str:
        """One line for the user: the kept lines that were run again and replaced."""
        return (
            f"{self.stale} stale line(s) in {self.path} ran again (their text, model, prompt, settings "
            "or llm-extract version changed) and were replaced"
        )


@dataclass
class Resumable:
    """The lines a resume keeps, the documents they finish, and the report."""

    lines: list[bytes]
    """The kept lines, each ending with a newline, in file order."""
    done: dict[str, str | None]
    """Document id to the key its kept line was made with (None: no key recorded, so it runs again)."""
    report: ResumeReport
    changed: bool = field(default=False)
    """Whether the kept lines differ from the file (then it must be rewritten before appending)."""


def read_results(path: Path) -> Resumable:
    """Read the results file ``path`` for a resume; ``OutputError`` if it is not ours to rewrite."""
    data = path.read_bytes()
    raw = data.split(b"\n")
    tail = raw.pop()  # after the last newline: b"" for a file that ends with one
    numbered = [(number, line) for number, line in enumerate(raw, start=1) if line.strip()]
    report = ResumeReport(path=path)
    changed = len(numbered) != len(raw)  # blank lines go
    results = [(_parse(path, number, line), line) for number, line in numbered]
    if tail.strip():
        changed = True  # either torn, or whole but without its newline: rewritten either way
        result = _parse_last(path, len(raw) + 1, tail)
        if result is None:
            report.torn = 1
        else:
            results.append((result, tail))
    chosen = _one_per_id(results)
    report.superseded = len(results) - len(chosen)
    kept: list[bytes] = []
    done: dict[str, str | None] = {}
    for index, (result, line) in enumerate(results):
        if chosen[result.document_id] != index:
            continue
        if result.status == "ok":
            kept.append(line + b"\n")
            done[result.document_id] = result.key
        else:
            report.retried += 1
    report.kept = len(kept)
    changed = changed or bool(report.superseded or report.retried)
    return Resumable(lines=kept, done=done, report=report, changed=changed)


def _one_per_id(results: list[tuple[BatchResult, bytes]]) -> dict[str, int]:
    """The index of the line that counts for each id: its last ok line, else its last line."""
    chosen: dict[str, int] = {}
    for index, (result, _) in enumerate(results):
        previous = chosen.get(result.document_id)
        if previous is None or result.status == "ok" or results[previous][0].status != "ok":
            chosen[result.document_id] = index
    return chosen


def _parse_last(path: Path, number: int, line: bytes) -> BatchResult | None:
    """The last line without a newline: a result, or None when it is the start of one (torn)."""
    try:
        return _parse(path, number, line)
    except OutputError:
        if line.startswith(_LINE_START):
            return None
        raise


def _parse(path: Path, number: int, line: bytes) -> BatchResult:
    try:
        data = json.loads(line)
    except (ValueError, RecursionError) as exc:
        raise _foreign(path, number, "not JSON") from exc
    if not (isinstance(data, dict) and "document_id" in data and "status" in data):
        raise _foreign(path, number, "not a result record")
    version = _schema_version(data)
    if version is not None and version != SCHEMA_VERSION:
        raise OutputError(
            f"{path}, line {number}: a result of schema version {version}, and this llm-extract writes "
            f"version {SCHEMA_VERSION}: nothing was changed. Keep the file and use a new --out, or "
            "replace it with --overwrite"
        )
    try:
        return BatchResult.model_validate_json(line)
    except ValidationError as exc:
        raise _foreign(path, number, "not a valid result") from exc


def _schema_version(data: dict[str, Any]) -> str | None:
    extraction = data.get("extraction")
    version = extraction.get("schema_version") if isinstance(extraction, dict) else None
    return None if version is None else str(version)


def _foreign(path: Path, number: int, why: str) -> OutputError:
    return OutputError(
        f"{path} is not an llm-extract results file (line {number}: {why}): refusing to resume into "
        "it, nothing was changed. Choose another --out, or replace the file with --overwrite"
    )
