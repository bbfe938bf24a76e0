"""Run one document with the model questions answered by someone else (an ``ask``), not the endpoint.

The strategies take an ``ask(response_model, messages) -> answer`` for every model question of a
document (``Extractor.aextract(document, ask=...)``). The Batch API rounds answer from a store and
raise ``Pending`` for a question whose answer has not come back yet.

``Pending`` is a ``BaseException`` on purpose: a question that is not answered *yet* is not a failure
of the document. It must pass through every ``except Exception`` of the pipeline and of
``batch._Batch.run_one`` (which would turn it into an error record, and the cache would keep nothing
but the error) up to the round runner, which leaves the document for the next round.

Until every ``Extractor`` takes ``ask``, ``extract_asking`` drives its internal pipeline with the ask
(one adapter, in one place). Either way the document's usage and call counts are the ones the ask
counted, so a document answered from a store reports what its answers cost.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, cast

from pydantic import BaseModel

from llm_extract.client import CallStats, ModelClient
from llm_extract.errors import ExtractError
from llm_extract.extract import Extractor
from llm_extract.schema import Document, Extraction

__all__ = [
    "Ask",
    "Pending",
    "StoredAsk",
    "asking_extractor",
    "extract_asking",
    "frozen_settings",
    "model_client",
    "thawed_extractor",
]

Ask = Callable[[type[BaseModel], list[dict[str, str]]], Awaitable[BaseModel]]


class Pending(BaseException):  # noqa: N818 (a signal, like GeneratorExit: not an error)
    """A model question whose answer is not in yet: the document waits for the next round."""

    def __init__(self, custom_id: str) -> None:
        super().__init__(custom_id)
        self.custom_id = custom_id


class StoredAsk:
    """Base of an ask that counts what it answers into ``stats`` (usage, calls, attempts)."""

    def __init__(self) -> None:
        self.stats = CallStats()

    async def __call__(self, response_model: type[BaseModel], messages: list[dict[str, str]]) -> BaseModel:
        """Answer one model question."""
        raise NotImplementedError


def frozen_settings(extractor: Extractor) -> dict[str, Any]:
    """Every resolved setting but the API key, as JSON values.

    Handed to another process (a Ray actor, a later Batch API round), they rebuild the same extractor
    whatever that process's environment says; the key is read from its own environment, so it is
    never written to a run directory or shipped through Ray's object store.
    """
    values = dataclasses.asdict(extractor.settings)
    values.pop("api_key", None)
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in values.items()}


def thawed_extractor(frozen: dict[str, Any]) -> Extractor:
    """The extractor ``frozen_settings`` describe; unset values come from this process's environment."""
    return Extractor(**{k: v for k, v in frozen.items() if v is not None})


def model_client(extractor: Extractor) -> ModelClient:
    """The extractor's endpoint client.

    Its settings (model, temperature, max tokens) shape every request body; its limiter paces them.
    """
    endpoint = getattr(extractor, "endpoint", None)
    if endpoint is not None and hasattr(endpoint, "client"):
        return cast(ModelClient, endpoint.client())
    return cast(ModelClient, cast(Any, extractor).client())  # before the endpoint had its own class


def _takes_ask(extractor: Extractor) -> bool:
    try:
        return "ask" in inspect.signature(extractor.aextract).parameters
    except (TypeError, ValueError):  # pragma: no cover (a builtin or an odd callable)
        return False


async def extract_asking(extractor: Extractor, document: Document, ask: StoredAsk) -> Extraction:
    """``extractor``'s extraction of ``document`` with every model question answered by ``ask``."""
    if not _takes_ask(extractor):
        # The pipeline before strategies took an ask: its internal entry point, with our counters.
        internal = cast(Any, extractor)._extract
        return cast(Extraction, await internal(document, ask, ask.stats))
    try:
        extraction = await cast(Any, extractor).aextract(document, ask=ask)
    except ExtractError as exc:
        exc.usage = ask.stats.usage
        raise
    counted = {
        "usage": ask.stats.usage,
        "model_calls": ask.stats.model_calls,
        "attempts": ask.stats.attempts,
        "transport_retries": 0,
    }
    result = cast(Extraction, extraction)
    return result.model_copy(update={"metadata": result.metadata.model_copy(update=counted)})


class _Asking:
    """An extractor whose ``aextract(doc)`` answers from ``make_ask(doc)``: what ``_Batch`` runs.

    Everything else (settings, prompt, model, strategy: what the cache key is made of) is the
    wrapped extractor's, so results, keys and cache entries are exactly those of a live run.
    """

    def __init__(self, extractor: Extractor, make_ask: Callable[[Document], StoredAsk]) -> None:
        self._extractor = extractor
        self._make_ask = make_ask

    def __getattr__(self, name: str) -> Any:
        return getattr(self._extractor, name)

    async def aextract(self, document: Document) -> Extraction:
        return await extract_asking(self._extractor, document, self._make_ask(document))


def asking_extractor(extractor: Extractor, make_ask: Callable[[Document], StoredAsk]) -> Extractor:
    """``extractor`` with every document's questions answered by ``make_ask(document)``."""
    return cast(Extractor, _Asking(extractor, make_ask))
