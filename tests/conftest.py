"""Shared fixtures: cassette configuration (pytest-recording/vcrpy) and the endpoint used to record."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# Re-ask bodies embed pydantic error URLs, which name the pydantic version: keep them out of cassettes.
os.environ["PYDANTIC_ERRORS_INCLUDE_URL"] = "0"

from llm_extract.schema import RunMetadata  # noqa: E402

# Run metadata for hand-built extractions in tests (what produced them does not matter there).
META = RunMetadata(
    prompt_name="news",
    prompt_version="v1",
    prompt_hash="h",
    model="smollm2-135m-instruct",
    endpoint="embedded",
    strategy="decomposed",
    grounding="constrained",
)

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
# Any port works on replay: requests are matched without host and port (see vcr_config).
REPLAY_BASE_URL = "http://127.0.0.1:9/v1"
_SECRET_HEADERS = ("authorization", "api-key", "x-api-key", "openai-organization", "openai-project", "cookie")


def _json_body(r1: Any, r2: Any) -> None:
    """Match request bodies as parsed JSON, so key order and whitespace do not matter."""

    def parse(body: Any) -> Any:
        if not body:
            return None
        text = body.decode("utf-8") if isinstance(body, bytes) else body
        try:
            return json.loads(text)
        except ValueError:
            return text

    assert parse(r1.body) == parse(r2.body), "request bodies differ"


_KEY_IN_BODY = re.compile(rb'"api[_-]?key"|sk-[A-Za-z0-9_-]{16,}|Bearer\s+\S{8,}', re.IGNORECASE)


def _scrub_request(request: Any) -> Any:
    # x-stainless-* headers carry the OS, runtime and retry count: noise that must not affect matching.
    for name in list(request.headers):
        if name.lower().startswith("x-stainless") or name.lower() in _SECRET_HEADERS:
            del request.headers[name]
    # Refuse, rather than trust the filters: a cassette is committed, so a key in it is a leak.
    if any(name.lower() in ("authorization", "api-key", "x-api-key") for name in request.headers):
        raise RuntimeError("refusing to record a request that still carries a credential header")
    body = request.body if isinstance(request.body, bytes) else str(request.body or "").encode()
    if _KEY_IN_BODY.search(body):
        raise RuntimeError("refusing to record a request whose body looks like it holds an API key")
    return request


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-baselines",
        action="store_true",
        help="write evals/baselines/ from the replayed eval (tests/test_eval_cassettes.py)",
    )


def pytest_recording_configure(config: pytest.Config, vcr: Any) -> None:
    vcr.register_matcher("json_body", _json_body)


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test gets its own result cache: a hit from another test would skip recorded requests."""
    monkeypatch.setenv("LLM_EXTRACT_CACHE_DIR", str(tmp_path / "llm-extract-cache"))


@pytest.fixture(scope="session")
def vcr_config() -> dict[str, Any]:
    # No record_mode here: it would silently override the --record-mode flag.
    return {
        "filter_headers": list(_SECRET_HEADERS),
        "before_record_request": _scrub_request,
        "match_on": ["method", "scheme", "path", "query", "json_body"],
        "decode_compressed_response": True,
    }


@pytest.fixture
def vcr_cassette_dir(request: pytest.FixtureRequest) -> str:
    return str(ROOT / "cassettes" / request.module.__name__.split(".")[-1])


def _recording(config: pytest.Config) -> bool:
    return config.getoption("--record-mode") not in (None, "none")


@pytest.fixture(scope="session")
def _embedded_server(request: pytest.FixtureRequest) -> Iterator[str | None]:
    # Session-scoped, so it starts before any cassette opens: its health checks are never recorded.
    if not _recording(request.config):
        yield None
        return
    from llm_extract.backends import LocalServer

    with LocalServer() as server:
        yield server.base_url


@pytest.fixture
def endpoint(
    request: pytest.FixtureRequest, _embedded_server: str | None, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """The embedded llama.cpp server while recording; a dead URL on replay (cassettes must answer)."""
    if _embedded_server is None:
        # A request missing from a cassette looks like a connection error: fail at once, don't back off.
        monkeypatch.setenv("LLM_EXTRACT_TRANSPORT_RETRIES", "0")
    yield _embedded_server or REPLAY_BASE_URL
    cassette = request.getfixturevalue("vcr")
    if cassette is not None and _embedded_server is None:
        assert cassette.all_played, f"{cassette._path}: not every recorded interaction was played"
