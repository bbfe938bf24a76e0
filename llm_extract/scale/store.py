"""The state of a Batch API run, in one SQLite file: documents, requests, answers and the manifest.

* ``documents``: the input, read once by ``prepare``, so later rounds need no input file;
* ``requests``: every request a round asked for, by ``custom_id``, with its body and state:
  ``queued`` (to be written into a shard), ``sharded`` (in a shard file not yet submitted),
  ``submitted``, ``failed`` (its last try failed; see ``failures``) and ``answered``;
* ``answers``: the response body of each answered request, the first one that came back;
* ``failures``: the last failure of each request that has no answer, and whether to try again;
* ``shards``: the manifest, shard file -> input file id -> batch id -> status, written before
  anything is polled, so that no batch (and no spend) is ever lost track of.

Every change is committed at once (WAL, as the result cache): a command killed midway leaves the
store as of its last step, and running the command again carries on.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llm_extract.errors import InputError
from llm_extract.schema import Document

__all__ = ["BatchStore", "Failure", "Shard"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    position INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    document TEXT,          -- a Document as JSON; NULL for an item that could not be read
    unreadable TEXT         -- why it could not be read
);
CREATE TABLE IF NOT EXISTS requests (
    custom_id TEXT PRIMARY KEY,
    document_id TEXT NOT NULL,
    body TEXT NOT NULL,
    state TEXT NOT NULL,
    shard TEXT,
    tries INTEGER NOT NULL DEFAULT 0,
    round INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS requests_state ON requests (state);
CREATE INDEX IF NOT EXISTS requests_shard ON requests (shard);
CREATE TABLE IF NOT EXISTS answers (custom_id TEXT PRIMARY KEY, body TEXT NOT NULL, batch_id TEXT);
CREATE TABLE IF NOT EXISTS failures (
    custom_id TEXT PRIMARY KEY,
    what TEXT NOT NULL,
    message TEXT NOT NULL,
    retryable INTEGER NOT NULL,
    batch_id TEXT
);
CREATE TABLE IF NOT EXISTS shards (
    name TEXT PRIMARY KEY,
    round INTEGER NOT NULL,
    lines INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    input_file_id TEXT,
    batch_id TEXT,
    status TEXT NOT NULL,
    output_file_id TEXT,
    error_file_id TEXT,
    counts TEXT,
    collected INTEGER NOT NULL DEFAULT 0,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

# Batch statuses after which nothing more will come back.
TERMINAL = ("completed", "failed", "expired", "cancelled")


@dataclass(frozen=True)
class Failure:
    """Why a request has no answer, how often it was sent, and whether to send it again."""

    what: str
    message: str
    retryable: bool
    tries: int


@dataclass(frozen=True)
class Shard:
    """One manifest row: a request file and what became of it."""

    name: str
    round: int
    lines: int
    bytes: int
    input_file_id: str | None
    batch_id: str | None
    status: str
    output_file_id: str | None
    error_file_id: str | None
    counts: dict[str, int] | None
    collected: bool

    @property
    def ended(self) -> bool:
        """Whether its batch reached a final status (nothing more will come back)."""
        return self.status in TERMINAL


class BatchStore:
    """The SQLite store of one Batch API run directory."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._depth = 0

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def __enter__(self) -> BatchStore:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group changes into one commit (nested uses join the outer one)."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self._db.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        else:
            self._db.execute("COMMIT")
        finally:
            self._depth = 0

    @contextmanager
    def grouped(self, every: int = 500) -> Iterator[Callable[[], None]]:
        """One commit per ``every`` calls of the yielded ``tick``, and one at the end, whatever happens.

        For a round, which records requests as it goes: a commit per request would dominate it, and
        what is recorded stays valid when the round stops early (a rerun records it again anyway).
        """
        self._db.execute("BEGIN IMMEDIATE")
        self._depth = 1
        count = 0

        def tick() -> None:
            nonlocal count
            count += 1
            if count % every == 0:
                self._db.execute("COMMIT")
                self._db.execute("BEGIN IMMEDIATE")

        try:
            yield tick
        finally:
            self._db.execute("COMMIT")
            self._depth = 0

    # -- documents --

    def add_documents(self, items: Iterable[Document | InputError]) -> tuple[int, list[str]]:
        """Store the input in order; return how many were added and the ids seen before (skipped)."""
        added, repeated = 0, []
        position = self._scalar("SELECT COALESCE(MAX(position), -1) FROM documents") + 1
        with self.transaction():
            for item in items:
                row: tuple[int, str, str | None, str | None]
                if isinstance(item, InputError):
                    doc_id = item.document_id or f"unreadable-{position}"
                    row = (position, doc_id, None, item.message)
                else:
                    row = (position, item.id, item.model_dump_json(), None)
                try:
                    self._db.execute("INSERT INTO documents VALUES (?, ?, ?, ?)", row)
                except sqlite3.IntegrityError:
                    repeated.append(row[1])
                    continue
                added += 1
                position += 1
        return added, repeated

    def documents(self) -> Iterator[Document | InputError]:
        """The stored input in order: documents, and the items that could not be read."""
        # Read in pages: a round writes to the store between documents, and a million documents
        # need not be in memory at once.
        last = -1
        while True:
            rows = self._db.execute(
                "SELECT position, id, document, unreadable FROM documents WHERE position > ? "
                "ORDER BY position LIMIT 1000",
                (last,),
            ).fetchall()
            if not rows:
                return
            for last, doc_id, document, unreadable in rows:  # noqa: B007 (last: where the next page starts)
                if document is None:
                    yield InputError(unreadable, document_id=doc_id)
                else:
                    yield Document.model_validate_json(document)

    # -- requests and answers --

    def answer(self, custom_id: str) -> dict[str, Any] | None:
        """The response body answering ``custom_id``, if one came back."""
        row = self._db.execute("SELECT body FROM answers WHERE custom_id = ?", (custom_id,)).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def failure(self, custom_id: str) -> Failure | None:
        """The last failure of an unanswered request, with how often it was sent."""
        row = self._db.execute(
            "SELECT f.what, f.message, f.retryable, r.tries FROM failures f "
            "JOIN requests r ON r.custom_id = f.custom_id WHERE f.custom_id = ? AND r.state = 'failed'",
            (custom_id,),
        ).fetchone()
        return None if row is None else Failure(row[0], row[1], bool(row[2]), row[3])

    def want(self, custom_id: str, document_id: str, body: dict[str, Any], round: int) -> bool:
        """Ask for ``custom_id`` in the next shard unless it is already on its way; True if queued."""
        row = self._db.execute("SELECT state FROM requests WHERE custom_id = ?", (custom_id,)).fetchone()
        if row is None:
            self._db.execute(
                "INSERT INTO requests (custom_id, document_id, body, state, round) "
                "VALUES (?, ?, ?, 'queued', ?)",
                (custom_id, document_id, json.dumps(body, ensure_ascii=False), round),
            )
            return True
        if row[0] == "failed":
            self._db.execute(
                "UPDATE requests SET state = 'queued', shard = NULL, round = ? WHERE custom_id = ?",
                (round, custom_id),
            )
            return True
        return False

    def requeue_failed(self, max_tries: int, round: int) -> int:
        """Queue every request whose failure may pass on another try; return how many."""
        cursor = self._db.execute(
            "UPDATE requests SET state = 'queued', shard = NULL, round = ? WHERE state = 'failed' "
            "AND tries < ? AND custom_id IN (SELECT custom_id FROM failures WHERE retryable = 1)",
            (round, max_tries),
        )
        return cursor.rowcount

    def queued(self) -> list[tuple[str, dict[str, Any]]]:
        """The requests waiting for a shard, in the order they were asked for."""
        rows = self._db.execute(
            "SELECT custom_id, body FROM requests WHERE state = 'queued' ORDER BY rowid"
        ).fetchall()
        return [(custom_id, json.loads(body)) for custom_id, body in rows]

    def store_answer(self, custom_id: str, body: dict[str, Any], batch_id: str | None) -> bool:
        """Keep the first answer of a request we asked for; False for a repeat or a foreign id."""
        if self._db.execute("SELECT 1 FROM requests WHERE custom_id = ?", (custom_id,)).fetchone() is None:
            return False
        cursor = self._db.execute(
            "INSERT OR IGNORE INTO answers VALUES (?, ?, ?)",
            (custom_id, json.dumps(body, ensure_ascii=False), batch_id),
        )
        if cursor.rowcount:
            self._db.execute("UPDATE requests SET state = 'answered' WHERE custom_id = ?", (custom_id,))
            self._db.execute("DELETE FROM failures WHERE custom_id = ?", (custom_id,))
        return bool(cursor.rowcount)

    def store_failure(
        self, custom_id: str, what: str, message: str, *, retryable: bool, batch_id: str | None
    ) -> bool:
        """Record that a request (of ours, not answered) failed; False when it needs no record."""
        row = self._db.execute("SELECT state FROM requests WHERE custom_id = ?", (custom_id,)).fetchone()
        if row is None or row[0] == "answered":
            return False
        self._db.execute(
            "INSERT OR REPLACE INTO failures VALUES (?, ?, ?, ?, ?)",
            (custom_id, what, message, int(retryable), batch_id),
        )
        self._db.execute("UPDATE requests SET state = 'failed' WHERE custom_id = ?", (custom_id,))
        return True

    def counts(self) -> dict[str, int]:
        """How many requests are in each state."""
        rows = self._db.execute("SELECT state, COUNT(*) FROM requests GROUP BY state").fetchall()
        return {state: n for state, n in rows}

    # -- shards (the manifest) --

    def add_shard(self, name: str, round: int, custom_ids: list[str], size: int) -> None:
        """Record a shard file written with ``custom_ids`` (their state becomes ``sharded``)."""
        with self.transaction():
            self._db.execute(
                "INSERT INTO shards (name, round, lines, bytes, status, updated) "
                "VALUES (?, ?, ?, ?, 'prepared', ?)",
                (name, round, len(custom_ids), size, time.time()),
            )
            self._db.executemany(
                "UPDATE requests SET state = 'sharded', shard = ? WHERE custom_id = ?",
                [(name, c) for c in custom_ids],
            )

    def shards(self) -> list[Shard]:
        """Every shard, in the order they were written."""
        rows = self._db.execute(
            "SELECT name, round, lines, bytes, input_file_id, batch_id, status, output_file_id, "
            "error_file_id, counts, collected FROM shards ORDER BY rowid"
        ).fetchall()
        return [
            Shard(
                name=name,
                round=number,
                lines=lines,
                bytes=size,
                input_file_id=input_file_id,
                batch_id=batch_id,
                status=status,
                output_file_id=output_file_id,
                error_file_id=error_file_id,
                counts=json.loads(counts) if counts else None,
                collected=bool(collected),
            )
            for (
                name,
                number,
                lines,
                size,
                input_file_id,
                batch_id,
                status,
                output_file_id,
                error_file_id,
                counts,
                collected,
            ) in rows
        ]

    def update_shard(self, name: str, **values: Any) -> None:
        """Change manifest fields of a shard (``counts`` as a dict)."""
        if "counts" in values and values["counts"] is not None:
            values["counts"] = json.dumps(values["counts"])
        columns = ", ".join(f"{k} = ?" for k in values)
        self._db.execute(
            f"UPDATE shards SET {columns}, updated = ? WHERE name = ?",  # noqa: S608 (our own column names)
            (*values.values(), time.time(), name),
        )

    def mark_submitted(self, shard: str, batch_id: str, status: str) -> None:
        """The shard's batch exists: record it and count one more try for each of its requests."""
        with self.transaction():
            self.update_shard(shard, batch_id=batch_id, status=status)
            self._db.execute(
                "UPDATE requests SET state = 'submitted', tries = tries + 1 "
                "WHERE shard = ? AND state = 'sharded'",
                (shard,),
            )

    def unanswered(self, shard: str) -> list[str]:
        """Requests of ``shard`` still waiting for an answer (no line came back for them)."""
        rows = self._db.execute(
            "SELECT custom_id FROM requests WHERE shard = ? AND state = 'submitted'", (shard,)
        )
        return [r[0] for r in rows.fetchall()]

    # -- rounds --

    def next_round(self) -> int:
        """Start a new round; return its number (1 for ``prepare``)."""
        number = int(self.get("round") or 0) + 1
        self.set("round", str(number))
        return number

    def get(self, key: str) -> str | None:
        """A stored value (``meta``)."""
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set(self, key: str, value: str) -> None:
        """Store a value (``meta``)."""
        self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def _scalar(self, sql: str) -> int:
        return int(self._db.execute(sql).fetchone()[0])
