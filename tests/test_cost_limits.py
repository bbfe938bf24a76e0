"""Prices and cost (summed over re-asks), budgets, and the client-side rate limiter."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from test_client import BAD_REFERENCE, MESSAGES, VALID, Answer, Scripted, _client, _error, _tool_reply

from llm_extract import ConfigError, Document, Extractor, Pricing, extract_batch
from llm_extract.client import CallStats, RateLimiter
from llm_extract.cost import PRICES, pricing_for

TEXT = "Choe Son Hui met Sergei Lavrov. x marks the spot."
PRICE = Pricing(input_per_mtok=1.0, output_per_mtok=2.0)


def test_price_resolution(tmp_path: Path) -> None:
    assert pricing_for("smollm2", endpoint="embedded") == Pricing(input_per_mtok=0, output_per_mtok=0)
    assert pricing_for("rules", endpoint="none") == Pricing(input_per_mtok=0, output_per_mtok=0)
    assert pricing_for("gpt-4o-mini", endpoint="openai") == PRICES["gpt-4o-mini"]
    # A dated snapshot finds its family, the longest matching name winning (gpt-4o-mini, not gpt-4o).
    assert pricing_for("gpt-4o-mini-2024-07-18", endpoint="openai") == PRICES["gpt-4o-mini"]
    assert pricing_for("my-local-llama", endpoint="openai-compatible") is None  # unknown, never guessed
    assert pricing_for("my-local-llama", endpoint="openai-compatible", explicit=PRICE) == PRICE
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"my-local-llama": {"input": 0.5, "output": 0.25}}), encoding="utf-8")
    found = pricing_for("my-local-llama", endpoint="openai-compatible", prices=prices)
    assert found == Pricing(input_per_mtok=0.5, output_per_mtok=0.25)
    prices.write_text('{"m": {"input": -1, "output": 0}}', encoding="utf-8")
    with pytest.raises(ConfigError, match="price file"):
        pricing_for("m", endpoint="openai-compatible", prices=prices)


def test_cost_counts_every_response_including_re_asks() -> None:
    # The first answer breaks a cross-reference and is re-asked: both responses are paid for.
    replies = [_tool_reply("DraftExtraction", BAD_REFERENCE), _tool_reply("DraftExtraction", VALID)]
    with Scripted(replies) as server:
        extractor = Extractor(base_url=server.base_url, model="scripted", strategy="single")
        [result] = list(
            extract_batch([Document(id="d", text=TEXT)], extractor=extractor, pricing=PRICE, cache=False)
        )
    assert result.status == "ok"
    assert len(server.requests) == 2
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (20, 10)
    assert result.cost_usd == pytest.approx((20 * 1.0 + 10 * 2.0) / 1e6)
    assert result.extraction is not None
    assert result.extraction.metadata.attempts == 2


def test_failed_documents_cost_too() -> None:
    with Scripted([_tool_reply("DraftExtraction", BAD_REFERENCE)] * 3) as server:
        extractor = Extractor(base_url=server.base_url, model="scripted", strategy="single", max_reasks=2)
        [result] = list(
            extract_batch([Document(id="d", text=TEXT)], extractor=extractor, pricing=PRICE, cache=False)
        )
    assert result.status == "error"
    assert result.error is not None
    assert result.error.type == "ModelOutputError"
    assert result.usage.total_tokens == 45
    assert result.cost_usd == pytest.approx((30 * 1.0 + 15 * 2.0) / 1e6)


def test_budget_stops_new_documents_and_records_the_rest() -> None:
    docs = [Document(id=f"d{i}", text=TEXT) for i in range(4)]
    with Scripted([_tool_reply("DraftExtraction", VALID)] * 4) as server:
        extractor = Extractor(base_url=server.base_url, model="scripted", strategy="single")
        results = list(
            extract_batch(docs, extractor=extractor, pricing=PRICE, max_cost=1e-9, concurrency=1, cache=False)
        )
    assert [r.status for r in results] == ["ok", "error", "error", "error"]
    assert len(server.requests) == 1  # nothing new started once the budget was spent
    assert all(r.error and r.error.type == "BudgetExceeded" and r.error.retryable for r in results[1:])


def test_a_budget_needs_a_known_price() -> None:
    extractor = Extractor(base_url="http://127.0.0.1:9/v1", model="unknown-model", strategy="single")
    with pytest.raises(ConfigError, match="needs a price"):
        list(extract_batch([Document(text=TEXT)], extractor=extractor, max_cost=1.0, cache=False))


def test_token_bucket_charges_the_estimate_then_the_rest() -> None:
    async def run() -> None:
        limiter = RateLimiter(tpm=1000)
        charged = await limiter.before({"messages": [{"role": "user", "content": "x" * 2000}]})
        assert charged == 500  # about four characters a token
        _, tokens = limiter._buckets()
        assert tokens is not None
        assert tokens.has_capacity(400)
        assert not tokens.has_capacity(600)
        await limiter.after(total_tokens=900, charged=charged)  # the completion is charged afterwards
        assert not tokens.has_capacity(200)

    asyncio.run(run())


def test_retry_after_pauses_every_request_of_the_client() -> None:
    replies = [_error(429, {"retry-after": "0.4"}), _tool_reply("Answer", {"speaker": "A1"})]
    replies += [_tool_reply("Answer", {"speaker": "A2"})]

    async def run(base_url: str) -> float:
        client = _client(base_url)
        client.limiter = RateLimiter(rpm=6000)
        started = time.monotonic()

        async def late() -> float:
            await asyncio.sleep(0.1)  # starts after the 429 arrived, during the pause
            await client.aask(Answer, MESSAGES, stats=CallStats())
            return time.monotonic() - started

        first, second = await asyncio.gather(client.aask(Answer, MESSAGES, stats=CallStats()), late())
        assert first.speaker in ("A1", "A2")
        return second

    with Scripted(replies) as server:
        second = asyncio.run(run(server.base_url))
    assert len(server.requests) == 3
    assert second >= 0.39  # the unrelated request waited for the server's Retry-After too
