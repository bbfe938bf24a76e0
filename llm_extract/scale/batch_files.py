"""The OpenAI Batch API's file formats: request lines in, output and error lines back.

A request line is ``{"custom_id", "method": "POST", "url": "/v1/chat/completions", "body"}`` where
``body`` is exactly the JSON a live run would POST. An input file holds at most 50,000 lines and
200 MB. Output and error lines are ``{"id", "custom_id", "response": {"status_code", "request_id",
"body"}, "error": {"code", "message"} | null}``, in any order (joined on ``custom_id``). The error file
holds the requests that failed: an HTTP status other than 200, or ``error.code`` such as
``batch_expired``, ``batch_cancelled`` or ``request_timeout``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ENDPOINT",
    "MAX_BYTES",
    "MAX_LINES",
    "Outcome",
    "custom_id",
    "parse_outcomes",
    "request_line",
    "split_lines",
]

ENDPOINT = "/v1/chat/completions"
MAX_LINES = 50_000
MAX_BYTES = 200 * 1024 * 1024

_SAFE_ID = re.compile(r"[A-Za-z0-9._-]{1,48}")


def _canonical(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def custom_id(document_id: str, body: dict[str, Any]) -> str:
    """The request's id: the document id (or its hash, if long or unusual) and a hash of the body.

    The same question of the same document always gets the same id, so a rerun finds its answer; a
    re-ask or the next question is another body, hence another id. Two documents never share one.
    """
    who = document_id if _SAFE_ID.fullmatch(document_id) else "h" + _digest(document_id.encode())[:24]
    return f"{who}~{_digest(_canonical(body))[:24]}"


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def request_line(custom_id: str, body: dict[str, Any]) -> bytes:
    """One line of an input file (with its newline)."""
    line = {"custom_id": custom_id, "method": "POST", "url": ENDPOINT, "body": body}
    return json.dumps(line, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"


def split_lines(
    lines: Iterable[bytes], *, max_lines: int = MAX_LINES, max_bytes: int = MAX_BYTES
) -> Iterator[list[bytes]]:
    """Group lines into files of at most ``max_lines`` lines and ``max_bytes`` bytes, in order.

    A single line larger than ``max_bytes`` still gets a file of its own (the API will refuse it, and
    that refusal is recorded for its document), rather than stopping the whole run.
    """
    group: list[bytes] = []
    size = 0
    for line in lines:
        if group and (len(group) >= max_lines or size + len(line) > max_bytes):
            yield group
            group, size = [], 0
        group.append(line)
        size += len(line)
    if group:
        yield group


@dataclass(frozen=True)
class Outcome:
    """One line of an output or error file."""

    custom_id: str
    status_code: int | None
    body: dict[str, Any] | None
    code: str | None
    message: str

    @property
    def answered(self) -> bool:
        """An HTTP 200 that carries a completion (choices): an answer to replay."""
        return self.status_code == 200 and isinstance(self.body, dict) and bool(self.body.get("choices"))

    @property
    def retryable(self) -> bool:
        """Whether sending the request again may succeed (as ``client.is_transient`` decides live)."""
        if self.status_code is None or self.status_code == 200:
            return True  # expired, cancelled, timed out, or a 200 without an answer
        return self.status_code in (408, 409, 429) or self.status_code >= 500

    @property
    def what(self) -> str:
        """What failed, as the live error says it: ``HTTP 400``, or the batch's code."""
        if self.status_code not in (None, 200):
            return f"HTTP {self.status_code}"
        return self.code or "no answer"


def parse_outcomes(data: bytes) -> Iterator[Outcome]:
    """The outcomes in an output or error file; lines that are not JSON objects are skipped."""
    for raw in data.splitlines():
        if not raw.strip():
            continue
        try:
            line = json.loads(raw)
        except ValueError:
            continue
        if not isinstance(line, dict) or not isinstance(line.get("custom_id"), str):
            continue
        response = line.get("response") if isinstance(line.get("response"), dict) else None
        error = line.get("error") if isinstance(line.get("error"), dict) else None
        status = response.get("status_code") if response else None
        body = response.get("body") if response else None
        message = ""
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            message = str(body["error"].get("message") or "")
        if error:
            message = str(error.get("message") or message)
        yield Outcome(
            custom_id=line["custom_id"],
            status_code=status if isinstance(status, int) else None,
            body=body if isinstance(body, dict) else None,
            code=str(error["code"]) if error and error.get("code") else None,
            message=message.splitlines()[0][:300] if message else "",
        )
