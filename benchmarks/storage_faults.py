"""Storage faults against the ``extract`` command: no document may be lost or duplicated.

    python benchmarks/storage_faults.py [--docs 500] [--concurrency 8] [--simulate]

Offline: every run talks to the fake OpenAI server (benchmarks/fake_openai.py) in this process, and
each fault row gets its own server, so its request count is the model calls the row paid for. The
faults, each followed by what the user is told to do:

* ``cache disk full``: the cache directory on a full disk; the run goes on without the cache.
* ``output disk full``: the output directory on a full disk; the run stops with an error, space is
  freed, ``--resume`` finishes.
* ``corrupted cache``: pages in the middle of the cache file overwritten; a second run goes on
  without the cache.
* ``read-only output dir``: refused before any document runs; run again with a writable ``--out``.
* ``two writers``: two runs started together on one ``--out``; one is refused.
* ``resume racing a writer``: ``--resume`` started while another run writes; it is refused.

A full disk is a small tmpfs when ``mount -t tmpfs`` works here (root), else a simulated ``ENOSPC``
(``os.write`` on the output, SQLite's ``max_page_count`` on the cache, run in-process); a read-only
directory is a read-only tmpfs, else ``chmod`` (a user) or ``chattr +i`` (root). The ``how`` column
says which. Columns: documents ``in``; ``out`` (distinct ids in the final output, error records
included); ``lost`` (in - out); ``duplicated`` (lines beyond one per id); ``torn`` (whether any
output was left with a torn last line); ``requests`` (chat requests of all runs of the row: more
than ``in`` is work paid twice, which only a cache that turned itself off may cause). Exits 1 if a
row lost or duplicated a document.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from fake_openai import FakeOpenAI  # noqa: E402

from llm_extract import Document, Extractor, ResultCache  # noqa: E402
from llm_extract.errors import OutputError  # noqa: E402
from llm_extract.output import run_batch  # noqa: E402

CLI = [sys.executable, "-c", "from llm_extract.cli import main; main()"]


@dataclass
class Row:
    """One fault and what came of it."""

    fault: str
    how: str
    documents: int
    out: int = 0
    duplicated: int = 0
    torn: bool = False
    requests: int = 0
    notes: str = ""

    @property
    def lost(self) -> int:
        return self.documents - self.out


@dataclass
class Setup:
    """What every row shares: the documents, the work directory and the batch settings."""

    docs: int
    concurrency: int
    root: Path
    simulate: bool

    def documents(self) -> Path:
        path = self.root / "docs.jsonl"
        if not path.exists():
            text = "Report {}. Officials met in Seoul, the ministry said."
            lines = (json.dumps({"id": f"doc{i:05d}", "text": text.format(i)}) for i in range(self.docs))
            path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    def args(self, fake: FakeOpenAI, out: Path, cache: Path, *extra: str) -> list[str]:
        return [
            *CLI,
            "extract",
            str(self.documents()),
            "--out",
            str(out),
            "--format",
            "jsonl",
            "--cache-dir",
            str(cache),
            "--base-url",
            fake.base_url,
            "--model",
            "fake",
            "--strategy",
            "single",
            "--concurrency",
            str(self.concurrency),
            "--no-progress",
            *extra,
        ]

    def fresh(self, name: str) -> Path:
        path = self.root / name
        path.mkdir(parents=True, exist_ok=False)
        return path


def run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=600, check=False)


def tally(row: Row, *outputs: Path) -> Row:
    """Count the ids, duplicates and torn last lines of the final output files of a row."""
    ids: Counter[str] = Counter()
    for path in outputs:
        if not path.exists():
            continue
        data = path.read_bytes()
        row.torn = row.torn or (bool(data) and not data.endswith(b"\n"))
        for line in data.splitlines():
            with contextlib.suppress(ValueError, KeyError):
                ids[json.loads(line)["document_id"]] += 1
    row.out = len(ids)
    row.duplicated = sum(n - 1 for n in ids.values())
    return row


def last_line(stderr: str) -> str:
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    return lines[-1][:110] if lines else ""


# --- mounts -----------------------------------------------------------------------------------------


@contextlib.contextmanager
def tmpfs(path: Path, size: str, *, read_only: bool = False) -> Iterator[bool]:
    """A tmpfs of ``size`` mounted at ``path`` while inside; yields False when mounting is not allowed."""
    path.mkdir(parents=True, exist_ok=True)
    options = f"size={size}" + (",ro" if read_only else "")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True, check=False
    )
    if mounted.returncode != 0:
        yield False
        return
    try:
        yield True
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)


def small_disk(path: Path, size: str, simulate: bool) -> contextlib.AbstractContextManager[bool]:
    """A tmpfs of ``size`` at ``path``, unless simulating: then (or when it cannot mount) False."""
    return contextlib.nullcontext(False) if simulate else tmpfs(path, size)


def grow(path: Path, size: str) -> None:
    """Free space: remount the tmpfs at ``path`` bigger."""
    subprocess.run(["mount", "-o", f"remount,size={size}", str(path)], check=True)


# --- the rows ---------------------------------------------------------------------------------------


def cache_disk_full(setup: Setup) -> Row:
    work = setup.fresh("cache-full")
    out, cache = work / "out.jsonl", work / "cache"
    with FakeOpenAI() as fake, small_disk(cache, "256k", setup.simulate) as mounted:
        if mounted:
            done = run(setup.args(fake, out, cache))
            warned = done.stderr.count("warning:")
            row = Row("cache disk full", "tmpfs 256 KiB", setup.docs, requests=fake.served)
            row.notes = f"exit {done.returncode}, {warned} warning: {_warning(done.stderr)}"
            return tally(row, out)
        return _cache_full_simulated(setup, fake, out, cache)


def _cache_full_simulated(setup: Setup, fake: FakeOpenAI, out: Path, cache_dir: Path) -> Row:
    cache = ResultCache(cache_dir)
    cache._db.execute("PRAGMA max_page_count = 8")  # type: ignore[union-attr]  # SQLITE_FULL past 32 KiB
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        summary = run_batch(
            _read_docs(setup), out, extractor=_extractor(fake), cache=cache, concurrency=setup.concurrency
        )
    cache.close()
    row = Row("cache disk full", "simulated SQLITE_FULL", setup.docs, requests=fake.served)
    first = _short(str(caught[0].message)) if caught else "none"
    row.notes = f"{summary.ok} ok, {len(caught)} warning: {first}"
    return tally(row, out)


def output_disk_full(setup: Setup) -> Row:
    work = setup.fresh("out-full")
    disk, cache = work / "disk", work / "cache"
    out = disk / "out.jsonl"
    with FakeOpenAI() as fake, small_disk(disk, "128k", setup.simulate) as mounted:
        if not mounted:
            return _output_full_simulated(setup, fake, out, cache)
        failed = run(setup.args(fake, out, cache))
        stopped_at = out.read_bytes().count(b"\n")
        torn = not out.read_bytes().endswith(b"\n")
        grow(disk, "64m")
        resumed = run(setup.args(fake, out, cache, "--resume"))
        row = Row("output disk full", "tmpfs 128 KiB", setup.docs, requests=fake.served)
        row.notes = (
            f"exit {failed.returncode} after {stopped_at} lines: {_error(failed.stderr)} | "
            f"--resume: exit {resumed.returncode}"
        )
        tally(row, out)
        row.torn = row.torn or torn
        return row


def _output_full_simulated(setup: Setup, fake: FakeOpenAI, out: Path, cache: Path) -> Row:
    out.parent.mkdir(parents=True, exist_ok=True)
    docs = _read_docs(setup)
    message, stopped_at, torn = "", 0, False
    with _enospc_after(out, budget=40_000):
        try:
            run_batch(docs, out, extractor=_extractor(fake), cache=cache, concurrency=setup.concurrency)
        except OutputError as exc:
            message = str(exc)
    data = out.read_bytes()
    stopped_at, torn = data.count(b"\n"), bool(data) and not data.endswith(b"\n")
    summary = run_batch(
        docs, out, resume=True, extractor=_extractor(fake), cache=cache, concurrency=setup.concurrency
    )
    row = Row("output disk full", "simulated ENOSPC", setup.docs, requests=fake.served)
    row.notes = f"stopped after {stopped_at} lines: {_short(message)} | resume: {summary.ok} ok"
    tally(row, out)
    row.torn = row.torn or torn
    return row


@contextlib.contextmanager
def _enospc_after(target: Path, budget: int) -> Iterator[None]:
    real = os.write
    left = [budget]
    name = str(target.resolve())

    def write(fd: int, data: Any) -> int:
        try:
            path = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            path = ""
        if not path.startswith(name):
            return real(fd, data)
        if left[0] <= 0:  # a full disk: a short write first, then the error
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        written = real(fd, bytes(data[: left[0]]))
        left[0] -= written
        return written

    os.write = write
    try:
        yield
    finally:
        os.write = real


def corrupted_cache(setup: Setup) -> Row:
    work = setup.fresh("corrupt")
    cache = work / "cache"
    with FakeOpenAI() as fake:
        first = run(setup.args(fake, work / "first.jsonl", cache))
        db = cache / "results.sqlite3"
        data = bytearray(db.read_bytes())
        data[3 * 4096 : len(data) // 2] = b"\x5a" * (len(data) // 2 - 3 * 4096)
        db.write_bytes(bytes(data))
        second = run(setup.args(fake, work / "out.jsonl", cache))
        row = Row("corrupted cache", f"{len(data) // 4096} pages, middle half zapped", setup.docs)
        row.requests = fake.served  # the second run pays again: its cache is off
    warned = second.stderr.count("warning:")
    row.notes = (
        f"runs exit {first.returncode}/{second.returncode}, {warned} warning: {_warning(second.stderr)}"
    )
    return tally(row, work / "out.jsonl")


def read_only_output(setup: Setup) -> Row:
    work = setup.fresh("read-only")
    ro, cache = work / "ro", work / "cache"
    with FakeOpenAI() as fake, _read_only(ro, setup.simulate) as how:
        refused = run(setup.args(fake, ro / "out.jsonl", cache))
        before = fake.served
        again = run(setup.args(fake, work / "out.jsonl", cache))
        row = Row("read-only output dir", how, setup.docs, requests=fake.served)
    row.notes = (
        f"exit {refused.returncode} with {before} requests: {_error(refused.stderr)} | "
        f"writable --out: exit {again.returncode}"
    )
    return tally(row, work / "out.jsonl")


@contextlib.contextmanager
def _read_only(path: Path, simulate: bool) -> Iterator[str]:
    if not simulate:
        with tmpfs(path, "1m", read_only=True) as mounted:
            if mounted:
                yield "read-only tmpfs"
                return
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        path.chmod(0o555)
        try:
            yield "chmod 555"
        finally:
            path.chmod(0o755)
        return
    subprocess.run(["chattr", "+i", str(path)], check=True)
    try:
        yield "chattr +i"
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def two_writers(setup: Setup) -> Row:
    work = setup.fresh("two-writers")
    out = work / "out.jsonl"
    with FakeOpenAI(latency=0.01) as fake:
        args = setup.args(fake, out, work / "cache")
        runs = [subprocess.Popen(args, stderr=subprocess.PIPE, text=True) for _ in range(2)]
        errors = [r.communicate(timeout=600)[1] for r in runs]
        row = Row("two writers, one --out", "2 processes", setup.docs, requests=fake.served)
    codes = [r.returncode for r in runs]
    refused = errors[codes.index(1)] if 1 in codes else ""
    row.notes = f"exits {sorted(codes)}: {_error(refused)}"
    return tally(row, out)


def resume_racing_a_writer(setup: Setup) -> Row:
    work = setup.fresh("resume-race")
    out = work / "out.jsonl"
    # The writer must still run when the racer (a new process) starts: about 10 s of requests.
    with FakeOpenAI(latency=max(0.05, 10 * setup.concurrency / setup.docs)) as fake:
        args = setup.args(fake, out, work / "cache")
        writer = subprocess.Popen(args, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (not out.exists() or out.read_bytes().count(b"\n") < 20):
            time.sleep(0.02)
        inode = out.stat().st_ino
        racer = run([*args, "--resume"])
        still_running = writer.poll() is None
        _, writer_err = writer.communicate(timeout=600)
        row = Row("resume racing a writer", "2 processes", setup.docs, requests=fake.served)
    replaced = out.stat().st_ino != inode
    reported = last_line(writer_err).split(" ok")[0]
    row.notes = (
        f"--resume exit {racer.returncode} (writer {'running' if still_running else 'done'}): "
        f"{_error(racer.stderr)} | writer reported {reported} ok, file replaced: {replaced}"
    )
    return tally(row, out)


# --- helpers ----------------------------------------------------------------------------------------


def _read_docs(setup: Setup) -> list[Document]:
    return [Document.model_validate_json(line) for line in setup.documents().read_text().splitlines()]


def _extractor(fake: FakeOpenAI) -> Extractor:
    return Extractor(base_url=fake.base_url, model="fake", strategy="single")


def _warning(stderr: str) -> str:
    found = [line for line in stderr.splitlines() if line.startswith("warning:")]
    return _short(found[0].removeprefix("warning: ")) if found else "none"


def _error(stderr: str) -> str:
    found = [line for line in stderr.splitlines() if line.startswith("Error:")]
    return _short(found[0].removeprefix("Error: ")) if found else "no error"


def _short(message: str) -> str:
    """A message without its temporary paths, cut at its first sentence."""
    text = " ".join(".../" + w.rsplit("/", 1)[-1] if "/tmp" in w else w for w in message.split(" "))
    return text.split(". ")[0][:100] + ("; says --resume" if "--resume" in message else "")


ROWS: list[Callable[[Setup], Row]] = [
    cache_disk_full,
    output_disk_full,
    corrupted_cache,
    read_only_output,
    two_writers,
    resume_racing_a_writer,
]


def main(argv: list[str] | None = None) -> int:
    """Run every fault and print the table; 1 if any row lost or duplicated a document."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--simulate", action="store_true", help="simulate full disks even where tmpfs works")
    args = parser.parse_args(argv)
    header = (
        f"{'fault':<24} {'how':<30} {'in':>5} {'out':>5} {'lost':>5} {'dup':>4} {'torn':>5} {'requests':>8}"
    )
    print(header)
    print("-" * len(header))
    bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        setup = Setup(args.docs, args.concurrency, Path(tmp), args.simulate)
        for fault in ROWS:
            row = fault(setup)
            bad += bool(row.lost or row.duplicated or row.torn)
            print(
                f"{row.fault:<24} {row.how:<30} {row.documents:>5} {row.out:>5} {row.lost:>5} "
                f"{row.duplicated:>4} {'yes' if row.torn else 'no':>5} {row.requests:>8}"
            )
            print(f"    {row.notes}")
    print("goal: lost 0 duplicated 0 torn no on every row:", "met" if not bad else f"MISSED on {bad} row(s)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
