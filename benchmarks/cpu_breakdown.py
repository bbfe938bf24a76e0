"""Where the CPU per document goes, ours next to the raw client: py-spy samples grouped by layer.

    python benchmarks/cpu_breakdown.py --py-spy /tmp/pyspy/bin/py-spy [--concurrency 32] [--docs 1000]
                                       [--repeat 5] [--latency 0.05] [--rate 200] [--gc-freeze]

For each side (``ours``: ``aextract_batch``, strategy ``single``; ``raw``: ``openai.AsyncOpenAI``
replaying the same request bodies) a child process runs ``--repeat`` timed batches against the fake
server (a subprocess, not sampled) under ``py-spy record``. Only samples of the thread that runs the
timed batches count (setup, body capture and warm-up run in the main thread). Each sample is put in
the first layer its stack matches (see ``LAYERS``); ms/doc = the layer's share of the samples × the
process CPU per document measured in the same child (``time.process_time()``, sampling included).

Garbage collection is not a frame: py-spy charges it to whatever allocated when it ran. Its time, from
``gc.callbacks``, is printed separately (it is inside the layers' numbers, not added to them).
py-spy is not a project dependency: ``pip install --target /tmp/pyspy py-spy``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import openai  # noqa: E402
from throughput import (  # noqa: E402
    SERVER_PIDS,
    CpuMeter,
    _extractor,
    build_documents,
    capture_requests,
    fake_server,
    gc_timer,
    run_ours,
    run_raw,
    send_raw,
)

from llm_extract.batch import aextract_batch  # noqa: E402

TIMED_THREAD = "timed-runs"

SDK = "openai SDK: build, httpx, socket, parse (raw create(), ours post())"
EVENT_LOOP = "event loop: callbacks, socket reads, task switches"
OTHER = "other"
# A sample under openai's create() or post() is SDK work wherever it was called from (raw calls
# create(), which calls post() after transforming the parameters; ours calls post() directly).
# Otherwise the innermost frame that matches one of these substrings names the layer (so pydantic or
# typing code is charged to whoever called it); a stack with none of them is the event loop's own work.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    (
        "instructor: TOOLS handlers (parse and validate the answer)",
        ("parse_response", "prepare_request", "handle_reask", "model_validate_json"),
    ),
    ("instructor: rest", ("instructor/",)),
    ("tenacity (transport retries only)", ("tenacity/",)),
    ("llm_extract: prompt-injection check (is_instruction)", ("is_instruction (", "instruction_spans (")),
    ("llm_extract: sentence split for that check", ("sentences (llm_extract/segment",)),
    ("llm_extract: prompt rendering (jinja)", ("Prompt.render (",)),
    ("llm_extract: client wrapper (aask, _asend, counting)", ("llm_extract/client.py",)),
    ("llm_extract: pipeline, Extraction/BatchResult models", ("llm_extract/",)),
    ("raw harness: json.loads of the captured body", ("send_raw.<locals>.worker",)),
]


# --- the child: timed runs under py-spy --------------------------------------------------------


async def _ours(url: str, docs: list[Any], concurrency: int) -> int:
    extractor = _extractor(url, "single")
    ok = 0
    try:
        async for result in aextract_batch(docs, extractor=extractor, concurrency=concurrency, cache=False):
            ok += result.status == "ok"
    finally:
        await extractor.aclose()
    return ok


async def _raw(url: str, bodies: list[list[str]], concurrency: int) -> int:
    client = openai.AsyncOpenAI(base_url=url, api_key="not-needed", max_retries=0, timeout=120.0)
    try:
        return await send_raw(client, bodies, concurrency)
    finally:
        await client.close()


class _Timed:
    """One batch on its own event loop in the sampled thread (setup and collections stay out of it)."""

    def __init__(self, batch: Coroutine[Any, Any, int]) -> None:
        self.batch = batch
        self.ok = 0

    def run(self) -> None:
        thread = threading.Thread(target=self._run, name=TIMED_THREAD)
        thread.start()
        thread.join()

    def _run(self) -> None:
        self.ok = asyncio.run(self.batch)


def child(args: argparse.Namespace) -> None:
    docs = build_documents(args.docs)
    bodies = asyncio.run(capture_requests(docs, "single")) if args.side == "raw" else []
    cpu = gc_time = other = 0.0
    n = 0
    with fake_server(args.latency) as url:
        asyncio.run(run_ours(url, docs[:64], 8, "single"))  # warm-up: imports, connections, caches
        if args.side == "raw":
            asyncio.run(run_raw(url, bodies[:64], 8))
        if args.gc_freeze:
            gc.collect()
            gc.freeze()
        for _ in range(args.repeat):
            timed = _Timed(
                _raw(url, bodies, args.concurrency)
                if args.side == "raw"
                else _ours(url, docs, args.concurrency)
            )
            gc.collect()
            cpu0 = time.process_time()
            with gc_timer() as collected, CpuMeter(SERVER_PIDS.get(url)) as meter:
                timed.run()
            cpu += time.process_time() - cpu0
            gc_time += collected[0]
            other = max(other, meter.other)
            n += len(docs)
            if timed.ok != len(docs):
                raise RuntimeError(f"{len(docs) - timed.ok} of {len(docs)} documents failed")
    report = {
        "cpu_ms_per_doc": 1000 * cpu / n,
        "gc_ms_per_doc": 1000 * gc_time / n,
        "docs": n,
        "other": other,
    }
    print(json.dumps(report), flush=True)


# --- the parent: run both sides, group the samples ---------------------------------------------


def layer_of(frames: list[str]) -> str:
    if any("AsyncCompletions.create (" in frame or "AsyncAPIClient.post (" in frame for frame in frames):
        return SDK
    for frame in reversed(frames):
        for name, needles in LAYERS:
            if any(n in frame for n in needles):
                return name
    return EVENT_LOOP if any("asyncio/" in frame or "selectors" in frame for frame in frames) else OTHER


def group(raw_file: Path) -> Counter[str]:
    counts: Counter[str] = Counter()
    for line in raw_file.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if stack.startswith("thread") and f": {TIMED_THREAD};" in stack:
            counts[layer_of(stack.split(";"))] += int(n)
    return counts


def profile(side: str, args: argparse.Namespace, out: Path) -> tuple[dict[str, Any], Counter[str]]:
    command = [sys.executable, __file__, "--child", side, *_passthrough(args)]
    spy = [args.py_spy, "record", "--threads", "-r", str(args.rate), "-f", "raw", "-o", str(out), "--"]
    done = subprocess.run(spy + command, capture_output=True, text=True, check=True)
    report = json.loads([line for line in done.stdout.splitlines() if line.startswith("{")][-1])
    return report, group(out)


def _passthrough(args: argparse.Namespace) -> list[str]:
    flags = ["--docs", str(args.docs), "--concurrency", str(args.concurrency)]
    flags += ["--repeat", str(args.repeat), "--latency", str(args.latency)]
    return flags + (["--gc-freeze"] if args.gc_freeze else [])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--py-spy", default="py-spy", help="path of the py-spy binary")
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--latency", type=float, default=0.05)
    # py-spy pauses the process for each sample: at 500 Hz that added ~25 % CPU, at 200 Hz a few %.
    parser.add_argument("--rate", type=int, default=200, help="py-spy samples per second")
    parser.add_argument("--gc-freeze", action="store_true", help="gc.freeze() after the warm-up")
    parser.add_argument("--keep", type=Path, help="keep the raw py-spy files in this directory")
    parser.add_argument("--child", choices=("ours", "raw"), dest="side", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        child(args)
        return 0

    print(
        f"# cpu breakdown: strategy=single concurrency={args.concurrency} latency={args.latency}s "
        f"docs={args.docs} x {args.repeat} runs, py-spy {args.rate} Hz"
        f"{', gc.freeze() after warm-up' if args.gc_freeze else ''}; "
        f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        where = args.keep or Path(tmp)
        where.mkdir(parents=True, exist_ok=True)
        results = {side: profile(side, args, where / f"{side}.txt") for side in ("ours", "raw")}
    (ours, ours_counts), (raw, raw_counts) = results["ours"], results["raw"]
    ours_total, raw_total = sum(ours_counts.values()), sum(raw_counts.values())
    print(f"# samples: ours {ours_total}, raw {raw_total}")
    print(f"{'layer':<70} {'ours ms/doc':>11} {'raw ms/doc':>10} {'above raw':>9}")
    for name in [SDK, *(n for n, _ in LAYERS), EVENT_LOOP, OTHER]:
        o = ours["cpu_ms_per_doc"] * ours_counts[name] / ours_total if ours_total else 0.0
        r = raw["cpu_ms_per_doc"] * raw_counts[name] / raw_total if raw_total else 0.0
        if o or r:
            print(f"{name:<70} {o:11.3f} {r:10.3f} {o - r:+9.3f}")
    o, r = ours["cpu_ms_per_doc"], raw["cpu_ms_per_doc"]
    print(f"{'total (process CPU per document, sampled runs)':<70} {o:11.3f} {r:10.3f} {o - r:+9.3f}")
    print(
        f"{'  of which garbage collection (gc.callbacks; inside the rows above)':<70} "
        f"{ours['gc_ms_per_doc']:11.3f} {raw['gc_ms_per_doc']:10.3f} "
        f"{ours['gc_ms_per_doc'] - raw['gc_ms_per_doc']:+9.3f}"
    )
    print(
        f"# other cores (busiest run; py-spy's own sampling included): ours {ours['other']:.2f}, "
        f"raw {raw['other']:.2f}"
    )
    print(f"# total {time.perf_counter() - started:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
