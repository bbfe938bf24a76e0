"""A fake OpenAI-compatible endpoint that injects faults at seeded random rates (stdlib only).

Each ``POST /v1/chat/completions`` draws one kind, with a ``random.Random(seed)``:

* ``429``: HTTP 429 with ``retry-after: 0.01``; ``500``, ``503``: HTTP 500/503 error bodies;
* ``reset``: the connection is aborted without a reply;
* ``stall``: no reply for ``stall`` seconds (past the client timeout), then the connection is dropped;
* ``truncated``: HTTP 200 whose JSON body is cut in half (content-length matches what is sent);
* ``schema``: HTTP 200 with a tool call whose arguments violate the tool's schema;
* ``empty``: HTTP 200 with ``"choices": []``;
* ``ok``: the ``FakeServer`` answer (a minimal valid instance of the tool's schema).

``decide(body)``, when given, picks the kind for a request instead (None: draw as usual), so a test
can script faults per document. Every chat request is logged at arrival (``FaultyServer.log``:
number, kind, parsed body) and counted by kind (``FaultyServer.injected``), so a test can tell which
document each request was for and whether its messages grew (a re-ask). ``FaultyOpenAI`` runs it in
a background thread of this process, like ``FakeOpenAI``.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fake_openai import FakeOpenAI, FakeServer

__all__ = ["FAULT_KINDS", "REPLY_FAULTS", "TRANSPORT_FAULTS", "ChatRecord", "FaultyOpenAI", "FaultyServer"]

TRANSPORT_FAULTS = ("429", "500", "503", "reset", "stall")
# Faults that arrive as an HTTP 200: the client cannot tell them from a model's answer by status.
REPLY_FAULTS = ("truncated", "schema", "empty")
FAULT_KINDS = TRANSPORT_FAULTS + REPLY_FAULTS


@dataclass(frozen=True)
class ChatRecord:
    """One chat request as it arrived: its order, the fault drawn for it and its parsed body."""

    number: int
    fault: str  # one of FAULT_KINDS, or "ok"
    body: dict[str, Any]


def even_rates(rate: float, kinds: tuple[str, ...] = FAULT_KINDS) -> dict[str, float]:
    """``rate`` split evenly over ``kinds``."""
    return {kind: rate / len(kinds) for kind in kinds}


class FaultyServer(FakeServer):
    """``FakeServer`` answering a seeded random share of chat requests with faults."""

    def __init__(
        self,
        *,
        rate: float = 0.2,
        rates: Mapping[str, float] | None = None,
        stall: float = 1.0,
        seed: int | None = 0,
        decide: Callable[[dict[str, Any]], str | None] | None = None,
        **options: Any,
    ) -> None:
        super().__init__(seed=seed, **options)
        self.rates = dict(rates) if rates is not None else even_rates(rate)
        unknown = set(self.rates) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {', '.join(FAULT_KINDS)}")
        if sum(self.rates.values()) > 1:
            raise ValueError("fault rates add up to more than 1")
        self.stall = stall
        self.decide = decide
        self.log: list[ChatRecord] = []
        self.injected: Counter[str] = Counter()
        # Its own generator, so latency jitter draws do not shift the fault sequence.
        self._faults = random.Random(seed)

    def stats(self) -> dict[str, Any]:
        return {**super().stats(), "injected": dict(self.injected)}

    def reset(self) -> None:
        super().reset()
        self.log.clear()
        self.injected.clear()

    def _draw(self, request: dict[str, Any]) -> str:
        if self.decide is not None and (kind := self.decide(request)) is not None:
            if kind != "ok" and kind not in FAULT_KINDS:
                raise ValueError(f"decide() returned an unknown fault kind {kind!r}")
            return kind
        x = self._faults.random()
        for kind, share in self.rates.items():
            if x < share:
                return kind
            x -= share
        return "ok"

    async def _chat(self, writer: asyncio.StreamWriter, body: bytes, close: bool) -> None:
        try:
            request = json.loads(body)
        except ValueError:
            await super()._chat(writer, body, close)  # the plain server's 400
            return
        kind = self._draw(request)
        self.log.append(ChatRecord(number=len(self.log) + 1, fault=kind, body=request))
        self.injected[kind] += 1
        if kind == "ok":
            await super()._chat(writer, body, close)
            return
        self.served += 1
        self.faulted += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await self._fault(kind, writer, request, len(body), close)
        finally:
            self.in_flight -= 1

    async def _fault(
        self, kind: str, writer: asyncio.StreamWriter, request: dict[str, Any], size: int, close: bool
    ) -> None:
        if (delay := self._delay()) and kind != "stall":
            await asyncio.sleep(delay)
        if kind in ("429", "500", "503"):
            status = int(kind)
            error = {"message": f"injected fault {status}", "type": "fake_fault", "code": kind}
            headers = {"retry-after": "0.01"} if status == 429 else {}
            await self._reply(writer, status, {"error": error}, headers=headers, close=close)
            return
        if kind in ("reset", "stall"):
            if kind == "stall":
                await asyncio.sleep(self.stall)
            writer.transport.abort()
            # Leaves FakeServer's connection loop at once: this connection has no next request.
            raise ConnectionAbortedError(f"injected fault {kind}")
        message, finish = self._answer(request)
        choices: list[dict[str, Any]] = []
        if kind == "schema":
            call = message["tool_calls"][0]["function"] if "tool_calls" in message else None
            if call is None:
                message = {"role": "assistant", "content": '{"unexpected": 1}'}
            else:
                call["arguments"] = json.dumps(self._invalid(call["arguments"]))
            choices = [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}]
        elif kind == "truncated":
            choices = [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}]
        prompt_tokens = max(1, size // 4)
        response = {
            "id": f"chatcmpl-fault-{self.served}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request.get("model") or self.model,
            "choices": choices,
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": 1,
                "total_tokens": prompt_tokens + 1,
            },
        }
        data = json.dumps(response).encode("utf-8")
        if kind == "truncated":
            data = data[: len(data) // 2]
        await self._raw_reply(writer, 200, data, close=close)

    def _invalid(self, arguments: str) -> Any:
        """Arguments the schema refuses: a stray key and no required ones, or every value mistyped."""
        valid = json.loads(arguments)
        if not isinstance(valid, dict) or not valid or self._faults.random() < 0.5:
            return {"unexpected": 1}
        # A string where a list/object/number is wanted and a number where a string is wanted.
        return {key: 7 if isinstance(value, str) else "wrong type" for key, value in valid.items()}

    async def _raw_reply(
        self, writer: asyncio.StreamWriter, status: int, data: bytes, *, close: bool
    ) -> None:
        head = [
            f"HTTP/1.1 {status} OK",
            "content-type: application/json",
            f"content-length: {len(data)}",
            f"connection: {'close' if close else 'keep-alive'}",
        ]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + data)
        await writer.drain()


class FaultyOpenAI(FakeOpenAI):
    """A ``FaultyServer`` in a background thread of this process (for tests): a context manager."""

    def __init__(
        self,
        latency: float = 0.0,
        *,
        rate: float = 0.2,
        rates: Mapping[str, float] | None = None,
        stall: float = 1.0,
        seed: int | None = 0,
        decide: Callable[[dict[str, Any]], str | None] | None = None,
        jitter: float = 0.0,
        backlog: int = 128,
        model: str = "fake-model",
    ) -> None:
        super().__init__(latency, jitter=jitter, backlog=backlog, record=False, model=model, seed=seed)
        # FakeOpenAI only starts its server in start(): swapping it here is safe.
        self.faulty = FaultyServer(
            rate=rate,
            rates=rates,
            stall=stall,
            seed=seed,
            decide=decide,
            latency=latency,
            jitter=jitter,
            backlog=backlog,
            model=model,
        )
        self.server = self.faulty

    @property
    def log(self) -> list[ChatRecord]:
        """Every chat request received, in arrival order, with the fault drawn for it."""
        return self.faulty.log

    @property
    def injected(self) -> Counter[str]:
        """Chat requests by kind drawn (``ok`` included)."""
        return self.faulty.injected

    def __enter__(self) -> FaultyOpenAI:
        self.start()
        return self
