"""One document in, one ``Extraction`` out: the ``Extractor`` and ``extract()``.

The extractor picks a strategy (``strategies/``) and an endpoint (``endpoints``), splits a long
document into chunks, runs the strategy on each (plan, ask, assemble), merges the chunks, removes
what rests on instructions to a model, and records how the extraction was made.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections.abc import Awaitable
from datetime import date
from typing import Any, cast

from pydantic import BaseModel

from llm_extract._config import RECORDS_MAX_TOKENS, SMALL_MAX_TOKENS, Settings, resolve_settings
from llm_extract.chunking import MIN_CHUNK_CHARS, Chunk, adopt_known, known_so_far, merge_chunks, plan_chunks
from llm_extract.endpoints import Endpoint, default_model
from llm_extract.errors import ConfigError, ExtractError, InputError, TransportError
from llm_extract.filters import drop_unmatched, outside
from llm_extract.injection import instruction_spans
from llm_extract.prompts import Prompt, load_prompt
from llm_extract.quality import input_warnings
from llm_extract.schema import (
    SCHEMA_VERSION,
    Actor,
    Claim,
    Document,
    Event,
    Extraction,
    GroundingMode,
    RunMetadata,
    StrategyName,
)
from llm_extract.segment import sentences
from llm_extract.stats import CallStats
from llm_extract.strategies import Ask, Context, Items, Tally, run, strategy_for

__all__ = ["Extractor", "extract"]

# Endpoints with large contexts still chunk: long answers from one call go wrong more often than
# several short ones, and a capable model's records take about a token per character of article.
_REMOTE_CHUNK_CHARS = 12_000
_CHARS_PER_ANSWER_TOKEN = 0.7


class Extractor:
    """Extracts grounded actors, events and claims; holds the endpoint, prompt and settings."""

    def __init__(self, settings: Settings | None = None, **overrides: Any) -> None:
        if settings is not None and overrides:
            raise ConfigError(
                "pass Settings or keyword settings, not both "
                f"(got settings and {', '.join(sorted(overrides))})"
            )
        self.settings = settings if settings is not None else resolve_settings(**overrides)
        self.prompt: Prompt = load_prompt(self.settings.prompt)
        self.endpoint = Endpoint(self.settings, self.model, self.max_tokens)

    @property
    def strategy(self) -> StrategyName:
        """The strategy in use: the setting, or the per-endpoint default."""
        if self.settings.strategy != "auto":
            return self.settings.strategy
        return "decomposed" if self.settings.endpoint == "embedded" else "guided"

    @property
    def grounding(self) -> GroundingMode:
        """The grounding mode in use (``decomposed`` and ``rules`` are spans by construction)."""
        if self.strategy in ("decomposed", "rules"):
            return "constrained"
        return "aligned" if self.settings.grounding == "auto" else self.settings.grounding

    @property
    def model(self) -> str:
        """The model name sent to the endpoint (``rules`` when no model is used)."""
        return "rules" if self.strategy == "rules" else default_model(self.settings)

    @property
    def max_tokens(self) -> int:
        """The longest answer: the setting, else room for whole records (one call) or for a few ids."""
        if self.settings.max_tokens is not None:
            return self.settings.max_tokens
        small = self.settings.endpoint == "embedded" or self.strategy in ("decomposed", "rules")
        return SMALL_MAX_TOKENS if small else RECORDS_MAX_TOKENS

    @property
    def endpoint_kind(self) -> str:
        """Which endpoint answers (``none`` for ``rules``)."""
        return "none" if self.strategy == "rules" else self.settings.endpoint

    def fingerprint(self) -> str:
        """A hash of everything about this extractor that can change an extraction (the cache key's half)."""
        from llm_extract import __version__  # rules and grounding are code: a new version extracts again

        parts = {
            "settings": self.settings.fingerprint(),
            "prompt": self.prompt.content_hash,
            "model": self.model,
            "strategy": self.strategy,
            "grounding": self.grounding,
            "max_tokens": self.max_tokens,
            "schema": SCHEMA_VERSION,
            "version": __version__,
        }
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode("utf-8")).hexdigest()

    def close(self) -> None:
        """Close connections and stop the embedded server if this extractor started it."""
        self.endpoint.close()

    async def aclose(self) -> None:
        """Async ``close``: also closes the async connections on the running event loop."""
        await self.endpoint.aclose()

    def __enter__(self) -> Extractor:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def extract(self, document: Document | str, **fields: Any) -> Extraction:
        """Extract from one document (or text plus ``id``/``title``/``published``)."""
        doc = _as_document(document, **fields)
        stats = CallStats()

        async def ask(model: type[BaseModel], messages: list[dict[str, str]]) -> BaseModel:
            # The sync path runs the same pipeline code; nothing awaits for real here.
            client = self.endpoint.client()
            return client.ask(model, messages, stats=stats, max_reasks=self.settings.max_reasks)

        return _run_sync(self._extract(doc, ask, stats, concurrent=False))

    async def aextract(
        self, document: Document | str, *, ask: Ask | None = None, **fields: Any
    ) -> Extraction:
        """Async ``extract``; a document's independent questions go to the endpoint at once.

        ``ask`` replaces the endpoint for every model question of this document: an async callable
        ``ask(response_model, messages)`` returning a validated answer (a store of Batch API answers,
        a test double). Token usage is then whatever it reports, nothing.
        """
        doc = _as_document(document, **fields)
        stats = CallStats()

        async def live(model: type[BaseModel], messages: list[dict[str, str]]) -> BaseModel:
            client = self.endpoint.client()
            return await client.aask(model, messages, stats=stats, max_reasks=self.settings.max_reasks)

        return await self._extract(doc, ask or live, stats, concurrent=True)

    @property
    def chunk_chars(self) -> int:
        """Longest text extracted in one piece: the setting, else what fits the context and the answer."""
        s = self.settings
        if s.chunk_chars:
            return max(s.chunk_chars, MIN_CHUNK_CHARS)
        if self.strategy == "rules":
            return sys.maxsize  # no model, no context to fit
        if s.endpoint == "embedded":
            # SmolLM2 reads about 4.4 characters a token in news copy (measured on the eval
            # fixtures); 3.5 leaves room, and 700 tokens hold the definitions and the question.
            return max(MIN_CHUNK_CHARS * 4, int((s.n_ctx - self.max_tokens - 700) * 3.5))
        if self.strategy == "decomposed":
            return _REMOTE_CHUNK_CHARS
        return max(
            MIN_CHUNK_CHARS * 4, min(_REMOTE_CHUNK_CHARS, int(self.max_tokens * _CHARS_PER_ANSWER_TOKEN))
        )

    async def _items(self, doc: Document, ask: Ask, tally: Tally, concurrent: bool) -> tuple[Items, int]:
        """The strategy over the whole text, or over each chunk and merged."""
        strategy = strategy_for(self.strategy)
        limit = self.chunk_chars
        chunks = (
            [Chunk(0, 0, len(doc.text))]
            if len(doc.text) <= limit
            else plan_chunks(doc.text, limit, min(self.settings.chunk_overlap, limit // 2 - 1))
        )
        parts: list[tuple[Chunk, list[Actor], list[Event], list[Claim]]] = []
        reads_names = self.strategy not in ("decomposed", "rules")
        for chunk in chunks:
            text = doc.text[chunk.start : chunk.end]
            piece = (
                doc
                if len(chunks) == 1
                else Document(
                    id=f"{doc.id}#{chunk.index}", text=text, title=doc.title, published=doc.published
                )
            )
            context = Context(
                document=piece,
                prompt=self.prompt,
                settings=self.settings,
                grounding=self.grounding,
                blocked=tuple(instruction_spans(text, sentences(text))),
                tally=tally,
                # A model reading one chunk learns the names found in the earlier ones ("the union" in
                # the second chunk is the union the first one named).
                known=known_so_far(doc.text, parts) if reads_names and parts else (),
            )
            actors, events, claims = await run(strategy, context, ask, concurrent=concurrent)
            parts.append((chunk, adopt_known(actors, context.known), events, claims))
        if len(parts) == 1 and self.strategy in ("decomposed", "rules"):
            return parts[0][1:], 1  # spans by construction: nothing to merge or de-duplicate
        # Offsets come back relative to each chunk; merging maps them into the whole text and makes
        # one item of what a model reported twice.
        return merge_chunks(doc.text, parts, tally=tally), len(parts)

    async def _extract(self, doc: Document, ask: Ask, stats: CallStats, *, concurrent: bool) -> Extraction:
        started = time.perf_counter()
        if len(doc.text) > self.settings.max_chars:
            raise InputError(
                f"document is {len(doc.text):,} characters, over the limit of {self.settings.max_chars:,} "
                "(LLM_EXTRACT_MAX_CHARS)",
                document_id=doc.id,
                prompt=self.prompt.ref,
            )
        tally = Tally()
        try:
            (actors, events, claims), chunks = await self._items(doc, ask, tally, concurrent)
        except ExtractError as exc:
            exc.document_id, exc.prompt = exc.document_id or doc.id, exc.prompt or self.prompt.ref
            # HTTP requests sent: the answered ones, the retries, and the failed request itself.
            sent = stats.attempts + stats.transport_retries + (1 if isinstance(exc, TransportError) else 0)
            exc.attempts = exc.attempts or sent
            exc.usage = stats.usage
            raise
        blocked = instruction_spans(doc.text, sentences(doc.text))
        if blocked:
            actors, events, claims = outside(doc.text, blocked, actors, events, claims)
        if self.settings.unmatched == "drop":
            actors, events, claims = drop_unmatched(actors, events, claims)
        metadata = RunMetadata(
            prompt_name=self.prompt.name,
            prompt_version=self.prompt.version,
            prompt_hash=self.prompt.content_hash,
            model=self.model,
            endpoint=cast(Any, self.endpoint_kind),
            strategy=self.strategy,
            grounding=self.grounding,
            usage=stats.usage,
            latency_s=round(time.perf_counter() - started, 3),
            model_calls=stats.model_calls,
            attempts=stats.attempts,
            transport_retries=stats.transport_retries,
            chunks=chunks,
            instructions=len(blocked),
            dropped=tally.dropped,
            warnings=input_warnings(doc)[:3],
        )
        return Extraction(document_id=doc.id, actors=actors, events=events, claims=claims, metadata=metadata)


def _run_sync(coroutine: Awaitable[Extraction]) -> Extraction:
    # The coroutine never suspends on the sync path, so driving it by hand needs no event loop.
    awaitable = cast(Any, coroutine)
    try:
        awaitable.send(None)
    except StopIteration as done:
        return cast(Extraction, done.value)
    awaitable.close()
    raise RuntimeError("sync extraction awaited real I/O")  # pragma: no cover


_DEFAULT: dict[Settings, Extractor] = {}


def extract(document: Document | str, **options: Any) -> Extraction:
    """Extract grounded actors, events and claims from one article.

    ``options`` are document fields (``id``, ``title``, ``published``) and settings (``prompt``,
    ``model``, ``base_url``, ``api_key``, ``strategy``, ...). The extractor, and the embedded server
    it may start, is reused across calls with the same settings.
    """
    doc_fields = {k: options.pop(k) for k in ("id", "title", "published") if k in options}
    settings = resolve_settings(**options)
    extractor = _DEFAULT.get(settings)
    if extractor is None:
        extractor = _DEFAULT[settings] = Extractor(settings)
    return extractor.extract(document, **doc_fields)


def _as_document(document: Document | str, **fields: Any) -> Document:
    if isinstance(document, Document):
        return document.model_copy(update=fields) if fields else document
    published = fields.get("published")
    if isinstance(published, str):
        fields["published"] = date.fromisoformat(published)
    try:
        return Document(text=document, **fields)
    except ValueError as exc:
        raise InputError(str(exc).splitlines()[-1].strip(), document_id=fields.get("id")) from exc
