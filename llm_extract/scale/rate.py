"""One requests/tokens-per-minute budget for a whole Ray pool, not one per actor.

Each actor's ``ModelClient`` gets a ``SharedLimiter``; every HTTP request (retries and re-asks
included) asks the pool's one ``RateBudget`` actor for room before it is sent, and a server's
``Retry-After`` pauses the whole pool. With ``rpm=600`` and four actors the endpoint sees at most
600 requests a minute, not 2,400. The round trip to the budget actor costs well under a millisecond
on one machine, small next to a model call, and is made only when a limit is set.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import ray
from aiolimiter import AsyncLimiter

from llm_extract.client import RateLimiter, _estimate_tokens

__all__ = ["RateBudget", "SharedLimiter", "budget_actor"]


class RateBudget:
    """The pool's leaky buckets (as in ``client.RateLimiter``), inside one async Ray actor."""

    def __init__(self, rpm: float | None, tpm: float | None) -> None:
        # Created lazily: aiolimiter's waiters belong to the event loop of the actor, which runs
        # the methods, not the constructor.
        self.rpm, self.tpm = rpm, tpm
        self.requests: AsyncLimiter | None = None
        self.tokens: AsyncLimiter | None = None
        self.resume_at = 0.0
        self.granted = 0

    async def before(self, estimate: int) -> None:
        """Wait for a pause to end and for room for one request of about ``estimate`` tokens."""
        if self.requests is None and self.rpm:
            self.requests = AsyncLimiter(self.rpm, 60)
        if self.tokens is None and self.tpm:
            self.tokens = AsyncLimiter(self.tpm, 60)
        while (wait := self.resume_at - time.monotonic()) > 0:
            await asyncio.sleep(wait)
        if self.requests is not None:
            await self.requests.acquire()
        if self.tokens is not None:
            await self.tokens.acquire(min(estimate, self.tokens.max_rate))
        self.granted += 1

    async def after(self, extra_tokens: int) -> None:
        """Charge the tokens a response used beyond its estimate."""
        if self.tokens is not None and extra_tokens > 0:
            await self.tokens.acquire(min(extra_tokens, self.tokens.max_rate))

    def pause(self, seconds: float) -> None:
        """Hold every request of the pool for ``seconds`` (a server's Retry-After)."""
        self.resume_at = max(self.resume_at, time.monotonic() + seconds)

    def requests_granted(self) -> int:
        """How many requests were let through (tests read it)."""
        return self.granted


def budget_actor(rpm: float | None, tpm: float | None) -> Any:
    """Start the pool's ``RateBudget`` actor (async, so waiting requests do not block each other)."""
    actor = ray.remote(RateBudget).options(num_cpus=0, max_concurrency=10_000, max_restarts=-1)
    return actor.remote(rpm, tpm)


class SharedLimiter(RateLimiter):
    """A ``RateLimiter`` whose buckets live in the pool's ``RateBudget`` actor."""

    def __init__(self, budget: Any) -> None:
        super().__init__(None, None)
        self.budget = budget

    async def before(self, kwargs: dict[str, Any]) -> int:
        """Wait until the pool has room for this request; return the tokens charged."""
        estimate = _estimate_tokens(kwargs)
        await self.budget.before.remote(estimate)
        return estimate

    async def after(self, total_tokens: int, charged: int) -> None:
        """Charge what the response used beyond the estimate."""
        if total_tokens > charged:
            await self.budget.after.remote(total_tokens - charged)

    def pause(self, seconds: float) -> None:
        """Pause the whole pool (fire and forget: the next ``before`` sees it)."""
        self.budget.pause.remote(seconds)
