"""Transport retries and validation re-asks against a scripted OpenAI-compatible server on loopback."""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from pydantic import BaseModel, field_validator

from llm_extract import ModelOutputError, TransportError
from llm_extract.client import CallStats, ModelClient
from llm_extract.schema import DraftExtraction

Reply = tuple[int, dict[str, str], dict[str, Any]]


def _tool_reply(name: str, arguments: dict[str, Any], prompt: int = 10, completion: int = 5) -> Reply:
    body = {
        "id": "chatcmpl-test", "object": "chat.completion", "created": 0, "model": "scripted",
        "choices": [{
            "index": 0, "finish_reason": "tool_calls",
            "message": {"role": "assistant", "content": None, "tool_calls": [{
                "id": "call_1", "type": "function",
                "function": {"name": name, "arguments": json.dumps(arguments)},
            }]},
        }],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion},
    }  # fmt: skip
    return 200, {}, body


def _error(status: int, headers: dict[str, str] | None = None) -> Reply:
    return status, headers or {}, {"error": {"message": f"scripted {status}", "type": "server_error"}}


class Scripted:
    """A loopback HTTP server answering /v1/chat/completions from a script, recording requests."""

    def __init__(self, replies: list[Reply]) -> None:
        self.replies = list(replies)
        self.requests: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                outer.requests.append(json.loads(self.rfile.read(length)))
                status, headers, body = outer.replies.pop(0) if outer.replies else _error(500)
                data = json.dumps(body).encode()
                self.send_response(status)
                for key, value in {"content-type": "application/json", **headers}.items():
                    self.send_header(key, value)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> Scripted:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def scripted() -> Iterator[type[Scripted]]:
    return Scripted


class Answer(BaseModel):
    speaker: str


VALID = {"actors": [{"id": "A1", "name": "Choe Son Hui", "kind": "person", "mentions": ["Choe"]}],
         "events": [], "claims": [{"id": "C1", "statement": "x", "claimant": "A1", "polarity": "asserted",
                                   "hedged": False, "quote": "x"}]}  # fmt: skip
BAD_REFERENCE = {**VALID, "claims": [{**VALID["claims"][0], "claimant": "A9"}]}
MESSAGES = [{"role": "user", "content": "who speaks?"}]


def _client(base_url: str, retries: int = 3) -> ModelClient:
    return ModelClient(base_url=base_url, api_key="sk-test-not-a-real-key-123456", model="scripted",
                       transport_retries=retries, timeout=5)  # fmt: skip


def test_rate_limit_is_retried_below_the_model_honouring_retry_after() -> None:
    replies = [_error(429, {"retry-after-ms": "20"}), _error(503), _tool_reply("Answer", {"speaker": "A1"})]
    with Scripted(replies) as server:
        stats = CallStats()
        answer = _client(server.base_url).ask(Answer, MESSAGES, stats=stats)
    assert answer.speaker == "A1"
    assert (stats.transport_retries, stats.attempts, stats.model_calls) == (2, 1, 1)
    # The model never saw the faults: every request carried the same, original messages.
    assert len(server.requests) == 3
    assert all(r["messages"] == MESSAGES for r in server.requests)
    assert stats.usage.total_tokens == 15


def test_transport_faults_give_up_with_transport_error() -> None:
    with Scripted([_error(500)] * 10) as server:
        stats = CallStats()
        with pytest.raises(TransportError, match="HTTP 500") as caught:
            _client(server.base_url, retries=2).ask(Answer, MESSAGES, stats=stats)
    assert len(server.requests) == 3  # first try plus two retries
    assert stats.transport_retries == 2
    assert "sk-test" not in str(caught.value)


def test_client_errors_are_not_retried() -> None:
    replies = [_error(400), _tool_reply("Answer", {"speaker": "A1"})]
    with Scripted(replies) as server, pytest.raises(TransportError, match="HTTP 400"):
        _client(server.base_url).ask(Answer, MESSAGES, stats=CallStats())
    assert len(server.requests) == 1


def test_cross_reference_error_is_re_asked_with_the_validation_message() -> None:
    replies = [_tool_reply("DraftExtraction", BAD_REFERENCE), _tool_reply("DraftExtraction", VALID)]
    with Scripted(replies) as server:
        stats = CallStats()
        draft = _client(server.base_url).ask(DraftExtraction, MESSAGES, stats=stats, max_reasks=2)
    assert draft.claims[0].claimant == "A1"
    assert (stats.attempts, stats.transport_retries) == (2, 0)
    assert stats.usage.prompt_tokens == 20
    assert stats.usage.completion_tokens == 10
    reask = json.dumps(server.requests[1]["messages"])
    assert "A9" in reask
    assert "not an actor id" in reask
    assert json.dumps(server.requests[0]["messages"]).count("not an actor id") == 0


def test_output_still_invalid_after_re_asks_raises_with_raw_output() -> None:
    with Scripted([_tool_reply("DraftExtraction", BAD_REFERENCE)] * 3) as server:
        stats = CallStats()
        with pytest.raises(ModelOutputError) as caught:
            _client(server.base_url).ask(DraftExtraction, MESSAGES, stats=stats, max_reasks=2)
    error = caught.value
    assert error.attempts == 3
    assert len(server.requests) == 3
    assert error.raw_output is not None
    assert '"A9"' in error.raw_output
    assert "not an actor id" in str(error)


def test_async_path_retries_and_counts_the_same_way() -> None:
    import asyncio

    replies = [_error(429, {"retry-after": "0"}), _tool_reply("Answer", {"speaker": "author"})]
    with Scripted(replies) as server:
        stats = CallStats()
        answer = asyncio.run(_client(server.base_url).aask(Answer, MESSAGES, stats=stats))
    assert answer.speaker == "author"
    assert (stats.transport_retries, stats.attempts) == (1, 1)


# The first attempt of a request is sent before any retry loop exists (client.py); a transient failure
# of it is replayed into tenacity as attempt 1. These pin down that the waits, the attempt limit and
# the counting are exactly those of a loop built up front, on both paths.


def _ask(client: ModelClient, stats: CallStats, *, use_async: bool) -> Answer:
    if use_async:
        return asyncio.run(client.aask(Answer, MESSAGES, stats=stats))
    return client.ask(Answer, MESSAGES, stats=stats)


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The retry waits asked for, in order (the sleeps themselves are skipped); no jitter."""
    asked: list[float] = []
    real_sleep = asyncio.sleep

    async def async_sleep(seconds: float, *args: Any) -> Any:
        if seconds > 0:
            asked.append(float(seconds))
        return await real_sleep(0, *args)

    monkeypatch.setattr(asyncio, "sleep", async_sleep)
    monkeypatch.setattr(time, "sleep", lambda seconds: asked.append(float(seconds)))
    monkeypatch.setattr(random, "uniform", lambda lo, hi: lo)
    return asked


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
def test_a_first_attempt_fault_waits_and_counts_as_in_a_retry_loop(
    use_async: bool, waits: list[float]
) -> None:
    # 503 on the first attempt: backoff for attempt 1 (0.5 s); then a 429 asking for 30 ms.
    replies = [_error(503), _error(429, {"retry-after-ms": "30"}), _tool_reply("Answer", {"speaker": "A1"})]
    with Scripted(replies) as server:
        stats = CallStats()
        answer = _ask(_client(server.base_url), stats, use_async=use_async)
    assert answer.speaker == "A1"
    assert waits == [0.5, 0.03]
    assert (stats.transport_retries, stats.attempts, stats.model_calls) == (2, 1, 1)
    assert stats.usage.total_tokens == 15  # only the answered request has usage
    assert len(server.requests) == 3
    assert all(r == server.requests[0] for r in server.requests)  # the very same request each time


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
def test_backoff_grows_with_every_failed_attempt_and_the_budget_holds(
    use_async: bool, waits: list[float]
) -> None:
    with Scripted([_error(500)] * 10) as server:
        stats = CallStats()
        with pytest.raises(TransportError, match="HTTP 500"):
            _ask(_client(server.base_url, retries=3), stats, use_async=use_async)
    assert waits == [0.5, 1.0, 2.0]
    assert len(server.requests) == 4  # first try plus three retries
    assert (stats.transport_retries, stats.attempts) == (3, 0)


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
def test_no_retry_budget_means_one_request(use_async: bool, waits: list[float]) -> None:
    with Scripted([_error(429, {"retry-after": "5"}), _tool_reply("Answer", {"speaker": "A1"})]) as server:
        stats = CallStats()
        with pytest.raises(TransportError, match="HTTP 429"):
            _ask(_client(server.base_url, retries=0), stats, use_async=use_async)
    assert waits == []
    assert len(server.requests) == 1
    assert stats.transport_retries == 0


def test_async_client_errors_are_not_retried(waits: list[float]) -> None:
    replies = [_error(400), _tool_reply("Answer", {"speaker": "A1"})]
    with Scripted(replies) as server, pytest.raises(TransportError, match="HTTP 400"):
        _ask(_client(server.base_url), CallStats(), use_async=True)
    assert len(server.requests) == 1
    assert waits == []


def test_a_retried_failure_is_not_chained_to_the_first_one() -> None:
    # The last attempt's exception is raised as it was, not "during handling of" the first failure.
    with Scripted([_error(503), _error(500)]) as server, pytest.raises(TransportError) as caught:
        _client(server.base_url, retries=1).ask(Answer, MESSAGES, stats=CallStats())
    assert len(server.requests) == 2
    cause = caught.value.__cause__
    assert cause is not None
    assert "500" in str(cause)
    assert cause.__context__ is None or "503" not in str(cause.__context__)


# The re-ask loop is ours (client._Call) around instructor's TOOLS handlers. These pin down that the
# requests are exactly those instructor's own loop sends, and what ends a call that cannot succeed.


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
def test_requests_and_re_asks_are_the_ones_instructor_sends(use_async: bool) -> None:
    import instructor
    import openai

    from llm_extract.client import _tool_request

    replies = [_tool_reply("DraftExtraction", BAD_REFERENCE), _tool_reply("DraftExtraction", BAD_REFERENCE),
               _tool_reply("DraftExtraction", VALID)]  # fmt: skip
    with Scripted(replies) as ours:
        stats = CallStats()
        client = _client(ours.base_url)
        if use_async:
            draft = asyncio.run(client.aask(DraftExtraction, MESSAGES, stats=stats, max_reasks=2))
        else:
            draft = client.ask(DraftExtraction, MESSAGES, stats=stats, max_reasks=2)
    with Scripted(replies) as theirs:
        sdk = openai.OpenAI(base_url=theirs.base_url, api_key="sk-test-not-a-real-key-123456", max_retries=0)
        create = instructor.patch(create=sdk.chat.completions.create, mode=instructor.Mode.TOOLS)
        expected = create(model="scripted", messages=MESSAGES, response_model=_tool_request(DraftExtraction)[0],
                          max_retries=2, temperature=0.0, max_tokens=1024)  # fmt: skip
    assert draft == expected
    assert len(ours.requests) == 3
    assert ours.requests == theirs.requests  # the first request and both re-asks, byte for byte as JSON
    assert "not an actor id" in json.dumps(ours.requests[2]["messages"][-1])
    assert (stats.attempts, stats.model_calls) == (3, 1)
    assert MESSAGES == [{"role": "user", "content": "who speaks?"}]  # the caller's list is left alone


def test_an_answer_cut_at_max_tokens_is_an_error_with_its_raw_output() -> None:
    status, headers, body = _tool_reply("Answer", {"speaker": "A1"})
    body["choices"][0]["finish_reason"] = "length"
    body["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] = '{"speaker": "A'
    cut = pytest.raises(ModelOutputError, match="cut off at max_tokens=1024")
    with Scripted([(status, headers, body)] * 3) as server, cut as caught:
        _client(server.base_url).ask(Answer, MESSAGES, stats=CallStats(), max_reasks=2)
    assert len(server.requests) == 1  # the same budget would cut the same answer: not re-asked
    assert caught.value.attempts == 1
    assert caught.value.raw_output == '{"speaker": "A'


class Buggy(BaseModel):
    speaker: str

    @field_validator("speaker")
    @classmethod
    def _broken(cls, value: str) -> str:
        raise TypeError("a bug in our own validator")


def test_a_bug_is_raised_as_itself_not_blamed_on_the_model() -> None:
    # Only invalid output is re-asked and reported as the model's fault; a TypeError is ours.
    bug = pytest.raises(TypeError, match="a bug in our own validator")
    with Scripted([_tool_reply("Buggy", {"speaker": "A1"})] * 3) as server, bug:
        _client(server.base_url).ask(Buggy, MESSAGES, stats=CallStats(), max_reasks=2)
    assert len(server.requests) == 1


def test_no_re_asks_means_one_request_and_the_validation_message() -> None:
    invalid = pytest.raises(ModelOutputError, match="after 1 attempt")
    with Scripted([_tool_reply("DraftExtraction", BAD_REFERENCE)] * 2) as server, invalid as caught:
        _client(server.base_url).ask(DraftExtraction, MESSAGES, stats=CallStats(), max_reasks=0)
    assert len(server.requests) == 1
    assert "not an actor id" in str(caught.value)
    assert caught.value.raw_output is not None


def test_a_refusal_is_the_model_s_answer_not_a_crash() -> None:
    status, headers, body = _tool_reply("Answer", {"speaker": "A1"})
    message = body["choices"][0]["message"]
    message["refusal"], message["tool_calls"] = "I can't help with that.", None
    refused = pytest.raises(ModelOutputError, match="refused on attempt 1: I can't help")
    with Scripted([(status, headers, body)] * 3) as server, refused as caught:
        _client(server.base_url).ask(Answer, MESSAGES, stats=CallStats(), max_reasks=2)
    assert len(server.requests) == 1  # not re-asked, as in instructor
    assert caught.value.raw_output == "I can't help with that."


def test_an_answer_without_a_tool_call_is_re_asked_in_words() -> None:
    status, headers, body = _tool_reply("Answer", {"speaker": "A1"})
    body["choices"][0]["message"].update(content="The speaker is A1.", tool_calls=None)
    with Scripted([(status, headers, body), _tool_reply("Answer", {"speaker": "A1"})]) as server:
        answer = _client(server.base_url).ask(Answer, MESSAGES, stats=CallStats(), max_reasks=1)
    assert answer.speaker == "A1"
    reask = server.requests[1]["messages"]
    assert reask[-1]["role"] == "user"  # no tool call to answer: instructor's correction as a user turn
    assert "Recall the function correctly" in reask[-1]["content"]
