"""A loopback fake of OpenAI's ``/v1/files`` and ``/v1/batches`` (and ``/v1/chat/completions``), stdlib only.

It speaks the wire format the ``openai`` SDK speaks, so the code under test runs unchanged against it:

* ``POST /v1/files`` (multipart: ``purpose``, ``file``), ``GET /v1/files/{id}``,
  ``GET /v1/files/{id}/content``;
* ``POST /v1/batches``, ``GET /v1/batches/{id}``, ``GET /v1/batches`` (one page),
  ``POST /v1/batches/{id}/cancel``;
* ``POST /v1/chat/completions``: the same ``answer`` function, live, so one server serves a live run
  and a batch run the same answers.

A batch is validated when created, as the real API does: every line a JSON object with a
``custom_id``, ``method`` POST, ``url`` equal to the batch's endpoint and a ``body``; at most 50,000
lines; **duplicate custom_ids fail the whole batch** (status ``failed``, error code
``duplicate_custom_id``). A valid batch reports ``in_progress`` for ``Scenario.polls`` retrievals, then
ends. Its output file holds the 200 lines in an order that is not the input order (the real API
promises none); its error file the rest, in the real formats:
``{"response": {"status_code": 400, "body": {"error": ...}}, "error": null}`` for an HTTP error, and
``{"response": null, "error": {"code": "batch_expired", ...}}`` for lines never run.

What goes wrong is chosen per batch, in creation order, by ``Scenario``s: expiry or cancellation
after some lines, a status code for chosen lines (``status_for``: 400, 500...), output lines sent
twice. Answers come from ``answer(body) -> response body`` (default: the benchmark fake's minimal
valid instance of the forced tool; pass ``Oracle.answer`` for real answers).
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from fake_openai import minimal_instance  # noqa: E402

__all__ = ["BatchAPIServer", "Scenario", "minimal_answer"]

MAX_LINES = 50_000
_TERMINAL = ("completed", "failed", "expired", "cancelled")


def minimal_answer(body: dict[str, Any]) -> dict[str, Any]:
    """A chat.completion calling the forced tool with the minimal valid instance of its schema."""
    tools = body.get("tools") or []
    function = tools[0]["function"] if tools else {"name": "tool", "parameters": {"type": "object"}}
    arguments = json.dumps(minimal_instance(function.get("parameters") or {"type": "object"}))
    prompt = max(1, len(json.dumps(body)) // 4)
    completion = max(1, len(arguments) // 4)
    call = {
        "id": "call_fake",
        "type": "function",
        "function": {"name": function["name"], "arguments": arguments},
    }
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 0,
        "model": body.get("model") or "fake-model",
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {"role": "assistant", "content": None, "tool_calls": [call]},
            }
        ],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
    }


@dataclass
class Scenario:
    """How one batch goes (batches take scenarios in creation order; the default: all well)."""

    expire_after: int | None = None
    """Lines answered before the 24 h window runs out; the rest get ``batch_expired``."""
    cancel_after: int | None = None
    """Lines answered before the batch is cancelled; the rest get ``batch_cancelled``."""
    status_for: Callable[[dict[str, Any]], int | None] | None = None
    """Per input line: an HTTP status to fail it with (400, 500, ...), or None to answer it."""
    repeat_output: bool = False
    """Every output line twice (as a retried worker might write it)."""
    polls: int = 1
    """Retrievals that report ``in_progress`` before the batch ends."""


@dataclass
class _Batch:
    data: dict[str, Any]
    lines: list[dict[str, Any]]
    scenario: Scenario
    polls: int = 0


@dataclass
class _Files:
    content: dict[str, bytes] = field(default_factory=dict)
    meta: dict[str, dict[str, Any]] = field(default_factory=dict)


class BatchAPIServer:
    """The fake, serving on 127.0.0.1 from a daemon thread; a context manager."""

    def __init__(
        self,
        answer: Callable[[dict[str, Any]], dict[str, Any]] = minimal_answer,
        scenarios: list[Scenario] | None = None,
    ) -> None:
        self.answer = answer
        self.scenarios = list(scenarios or [])
        self.files = _Files()
        self.batches: dict[str, _Batch] = {}
        self.chat_requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._next = 0

    # -- what tests read --

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>/v1`` once started."""
        assert self._server is not None, "not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def submitted(self) -> list[list[str]]:
        """The custom_ids of each batch's input file, in creation order."""
        return [[line["custom_id"] for line in b.lines] for b in self.batches.values()]

    def batch(self, batch_id: str) -> dict[str, Any]:
        """The batch object as the API returns it."""
        return self.batches[batch_id].data

    # -- the API --

    def _id(self, prefix: str) -> str:
        self._next += 1
        return f"{prefix}-{self._next:05d}"

    def upload(self, purpose: str, filename: str, content: bytes) -> dict[str, Any]:
        file_id = self._id("file")
        meta = {
            "id": file_id,
            "object": "file",
            "bytes": len(content),
            "created_at": int(time.time()),
            "filename": filename,
            "purpose": purpose,
            "status": "processed",
        }
        self.files.content[file_id] = content
        self.files.meta[file_id] = meta
        return meta

    def create_batch(self, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        file_id = request.get("input_file_id")
        if file_id not in self.files.content:
            return 400, _error(f"no file {file_id!r}", "invalid_request_error")
        endpoint = request.get("endpoint")
        batch_id = self._id("batch")
        now = int(time.time())
        data: dict[str, Any] = {
            "id": batch_id,
            "object": "batch",
            "endpoint": endpoint,
            "errors": None,
            "input_file_id": file_id,
            "completion_window": request.get("completion_window", "24h"),
            "status": "validating",
            "output_file_id": None,
            "error_file_id": None,
            "created_at": now,
            "expires_at": now + 86_400,
            "request_counts": {"total": 0, "completed": 0, "failed": 0},
            "metadata": request.get("metadata"),
        }
        lines, problems = _validate(self.files.content[file_id], endpoint)
        scenario = self.scenarios.pop(0) if self.scenarios else Scenario()
        self.batches[batch_id] = _Batch(data, lines, scenario)
        if problems:
            data.update(status="failed", failed_at=now, errors={"object": "list", "data": problems})
        else:
            data["status"] = "in_progress"
            data["request_counts"]["total"] = len(lines)
        return 200, data

    def retrieve(self, batch_id: str) -> dict[str, Any]:
        batch = self.batches[batch_id]
        if batch.data["status"] == "in_progress":
            batch.polls += 1
            if batch.polls > batch.scenario.polls:
                self._finish(batch)
        return batch.data

    def cancel(self, batch_id: str) -> dict[str, Any]:
        batch = self.batches[batch_id]
        if batch.data["status"] not in _TERMINAL:
            batch.scenario.cancel_after = 0
            self._finish(batch)
        return batch.data

    def _finish(self, batch: _Batch) -> None:
        """Run the batch's lines and write its output and error files, as its scenario says."""
        s = batch.scenario
        cut, code, status = len(batch.lines), None, "completed"
        if s.expire_after is not None:
            cut, code, status = min(s.expire_after, cut), "batch_expired", "expired"
        elif s.cancel_after is not None:
            cut, code, status = min(s.cancel_after, cut), "batch_cancelled", "cancelled"
        output: list[bytes] = []
        errors: list[bytes] = []
        for number, line in enumerate(batch.lines):
            cid = line["custom_id"]
            if number >= cut:
                message = "This request could not be executed before the completion window expired."
                if code == "batch_cancelled":
                    message = "This request was cancelled."
                errors.append(_line(cid, None, {"code": code, "message": message}))
                continue
            failing = s.status_for(line) if s.status_for is not None else None
            if failing is not None:
                body = _error(
                    f"fake failure {failing}", "invalid_request_error" if failing < 500 else "server_error"
                )
                errors.append(
                    _line(cid, {"status_code": failing, "request_id": f"req-{number}", "body": body}, None)
                )
                continue
            response = {"status_code": 200, "request_id": f"req-{number}", "body": self.answer(line["body"])}
            output.append(_line(cid, response, None))
            if s.repeat_output:
                output.append(_line(cid, response, None))
        output.reverse()  # the real API promises no order: join on custom_id, never on position
        data = batch.data
        now = int(time.time())
        if output:
            data["output_file_id"] = self.upload("batch_output", "output.jsonl", b"".join(output))["id"]
        if errors:
            data["error_file_id"] = self.upload("batch_output", "errors.jsonl", b"".join(errors))["id"]
        answered = len({json.loads(o)["custom_id"] for o in output})
        data["request_counts"] = {"total": len(batch.lines), "completed": answered, "failed": len(errors)}
        data["status"] = status
        data[{"completed": "completed_at", "expired": "expired_at", "cancelled": "cancelled_at"}[status]] = (
            now
        )

    # -- HTTP --

    def start(self) -> BatchAPIServer:
        """Serve on a free port from a daemon thread."""
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="batch-api-fake", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> BatchAPIServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


def _error(message: str, kind: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


def _line(cid: str, response: dict[str, Any] | None, error: dict[str, Any] | None) -> bytes:
    line = {"id": f"batch_req_{cid}", "custom_id": cid, "response": response, "error": error}
    return json.dumps(line).encode("utf-8") + b"\n"


def _validate(content: bytes, endpoint: str | None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The input lines and the validation errors the real API would report for them."""
    lines: list[dict[str, Any]] = []
    problems: list[dict[str, Any]] = []
    seen: set[str] = set()
    for number, raw in enumerate(content.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            line = json.loads(raw)
        except ValueError:
            problems.append({"code": "invalid_json_line", "message": "not JSON", "line": number})
            continue
        cid = line.get("custom_id") if isinstance(line, dict) else None
        if not isinstance(cid, str) or line.get("method") != "POST" or not isinstance(line.get("body"), dict):
            problems.append({"code": "invalid_request", "message": "bad request line", "line": number})
            continue
        if line.get("url") != endpoint:
            problems.append(
                {"code": "mismatched_endpoint", "message": f"url {line.get('url')}", "line": number}
            )
            continue
        if cid in seen:
            problems.append(
                {"code": "duplicate_custom_id", "message": f"custom_id {cid!r} is repeated", "line": number}
            )
            continue
        seen.add(cid)
        lines.append(line)
    if len(lines) > MAX_LINES:
        problems.append({"code": "too_many_requests", "message": f"{len(lines)} lines", "line": None})
    return lines, problems


def _multipart(content_type: str, body: bytes) -> dict[str, tuple[str | None, bytes]]:
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    fields: dict[str, tuple[str | None, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            fields[name] = (part.get_filename(), payload)
    return fields


def _handler(fake: BatchAPIServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_: Any) -> None:
            pass

        def _send(self, status: int, payload: Any, *, raw: bytes | None = None) -> None:
            data = raw if raw is not None else json.dumps(payload).encode("utf-8")
            self.send_response(status)
            self.send_header(
                "content-type", "application/octet-stream" if raw is not None else "application/json"
            )
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("content-length") or 0))

        def do_GET(self) -> None:
            parts = self.path.split("?", 1)[0].rstrip("/").split("/")[2:]  # after /v1
            with fake.lock:
                if parts[:1] == ["files"] and len(parts) == 3 and parts[2] == "content":
                    content = fake.files.content.get(parts[1])
                    if content is None:
                        return self._send(404, _error("no such file", "invalid_request_error"))
                    return self._send(200, None, raw=content)
                if parts[:1] == ["files"] and len(parts) == 2 and parts[1] in fake.files.meta:
                    return self._send(200, fake.files.meta[parts[1]])
                if parts == ["batches"]:
                    data = [b.data for b in fake.batches.values()]
                    return self._send(200, {"object": "list", "data": data, "has_more": False})
                if parts[:1] == ["batches"] and len(parts) == 2 and parts[1] in fake.batches:
                    return self._send(200, fake.retrieve(parts[1]))
            self._send(404, _error(f"no route for GET {self.path}", "invalid_request_error"))

        def do_POST(self) -> None:
            parts = self.path.split("?", 1)[0].rstrip("/").split("/")[2:]
            body = self._body()
            with fake.lock:
                if parts == ["files"]:
                    fields = _multipart(self.headers.get("content-type", ""), body)
                    purpose = fields.get("purpose", (None, b""))[1].decode()
                    filename, content = fields.get("file", ("upload", b""))
                    return self._send(200, fake.upload(purpose, filename or "upload", content))
                if parts == ["batches"]:
                    status, payload = fake.create_batch(json.loads(body))
                    return self._send(status, payload)
                if parts[:1] == ["batches"] and len(parts) == 3 and parts[2] == "cancel":
                    return self._send(200, fake.cancel(parts[1]))
                if parts == ["chat", "completions"]:
                    request = json.loads(body)
                    fake.chat_requests.append(request)
                    return self._send(200, fake.answer(request))
            self._send(404, _error(f"no route for POST {self.path}", "invalid_request_error"))

    return Handler
