"""A fake OpenAI-compatible chat endpoint for benchmarks and tests (stdlib only).

Every ``POST /v1/chat/completions`` is answered, after ``latency`` seconds (± ``jitter``), with a
tool call of the forced tool (``tool_choice``; else the first tool) whose ``arguments`` is the JSON of
``minimal_instance`` of the tool's parameters schema, plus a ``usage`` block (prompt tokens ≈ body
bytes / 4, completion tokens ≈ len(arguments) / 4). ``GET /v1/models`` lists one model.
``GET /_stats`` returns the counters as JSON; ``POST /_reset`` zeroes them (and the request log).

Two ways to run it:

* as a subprocess, so its CPU is not charged to the client::

      python benchmarks/fake_openai.py --port 0 --latency 0.2      # first stdout line: the port

* in-process, from tests: ``with FakeOpenAI(latency=0.0, faults=[(429, {"retry-after": "0.1"})]) as
  fake:`` serves on 127.0.0.1 from a background thread with its own event loop; ``fake.base_url``,
  ``fake.requests`` (parsed bodies), ``fake.served`` (answered chat requests, faults included).

Faults: the first ``len(faults)`` chat requests are answered with those ``(status, headers)`` error
replies, in order, before normal answers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import signal
import socket
import sys
import threading
import time
import urllib.request
from typing import Any

__all__ = ["FakeOpenAI", "FakeServer", "fetch_stats", "minimal_instance", "reset_stats"]

_REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    408: "Request Timeout",
    409: "Conflict",
    413: "Payload Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


# --- minimal instances of JSON schemas -------------------------------------------------------


def minimal_instance(schema: dict[str, Any], root: dict[str, Any] | None = None) -> Any:
    """A small valid instance of ``schema`` (JSON schema as pydantic and instructor emit it).

    ``const`` and ``default`` are used as given; an ``enum`` gives its first value; ``anyOf``/``oneOf``
    prefer ``null`` when allowed, else the first option; strings are ``"x"``, numbers the smallest
    allowed (0 when unconstrained), booleans ``false``; arrays are empty unless ``minItems``; objects
    hold their required properties and only those. ``$ref`` resolves against ``root`` (``$defs`` or
    ``definitions``).
    """
    root = schema if root is None else root
    if not isinstance(schema, dict) or not schema:
        return None  # true or {}: anything goes
    if "const" in schema:
        return schema["const"]
    if "default" in schema:
        return schema["default"]
    if "enum" in schema:
        return schema["enum"][0]
    if "$ref" in schema:
        return minimal_instance(_resolve(schema["$ref"], root), root)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = schema[key]
            for option in options:
                if isinstance(option, dict) and option.get("type") == "null":
                    return None
            return minimal_instance(options[0], root)
    if "allOf" in schema:
        merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
        for part in schema["allOf"]:
            part = _resolve(part["$ref"], root) if "$ref" in part else part
            for k, v in part.items():
                if k == "properties":
                    merged.setdefault("properties", {}).update(v)
                elif k == "required":
                    merged["required"] = sorted(set(merged.get("required", [])) | set(v))
                else:
                    merged.setdefault(k, v)
        return minimal_instance(merged, root)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = "null" if "null" in kind else kind[0]
    if kind is None:
        if "properties" in schema:
            kind = "object"
        elif "items" in schema or "prefixItems" in schema:
            kind = "array"
        else:
            return None
    if kind == "object":
        props = schema.get("properties", {})
        return {name: minimal_instance(props.get(name, {}), root) for name in schema.get("required", [])}
    if kind == "array":
        count = int(schema.get("minItems", 0))
        prefix = schema.get("prefixItems", [])
        items = schema.get("items", {})
        out = [minimal_instance(p, root) for p in prefix[:count]]
        while len(out) < count:
            out.append(minimal_instance(items if isinstance(items, dict) else {}, root))
        return out
    if kind == "string":
        fmt = schema.get("format")
        if fmt == "date":
            return "2000-01-01"
        if fmt == "date-time":
            return "2000-01-01T00:00:00Z"
        if fmt == "time":
            return "00:00:00"
        length = max(int(schema.get("minLength", 1)), 0)
        if "maxLength" in schema:
            length = min(length, int(schema["maxLength"]))
        return "x" * length
    if kind in ("integer", "number"):
        value: float = 0
        if "minimum" in schema:
            value = max(value, schema["minimum"]) if "maximum" in schema else schema["minimum"]
        if "exclusiveMinimum" in schema:
            value = schema["exclusiveMinimum"] + (1 if kind == "integer" else 0.5)
        if "maximum" in schema and value > schema["maximum"]:
            value = schema["maximum"]
        if "exclusiveMaximum" in schema and value >= schema["exclusiveMaximum"]:
            value = schema["exclusiveMaximum"] - (1 if kind == "integer" else 0.5)
        return int(value) if kind == "integer" else float(value)
    if kind == "boolean":
        return False
    return None


def _resolve(ref: str, root: dict[str, Any]) -> dict[str, Any]:
    if not ref.startswith("#"):
        raise ValueError(f"only local $refs are supported, not {ref!r}")
    node: Any = root
    for part in ref.lstrip("#").strip("/").split("/"):
        if part:
            node = node[part.replace("~1", "/").replace("~0", "~")]
    return node  # type: ignore[no-any-return]


# --- the server ------------------------------------------------------------------------------


class FakeServer:
    """The asyncio HTTP/1.1 server; runs on whatever loop calls ``start``."""

    def __init__(
        self,
        *,
        latency: float = 0.0,
        jitter: float = 0.0,
        backlog: int = 128,
        faults: list[tuple[int, dict[str, str]]] | None = None,
        record: bool = False,
        model: str = "fake-model",
        seed: int | None = None,
    ) -> None:
        self.latency = latency
        self.jitter = jitter
        self.backlog = backlog
        self.faults = list(faults or [])
        self.record = record
        self.model = model
        self.requests: list[dict[str, Any]] = []
        self.served = 0  # chat completion requests answered, faults included
        self.completions = 0  # ... answered with a completion
        self.faulted = 0  # ... answered with a fault
        self.connections = 0  # connections accepted
        self.open_connections = 0
        self.max_open_connections = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self._random = random.Random(seed)
        self._server: asyncio.AbstractServer | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._schemas: dict[str, str] = {}  # parameters JSON -> arguments JSON
        self.port = 0

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        self._server = await asyncio.start_server(self._handle, host, port, backlog=self.backlog)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.close()
        if self._server is not None:
            await self._server.wait_closed()

    def stats(self) -> dict[str, Any]:
        return {
            "requests": self.served,
            "completions": self.completions,
            "faults": self.faulted,
            "connections": self.connections,
            "max_open_connections": self.max_open_connections,
            "max_in_flight": self.max_in_flight,
            "faults_pending": len(self.faults),
        }

    def reset(self) -> None:
        self.served = self.completions = self.faulted = self.connections = 0
        self.max_open_connections = self.open_connections
        self.max_in_flight = self.in_flight
        self.requests.clear()

    def _delay(self) -> float:
        if self.jitter:
            return max(0.0, self.latency + self._random.uniform(-self.jitter, self.jitter))
        return self.latency

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
        self.connections += 1
        self.open_connections += 1
        self.max_open_connections = max(self.max_open_connections, self.open_connections)
        self._writers.add(writer)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                try:
                    method, target, version = lines[0].split(" ", 2)
                except ValueError:
                    await self._reply(writer, 400, {"error": {"message": "bad request line"}}, close=True)
                    return
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        name, _, value = line.partition(":")
                        headers[name.strip().lower()] = value.strip()
                if "chunked" in headers.get("transfer-encoding", "").lower():
                    await self._reply(
                        writer, 400, {"error": {"message": "chunked bodies unsupported"}}, close=True
                    )
                    return
                length = int(headers.get("content-length") or 0)
                try:
                    body = await reader.readexactly(length) if length else b""
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                close = headers.get("connection", "").lower() == "close" or version == "HTTP/1.0"
                await self._route(writer, method, target.split("?", 1)[0], body, close)
                if close:
                    return
        except (ConnectionError, asyncio.CancelledError):
            return
        finally:
            self.open_connections -= 1
            self._writers.discard(writer)
            writer.close()

    async def _route(
        self, writer: asyncio.StreamWriter, method: str, path: str, body: bytes, close: bool
    ) -> None:
        path = path.rstrip("/")
        if method == "POST" and path.endswith("/chat/completions"):
            await self._chat(writer, body, close)
        elif method == "GET" and path.endswith("/models"):
            data = [{"id": self.model, "object": "model", "created": 0, "owned_by": "fake-openai"}]
            await self._reply(writer, 200, {"object": "list", "data": data}, close=close)
        elif method == "GET" and path == "/_stats":
            await self._reply(writer, 200, self.stats(), close=close)
        elif method == "POST" and path == "/_reset":
            self.reset()
            await self._reply(writer, 200, self.stats(), close=close)
        else:
            error = {"message": f"no route for {method} {path}", "type": "invalid_request_error"}
            await self._reply(writer, 404, {"error": error}, close=close)

    async def _chat(self, writer: asyncio.StreamWriter, body: bytes, close: bool) -> None:
        self.served += 1
        number = self.served
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            try:
                request = json.loads(body)
            except ValueError:
                await self._reply(writer, 400, {"error": {"message": "body is not JSON"}}, close=close)
                return
            if self.record:
                self.requests.append(request)
            if self.faults:
                status, headers = self.faults.pop(0)
                self.faulted += 1
                delay = self._delay()
                if delay:
                    await asyncio.sleep(delay)
                error = {"message": f"fake fault {status}", "type": "fake_fault", "code": str(status)}
                await self._reply(writer, status, {"error": error}, headers=headers, close=close)
                return
            message, finish = self._answer(request)
            arguments = message["tool_calls"][0]["function"]["arguments"] if "tool_calls" in message else ""
            prompt_tokens = max(1, len(body) // 4)
            completion_tokens = max(1, len(arguments or message.get("content") or "") // 4)
            response = {
                "id": f"chatcmpl-fake-{number}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": request.get("model") or self.model,
                "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                },
            }
            delay = self._delay()
            if delay:
                await asyncio.sleep(delay)
            self.completions += 1
            await self._reply(writer, 200, response, close=close)
        finally:
            self.in_flight -= 1

    def _answer(self, request: dict[str, Any]) -> tuple[dict[str, Any], str]:
        tools = request.get("tools") or []
        if not tools:
            return {"role": "assistant", "content": "ok"}, "stop"
        choice = request.get("tool_choice")
        function = tools[0].get("function", {})
        if isinstance(choice, dict):
            wanted = (choice.get("function") or {}).get("name")
            for tool in tools:
                if tool.get("function", {}).get("name") == wanted:
                    function = tool["function"]
                    break
        parameters = function.get("parameters") or {"type": "object"}
        key = json.dumps(parameters, sort_keys=True)
        arguments = self._schemas.get(key)
        if arguments is None:
            arguments = self._schemas[key] = json.dumps(minimal_instance(parameters))
            if len(self._schemas) > 10_000:
                self._schemas.clear()
        call = {
            "id": f"call_fake_{self.served}",
            "type": "function",
            "function": {"name": function.get("name", "tool"), "arguments": arguments},
        }
        return {"role": "assistant", "content": None, "tool_calls": [call]}, "tool_calls"

    async def _reply(
        self,
        writer: asyncio.StreamWriter,
        status: int,
        payload: Any,
        *,
        headers: dict[str, str] | None = None,
        close: bool = False,
    ) -> None:
        data = json.dumps(payload).encode("utf-8")
        head = [
            f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}",
            "content-type: application/json",
            f"content-length: {len(data)}",
            f"connection: {'close' if close else 'keep-alive'}",
        ]
        head += [f"{k}: {v}" for k, v in (headers or {}).items()]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + data)
        await writer.drain()


class FakeOpenAI:
    """The fake server in a background thread of this process (for tests): a context manager."""

    def __init__(
        self,
        latency: float = 0.0,
        *,
        jitter: float = 0.0,
        backlog: int = 128,
        faults: list[tuple[int, dict[str, str]]] | None = None,
        record: bool = True,
        model: str = "fake-model",
        seed: int | None = None,
    ) -> None:
        self.server = FakeServer(
            latency=latency,
            jitter=jitter,
            backlog=backlog,
            faults=faults,
            record=record,
            model=model,
            seed=seed,
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def requests(self) -> list[dict[str, Any]]:
        """Parsed bodies of the chat requests received, faults included, in arrival order."""
        return self.server.requests

    @property
    def served(self) -> int:
        """Chat requests answered, faults included."""
        return self.server.served

    @property
    def faults(self) -> list[tuple[int, dict[str, str]]]:
        """Fault replies still to be served (append to add more)."""
        return self.server.faults

    def stats(self) -> dict[str, Any]:
        return self.server.stats()

    def reset(self) -> None:
        self.server.reset()

    def start(self) -> FakeOpenAI:
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                self.port = loop.run_until_complete(self.server.start())
            except BaseException as exc:  # noqa: BLE001 (re-raised in the starting thread)
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(self.server.stop())
                pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
                for task in pending:
                    task.cancel()
                if pending:
                    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                loop.close()

        self._thread = threading.Thread(target=run, name="fake-openai", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            raise failure[0]
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
        self._loop = self._thread = None

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


def fetch_stats(base_url: str) -> dict[str, Any]:
    """The counters of a running fake server (``base_url`` with or without ``/v1``)."""
    with urllib.request.urlopen(_origin(base_url) + "/_stats", timeout=10) as response:
        return json.loads(response.read())  # type: ignore[no-any-return]


def reset_stats(base_url: str) -> dict[str, Any]:
    """Zero the counters of a running fake server."""
    request = urllib.request.Request(_origin(base_url) + "/_reset", data=b"", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())  # type: ignore[no-any-return]


def _origin(base_url: str) -> str:
    url = base_url.rstrip("/")
    return url[: -len("/v1")] if url.endswith("/v1") else url


def _parse_fault(text: str) -> tuple[int, dict[str, str]]:
    status, _, rest = text.partition(":")
    headers = dict(item.split("=", 1) for item in rest.split(",") if item)
    return int(status), headers


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed first)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--jitter", type=float, default=0.0, help="uniform ± seconds around --latency")
    parser.add_argument("--backlog", type=int, default=128, help="listen backlog")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="STATUS[:header=value,...]",
        help="answer the next request with this error (repeatable, in order), e.g. 429:retry-after=0.1",
    )
    args = parser.parse_args(argv)
    server = FakeServer(
        latency=args.latency,
        jitter=args.jitter,
        backlog=args.backlog,
        faults=[_parse_fault(f) for f in args.fault],
        seed=args.seed,
    )

    async def serve() -> None:
        port = await server.start(args.host, args.port)
        print(port, flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await server.stop()
        print(json.dumps(server.stats()), file=sys.stderr, flush=True)

    asyncio.run(serve())


if __name__ == "__main__":
    main()
