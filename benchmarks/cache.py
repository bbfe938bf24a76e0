"""The persistent result cache: the same batch twice against a fresh cache directory.

    python benchmarks/cache.py [--docs 300] [--latency 0.05] [--concurrency 16] [--strategy single]

The first run extracts every document and fills the cache; the second must answer every document
from it, with no model call. Model calls are counted by the fake server (a subprocess). Exits 1 if
the second run made any request or did not return every document as cached.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fake_openai import fetch_stats, reset_stats  # noqa: E402
from throughput import _extractor, build_documents, fake_server  # noqa: E402

from llm_extract.batch import aextract_batch  # noqa: E402
from llm_extract.schema import Document  # noqa: E402


async def one_run(
    base_url: str, docs: list[Document], directory: Path, concurrency: int, strategy: str
) -> dict[str, Any]:
    extractor = _extractor(base_url, strategy)
    reset_stats(base_url)
    ok = cached = 0
    started = time.perf_counter()
    try:
        async for result in aextract_batch(
            docs, extractor=extractor, concurrency=concurrency, cache=directory
        ):
            ok += result.status == "ok"
            cached += result.cached
        wall = time.perf_counter() - started
    finally:
        await extractor.aclose()
    return {
        "docs": len(docs),
        "ok": ok,
        "cached": cached,
        "requests": fetch_stats(base_url)["requests"],
        "wall": wall,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=300)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--strategy", choices=("single", "decomposed"), default="single")
    args = parser.parse_args(argv)

    docs = build_documents(args.docs)
    directory = Path(tempfile.mkdtemp(prefix="llm-extract-bench-cache-"))
    print(
        f"# cache benchmark: {args.docs} docs, strategy={args.strategy}, latency={args.latency}s, "
        f"concurrency={args.concurrency}, fresh cache directory {directory}"
    )
    try:
        with fake_server(args.latency) as base_url:
            runs = [
                asyncio.run(one_run(base_url, docs, directory, args.concurrency, args.strategy))
                for _ in range(2)
            ]
        size = sum(f.stat().st_size for f in directory.iterdir())
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    print(f"{'run':<6} {'docs':>5} {'ok':>5} {'cached':>6} {'model calls':>11} {'wall s':>7} {'docs/s':>8}")
    for name, run in zip(("first", "second"), runs, strict=True):
        print(
            f"{name:<6} {run['docs']:5d} {run['ok']:5d} {run['cached']:6d} {run['requests']:11d} "
            f"{run['wall']:7.3f} {run['docs'] / run['wall']:8.1f}"
        )
    print(f"# cache files: {size / 1e6:.1f} MB")
    second = runs[1]
    if second["requests"] != 0 or second["cached"] != len(docs) or second["ok"] != len(docs):
        calls, cached = second["requests"], second["cached"]
        print(f"FAILED: the second run made {calls} model calls, {cached}/{len(docs)} cached")
        return 1
    print("OK: the second run made 0 model calls and answered every document from the cache")
    return 0


if __name__ == "__main__":
    sys.exit(main())
