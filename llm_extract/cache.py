"""A persistent cache of finished documents: SQLite in WAL mode, one row per (document, run settings).

The key hashes everything that can change an extraction: the document's text, title and publication
date, and the extractor's fingerprint (``Extractor.fingerprint``: every output-affecting setting,
the prompt's content hash, the model, strategy and grounding, the output schema version and the
llm-extract version, since the rules and grounding are code). Change any of them and the document
is extracted again; change none and a rerun makes no model call.

Each result is committed as soon as its document finishes, so a batch killed with SIGKILL loses at
most the documents in flight. WAL with ``synchronous=NORMAL`` survives a killed process (not
necessarily a power cut, which costs at most the last commits).

The cache is an optimisation, never a reason to stop: when it cannot be opened, read or written (a
full disk, a corrupted page, a read-only directory), it turns itself off for the rest of the run with
one ``CacheWarning``; every lookup is then a miss and every store a no-op, so the batch goes on and
its results still reach the caller.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from llm_extract.schema import Document

if TYPE_CHECKING:  # annotation only: the extractor is handed in, never built here
    from llm_extract.extract import Extractor

__all__ = ["CacheWarning", "ResultCache", "cache_key", "default_cache_dir", "extractor_key", "open_cache"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    key TEXT PRIMARY KEY,
    document_id TEXT NOT NULL,
    created REAL NOT NULL,
    record TEXT NOT NULL
)
"""


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/llm-extract``, else ``~/.cache/llm-extract``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "llm-extract"


def cache_key(document: Document, fingerprint: str) -> str:
    """A stable hash of a document's text, title and date and of the extractor that reads it."""
    parts = {
        "text": hashlib.sha256(document.text.encode("utf-8")).hexdigest(),
        "title": document.title,
        "published": str(document.published) if document.published else None,
        "extractor": fingerprint,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode("utf-8")).hexdigest()


def extractor_key(document: Document, extractor: Extractor) -> str:
    """``cache_key`` for what ``extractor`` would do with ``document`` (``Extractor.fingerprint``)."""
    return cache_key(document, extractor.fingerprint())


def open_cache(cache: ResultCache | str | Path | bool, directory: Path | None) -> ResultCache | None:
    """A cache from the usual argument: False (none), True (``directory`` or the default), a path, or one."""
    if cache is False:
        return None
    if isinstance(cache, ResultCache):
        return cache
    return ResultCache(directory if cache is True else cache)


class CacheWarning(UserWarning):
    """The result cache failed (full disk, corruption, no permission) and is off for the rest of the run."""


# What a storage fault looks like from here: SQLite's own errors and the operating system's.
_FAULTS = (sqlite3.Error, OSError)
T = TypeVar("T")


class ResultCache:
    """Finished documents on disk; ``get``/``put`` JSON records by key.

    A storage fault never escapes: the cache turns itself off (``enabled`` becomes False) with one
    ``CacheWarning``, after which ``get`` misses, ``put`` and ``clear`` do nothing and ``len`` is 0.
    """

    def __init__(self, directory: str | Path | None = None) -> None:
        self.directory = Path(directory) if directory is not None else default_cache_dir()
        self.path = self.directory / "results.sqlite3"
        self._db: sqlite3.Connection | None = None
        self._guard(self._open, None)

    def _open(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        # One connection, used from one thread (the batch's event loop); autocommit per statement.
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(_SCHEMA)

    @property
    def enabled(self) -> bool:
        """False once a storage fault has turned the cache off."""
        return self._db is not None

    def _guard(self, operation: Callable[[], T], fallback: T) -> T:
        """Run ``operation``; on a storage fault, turn the cache off and return ``fallback``."""
        try:
            return operation()
        except _FAULTS as exc:
            self._disable(exc)
            return fallback

    def _disable(self, exc: BaseException) -> None:
        db, self._db = self._db, None
        if db is not None:
            try:
                db.close()
            except _FAULTS:
                pass  # already failing: the warning below is what matters
        warnings.warn(
            f"the result cache at {self.path} is off for the rest of this run ({exc}); results are "
            "still returned and written, but none is cached. If the file is damaged, delete it to "
            "start a new cache.",
            CacheWarning,
            stacklevel=4,
        )

    def get(self, key: str) -> dict[str, Any] | None:
        """The record stored under ``key``, or None (also when the cache is off)."""
        db = self._db
        if db is None:
            return None
        row = self._guard(
            lambda: db.execute("SELECT record FROM results WHERE key = ?", (key,)).fetchone(), None
        )
        if row is None:
            return None
        try:
            record = json.loads(row[0])
        except (ValueError, TypeError, RecursionError):
            return None  # a damaged row is a miss, not a crash; it is overwritten on success
        return record if isinstance(record, dict) else None

    def put(self, key: str, document_id: str, record: dict[str, Any]) -> None:
        """Store ``record`` under ``key`` (replacing any older one), committed at once."""
        db = self._db
        if db is None:
            return
        row = (key, document_id, time.time(), json.dumps(record, ensure_ascii=False))
        sql = "INSERT OR REPLACE INTO results (key, document_id, created, record) VALUES (?, ?, ?, ?)"
        self._guard(lambda: db.execute(sql, row), None)

    def __len__(self) -> int:
        db = self._db
        if db is None:
            return 0
        return self._guard(lambda: int(db.execute("SELECT COUNT(*) FROM results").fetchone()[0]), 0)

    def clear(self) -> None:
        """Remove every record."""
        db = self._db
        if db is not None:
            self._guard(lambda: db.execute("DELETE FROM results"), None)

    def close(self) -> None:
        """Close the database (a no-op once the cache is off)."""
        db, self._db = self._db, None
        if db is not None:
            try:
                db.close()
            except _FAULTS:
                pass  # nothing is pending: every put committed on its own

    def __enter__(self) -> ResultCache:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
