"""The endpoint an extractor talks to: the embedded llama.cpp server, OpenAI, or any OpenAI-compatible URL.

``Endpoint`` owns what it starts: the embedded server (started on first use, in its own process
group, stopped on close) and the HTTP client. A local endpoint (the embedded server or a loopback
base URL) gets a timeout derived from each request's work and never has a timed-out request sent again
(``client.ModelClient``); the embedded server, which answers one request at a time, also gets one
request in flight, so queued requests wait in the client instead of timing out in the server's queue.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlparse

from llm_extract._config import DEFAULT_LOCAL_MODEL, Settings

if TYPE_CHECKING:  # the client and the server are imported when an endpoint is first opened
    from llm_extract.backends.local import LocalServer
    from llm_extract.client import ModelClient

__all__ = ["Endpoint", "default_model", "is_local", "timeout_policy"]

_LOOPBACK = {"localhost", "127.0.0.1", "::1", "0.0.0.0"}
_REMOTE_TIMEOUT = 120.0


def is_local(base_url: str | None) -> bool:
    """Whether ``base_url`` is a server on this machine (slow CPUs, one request at a time)."""
    return bool(base_url) and (urlparse(str(base_url)).hostname or "") in _LOOPBACK


def default_model(settings: Settings) -> str:
    """The model name sent when none is set."""
    if settings.model:
        return settings.model
    return DEFAULT_LOCAL_MODEL if settings.endpoint != "openai" else "gpt-4o-mini"


def timeout_policy(settings: Settings, *, embedded: bool, base_url: str | None) -> tuple[float | None, bool]:
    """The request timeout (None: derived from each request's work) and whether a timeout is retried.

    Remote: ``settings.timeout`` or 120 s, retried. Local with no timeout set: derived, never retried
    (the server is still computing the answer; a second copy would queue behind it). Local with a
    timeout set: that timeout, retried, as asked. The embedded server: never retried.
    """
    local = embedded or is_local(base_url)
    if settings.timeout is None:
        return (None, False) if local else (_REMOTE_TIMEOUT, True)
    return settings.timeout, not embedded


class Endpoint:
    """One endpoint and model; the client is made (and the embedded server started) on first use."""

    def __init__(self, settings: Settings, model: str, max_tokens: int) -> None:
        self.settings = settings
        self.model = model
        self.max_tokens = max_tokens
        self._server: LocalServer | None = None
        self._client: ModelClient | None = None

    def client(self) -> ModelClient:
        """The endpoint client, starting the embedded server on first use."""
        if self._client is None:
            from llm_extract.client import ModelClient, RateLimiter

            s = self.settings
            base_url = s.base_url
            embedded = s.endpoint == "embedded"
            if embedded:
                from llm_extract.backends.local import LocalServer

                self._server = LocalServer(s.model_path, alias=self.model, n_ctx=s.n_ctx, threads=s.threads)
                base_url = self._server.start()
            timeout, retry_timeouts = timeout_policy(s, embedded=embedded, base_url=base_url)
            self._client = ModelClient(
                base_url=base_url,
                api_key=s.api_key,
                model=self.model,
                timeout=timeout,
                transport_retries=s.transport_retries,
                temperature=s.temperature,
                max_tokens=self.max_tokens,
                limiter=RateLimiter(s.rpm, s.tpm) if s.rpm or s.tpm else None,
                retry_timeouts=retry_timeouts,
                max_in_flight=1 if embedded else None,
            )
        return self._client

    def close(self) -> None:
        """Close connections and stop the embedded server if this endpoint started it."""
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._server is not None:
            self._server.stop()
            self._server = None

    async def aclose(self) -> None:
        """Async ``close``: also closes the async connections on the running event loop."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        self.close()
