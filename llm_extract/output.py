"""Batch results into a file: one writer at a time, whole records only, nothing deleted unannounced.

Guarantees, for both formats:

* one run at a time per output file: an exclusive ``flock`` on ``<out>.lock`` (a sidecar that is
  never replaced or removed, since resuming replaces the output itself) is taken before the file is
  opened and held until it is closed; a second run gets an ``OutputError`` naming the file;
* an output that cannot be written (no permission, a read-only directory) is refused before any
  document runs;
* a write that fails (a full disk) raises ``OutputError`` and leaves only whole records behind:
  the finished documents stay in the file, and those in flight in the cache, so running again
  (``--resume`` for JSONL) finishes without paying for them twice.

``jsonl``: one ``BatchResult`` line per document, appended as each finishes (see ``JsonlWriter``).
``json``: the extractions as one JSON array in input order, the file replaced whole and atomically
as results arrive, so it is valid JSON at every moment (see ``JsonWriter``).
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import sys
import textwrap
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Literal

from llm_extract.batch import BatchResult, BatchSummary, extract_batch
from llm_extract.errors import ConfigError, InputError, OutputError
from llm_extract.extract import _as_document
from llm_extract.resume import ResumeReport, read_results
from llm_extract.schema import Document, Extraction

if sys.platform != "win32":  # flock is POSIX; on Windows outputs are not locked
    import fcntl

__all__ = ["JsonWriter", "JsonlWriter", "OutputLock", "render_json", "run_batch"]

_RESUME_HINT = (
    "make room, then run the same command again with --resume (resume=True): documents that "
    "finished come from the cache, without a model call"
)


class OutputLock:
    """An exclusive lock on an output file, through the sidecar file ``<name>.lock`` next to it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock_path = path.with_name(path.name + ".lock")
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock, or raise ``OutputError`` at once if another run holds it.

        A special file (``/dev/null``, a terminal, a pipe) is not locked: nothing in it can be lost
        or duplicated, and its directory is no place for a lock file. Nor is anything on Windows.
        """
        if sys.platform == "win32" or _is_special(self.path):
            return
        try:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise _unwritable(self.path, exc) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            holder = _holder(fd)
            os.close(fd)
            raise OutputError(
                f"{self.path} is being written by another llm-extract run{holder}: wait for it to "
                f"finish, or choose another --out (lock: {self.lock_path})"
            ) from exc
        except OSError as exc:
            os.close(fd)
            raise _unwritable(self.path, exc) from exc
        self._fd = fd
        with contextlib.suppress(OSError):  # the pid only names the holder in a message
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)

    def release(self) -> None:
        """Release the lock (closing the descriptor releases the flock)."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)


def _is_special(path: Path) -> bool:
    """Whether ``path`` exists and is not a regular file: written in place, never replaced."""
    return path.exists() and not path.is_file()


def _holder(fd: int) -> str:
    with contextlib.suppress(OSError, ValueError):
        return f" (pid {int(os.pread(fd, 32, 0).decode().strip())})"
    return ""


def _unwritable(path: Path, exc: OSError) -> OutputError:
    return OutputError(f"cannot write {path}: {exc.strerror or exc}")


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:  # os.write may write less than asked; finish the record before anything else
        view = view[os.write(fd, view) :]


def _replace(path: Path, chunks: Iterable[bytes]) -> None:
    """Replace ``path`` with ``chunks`` atomically: readers see the old file or the new one, whole."""
    partial = path.with_name(path.name + ".partial")
    try:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            for chunk in chunks:
                _write_all(fd, chunk)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(partial, path)
    except OSError:
        with contextlib.suppress(OSError):
            partial.unlink()
        raise


class JsonlWriter:
    """Appends one ``BatchResult`` per line, each line in one write; holds the output's lock.

    Without ``resume``, an existing non-empty file is refused (``InputError``) unless ``overwrite``.
    With ``resume``, the file must be ours (see ``llm_extract.resume``; else ``OutputError``, and the
    file is untouched); it is rewritten to its kept lines when anything is dropped, ``report`` says
    what and why, and ``done`` maps each finished document id to the key of its line (pass it to
    ``extract_batch(skip=...)``).

    A document whose key changed runs again and its new line is appended; ``close`` then removes the
    superseded line, so a finished run holds exactly one line per document id. After a crash mid-run
    the file holds only whole lines (at most one torn last line after SIGKILL), and a re-run
    document may still have its superseded line before its new one: the last line of an id is the
    current one, and the next ``--resume`` removes the rest.

    A failed write (a full disk) cuts the file back to its last whole line and raises
    ``OutputError`` saying how to resume.
    """

    def __init__(self, path: str | Path, *, resume: bool = False, overwrite: bool = False) -> None:
        self.path = Path(path)
        self.done: dict[str, str | None] = {}
        self.report: ResumeReport | None = None
        self.lines = 0
        self._rerun: set[str] = set()
        self._special = _is_special(self.path)
        self._lock = OutputLock(self.path)
        self._lock.acquire()
        try:
            self._fd = self._open(resume=resume, overwrite=overwrite)
            self._size = os.fstat(self._fd).st_size
        except BaseException:
            self._lock.release()
            raise

    def _open(self, *, resume: bool, overwrite: bool) -> int:
        exists = self.path.exists()
        if exists and self.path.stat().st_size and not (resume or overwrite):
            raise InputError(f"{self.path} exists: pass --resume to continue it or --overwrite to replace it")
        truncate = 0
        if resume and self._special:
            raise OutputError(f"cannot resume {self.path}: not a regular file")
        if resume and exists:
            self._resume()
        elif exists and not self._special:
            truncate = os.O_TRUNC
        try:
            return os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | truncate, 0o644)
        except OSError as exc:
            raise _unwritable(self.path, exc) from exc

    def _resume(self) -> None:
        try:
            found = read_results(self.path)
            if found.changed:
                _replace(self.path, found.lines)
        except OSError as exc:
            raise OutputError(
                f"cannot resume {self.path}: {exc.strerror or exc}; nothing was changed"
            ) from exc
        self.done, self.report, self.lines = found.done, found.report, len(found.lines)

    def write(self, result: BatchResult) -> None:
        """Append one result as a whole line; on failure cut back to the last whole line and raise."""
        data = (result.model_dump_json() + "\n").encode("utf-8")
        try:
            _write_all(self._fd, data)
        except OSError as exc:
            with contextlib.suppress(OSError):  # a line cut short must not stay behind
                os.ftruncate(self._fd, self._size)
            raise OutputError(
                f"cannot write {self.path}: {exc.strerror or exc}. It holds the {self.lines} result "
                f"line(s) written so far, each whole; {_RESUME_HINT}"
            ) from exc
        self._size += len(data)
        self.lines += 1
        if result.document_id in self.done:
            self._rerun.add(result.document_id)

    def close(self, *, finished: bool = True) -> None:
        """Flush to disk, drop lines superseded in this run (when ``finished``), release the lock."""
        try:
            try:
                if not self._special:  # a terminal or a pipe cannot be synced
                    os.fsync(self._fd)
            finally:
                os.close(self._fd)
            if finished and self._rerun:
                self._drop_superseded()
        except OSError as exc:
            raise OutputError(f"cannot finish {self.path}: {exc.strerror or exc}; {_RESUME_HINT}") from exc
        finally:
            self._lock.release()

    def _drop_superseded(self) -> None:
        latest: dict[str, bytes] = {}
        for line in self.path.read_bytes().splitlines(keepends=True):
            latest.pop(_document_id(line), None)  # re-inserted last: the file order of latest lines
            latest[_document_id(line)] = line
        _replace(self.path, latest.values())
        if self.report is not None:
            self.report.stale = len(self._rerun)

    def __enter__(self) -> JsonlWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        self.close(finished=exc_type is None)


def _document_id(line: bytes) -> str:
    try:
        return str(json.loads(line)["document_id"])
    except (ValueError, KeyError, TypeError):
        return f"\0{line!r}"  # cannot happen for lines this module wrote; kept as they are


def render_json(extractions: list[Extraction], *, single: bool = False) -> str:
    """The ``--format json`` text: an array (one object when ``single`` and one extraction)."""
    if single and len(extractions) == 1:
        return _render(extractions[0]) + "\n"
    return _array([_render(e) for e in extractions])


def _render(extraction: Extraction) -> str:
    return json.dumps(extraction.model_dump(mode="json"), indent=2, ensure_ascii=False)


def _array(rendered: list[str]) -> str:
    # The same text as json.dumps(list, indent=2), from items rendered once each.
    if not rendered:
        return "[]\n"
    return "[\n" + ",\n".join(textwrap.indent(item, "  ") for item in rendered) + "\n]\n"


class JsonWriter:
    """The extractions of a batch as one JSON document in input order; holds the output's lock.

    The file is replaced whole and atomically: with ``[]`` when opened (so an unwritable output is
    refused before any document runs), then as extractions arrive, at most every ``every`` seconds
    and never more than a tenth of the time, and once more on ``close``, also when the batch fails or
    is interrupted. So the file is valid JSON at every moment; after ``close`` it holds every
    extraction added, and after SIGKILL every extraction added up to the last replacement. A special
    file (``/dev/stdout``, a pipe) cannot be replaced: it is written once, on ``close``.
    """

    def __init__(self, path: str | Path, *, every: float = 1.0) -> None:
        self.path = Path(path)
        self.single = False
        self.every = every
        self._items: dict[int, str] = {}
        self._written = -1
        self._next = 0.0
        self._special = _is_special(self.path)
        self._lock = OutputLock(self.path)
        self._lock.acquire()
        try:
            if not self._special:
                self.flush()
        except BaseException:
            self._lock.release()
            raise

    def add(self, extraction: Extraction, position: int) -> None:
        """Add the extraction of the document at ``position`` in the input; flush when due."""
        self._items[position] = _render(extraction)
        if time.monotonic() >= self._next and not self._special:
            self.flush()

    def flush(self) -> None:
        """Replace the file with every extraction added so far."""
        rendered = [self._items[p] for p in sorted(self._items)]
        text = rendered[0] + "\n" if self.single and len(rendered) == 1 else _array(rendered)
        started = time.monotonic()
        try:
            self._write(text.encode("utf-8"))
        except OSError as exc:
            if self._written < 0:
                raise _unwritable(self.path, exc) from exc
            raise OutputError(
                f"cannot write {self.path}: {exc.strerror or exc}. It holds the {self._written} "
                "extraction(s) written before, as valid JSON; "
                "make room, then run the same command again: documents that finished come from the "
                "cache, without a model call"
            ) from exc
        self._written = len(rendered)
        done = time.monotonic()
        self._next = done + max(self.every, 10 * (done - started))

    def _write(self, data: bytes) -> None:
        if not self._special:
            _replace(self.path, [data])
            return
        fd = os.open(self.path, os.O_WRONLY)
        try:
            _write_all(fd, data)
        finally:
            os.close(fd)

    def close(self) -> None:
        """Write every extraction added, then release the lock."""
        try:
            self.flush()
        finally:
            self._lock.release()

    def __enter__(self) -> JsonWriter:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class _Positions:
    """Numbers the documents of a batch as it reads them, for output in input order."""

    def __init__(self) -> None:
        self.count = 0
        self.of: dict[str, int] = {}

    def number(self, documents: Iterable[Any]) -> Iterator[Any]:
        for item in documents:
            if not isinstance(item, Document | str):  # an unreadable item: its error has no place
                yield item
                continue
            try:
                doc = _as_document(item)
            except Exception:  # noqa: BLE001 (the batch reports it as this document's error)
                yield item
            else:
                self.of.setdefault(doc.id, self.count)
                yield doc
            finally:
                self.count += 1


def run_batch(
    documents: Iterable[Any],
    out: str | Path,
    *,
    format: Literal["jsonl", "json"] = "jsonl",
    resume: bool = False,
    overwrite: bool = False,
    on_result: Callable[[BatchResult, BatchSummary], None] | None = None,
    on_resume: Callable[[ResumeReport], None] | None = None,
    **options: Any,
) -> BatchSummary:
    """Extract ``documents`` into the file ``out``; return the totals of this run.

    ``format``: ``jsonl`` (a result line per document, errors included; resumable) or ``json`` (the
    extractions, see ``JsonWriter``). ``on_resume`` gets the report of what resuming kept and
    dropped before any document runs; ``summary.resumed`` holds it at the end, stale lines counted.
    ``options`` go to ``extract_batch``.
    """
    if format == "json" and resume:
        raise ConfigError("resume needs the jsonl format: a JSON output is rewritten whole")
    summary = BatchSummary()
    started = time.perf_counter()

    def count(result: BatchResult) -> None:
        summary.add(result)
        if on_result is not None:
            on_result(result, summary)

    if format == "json":
        _into_json(documents, Path(out), count, options)
    else:
        summary.resumed = _into_jsonl(
            documents, Path(out), count, options, resume=resume, overwrite=overwrite, on_resume=on_resume
        )
    summary.wall_time_s = round(time.perf_counter() - started, 3)
    return summary


def _into_jsonl(
    documents: Iterable[Any],
    out: Path,
    count: Callable[[BatchResult], None],
    options: dict[str, Any],
    *,
    resume: bool,
    overwrite: bool,
    on_resume: Callable[[ResumeReport], None] | None,
) -> ResumeReport | None:
    gate = _Gate()
    with JsonlWriter(out, resume=resume, overwrite=overwrite) as writer:
        if writer.report is not None and on_resume is not None:
            on_resume(writer.report)
        results = extract_batch(gate.admit(documents), skip=writer.done, **options)
        _write_each(results, gate, writer.write, count)
    return writer.report


def _into_json(
    documents: Iterable[Any], out: Path, count: Callable[[BatchResult], None], options: dict[str, Any]
) -> None:
    positions = _Positions()
    gate = _Gate()

    def write(result: BatchResult) -> None:
        if result.extraction is not None:
            writer.add(result.extraction, positions.of.get(result.document_id, positions.count))

    with JsonWriter(out) as writer:
        results = extract_batch(gate.admit(positions.number(documents)), **options)
        _write_each(results, gate, write, count)
        writer.single = positions.count == 1


class _Gate:
    """Lets documents into a batch until closed, then ends its input: no new document starts."""

    def __init__(self) -> None:
        self.open = True

    def admit(self, documents: Iterable[Any]) -> Iterator[Any]:
        for item in documents:
            if not self.open:
                return
            yield item

    def close(self) -> None:
        self.open = False


def _write_each(
    results: Iterator[BatchResult],
    gate: _Gate,
    write: Callable[[BatchResult], None],
    count: Callable[[BatchResult], None],
) -> None:
    """Write and count each result as it comes; a failed write is raised after the drain.

    No new document starts after a failed write, but the ones in flight finish, so that they reach
    the cache: the run after the fix gets them without a model call.
    """
    for result in results:
        try:
            write(result)
        except OutputError:
            gate.close()
            with contextlib.suppress(Exception):  # the write failure is the one to report
                collections.deque(results, maxlen=0)
            raise
        count(result)
