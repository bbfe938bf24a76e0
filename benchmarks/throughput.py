"""Throughput of ``aextract_batch`` against a fake OpenAI endpoint, next to a raw-client baseline.

    python benchmarks/throughput.py [--docs 1000] [--latency 0.05] [--concurrency 1,8,32,64]
                                    [--strategy single|decomposed] [--check]

The fake server (benchmarks/fake_openai.py) runs as a subprocess, so its CPU is not charged to this
process. For each concurrency the table shows:

* ours: docs/s of ``aextract_batch(..., cache=False)``;
* ideal: concurrency / (latency × requests per document), requests per document measured on the
  server during our run;
* raw: docs/s of the plain ``openai.AsyncOpenAI`` client (no instructor, no llm-extract) sending the
  very request bodies the pipeline sent for the same documents (captured once beforehand against an
  in-process fake server at concurrency 1), each document's requests in sequence, documents
  concurrent, at most ``concurrency`` at a time;
* the ratios ours/raw and ours/ideal, and the CPU time of this process per document for both.

``--check`` also runs concurrency 8 at latency 0.2 and exits 1 unless ours ≥ 95 % of raw on every
row and ours ≥ 90 % of ideal on that row.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import glob
import inspect
import json
import math
import os
import platform
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import openai
import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

from fake_openai import FakeOpenAI, fetch_stats, reset_stats  # noqa: E402

from llm_extract.batch import aextract_batch  # noqa: E402
from llm_extract.extract import Extractor  # noqa: E402
from llm_extract.schema import Document  # noqa: E402

MODEL = "fake-model"


# --- documents -------------------------------------------------------------------------------


def _sources() -> list[dict[str, Any]]:
    """The shipped articles: eval fixtures (text, title, date) and examples/*.txt."""
    out: list[dict[str, Any]] = []
    for path in sorted(glob.glob(str(ROOT / "evals" / "fixtures" / "*.yaml"))):
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
        published = data.get("published")
        if isinstance(published, str):
            published = date.fromisoformat(published)
        out.append(
            {
                "name": Path(path).stem,
                "text": data["text"],
                "title": data.get("title"),
                "published": published,
            }
        )
    for path in sorted(glob.glob(str(ROOT / "examples" / "*.txt"))):
        text = Path(path).read_text(encoding="utf-8")
        out.append({"name": Path(path).stem, "text": text, "title": None, "published": None})
    return out


def build_documents(n: int) -> list[Document]:
    """``n`` distinct documents: the shipped articles in turn, each with a unique id and marker sentence.

    The marker goes after a different paragraph on each pass over the articles, so no two texts
    (nor their requests) are identical.
    """
    sources = _sources()
    docs = []
    for i in range(n):
        src = sources[i % len(sources)]
        paragraphs = src["text"].rstrip("\n").split("\n\n")
        at = 1 + (i // len(sources)) % len(paragraphs)
        marker = f"This is benchmark copy number {i} of the article."
        paragraphs.insert(at, marker)
        docs.append(
            Document(
                id=f"bench-{i:06d}-{src['name']}",
                text="\n\n".join(paragraphs) + "\n",
                title=src["title"],
                published=src["published"],
            )
        )
    return docs


# --- the fake server as a subprocess ---------------------------------------------------------


SERVER_PIDS: dict[str, int] = {}


def _ticks(path: str) -> int:
    """User plus system CPU time of a process from /proc/<pid>/stat, in clock ticks."""
    with open(path, encoding="ascii") as f:
        fields = f.read().rpartition(")")[2].split()
    return int(fields[11]) + int(fields[12])


class CpuMeter:
    """CPU used during a block by the whole machine, this process and the fake server (Linux /proc).

    ``other`` (cores) is the machine's busy time minus ours and the server's: other processes that
    competed for the 2 cores during the measurement (noise); 0 where /proc is unavailable.
    """

    def __init__(self, server_pid: int | None) -> None:
        self.server_pid = server_pid
        self.other = self.server = 0.0

    def _read(self) -> tuple[int, int, int] | None:
        try:
            with open("/proc/stat", encoding="ascii") as f:
                values = [int(v) for v in f.readline().split()[1:9]]
            busy = sum(values) - values[3] - values[4]  # all but idle and iowait
            server = _ticks(f"/proc/{self.server_pid}/stat") if self.server_pid else 0
            return busy, _ticks("/proc/self/stat"), server
        except (OSError, ValueError, IndexError):
            return None

    def __enter__(self) -> CpuMeter:
        self._start = self._read()
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *_: object) -> None:
        end, wall = self._read(), time.perf_counter() - self._t0
        if self._start is None or end is None or wall <= 0:
            return
        hz = os.sysconf("SC_CLK_TCK")
        busy, own, server = (e - s for e, s in zip(end, self._start, strict=True))
        self.server = server / hz / wall
        self.other = max(0.0, (busy - own - server) / hz / wall)


@contextlib.contextmanager
def fake_server(latency: float, jitter: float = 0.0, backlog: int = 1024) -> Iterator[str]:
    """Start benchmarks/fake_openai.py in a subprocess; yield its base URL."""
    command = [
        sys.executable,
        str(HERE / "fake_openai.py"),
        "--port",
        "0",
        "--latency",
        str(latency),
        "--jitter",
        str(jitter),
        "--backlog",
        str(backlog),
    ]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.strip().isdigit():
            raise RuntimeError(
                f"fake server did not start: {line!r} {proc.stderr.read() if proc.stderr else ''}"
            )
        url = f"http://127.0.0.1:{int(line)}/v1"
        SERVER_PIDS[url] = proc.pid
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- capturing the pipeline's requests -------------------------------------------------------


def _extractor(base_url: str, strategy: str) -> Extractor:
    return Extractor(base_url=base_url, model=MODEL, strategy=strategy, api_key="not-needed")


async def capture_requests(docs: list[Document], strategy: str) -> list[list[str]]:
    """Each document's request bodies (JSON text), in order: concurrency 1, in-process fake server.

    Kept as JSON text, one string per request: thousands of nested dicts would swell the heap that
    every full garbage collection of the timed runs must scan.
    """
    per_doc: list[list[str]] = []
    with FakeOpenAI(latency=0.0, record=True) as fake:
        extractor = _extractor(fake.base_url, strategy)
        try:
            # At concurrency 1 the next document starts only after this one's result is yielded.
            async for result in aextract_batch(docs, extractor=extractor, concurrency=1, cache=False):
                if result.status != "ok":
                    raise RuntimeError(f"capture failed on {result.document_id}: {result.error}")
                per_doc.append([json.dumps(body, ensure_ascii=False) for body in fake.requests])
                fake.requests.clear()
        finally:
            await extractor.aclose()
    return per_doc


_CREATE_PARAMS = set(inspect.signature(openai.resources.chat.completions.AsyncCompletions.create).parameters)


def _create_kwargs(body: dict[str, Any]) -> dict[str, Any]:
    known = {k: v for k, v in body.items() if k in _CREATE_PARAMS}
    extra = {k: v for k, v in body.items() if k not in _CREATE_PARAMS}
    if extra:
        known["extra_body"] = extra
    return known


# --- the two clients -------------------------------------------------------------------------


@dataclass
class Run:
    docs: int
    ok: int
    wall: float
    cpu: float
    requests: int
    gc: float = 0.0  # seconds spent in the garbage collector during the timed run
    other: float = 0.0  # cores used by other processes meanwhile (noise), see CpuMeter

    @property
    def rate(self) -> float:
        return self.docs / self.wall


@contextlib.contextmanager
def gc_timer() -> Iterator[list[float]]:
    """Seconds spent in garbage collections inside the block (in the yielded list's only item)."""
    total = [0.0]
    started = [0.0]

    def callback(phase: str, _info: dict[str, Any]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            total[0] += time.perf_counter() - started[0]

    gc.callbacks.append(callback)
    try:
        yield total
    finally:
        gc.callbacks.remove(callback)


async def run_ours(base_url: str, docs: list[Document], concurrency: int, strategy: str) -> Run:
    extractor = _extractor(base_url, strategy)
    reset_stats(base_url)
    gc.collect()
    ok = 0
    cpu0, t0 = time.process_time(), time.perf_counter()
    try:
        with gc_timer() as gc_time, CpuMeter(SERVER_PIDS.get(base_url)) as meter:
            async for result in aextract_batch(
                docs, extractor=extractor, concurrency=concurrency, cache=False
            ):
                ok += result.status == "ok"
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    finally:
        await extractor.aclose()
    return Run(len(docs), ok, wall, cpu, fetch_stats(base_url)["completions"], gc_time[0], meter.other)


async def send_raw(client: openai.AsyncOpenAI, bodies: list[list[str]], concurrency: int) -> int:
    """Send captured bodies: workers over a shared queue, each document's requests in order; docs done."""
    next_doc = iter(bodies)
    ok = 0

    async def worker() -> None:
        nonlocal ok
        for requests in next_doc:
            for body in requests:
                await client.chat.completions.create(**_create_kwargs(json.loads(body)))
            ok += 1

    await asyncio.gather(*(worker() for _ in range(min(concurrency, len(bodies)))))
    return ok


async def run_raw(base_url: str, bodies: list[list[str]], concurrency: int) -> Run:
    client = openai.AsyncOpenAI(base_url=base_url, api_key="not-needed", max_retries=0, timeout=120.0)
    reset_stats(base_url)
    gc.collect()
    cpu0, t0 = time.process_time(), time.perf_counter()
    try:
        with gc_timer() as gc_time, CpuMeter(SERVER_PIDS.get(base_url)) as meter:
            ok = await send_raw(client, bodies, concurrency)
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    finally:
        await client.close()
    return Run(len(bodies), ok, wall, cpu, fetch_stats(base_url)["completions"], gc_time[0], meter.other)


# --- the sweep -------------------------------------------------------------------------------


@dataclass
class Row:
    latency: float
    concurrency: int
    ours: Run
    raw: Run

    @property
    def per_doc(self) -> float:
        return self.ours.requests / self.ours.docs

    @property
    def ideal(self) -> float:
        return self.concurrency / (self.latency * self.per_doc) if self.latency else math.inf


def docs_for(concurrency: int, latency: float, per_doc: float, limit: int, seconds: float) -> int:
    """Enough documents for about ``seconds`` at the ideal rate, a multiple of the concurrency."""
    ideal = concurrency / (latency * per_doc) if latency else math.inf
    n = min(limit, max(4 * concurrency, int(ideal * seconds)))
    return max(concurrency, n - n % concurrency)


HEADER = (
    f"{'latency':>7} {'conc':>4} {'docs':>5} {'req/doc':>7} {'ideal/s':>8} {'ours/s':>8} {'raw/s':>8} "
    f"{'ours/raw':>8} {'ours/ideal':>10} {'ours cpu ms/doc':>15} {'raw cpu ms/doc':>14} "
    f"{'ours gc s':>9} {'raw gc s':>8} {'other cores':>11}"
)


def format_row(row: Row) -> str:
    ideal = f"{row.ideal:8.1f}" if math.isfinite(row.ideal) else f"{'inf':>8}"
    return (
        f"{row.latency:7.3f} {row.concurrency:4d} {row.ours.docs:5d} {row.per_doc:7.2f} {ideal} "
        f"{row.ours.rate:8.1f} {row.raw.rate:8.1f} {row.ours.rate / row.raw.rate:8.1%} "
        f"{row.ours.rate / row.ideal:10.1%} {1000 * row.ours.cpu / row.ours.docs:15.2f} "
        f"{1000 * row.raw.cpu / row.raw.docs:14.2f} {row.ours.gc:9.2f} {row.raw.gc:8.2f} "
        f"{max(row.ours.other, row.raw.other):11.2f}"
    )


async def measure(
    base_url: str,
    latency: float,
    concurrency: int,
    docs: list[Document],
    bodies: list[list[str]],
    strategy: str,
    repeat: int,
) -> Row:
    """Ours and raw on the same documents; the best of ``repeat`` runs of each (alternating)."""
    best_ours: Run | None = None
    best_raw: Run | None = None
    for _ in range(repeat):
        ours = await run_ours(base_url, docs, concurrency, strategy)
        raw = await run_raw(base_url, bodies[: len(docs)], concurrency)
        if ours.ok != len(docs) or raw.ok != len(docs):
            raise RuntimeError(f"failures: ours {ours.ok}/{len(docs)} ok, raw {raw.ok}/{len(docs)} ok")
        if raw.requests != ours.requests:
            raise RuntimeError(f"raw sent {raw.requests} requests, ours {ours.requests}")
        best_ours = ours if best_ours is None or ours.rate > best_ours.rate else best_ours
        best_raw = raw if best_raw is None or raw.rate > best_raw.rate else best_raw
    assert best_ours is not None
    assert best_raw is not None
    return Row(latency, concurrency, best_ours, best_raw)


async def sweep(
    latency: float,
    concurrencies: list[int],
    docs: list[Document],
    bodies: list[list[str]],
    per_doc: float,
    strategy: str,
    seconds: float,
    repeat: int,
) -> list[Row]:
    rows = []
    with fake_server(latency) as base_url:
        # Warm-up (imports, first connections, caches of pydantic and instructor): not measured.
        warm = min(len(docs), 16)
        await run_ours(base_url, docs[:warm], 8, strategy)
        await run_raw(base_url, bodies[:warm], 8)
        for c in concurrencies:
            n = docs_for(c, latency, per_doc, len(docs), seconds)
            row = await measure(base_url, latency, c, docs[:n], bodies, strategy, repeat)
            print(format_row(row), flush=True)
            rows.append(row)
    return rows


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)


def source_state(*extra: str) -> str:
    """The git commit and a hash of llm_extract/*.py (plus ``extra`` repo paths) as measured.

    The working tree may differ from HEAD, so both are given; ``extra`` names further files or
    directories the measurement depends on (e.g. prompts/ for a real model).
    """
    import hashlib

    paths = sorted((ROOT / "llm_extract").rglob("*.py"))
    for name in extra:
        path = ROOT / name
        paths += sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.relative_to(ROOT).as_posix().encode() + b"\0" + path.read_bytes())
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--", "llm_extract", *extra],
            capture_output=True,
            text=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        head, dirty = "unknown", ""
    return f"git {head}{' + uncommitted changes' if dirty else ''}, sha256 {digest.hexdigest()[:12]}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=1000, help="most documents per run (default 1000)")
    parser.add_argument("--latency", type=float, default=0.05, help="server latency per request, seconds")
    parser.add_argument("--concurrency", default="1,8,32,64", help="comma-separated concurrencies")
    parser.add_argument("--strategy", choices=("single", "decomposed"), default="single")
    parser.add_argument(
        "--seconds",
        type=float,
        default=8.0,
        help="aim each run at about this long at the ideal rate (fewer docs at low concurrency)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=2,
        help="runs per row, alternating ours and raw; the best of each side is kept",
    )
    parser.add_argument(
        "--gc-freeze",
        action="store_true",
        help="gc.freeze() after setup: full collections then skip the ~200k objects of the imports",
    )
    parser.add_argument(
        "--check", action="store_true", help="also run c=8 at latency 0.2 and enforce targets"
    )
    args = parser.parse_args(argv)
    concurrencies = [int(c) for c in args.concurrency.split(",") if c.strip()]

    started = time.perf_counter()
    print(
        f"# llm-extract throughput: strategy={args.strategy} latency={args.latency}s "
        f"concurrency={concurrencies} docs<= {args.docs} seconds/run~{args.seconds} repeat={args.repeat}"
    )
    print(
        f"# {platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"openai {openai.__version__}, instructor {_version('instructor')}, pydantic {_version('pydantic')}; "
        f"fake server in a subprocess; cache=False"
    )
    print(f"# llm_extract sources: {source_state()}")
    print(f"# load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} (1, 5, 15 min)")
    check_n = 0
    if args.check:
        check_n = args.docs  # bounded again below once requests per document are known
    docs = build_documents(max(args.docs, check_n))

    # Requests per document and the bodies the raw client replays: captured once, concurrency 1.
    t0 = time.perf_counter()
    probe = asyncio.run(capture_requests(docs[: min(len(docs), 2 * 19)], args.strategy))
    per_doc = sum(map(len, probe)) / len(probe)
    need = max(docs_for(c, args.latency, per_doc, args.docs, args.seconds) for c in concurrencies)
    if args.check:
        need = max(need, docs_for(8, 0.2, per_doc, len(docs), 2 * args.seconds))
    bodies = (
        probe + asyncio.run(capture_requests(docs[len(probe) : need], args.strategy))
        if need > len(probe)
        else probe
    )
    docs = docs[: len(bodies)]
    print(
        f"# captured {sum(map(len, bodies))} request bodies of {len(bodies)} documents "
        f"({sum(map(len, bodies)) / len(bodies):.2f} requests/doc) in {time.perf_counter() - t0:.1f}s"
    )
    if args.gc_freeze:
        gc.collect()
        gc.freeze()
        print(f"# gc.freeze(): {gc.get_freeze_count()} objects moved to the permanent generation")
    print(HEADER, flush=True)
    rows = asyncio.run(
        sweep(args.latency, concurrencies, docs, bodies, per_doc, args.strategy, args.seconds, args.repeat)
    )
    failed = False
    if args.check:
        check_rows = asyncio.run(
            sweep(0.2, [8], docs, bodies, per_doc, args.strategy, 2 * args.seconds, args.repeat)
        )
        rows += check_rows
        for row in rows:
            if row.ours.rate < 0.95 * row.raw.rate:
                share = row.ours.rate / row.raw.rate
                print(f"CHECK FAILED: c={row.concurrency} latency={row.latency}: {share:.1%} of raw (< 95%)")
                failed = True
        row = check_rows[0]
        if row.ours.rate < 0.90 * row.ideal:
            print(f"CHECK FAILED: c=8 latency=0.2: ours {row.ours.rate / row.ideal:.1%} of ideal (< 90%)")
            failed = True
        if not failed:
            print("CHECK PASSED: ours >= 95% of raw on every row, >= 90% of ideal at c=8, latency 0.2")
    print(
        f"# total {time.perf_counter() - started:.0f}s; load average at the end: "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
