"""Shared fixtures: cassette configuration (pytest-recording/vcrpy) and the endpoint used to record."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# Re-ask bodies embed pydantic error URLs, which name the pydantic version: keep them out of cassettes.
os.environ["PYDANTIC_ERRORS_INCLUDE_URL"] = "0"

from support import recording  # noqa: E402

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


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-baselines",
        action="store_true",
        help="write evals/baselines/ from the replayed eval (tests/test_eval_cassettes.py)",
    )


def pytest_recording_configure(config: pytest.Config, vcr: Any) -> None:
    vcr.register_matcher("json_body", recording.json_body)


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test gets its own result cache: a hit from another test would skip recorded requests."""
    monkeypatch.setenv("LLM_EXTRACT_CACHE_DIR", str(tmp_path / "llm-extract-cache"))


@pytest.fixture(scope="session")
def vcr_config() -> dict[str, Any]:
    return recording.vcr_config()


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
