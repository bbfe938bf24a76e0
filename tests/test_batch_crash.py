"""A batch killed with SIGKILL resumes without losing or re-billing finished documents."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
from fake_openai import FakeOpenAI  # noqa: E402

from llm_extract import BatchResult  # noqa: E402

CLI = [sys.executable, "-c", "from llm_extract.cli import main; main()"]


def _documents(path: Path, n: int) -> list[str]:
    ids = [f"doc{i:03d}" for i in range(n)]
    lines = [
        json.dumps({"id": i, "text": f"Report {i}. Officials met in Seoul on Monday, the ministry said."})
        for i in ids
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return ids


def _lines(out: Path) -> list[BatchResult]:
    results = []
    for line in out.read_bytes().splitlines():
        try:
            results.append(BatchResult.model_validate_json(line))
        except ValueError:
            pass  # a torn last line: the resume drops it
    return results


def test_sigkill_mid_batch_then_resume(tmp_path: Path) -> None:
    ids = _documents(tmp_path / "docs.jsonl", 40)
    out = tmp_path / "out.jsonl"
    env = {
        **os.environ,
        "LLM_EXTRACT_CACHE_DIR": str(tmp_path / "cache"),
        "LLM_EXTRACT_TRANSPORT_RETRIES": "0",
    }
    with FakeOpenAI(latency=0.1) as fake:
        args = [*CLI, "extract", str(tmp_path / "docs.jsonl"), "--format", "jsonl", "--out", str(out)]
        args += ["--base-url", fake.base_url, "--model", "fake", "--strategy", "single", "--concurrency", "2"]
        args += ["--no-progress"]
        process = subprocess.Popen(args, env=env, start_new_session=True, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (not out.exists() or len(_lines(out)) < 8):
            time.sleep(0.05)
        os.killpg(process.pid, signal.SIGKILL)  # no cleanup, no flush, no goodbye
        process.wait(timeout=30)
        assert process.returncode == -signal.SIGKILL
        finished = {r.document_id for r in _lines(out)}
        assert 8 <= len(finished) < len(ids)
        before = len(fake.requests)

        resumed = subprocess.run([*args, "--resume"], env=env, capture_output=True, text=True, timeout=120)
        assert resumed.returncode == 0, resumed.stderr
        assert f"{len(finished)} already done" in resumed.stderr
        # Documents finished before the kill were never sent again.
        again = [json.dumps(r["messages"]) for r in fake.requests[before:]]
        assert not [d for d in finished if any(f"Report {d}." in body for body in again)]
        assert len(again) <= len(ids) - len(finished)

    results = _lines(out)
    assert sorted(r.document_id for r in results) == ids  # exactly once each
    assert all(r.status == "ok" for r in results)
