"""Cassette recording: what reaches a cassette (no credential, ever) and how requests are matched.

Shared by the test suite (``conftest.py``) and by ``scripts/baselines.py``, which replays the eval
cassettes to set the committed baselines.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["SECRET_HEADERS", "json_body", "scrub_request", "vcr_config"]

SECRET_HEADERS = ("authorization", "api-key", "x-api-key", "openai-organization", "openai-project", "cookie")


def json_body(r1: Any, r2: Any) -> None:
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


def scrub_request(request: Any) -> Any:
    # x-stainless-* headers carry the OS, runtime and retry count: noise that must not affect matching.
    for name in list(request.headers):
        if name.lower().startswith("x-stainless") or name.lower() in SECRET_HEADERS:
            del request.headers[name]
    # Refuse, rather than trust the filters: a cassette is committed, so a key in it is a leak.
    if any(name.lower() in ("authorization", "api-key", "x-api-key") for name in request.headers):
        raise RuntimeError("refusing to record a request that still carries a credential header")
    body = request.body if isinstance(request.body, bytes) else str(request.body or "").encode()
    if _KEY_IN_BODY.search(body):
        raise RuntimeError("refusing to record a request whose body looks like it holds an API key")
    return request


def vcr_config() -> dict[str, Any]:
    """vcrpy settings: credentials filtered and refused, requests matched by parsed JSON body."""
    # No record_mode here: it would silently override pytest-recording's --record-mode flag.
    return {
        "filter_headers": list(SECRET_HEADERS),
        "before_record_request": scrub_request,
        "match_on": ["method", "scheme", "path", "query", "json_body"],
        "decode_compressed_response": True,
    }
