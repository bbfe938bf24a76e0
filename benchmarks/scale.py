"""One process (``run_batch``) against Ray Data on this machine, and a Ray worker killed mid-run.

    python benchmarks/scale.py [--docs 5000] [--latency 0.05] [--concurrency 32]
                               [--actors 2] [--actor-concurrency 16] [--strategy single]

The same documents (``throughput.build_documents``) go to the fake server (benchmarks/fake_openai.py,
a subprocess) three times, each run in a process of its own so that its peak memory is its own:

1. ``run_batch`` into a JSONL file (concurrency ``--concurrency``, no cache);
2. ``ray_data.run`` into Parquet on a local Ray (``ray.init(num_cpus=2)``), ``--actors`` actors of
   ``--actor-concurrency`` documents each (no cache);
3. the same Ray run with a result cache, where one actor process is killed with SIGKILL once a
   third of the documents are answered; Ray restarts the actor and runs its tasks again. The trial counts the
   documents in, the distinct documents out, those lost and the rows duplicated, before and after
   compaction, and the requests the server answered beyond one per question (tasks run twice).

Printed: docs/s (Ray's with and without ``ray.init``), the ratio Ray / run_batch, peak memory (the
process; for Ray the sum over the driver, GCS, raylet and workers, sampled every 0.2 s), and the
killed-worker table.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from fake_openai import fetch_stats, reset_stats  # noqa: E402
from throughput import build_documents, fake_server  # noqa: E402

MODEL = "fake-model"


# --- memory of a process tree (Linux /proc) ----------------------------------------------------------


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as f:
                parent = int(f.read().rpartition(")")[2].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        tree.setdefault(parent, []).append(int(entry))
    return tree


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def tree_rss(root: int) -> int:
    """Resident memory of ``root`` and all its descendants, in bytes."""
    tree, total, stack = _children(), 0, [root]
    while stack:
        pid = stack.pop()
        total += _rss(pid)
        stack.extend(tree.get(pid, []))
    return total


class PeakTree:
    """The peak of ``tree_rss(this process)``, sampled in a thread."""

    def __init__(self, every: float = 0.2) -> None:
        self.every, self.peak = every, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss(os.getpid()))
            self._stop.wait(self.every)

    def __enter__(self) -> PeakTree:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, tree_rss(os.getpid()))


# --- the three runs, each in a child process -----------------------------------------------------------


def child_run_batch(args: argparse.Namespace) -> dict[str, Any]:
    from llm_extract.output import run_batch
    from llm_extract.schema import Document

    docs = [Document.model_validate_json(line) for line in Path(args.input).read_text().splitlines()]
    started = time.perf_counter()
    summary = run_batch(
        docs,
        Path(args.workdir) / "batch.jsonl",
        concurrency=args.concurrency,
        cache=False,
        base_url=args.base_url,
        model=MODEL,
        strategy=args.strategy,
        api_key="not-needed",
    )
    wall = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"docs": summary.total, "ok": summary.ok, "wall": wall, "peak": peak}


def _ray_options(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "actors": args.actors,
        "concurrency": args.actor_concurrency,
        "batch_size": args.batch_size,
        "base_url": args.base_url,
        "model": MODEL,
        "strategy": args.strategy,
        "api_key": "not-needed",
    }


def child_ray(args: argparse.Namespace) -> dict[str, Any]:
    import ray

    from llm_extract.scale import ray_data

    with PeakTree() as peak:
        started = time.perf_counter()
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        ready = time.perf_counter()
        report = ray_data.run(
            args.input, str(Path(args.workdir) / "ray-out"), cache=False, **_ray_options(args)
        )
        done = time.perf_counter()
        ray.shutdown()
    return {
        "docs": report.rows,
        "wall": done - ready,
        "wall_with_init": done - started,
        "init": ready - started,
        "peak": peak.peak,
        "parts": report.parts,
    }


def _actor_pids() -> list[int]:
    """Processes of the extraction actors (Ray titles them after the callable class)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                command = f.read()
        except OSError:
            continue
        if b"ExtractBatch" in command and int(entry) != os.getpid():
            found.append(int(entry))
    return sorted(found)


def child_kill(args: argparse.Namespace) -> dict[str, Any]:
    import pyarrow.compute as pc
    import ray

    from llm_extract.scale import ray_data
    from llm_extract.scale.shards import compact

    out = str(Path(args.workdir) / "kill-out")
    cache = str(Path(args.workdir) / "kill-cache")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    reset_stats(args.base_url)
    killed: list[int] = []

    def killer() -> None:
        # Once a third of the documents are answered (the run is well under way), kill an actor.
        while fetch_stats(args.base_url)["completions"] < args.docs // 3:
            time.sleep(0.1)
        pids = _actor_pids()
        if pids:
            os.kill(pids[0], signal.SIGKILL)
            killed.append(pids[0])

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    options = _ray_options(args)
    report = ray_data.run(args.input, out, cache=cache, compact_output=False, **options)
    thread.join(timeout=1)
    served = fetch_stats(args.base_url)["completions"]

    def count() -> tuple[int, int]:
        table = ray_data.read_rows(out)
        ids = table.column("document_id")
        return table.num_rows, len(pc.unique(ids))

    rows, distinct = count()
    compacted = compact(out)
    rows_after, distinct_after = count()
    ray.shutdown()
    return {
        "in": args.docs,
        "killed": killed,
        "rows": rows,
        "distinct": distinct,
        "rows_after": rows_after,
        "distinct_after": distinct_after,
        "dropped": compacted.dropped,
        "served": served,
        "parts": report.parts,
    }


CHILDREN = {"run_batch": child_run_batch, "ray": child_ray, "kill": child_kill}


def _child(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", kind]
    for name in ("docs", "concurrency", "actors", "actor_concurrency", "batch_size", "strategy"):
        command += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
    command += ["--base-url", args.base_url, "--input", args.input, "--workdir", args.workdir]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"{kind} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return dict(json.loads(lines[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=5000)
    parser.add_argument("--latency", type=float, default=0.05, help="fake server seconds per answer")
    parser.add_argument("--concurrency", type=int, default=32, help="run_batch documents in flight")
    parser.add_argument("--actors", type=int, default=2)
    parser.add_argument("--actor-concurrency", type=int, default=16, help="documents in flight per actor")
    parser.add_argument("--batch-size", type=int, default=64, help="documents per Ray block")
    parser.add_argument("--strategy", default="single")
    parser.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--input", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(CHILDREN[args.child](args)), flush=True)
        return
    with (
        tempfile.TemporaryDirectory(prefix="llm-extract-scale-") as workdir,
        fake_server(args.latency) as url,
    ):
        args.workdir, args.base_url = workdir, url
        args.input = str(Path(workdir) / "docs.jsonl")
        with open(args.input, "w", encoding="utf-8") as f:
            for doc in build_documents(args.docs):
                f.write(doc.model_dump_json() + "\n")
        one = _child("run_batch", args)
        pool = _child("ray", args)
        kill = _child("kill", args)
    mib = 1024 * 1024
    print(f"{args.docs} documents, strategy {args.strategy}, fake server latency {args.latency} s, 2 CPUs\n")
    print("| run | docs/s | wall s | peak memory |")
    print("| --- | ---: | ---: | ---: |")
    print(
        f"| run_batch, concurrency {args.concurrency} | {one['docs'] / one['wall']:.0f} | "
        f"{one['wall']:.1f} | {one['peak'] / mib:.0f} MiB (one process) |"
    )
    print(
        f"| Ray, {args.actors} actors x {args.actor_concurrency} | {pool['docs'] / pool['wall']:.0f} | "
        f"{pool['wall']:.1f} | {pool['peak'] / mib:.0f} MiB (driver, GCS, raylet, workers) |"
    )
    print(
        f"| Ray incl. ray.init ({pool['init']:.1f} s) | {pool['docs'] / pool['wall_with_init']:.0f} | "
        f"{pool['wall_with_init']:.1f} | |"
    )
    ratio = (pool["docs"] / pool["wall"]) / (one["docs"] / one["wall"])
    print(f"\nRay / run_batch: {ratio:.2f}x docs/s (excluding ray.init)\n")
    lost = kill["in"] - kill["distinct_after"]
    print("| killed-worker trial | in | out (distinct) | lost | duplicated rows | requests answered |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    print(
        f"| before compaction | {kill['in']} | {kill['distinct']} | {kill['in'] - kill['distinct']} | "
        f"{kill['rows'] - kill['distinct']} | {kill['served']} |"
    )
    print(
        f"| after compaction | {kill['in']} | {kill['distinct_after']} | {lost} | "
        f"{kill['rows_after'] - kill['distinct_after']} | |"
    )
    print(f"\nkilled actor process(es): {kill['killed'] or 'none found (the run ended first)'}")


if __name__ == "__main__":
    main()
