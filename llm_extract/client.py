"""Structured calls to an OpenAI-compatible endpoint: instructor re-asks over tenacity transport retries.

Two retry layers, kept apart on purpose:

* transport faults (timeouts, connection errors, HTTP 429/5xx) are retried *below* the re-asks by
  tenacity, with exponential backoff and jitter, honouring ``Retry-After``/``retry-after-ms``;
  the model never sees them;
* invalid output (unparseable JSON, schema or cross-reference violations) is re-asked
  (``max_reasks``), the validation error fed back to the model.

The structured part is instructor's: its TOOLS-mode handlers build the request (tools and a forced
tool choice, prepared once per response model), parse the answer and write the re-ask messages.
The loop around them is ours (``_Call``). instructor's own wrapper walks the response model for
async validators six times per request and builds a tenacity loop for the re-asks; at concurrency
32 that was 1.2 of our 3.0 ms of CPU per document (benchmarks/RESULTS.md), for output that is
almost always valid at once. The requests are the ones instructor sends, re-asks included
(``tests/test_client.py`` compares them).

Every HTTP response's token usage is counted into the ``CallStats`` of the current call, so totals
include re-asks and retries.

Client-side rate limits (``RateLimiter``: requests and tokens per minute, aiolimiter leaky buckets)
apply to every HTTP request of the async path, retries and re-asks included; a ``Retry-After`` from
the server pauses every request of the client, not just the one that was refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import email.utils
import functools
import json
import math
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Generic, TypeVar

import openai
from aiolimiter import AsyncLimiter
from instructor import Mode, Provider
from instructor.v2 import mode_registry
from instructor.v2.core.errors import IncompleteOutputException, ResponseParsingError
from instructor.v2.core.function_calls import response_schema
from openai.types.chat import ChatCompletion, ChatCompletionMessageFunctionToolCall
from openai.types.chat.chat_completion_message_function_tool_call import Function
from pydantic import BaseModel, ValidationError
from tenacity import AsyncRetrying, RetryCallState, Retrying, retry_if_exception, stop_after_attempt
from tenacity.wait import wait_base

from llm_extract.errors import ModelOutputError, TransportError
from llm_extract.schema import Usage
from llm_extract.stats import CallStats

__all__ = ["CallStats", "ModelClient", "RateLimiter", "is_transient"]

T = TypeVar("T", bound=BaseModel)
_MAX_WAIT = 60.0


_STATS: contextvars.ContextVar[CallStats | None] = contextvars.ContextVar("llm_extract_stats", default=None)


class UnusableResponse(Exception):  # noqa: N818 (internal; becomes a TransportError)
    """An HTTP 200 that carries no answer: a torn JSON body, or no choices at all."""


def is_transient(exc: BaseException) -> bool:
    """Whether a failed request is worth sending again: timeouts, connection errors, 408/409/429/5xx."""
    if isinstance(exc, UnusableResponse):
        return True  # the model never answered; resending is not a re-ask
    if isinstance(exc, openai.APIConnectionError):  # includes APITimeoutError
        return True
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in (408, 409, 429) or exc.status_code >= 500
    return False


def _retry_after(exc: BaseException | None) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    if (ms := headers.get("retry-after-ms")) is not None:
        try:
            return float(ms) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:  # an HTTP date
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None  # "soon" and other junk: back off as if nothing was asked
        return max(0.0, parsed.timestamp() - time.time())
    return seconds if seconds >= 0 and math.isfinite(seconds) else None


def _backoff(attempt: int) -> float:
    """0.5 s, 1 s, 2 s, ... after the n-th failed attempt, plus up to 0.5 s of jitter; at most 60 s."""
    # tenacity's wait_exponential_jitter, written out: its first parameter was renamed in 9.2
    # (initial -> multiplier), and tenacity>=9 must work either way. The exponent is capped so a
    # huge attempt number cannot overflow a float (2**16 * 0.5 is far above the cap anyway).
    return min(0.5 * 2.0 ** min(attempt - 1, 16) + random.uniform(0, 0.5), _MAX_WAIT)


class _WaitRetryAfter(wait_base):
    """Wait what the server asked for (capped), else exponential backoff with jitter."""

    def __call__(self, retry_state: RetryCallState) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        asked = _retry_after(exc)
        return min(asked, _MAX_WAIT) if asked is not None else _backoff(retry_state.attempt_number)


def _count(response: Any) -> None:
    stats = _STATS.get()
    if stats is None:
        return
    stats.attempts += 1
    usage = getattr(response, "usage", None)
    if usage is not None:
        stats.usage = stats.usage + Usage(
            prompt_tokens=usage.prompt_tokens or 0,
            completion_tokens=usage.completion_tokens or 0,
            total_tokens=usage.total_tokens or 0,
        )


def _before_retry(_: RetryCallState) -> None:
    if (stats := _STATS.get()) is not None:
        stats.transport_retries += 1


def _refusal(completion: Any) -> str | None:
    try:
        refusal = completion.choices[0].message.refusal
    except (AttributeError, IndexError, TypeError):
        return None
    return refusal if isinstance(refusal, str) else None


def _raw_output(completion: Any) -> str | None:
    try:
        message = completion.choices[0].message
    except (AttributeError, IndexError, TypeError):
        return None
    if message.tool_calls:
        return "\n".join(call.function.arguments for call in message.tool_calls)
    return message.content  # type: ignore[no-any-return]


# Requests go through the SDK's generic ``post`` (auth, base URL, timeouts, errors and response
# parsing as in ``chat.completions.create``) with the body we built. ``create`` would first walk every
# parameter against its TypedDict annotations (openai's ``maybe_transform``), about 0.4 ms of CPU per
# request, to return the same plain JSON body: ours has no aliases or dates to transform.
_PATH = "/chat/completions"
_TOOLS = mode_registry.get_handlers(Provider.OPENAI, Mode.TOOLS)
# What instructor's loop re-asks (its _RETRYABLE_PARSE_ERRORS, less the async validators we never have).
_INVALID = (ValidationError, json.JSONDecodeError, ResponseParsingError)


@functools.lru_cache(maxsize=1024)
def _tool_request(response_model: type[BaseModel]) -> tuple[type[BaseModel], dict[str, Any]]:
    """The model instructor parses into for ``response_model``, and its TOOLS request (tools, tool_choice)."""
    # Wrapped once: instructor wraps the model in a new class on every call, so its schema cache never
    # hit and the JSON schema was rebuilt per request (30 % of our CPU once).
    prepared, kwargs = _TOOLS.request_handler(response_model=response_schema(response_model), kwargs={})
    return prepared, {"tools": kwargs["tools"], "tool_choice": kwargs["tool_choice"]}


class _Call(Generic[T]):
    """One structured call: the request to send next, and what each answer means for it."""

    def __init__(
        self, client: ModelClient, response_model: type[T], messages: list[dict[str, str]], max_reasks: int
    ) -> None:
        self.model, tools = _tool_request(response_model)
        self.max_reasks = max_reasks
        self.attempts = 0
        # A fresh list: re-ask messages are appended to it, never to the caller's.
        self.request: dict[str, Any] = {
            "model": client.model,
            "messages": list(messages),
            "temperature": client.temperature,
            "max_tokens": client.max_tokens,
            **tools,
        }

    def _parse(self, response: Any) -> Any:
        """Parse as instructor does; on invalid JSON, retry with the JSON object found in the answer text."""
        try:
            return _TOOLS.response_parser(
                response=response, response_model=self.model, validation_context=None, strict=True
            )
        except _INVALID:
            salvaged = _salvaged(response, self.model.__name__)
            if salvaged is None:
                raise
        # A well-formed answer wrapped in prose or a code fence, or put in the message text instead of
        # the tool call: the same answer, so no re-ask (which would cost the whole answer again).
        return _TOOLS.response_parser(
            response=salvaged, response_model=self.model, validation_context=None, strict=True
        )

    def answer(self, response: Any) -> T | None:
        """The validated answer; None once the re-ask is prepared; ModelOutputError when out of re-asks."""
        self.attempts += 1
        if (refusal := _refusal(response)) is not None:
            # Not re-asked (as in instructor): a refusal is an answer, not a malformed one.
            raise ModelOutputError(
                f"the model refused on attempt {self.attempts}: {refusal[:300]}",
                attempts=self.attempts,
                raw_output=refusal,
            )
        try:
            parsed = self._parse(response)
        except IncompleteOutputException as exc:
            # Not re-asked (as in instructor): the same budget would cut the same answer again.
            raise ModelOutputError(
                f"the answer was cut off at max_tokens={self.request['max_tokens']} "
                f"(LLM_EXTRACT_MAX_TOKENS) on attempt {self.attempts}",
                attempts=self.attempts,
                raw_output=_raw_output(response),
            ) from exc
        except _INVALID as exc:
            if self.attempts > self.max_reasks:
                raise ModelOutputError(
                    f"model output stayed invalid after {self.attempts} attempt(s): {_first_line(exc)}",
                    attempts=self.attempts,
                    raw_output=_raw_output(response),
                ) from exc
            self.request = _TOOLS.reask_handler(kwargs=self.request, response=response, exception=exc)
            return None
        return parsed  # type: ignore[no-any-return]


def _salvaged(response: Any, tool_name: str) -> Any | None:
    """A copy of ``response`` whose tool call holds just the JSON object its text contains, or None."""
    try:
        message = response.choices[0].message
        calls = message.tool_calls or []
        raw = calls[0].function.arguments if calls else message.content
    except (AttributeError, IndexError, TypeError):
        return None
    found = _json_object(raw) if isinstance(raw, str) else None
    if found is None or found == raw:
        return None
    fixed = response.model_copy(deep=True)
    fixed_message = fixed.choices[0].message
    if calls:
        fixed_message.tool_calls[0].function.arguments = found
    else:
        fixed_message.tool_calls = [
            ChatCompletionMessageFunctionToolCall(
                id="salvaged", type="function", function=Function(name=tool_name, arguments=found)
            )
        ]
        fixed_message.content = None
    return fixed


def _json_object(text: str) -> str | None:
    """The outermost ``{...}`` of ``text`` when it parses as a JSON object."""
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        return None
    candidate = text[start : end + 1]
    try:
        return candidate if isinstance(json.loads(candidate), dict) else None
    except ValueError:
        return None


def _estimate_tokens(kwargs: dict[str, Any]) -> int:
    # About four characters a token for English prose; the exact count comes back in the response.
    chars = sum(len(str(m.get("content") or "")) for m in kwargs.get("messages", []))
    chars += len(str(kwargs.get("tools") or ""))
    return max(1, chars // 4)


class RateLimiter:
    """Requests and tokens per minute shared by every concurrent call of one client."""

    def __init__(self, rpm: float | None = None, tpm: float | None = None) -> None:
        self.rpm, self.tpm = rpm, tpm
        self._resume_at = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._requests: AsyncLimiter | None = None
        self._tokens: AsyncLimiter | None = None

    def _buckets(self) -> tuple[AsyncLimiter | None, AsyncLimiter | None]:
        # aiolimiter's waiters belong to one event loop; a new loop (a new sync batch) gets new buckets.
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._loop = loop
            self._requests = AsyncLimiter(self.rpm, 60) if self.rpm else None
            self._tokens = AsyncLimiter(self.tpm, 60) if self.tpm else None
        return self._requests, self._tokens

    async def before(self, kwargs: dict[str, Any]) -> int:
        """Wait for a pause to end and for room in both buckets; return the tokens charged."""
        while (wait := self._resume_at - time.monotonic()) > 0:
            await asyncio.sleep(wait)
        requests, tokens = self._buckets()
        if requests is not None:
            await requests.acquire()
        estimate = _estimate_tokens(kwargs)
        if tokens is not None:
            await tokens.acquire(min(estimate, tokens.max_rate))
        return estimate

    async def after(self, total_tokens: int, charged: int) -> None:
        """Charge the tokens the response used beyond the estimate (the completion, mostly)."""
        _, tokens = self._buckets()
        if tokens is not None and total_tokens > charged:
            await tokens.acquire(min(total_tokens - charged, tokens.max_rate))

    def pause(self, seconds: float) -> None:
        """Hold every request for ``seconds`` (a server's Retry-After)."""
        self._resume_at = max(self._resume_at, time.monotonic() + seconds)


class ModelClient:
    """One endpoint and model, with sync and async structured calls."""

    def __init__(
        self,
        *,
        base_url: str | None,
        api_key: str | None,
        model: str,
        timeout: float | None = 120.0,
        transport_retries: int = 4,
        temperature: float = 0.0,
        max_tokens: int = 1024,
        limiter: RateLimiter | None = None,
        retry_timeouts: bool = True,
        max_in_flight: int | None = None,
    ) -> None:
        self.model = model
        self.limiter = limiter
        self.base_url = base_url
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.transport_retries = transport_retries
        # A local server that times out is still working on the request: sending it again would queue
        # a second copy behind the first. timeout=None derives each request's timeout from its work.
        self.retry_timeouts = retry_timeouts
        self.timeout = timeout
        self._in_flight_limit = max_in_flight
        self._in_flight: asyncio.Semaphore | None = None
        self._in_flight_loop: asyncio.AbstractEventLoop | None = None
        # openai's own retries are off: tenacity below is the one transport retry layer.
        key = api_key or "not-needed"  # local servers ignore the key but the client requires one
        self._sync = openai.OpenAI(base_url=base_url, api_key=key, timeout=timeout or 120.0, max_retries=0)
        self._async_args: dict[str, Any] = {
            "base_url": base_url,
            "api_key": key,
            "timeout": timeout or 120.0,
            "max_retries": 0,
        }
        self._async: openai.AsyncOpenAI | None = None
        self._async_loop: asyncio.AbstractEventLoop | None = None

    def retryable(self, exc: BaseException) -> bool:
        """Whether this client sends a failed request again (never a local timeout: see above)."""
        return is_transient(exc) and (self.retry_timeouts or not isinstance(exc, openai.APITimeoutError))

    def _options(self, kwargs: dict[str, Any]) -> Any:
        """Per-request options: a local server's timeout grows with the prompt and the answer budget."""
        if self.timeout is not None:
            return {}
        # Slow enough for a 1.5B model on two CPU cores (prompt ~20 tokens/s, answer ~0.4 tokens/s
        # under a JSON grammar): generous, because giving up early wastes the work already done.
        prompt_tokens = _estimate_tokens(kwargs)
        return {"timeout": 60.0 + prompt_tokens / 20 + kwargs.get("max_tokens", self.max_tokens) / 0.4}

    def _retrying(self) -> dict[str, Any]:
        def before_sleep(state: RetryCallState) -> None:
            _before_retry(state)
            asked = _retry_after(state.outcome.exception() if state.outcome else None)
            if asked is not None and self.limiter is not None:
                self.limiter.pause(min(asked, _MAX_WAIT))

        return {
            "retry": retry_if_exception(self.retryable),
            "wait": _WaitRetryAfter(),
            "stop": stop_after_attempt(self.transport_retries + 1),
            "before_sleep": before_sleep,
            "reraise": True,
        }

    def _async_client(self) -> openai.AsyncOpenAI:
        # An httpx async client is bound to the event loop it first ran on; each loop gets its own.
        loop = asyncio.get_running_loop()
        if self._async is None or self._async_loop is not loop:
            self._async = openai.AsyncOpenAI(**self._async_args)
            self._async_loop = loop
        return self._async

    # The first attempt of a request is sent outside tenacity. A tenacity loop is ~50 objects in
    # reference cycles (locks, a thread-local, futures, closures), garbage for the collector after
    # every request (benchmarks/RESULTS.md), and almost every request succeeds at once. Only a
    # transient failure builds the loop, and that failure is replayed into it as attempt 1, so the
    # waits (Retry-After, backoff), the attempt limit and the counting are those of a loop built
    # up front. The loop runs outside the ``except`` block: the exceptions of later attempts are
    # not chained to the first one.
    def _send(self, **kwargs: Any) -> Any:
        failed: Exception | None = None
        try:
            response = self._attempt(kwargs)
        except Exception as exc:
            if not self.retryable(exc):
                raise
            failed = exc
        if failed is not None:
            for attempt in Retrying(**self._retrying()):
                with attempt:
                    _replay(attempt.retry_state, failed)
                    response = self._attempt(kwargs)
        _count(response)
        return response

    def _attempt(self, kwargs: dict[str, Any]) -> Any:
        with _usable():
            return _answered(
                self._sync.post(_PATH, body=kwargs, cast_to=ChatCompletion, options=self._options(kwargs))
            )

    async def _asend(self, **kwargs: Any) -> Any:
        client = self._async_client()
        failed: Exception | None = None
        try:
            response, charged = await self._aattempt(client, kwargs)
        except Exception as exc:
            if not self.retryable(exc):
                raise
            failed = exc
        if failed is not None:
            async for attempt in AsyncRetrying(**self._retrying()):
                with attempt:
                    _replay(attempt.retry_state, failed)
                    response, charged = await self._aattempt(client, kwargs)
        _count(response)
        if self.limiter is not None:
            usage = getattr(response, "usage", None)
            await self.limiter.after(getattr(usage, "total_tokens", 0) or 0, charged)
        return response

    async def _aattempt(self, client: openai.AsyncOpenAI, kwargs: dict[str, Any]) -> tuple[Any, int]:
        """One HTTP request, after the rate limiter: the response and the tokens charged for it."""
        charged = 0
        with _usable():
            if self.limiter is not None:
                charged = await self.limiter.before(kwargs)
            async with self._slot():
                response = await client.post(
                    _PATH, body=kwargs, cast_to=ChatCompletion, options=self._options(kwargs)
                )
            return _answered(response), charged

    def _slot(self) -> Any:
        """A place among the requests in flight (one at a time for a one-slot server), or no limit."""
        if self._in_flight_limit is None:
            return contextlib.nullcontext()
        loop = asyncio.get_running_loop()
        if self._in_flight is None or self._in_flight_loop is not loop:
            self._in_flight, self._in_flight_loop = asyncio.Semaphore(self._in_flight_limit), loop
        return self._in_flight

    def ask(
        self,
        response_model: type[T],
        messages: list[dict[str, str]],
        *,
        stats: CallStats,
        max_reasks: int = 2,
    ) -> T:
        """One structured call: transport retries inside, validation re-asks around."""
        with _counting(stats), _transport_errors():
            call = _Call(self, response_model, messages, max_reasks)
            while (answer := call.answer(self._send(**call.request))) is None:
                pass
            return answer

    async def aask(
        self,
        response_model: type[T],
        messages: list[dict[str, str]],
        *,
        stats: CallStats,
        max_reasks: int = 2,
    ) -> T:
        """Async ``ask``."""
        with _counting(stats), _transport_errors():
            call = _Call(self, response_model, messages, max_reasks)
            while (answer := call.answer(await self._asend(**call.request))) is None:
                pass
            return answer

    def close(self) -> None:
        """Close the HTTP connections (the async ones are dropped with their event loop)."""
        self._sync.close()

    async def aclose(self) -> None:
        """Close the HTTP connections from inside the event loop that used them."""
        self._sync.close()
        if self._async is not None and self._async_loop is asyncio.get_running_loop():
            await self._async.close()
        self._async = None


def _replay(retry_state: RetryCallState, failed: Exception) -> None:
    """Raise the first attempt's failure as tenacity's attempt 1 (sent before the loop existed)."""
    if retry_state.attempt_number == 1:
        raise failed


@contextmanager
def _usable() -> Iterator[None]:
    """A body that is not JSON is a transport fault (a torn response), not invalid model output."""
    try:
        yield
    except json.JSONDecodeError as exc:
        raise UnusableResponse(f"the response body is not JSON ({exc.msg})") from exc


def _answered(response: Any) -> Any:
    if not getattr(response, "choices", None):
        raise UnusableResponse("the response has no choices")
    return response


@contextmanager
def _counting(stats: CallStats) -> Iterator[None]:
    stats.model_calls += 1
    token = _STATS.set(stats)
    try:
        yield
    finally:
        _STATS.reset(token)


@contextmanager
def _transport_errors() -> Iterator[None]:
    try:
        yield
    except (openai.APIError, UnusableResponse) as exc:
        raise _transport_error(exc) from exc


def _transport_error(exc: openai.APIError | UnusableResponse) -> TransportError:
    status = getattr(exc, "status_code", None)
    what = f"HTTP {status}" if status else type(exc).__name__
    return TransportError(f"endpoint failed ({what}): {_first_line(exc)}")


def _first_line(exc: BaseException) -> str:
    if isinstance(exc, ValidationError):
        # The messages are what the model was told on re-ask: the useful part for the user too.
        return "; ".join(str(e["msg"]) for e in exc.errors()[:3])[:500]
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__
