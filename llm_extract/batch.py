"""Many documents: bounded concurrency, rate limits, a persistent cache, resumable JSONL, cost.

Guarantees:

* every input document yields exactly one ``BatchResult``: an ``Extraction`` or an error record with
  the reason; one bad document never stops the others (a repeated document id is an error record);
* a document found in the cache is answered from it, with no model call and no cost;
* with ``skip`` (``--resume``, see ``llm_extract.output``), documents already done with the same key
  are neither extracted nor yielded; the cache makes a re-run free for documents that finished but
  whose line was lost;
* a cache that fails (full disk, corruption) turns itself off with one warning; the batch goes on;
* input that cannot be read (the iterator raises) stops the batch: no new document starts, the ones
  already started are yielded, then the error is raised;
* with ``max_cost``, no new document starts once the spend reaches the budget; the ones not started
  get a retryable ``BudgetExceeded`` record, so a later ``--resume`` picks them up.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from collections.abc import AsyncGenerator, Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from llm_extract.cache import ResultCache, extractor_key, open_cache
from llm_extract.cost import Pricing, pricing_for
from llm_extract.errors import ConfigError, ExtractError, InputError, ModelOutputError, TransportError
from llm_extract.extract import Extractor, _as_document
from llm_extract.resume import ResumeReport
from llm_extract.schema import BatchResult, Document, ErrorRecord, Usage

__all__ = [
    "BatchResult",
    "BatchSummary",
    "ErrorRecord",
    "aextract_batch",
    "extract_batch",
    "prices_of",
]

# Errors that another try may fix: the cache never keeps them and --resume retries them.
_PERMANENT = (ModelOutputError, InputError)


class BatchSummary(BaseModel):
    """Totals over a batch."""

    total: int = 0
    ok: int = 0
    errors: int = 0
    cached: int = 0
    usage: Usage = Field(default_factory=Usage)
    cost_usd: float | None = 0.0
    wall_time_s: float = 0.0
    resumed: ResumeReport | None = Field(None, description="what resuming the output kept and dropped")

    def add(self, result: BatchResult) -> None:
        """Count one result."""
        self.total += 1
        self.ok += result.status == "ok"
        self.errors += result.status == "error"
        self.cached += result.cached
        self.usage = self.usage + result.usage
        if self.cost_usd is not None:
            self.cost_usd = None if result.cost_usd is None else self.cost_usd + result.cost_usd


def _error_record(exc: BaseException) -> ErrorRecord:
    if isinstance(exc, ExtractError):
        return ErrorRecord(
            type=type(exc).__name__,
            message=exc.message,
            attempts=exc.attempts,
            raw_output=exc.raw_output[:2000] if exc.raw_output else None,
            retryable=not isinstance(exc, _PERMANENT),
        )
    # A bug or an unexpected library error: recorded for this document, never fatal to the batch.
    return ErrorRecord(type=type(exc).__name__, message=str(exc)[:500] or type(exc).__name__, retryable=True)


class _Batch:
    """The state of one batch run: extractor, cache, pricing, budget, endpoint health."""

    def __init__(
        self,
        extractor: Extractor,
        cache: ResultCache | None,
        pricing: Pricing | None,
        max_cost: float | None,
        abort_after: int,
    ) -> None:
        self.extractor = extractor
        self.cache = cache
        self.pricing = pricing
        self.max_cost = max_cost
        self.abort_after = abort_after
        self.spent = 0.0
        self.failed_in_a_row = 0
        self.seen: set[str] = set()

    def cost(self, usage: Usage) -> float | None:
        return self.pricing.cost(usage) if self.pricing is not None else None

    def key(self, doc: Document) -> str:
        return extractor_key(doc, self.extractor)

    def from_cache(self, doc: Document) -> BatchResult | None:
        if self.cache is None:
            return None
        record = self.cache.get(self.key(doc))
        if record is None:
            return None
        try:
            result = BatchResult.model_validate(record)
        except ValidationError:
            return None  # written by an incompatible version: extract again
        # The record may have been made for another document with the same text (wire copy): this
        # document's id goes everywhere an id is. Zero spend in this run; the original spend stays in
        # extraction.metadata.usage.
        extraction = result.extraction
        if extraction is not None and extraction.document_id != doc.id:
            extraction = extraction.model_copy(update={"document_id": doc.id})
        return result.model_copy(
            update={
                "document_id": doc.id,
                "document": doc,
                "extraction": extraction,
                "cached": True,
                "usage": Usage(),
                "cost_usd": 0.0,
                "latency_s": 0.0,
            }
        )

    async def run_one(self, doc: Document) -> BatchResult:
        started = time.perf_counter()
        try:
            extraction = await self.extractor.aextract(doc)
        except Exception as exc:  # noqa: BLE001 (every failure becomes this document's error record)
            usage = getattr(exc, "usage", None) or Usage()
            result = BatchResult(
                document_id=doc.id,
                status="error",
                document=doc,
                error=_error_record(exc),
                usage=usage,
                cost_usd=self.cost(usage),
                latency_s=round(time.perf_counter() - started, 3),
            )
        else:
            usage = extraction.metadata.usage
            result = BatchResult(
                document_id=doc.id,
                status="ok",
                document=doc,
                extraction=extraction,
                usage=usage,
                cost_usd=self.cost(usage),
                latency_s=round(time.perf_counter() - started, 3),
            )
        self.spent += result.cost_usd or 0.0
        unreachable = result.error is not None and result.error.type == TransportError.__name__
        self.failed_in_a_row = self.failed_in_a_row + 1 if unreachable else 0
        if self.cache is not None and (
            result.status == "ok" or (result.error and not result.error.retryable)
        ):
            # Without the document: the key already stands for its text, and a hit is given the
            # document it answers (a rejected 2 MB document would otherwise be stored whole).
            self.cache.put(self.key(doc), doc.id, result.model_dump(mode="json", exclude={"document"}))
        return result

    def over_budget(self) -> bool:
        return self.max_cost is not None and self.spent >= self.max_cost

    def endpoint_down(self) -> bool:
        """Whether so many documents in a row failed to reach the endpoint that it is taken for dead."""
        return 0 < self.abort_after <= self.failed_in_a_row


def _endpoint_down_record(doc: Document, failures: int) -> BatchResult:
    message = (
        f"not started: the last {failures} documents could not reach the endpoint, so the batch "
        "stopped early; run it again (--resume) once the endpoint answers"
    )
    error = ErrorRecord(type="EndpointDown", message=message, retryable=True)
    return BatchResult(document_id=doc.id, status="error", document=doc, error=error)


def _budget_record(doc: Document, max_cost: float) -> BatchResult:
    message = f"not started: the budget of ${max_cost:.4f} was reached"
    error = ErrorRecord(type="BudgetExceeded", message=message, retryable=True)
    return BatchResult(document_id=doc.id, status="error", document=doc, error=error)


def _unreadable_record(error: InputError) -> BatchResult:
    where = error.document_id or "input"
    return BatchResult(document_id=where, status="error", error=_error_record(error))


def _duplicate_record(doc: Document) -> BatchResult:
    message = f"document id {doc.id!r} appeared before in this batch; ids must be unique"
    error = ErrorRecord(type="DuplicateId", message=message, retryable=False)
    return BatchResult(document_id=doc.id, status="error", document=doc, error=error)


async def aextract_batch(
    documents: Iterable[Document | str | InputError],
    *,
    extractor: Extractor | None = None,
    concurrency: int = 4,
    cache: ResultCache | str | Path | bool = True,
    pricing: Pricing | None = None,
    max_cost: float | None = None,
    skip: Iterable[str] | Mapping[str, str | None] = (),
    abort_after: int | None = None,
    **settings: Any,
) -> AsyncGenerator[BatchResult, None]:
    """Extract many documents concurrently; yield one ``BatchResult`` per document as each finishes.

    An ``InputError`` among the documents stands for an item that could not be read
    (``load_documents(..., errors=...)``): it is yielded as that item's error record.
    ``cache``: True for the default cache directory, a directory, a ``ResultCache``, or False.
    ``skip``: documents already done (``--resume``): neither extracted nor yielded. Ids alone skip
    by id; a mapping of id to key (``BatchResult.key``) skips a document only while its key is the
    same, so an edited text or another model, prompt or setting runs it again.
    ``abort_after``: once this many documents in a row fail to reach the endpoint (``TransportError``
    after every retry), the endpoint is taken for dead: no new document starts, and the rest get a
    retryable ``EndpointDown`` record at once instead of hours of retries. None: twice the
    concurrency, at least 8 (one wave of in-flight documents failing together is not enough); 0: never.
    ``settings`` build the ``Extractor`` when none is given (prompt, model, base_url, rpm, tpm, ...);
    given with an ``extractor``, they would be ignored, so that is a ``ConfigError``.
    """
    if concurrency < 1:
        raise ConfigError(f"concurrency must be at least 1, not {concurrency}")
    if extractor is not None and settings:
        raise ConfigError(
            "pass an extractor or settings, not both "
            f"(got an extractor and {', '.join(sorted(settings))}): the extractor has its settings"
        )
    owned = extractor is None
    extractor = extractor if extractor is not None else Extractor(**settings)
    store = open_cache(cache, extractor.settings.cache_dir)
    prices = prices_of(extractor, pricing)
    if max_cost is not None and prices is None:
        raise ConfigError(
            f"--max-cost needs a price for model {extractor.model!r}: pass prices or set LLM_EXTRACT_PRICES"
        )
    batch = _Batch(
        extractor, store, prices, max_cost, max(8, 2 * concurrency) if abort_after is None else abort_after
    )
    done = _Done(skip, batch.key)
    source = iter(documents)
    # Results wait for the consumer in an unbounded queue, but at most ``concurrency`` of them
    # (``room``): workers then wait rather than pile results up, and the end marker below can
    # always be put without waiting, even by a worker that is being cancelled.
    results: asyncio.Queue[BatchResult | None] = asyncio.Queue()
    room = asyncio.Semaphore(concurrency)
    live = concurrency
    failure: BaseException | None = None

    async def emit(result: BatchResult) -> None:
        await room.acquire()
        results.put_nowait(result)

    async def work() -> None:
        # Each worker takes the next document as soon as its last one is answered, like a plain
        # client's worker loop: no round trip through the consumer between one request and the
        # next (benchmarks/RESULTS.md: that hop cost 5 to 10 % of throughput at concurrency 32).
        nonlocal live, failure
        try:
            # One iterator shared by every worker: each document is taken once, none after a failure.
            while failure is None and not isinstance(item := next(source, _END), _End):
                if isinstance(item, InputError):
                    await emit(_unreadable_record(item))
                    continue
                doc = _as_document(item)
                if doc in done:
                    continue
                if doc.id in batch.seen:
                    await emit(_duplicate_record(doc))
                    continue
                batch.seen.add(doc.id)
                if (hit := batch.from_cache(doc)) is not None:
                    await emit(hit)
                elif batch.over_budget():
                    await emit(_budget_record(doc, max_cost or 0.0))
                elif batch.endpoint_down():
                    await emit(_endpoint_down_record(doc, batch.failed_in_a_row))
                else:
                    await emit(await batch.run_one(doc))
        except Exception as exc:  # noqa: BLE001 (unreadable input: raised once the started ones are out)
            failure = failure or exc
        except BaseException as exc:  # not a document's failure (run_one keeps those): stop, then raise
            failure = failure or exc
            raise
        finally:
            live -= 1
            if live == 0:
                results.put_nowait(None)  # the last worker out: no more results

    workers = [asyncio.create_task(work()) for _ in range(concurrency)]
    try:
        while (result := await results.get()) is not None:
            room.release()
            yield _with_key(result, batch)
        if failure is not None:
            raise failure
    finally:
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        if store is not None and not isinstance(cache, ResultCache):
            store.close()
        if owned:
            await extractor.aclose()


class _Done:
    """The documents a resumed run leaves alone: by id, or by id and key when keys are given."""

    def __init__(
        self, skip: Iterable[str] | Mapping[str, str | None], key: Callable[[Document], str]
    ) -> None:
        self.keys: Mapping[str, str | None] | None = skip if isinstance(skip, Mapping) else None
        self.ids = set(skip)
        self.key = key

    def __contains__(self, doc: Document) -> bool:
        if doc.id not in self.ids:
            return False
        if self.keys is None:
            return True
        expected = self.keys[doc.id]
        try:
            return expected is not None and self.key(doc) == expected
        except Exception:  # noqa: BLE001 (no key, no match: the document runs and reports its problem)
            return False


def _with_key(result: BatchResult, batch: _Batch) -> BatchResult:
    """``result`` stamped with the key of its document and settings, which ``--resume`` compares."""
    if result.key is None and result.document is not None:
        try:
            result.key = batch.key(result.document)
        except Exception:  # noqa: BLE001 (a result without a key is re-run by --resume, never lost)
            pass
    return result


def prices_of(extractor: Extractor, explicit: Pricing | None = None) -> Pricing | None:
    """The prices of ``extractor``'s tokens: ``explicit``, else the settings' or the price table's.

    None when unknown; ``rules`` costs nothing. Batches and evals charge with it.
    """
    return pricing_for(
        extractor.model, endpoint=extractor.endpoint_kind, prices=extractor.settings.prices, explicit=explicit
    )


_DONE = object()


class _End:
    """The end of the input (``None`` is not used: it could be an input item)."""


_END = _End()


def extract_batch(documents: Iterable[Document | str | InputError], **options: Any) -> Iterator[BatchResult]:
    """Sync ``aextract_batch``: the batch runs on an event loop in a worker thread; results stream back.

    Stopping the iteration early (``break``) cancels the documents in flight.
    """
    results: queue.Queue[Any] = queue.Queue()
    loop = asyncio.new_event_loop()

    async def drain() -> None:
        # aclosing: stopping must run the batch's cleanup (cancel the documents in flight, close the
        # cache and an owned extractor) before this loop stops; left to the garbage collector, the
        # close would be scheduled on a loop that is about to be closed, and never run.
        async with contextlib.aclosing(aextract_batch(documents, **options)) as batch:
            async for result in batch:
                results.put(result)

    task = loop.create_task(drain())

    def run() -> None:
        try:
            loop.run_until_complete(task)
        except BaseException as exc:  # noqa: BLE001 (handed to the consuming thread and raised there)
            results.put(exc)
        finally:
            results.put(_DONE)
            loop.close()

    worker = threading.Thread(target=run, name="llm-extract-batch", daemon=True)
    worker.start()
    try:
        while (item := results.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        # The consumer stopped (break, an exception, or the end): cancel the batch at once rather
        # than when its next result happens to arrive. After the end it is a no-op.
        with contextlib.suppress(RuntimeError):  # the loop has already closed
            loop.call_soon_threadsafe(task.cancel)
        worker.join()
