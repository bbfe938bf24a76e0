"""Parquet parts that make a run's output exactly-once, although Ray runs tasks at least once.

Ray re-runs a task whose worker died, and its own ``write_parquet`` then writes the same rows again
(measured: 400 rows for 200 documents). So the output is written here instead:

* **deterministic parts**: a part is named by a hash of the document ids it holds and its rows are
  sorted by id, so a task that runs twice on the same input writes the same file twice, and the
  second write replaces the first;
* **written whole**: each part goes to a hidden temporary file that is renamed into place, so a
  reader (pandas, DuckDB, Ray) sees a part whole or not at all; a worker killed mid-write leaves only
  a hidden temporary file, which ``sweep`` removes and every reader skips (names starting with ``.``);
* **resume**: ``finished_ids`` lists the documents that already have an ``ok`` row, to be skipped;
* **compact**: one row per document: ``ok`` preferred over ``error``, then the newest part. Only
  the parts that hold a superseded row are rewritten (each again whole).

Paths are local directories or any URI ``pyarrow.fs`` resolves (``s3://...``); only local
directories were tested.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from llm_extract.scale.rows import ROW_SCHEMA

__all__ = ["CompactReport", "compact", "finished_ids", "part_files", "sweep", "write_part"]

_PREFIX = "part-"
_SUFFIX = ".parquet"


def _filesystem(uri: str) -> tuple[pafs.FileSystem, str]:
    fs, path = pafs.FileSystem.from_uri(uri) if "://" in uri else (pafs.LocalFileSystem(), uri)
    return fs, path.rstrip("/")


def part_name(ids: Iterable[str]) -> str:
    """The file name of the part holding exactly ``ids`` (order does not matter)."""
    digest = hashlib.sha256("\n".join(sorted(ids)).encode("utf-8")).hexdigest()[:24]
    return f"{_PREFIX}{digest}{_SUFFIX}"


def write_part(table: pa.Table, out: str) -> str:
    """Write ``table`` (rows of ``ROW_SCHEMA``) as one whole part in ``out``; return its file name.

    Writing the same rows again replaces the part with an equal one: running a task twice adds nothing.
    """
    fs, root = _filesystem(out)
    fs.create_dir(root, recursive=True)
    ids = table.column("document_id").to_pylist()
    name = part_name(str(i) for i in ids)
    # Sorted by id: the same documents make the same part, whatever order a retry produced.
    _replace(fs, f"{root}/{name}", table.sort_by("document_id"))
    return name


def part_files(out: str) -> list[pafs.FileInfo]:
    """The parts in ``out`` (temporary files excluded), by name."""
    fs, root = _filesystem(out)
    info = fs.get_file_info(root)
    if info.type == pafs.FileType.NotFound:
        return []
    found = fs.get_file_info(pafs.FileSelector(root, recursive=False))
    parts = [f for f in found if f.base_name.startswith(_PREFIX) and f.base_name.endswith(_SUFFIX)]
    return sorted(parts, key=lambda f: f.base_name)


def sweep(out: str) -> int:
    """Remove temporary files left by writers that died mid-write; return how many."""
    fs, root = _filesystem(out)
    if fs.get_file_info(root).type == pafs.FileType.NotFound:
        return 0
    stale = [
        f.path
        for f in fs.get_file_info(pafs.FileSelector(root, recursive=False))
        if f.base_name.startswith(f".{_PREFIX}") and f.base_name.endswith(".tmp")
    ]
    for path in stale:
        fs.delete_file(path)
    return len(stale)


def _statuses(out: str) -> list[tuple[pafs.FileInfo, pa.Table]]:
    fs, _ = _filesystem(out)
    return [
        (part, pq.read_table(part.path, columns=["document_id", "status"], filesystem=fs))
        for part in part_files(out)
    ]


def finished_ids(out: str) -> set[str]:
    """The ids of documents that have an ``ok`` row in ``out`` (a resumed run skips them)."""
    done: set[str] = set()
    for _, table in _statuses(out):
        ok = table.filter(pc.equal(table.column("status"), "ok"))
        done.update(str(i) for i in ok.column("document_id").to_pylist())
    return done


@dataclass
class CompactReport:
    """What ``compact`` found and changed."""

    parts: int = 0
    rows: int = 0
    documents: int = 0
    dropped: int = 0
    rewritten: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


def compact(out: str) -> CompactReport:
    """Leave one row per document in ``out``: its ``ok`` row if any, else its newest error row.

    Newest means the part modified last (a resumed run's part), then the later part name. Parts that
    hold no superseded row are not touched; the others are rewritten whole, or removed when empty.
    """
    fs, _ = _filesystem(out)
    sweep(out)
    report = CompactReport()
    parts = _statuses(out)
    report.parts = len(parts)
    # Rank each row: ok beats error, then a newer part beats an older one, then a later row.
    best: dict[str, tuple[int, int, int, int]] = {}
    order = sorted(range(len(parts)), key=lambda i: (parts[i][0].mtime_ns or 0, parts[i][0].base_name))
    for age, index in enumerate(order):
        _, table = parts[index]
        ids = table.column("document_id").to_pylist()
        statuses = table.column("status").to_pylist()
        report.rows += len(ids)
        for row, (doc_id, status) in enumerate(zip(ids, statuses, strict=True)):
            rank = (status == "ok", age, row, index)
            if doc_id not in best or rank[:3] > best[doc_id][:3]:
                best[doc_id] = rank
    report.documents = len(best)
    keep: dict[int, set[int]] = {}
    for _, _, row, index in best.values():
        keep.setdefault(index, set()).add(row)
    for index, (part, table) in enumerate(parts):
        rows = keep.get(index, set())
        if len(rows) == table.num_rows:
            continue
        report.dropped += table.num_rows - len(rows)
        if not rows:
            fs.delete_file(part.path)
            report.removed.append(part.base_name)
            continue
        whole = pq.read_table(part.path, filesystem=fs)
        mask = pa.array([i in rows for i in range(whole.num_rows)])
        _replace(fs, part.path, whole.filter(mask))
        report.rewritten.append(part.base_name)
    return report


def _replace(fs: pafs.FileSystem, path: str, table: pa.Table) -> None:
    """Replace the part at ``path`` whole (same name: a reader sees the old part or the new one)."""
    directory, _, name = path.rpartition("/")
    temporary = f"{directory}/.{name}.{uuid.uuid4().hex}.tmp"
    with fs.open_output_stream(temporary) as sink:
        pq.write_table(table.cast(ROW_SCHEMA), sink)
    fs.move(temporary, path)  # a rename on a local disk: the part appears whole
