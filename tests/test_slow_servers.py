"""Slow servers (issue 16): a timed-out request is never queued behind itself on a one-slot server."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from click.testing import CliRunner
from pydantic import BaseModel

from llm_extract import Document, Extractor, TransportError
from llm_extract._config import resolve_settings
from llm_extract.cli import main
from llm_extract.client import CallStats, ModelClient
from llm_extract.endpoints import is_local, timeout_policy


class Answer(BaseModel):
    value: int


class Stalling:
    """A loopback server that answers nothing for ``seconds``, counting the requests it receives."""

    def __init__(self, seconds: float) -> None:
        self.received = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                outer.received += 1
                self.rfile.read(int(self.headers.get("content-length", 0)))
                time.sleep(seconds)
                body = json.dumps({"error": {"message": "late"}}).encode()
                try:
                    self.send_response(500)
                    self.send_header("content-length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the client gave up

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> Stalling:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize(
    ("url", "local"),
    [
        ("http://127.0.0.1:8080/v1", True),
        ("http://localhost:11434/v1", True),
        ("http://[::1]:8000/v1", True),
        ("https://api.openai.com/v1", False),
        ("http://10.0.0.5:8000/v1", False),
        (None, False),
    ],
)
def test_local_endpoints_are_recognised(url: str | None, local: bool) -> None:
    assert is_local(url) is local


def test_timeout_policy() -> None:
    unset = resolve_settings(base_url="http://127.0.0.1:8080/v1")
    assert timeout_policy(unset, embedded=False, base_url=unset.base_url) == (None, False)
    assert timeout_policy(unset, embedded=True, base_url="http://127.0.0.1:9/v1") == (None, False)
    remote = resolve_settings(base_url="https://api.example.com/v1")
    assert timeout_policy(remote, embedded=False, base_url=remote.base_url) == (120.0, True)
    explicit = resolve_settings(base_url="http://127.0.0.1:8080/v1", timeout=30)
    assert timeout_policy(explicit, embedded=False, base_url=explicit.base_url) == (30, True)
    assert timeout_policy(explicit, embedded=True, base_url=explicit.base_url) == (30, False)


def test_a_derived_timeout_grows_with_the_work() -> None:
    client = ModelClient(
        base_url="http://127.0.0.1:9/v1", api_key=None, model="m", timeout=None, max_tokens=1024
    )
    small = client._options({"messages": [{"content": "x" * 400}], "max_tokens": 256})["timeout"]
    large = client._options({"messages": [{"content": "x" * 40_000}], "max_tokens": 4096})["timeout"]
    # Room for a 1.5B model on two CPU cores: ~0.4 answer tokens a second.
    assert small >= 256 / 0.4
    assert large > small
    fixed = ModelClient(base_url="http://127.0.0.1:9/v1", api_key=None, model="m", timeout=5.0)
    assert fixed._options({"messages": [], "max_tokens": 4096}) == {}


def test_a_timed_out_request_is_not_sent_again_to_a_one_slot_server() -> None:
    with Stalling(seconds=1.5) as server:
        client = ModelClient(
            base_url=server.base_url,
            api_key=None,
            model="m",
            timeout=0.3,
            transport_retries=4,
            retry_timeouts=False,
        )
        with pytest.raises(TransportError, match="timed out"):
            client.ask(Answer, [{"role": "user", "content": "hi"}], stats=CallStats())
        time.sleep(0.2)
        assert server.received == 1


def test_a_remote_timeout_is_still_retried() -> None:
    with Stalling(seconds=1.0) as server:
        client = ModelClient(
            base_url=server.base_url, api_key=None, model="m", timeout=0.2, transport_retries=1
        )
        with pytest.raises(TransportError):
            client.ask(Answer, [{"role": "user", "content": "hi"}], stats=CallStats())
        assert server.received == 2


def test_error_records_count_every_request_sent() -> None:
    # Nothing listens on the discard port: five connection failures (one try, four retries).
    extractor = Extractor(base_url="http://127.0.0.1:9/v1", strategy="single", transport_retries=4)
    started = time.perf_counter()
    with pytest.raises(TransportError) as info:
        extractor.extract(Document(id="d", text="Kim met Putin on Monday, state media said."))
    assert info.value.attempts == 5
    assert time.perf_counter() - started < 60


def test_the_cli_takes_timeout_and_max_tokens(tmp_path: Any) -> None:
    article = tmp_path / "a.txt"
    article.write_text("Kim met Putin on Monday, state media said.", encoding="utf-8")
    result = CliRunner().invoke(
        main, ["extract", str(article), "--strategy", "rules", "--timeout", "5", "--max-tokens", "2048"]
    )
    assert result.exit_code == 0, result.output
    bad = CliRunner().invoke(main, ["extract", str(article), "--strategy", "rules", "--timeout", "0"])
    assert bad.exit_code == 2
