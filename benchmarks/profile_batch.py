"""Profile aextract_batch against the fake server (subprocess): cProfile, sorted by cumulative time.

python benchmarks/profile_batch.py [--docs 300] [--concurrency 32] [--strategy single] [--sort tottime]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from throughput import build_documents, capture_requests, fake_server, run_ours, run_raw  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--strategy", default="single")
    parser.add_argument("--sort", default="cumulative")
    parser.add_argument("--limit", type=int, default=60)
    parser.add_argument("--raw", action="store_true", help="profile the raw client instead")
    args = parser.parse_args()
    docs = build_documents(args.docs)
    bodies = asyncio.run(capture_requests(docs, args.strategy)) if args.raw else []
    with fake_server(args.latency) as url:
        asyncio.run(run_ours(url, docs[:16], 8, args.strategy))  # warm-up
        profiler = cProfile.Profile()
        profiler.enable()
        if args.raw:
            run = asyncio.run(run_raw(url, bodies, args.concurrency))
        else:
            run = asyncio.run(run_ours(url, docs, args.concurrency, args.strategy))
        profiler.disable()
    cpu = 1000 * run.cpu / run.docs
    print(f"{run.docs} docs in {run.wall:.2f}s ({run.rate:.1f}/s), cpu {cpu:.2f} ms/doc (profiled)")
    pstats.Stats(profiler).sort_stats(args.sort).print_stats(args.limit)


if __name__ == "__main__":
    main()
