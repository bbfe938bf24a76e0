"""Seeded crash trials: the CLI batch killed with SIGKILL at random points, then resumed to completion."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
from fake_openai import FakeOpenAI  # noqa: E402
from test_batch_crash import _documents  # noqa: E402

from llm_extract import BatchResult  # noqa: E402

CLI = [sys.executable, "-c", "from llm_extract.cli import main; main()"]
N_DOCS = 60
SEED = 7039  # kills after 19 and 33 lines, and 0.216 s after the first line


def _count_lines(out: Path) -> int:
    # Whole lines only: a line still being written has no newline yet.
    return out.read_bytes().count(b"\n") if out.exists() else 0


def _integrity(cache_dir: Path) -> str:
    db = cache_dir / "results.sqlite3"
    if not db.exists():
        return "ok"  # killed before the cache was created: nothing to damage
    with sqlite3.connect(db) as connection:
        rows = connection.execute("PRAGMA integrity_check").fetchall()
    connection.close()
    return "; ".join(str(row[0]) for row in rows)


@pytest.mark.parametrize("trial", range(3))
def test_sigkill_at_a_random_point_then_resume(tmp_path: Path, trial: int) -> None:
    rng = random.Random(SEED + trial)
    docs = tmp_path / "docs.jsonl"
    ids = _documents(docs, N_DOCS)
    out = tmp_path / "out.jsonl"
    cache = tmp_path / "cache"
    env = {**os.environ, "LLM_EXTRACT_CACHE_DIR": str(cache)}
    with FakeOpenAI(latency=0.02, jitter=0.01, seed=trial) as fake:
        args = [*CLI, "extract", str(docs), "--format", "jsonl", "--out", str(out)]
        args += ["--base-url", fake.base_url, "--model", "fake", "--strategy", "single", "--concurrency", "4"]
        args += ["--no-progress"]
        process = subprocess.Popen(args, env=env, start_new_session=True, stderr=subprocess.DEVNULL)
        # Half the trials kill after a number of written lines, half after a delay from the first line.
        by_lines = rng.random() < 0.5
        lines, delay = rng.randint(5, N_DOCS - 10), rng.uniform(0.0, 0.3)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            if by_lines and _count_lines(out) >= lines:
                break
            if not by_lines and _count_lines(out) >= 1:
                time.sleep(delay)
                break
            time.sleep(0.005)
        os.killpg(process.pid, signal.SIGKILL)  # no cleanup, no flush, no goodbye
        process.wait(timeout=30)
        killed_at = _count_lines(out)
        assert process.returncode == -signal.SIGKILL
        assert killed_at < N_DOCS  # killed mid-batch, not after it
        assert _integrity(cache) == "ok"  # the cache as the kill left it

        resumed = subprocess.run([*args, "--resume"], env=env, capture_output=True, text=True, timeout=120)
        assert resumed.returncode == 0, resumed.stderr

    results = [BatchResult.model_validate_json(line) for line in out.read_bytes().splitlines()]
    assert sorted(r.document_id for r in results) == ids  # every document exactly once
    assert all(r.status == "ok" for r in results)
    assert _integrity(cache) == "ok"
    how = f"after {lines} lines" if by_lines else f"{delay:.3f} s after the first line"
    print(
        f"\ncrash trial {trial}: killed {how} ({killed_at} lines written), resumed to {len(results)}/{N_DOCS}"
    )
