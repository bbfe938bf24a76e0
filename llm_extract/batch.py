"""Many documents: bounded concurrency, rate limits, a persistent cache, resumable JSONL, cost.

Guarantees:

* every input document yields exactly one ``BatchResult``: an ``Extraction`` or an error record with
  the reason; one bad document never stops the others (a repeated document id is an error record);
* a document found in the cache is answered from it, with no model call and no cost;
* ``JsonlWriter`` writes whole lines only; a resumed run drops a torn last line and any error lines,
  keeps the finished ones and extracts only what is missing (the cache makes that free for documents
  that finished but whose line was lost);
* input that cannot be read (the iterator raises) stops the batch: no new document starts, the ones
  already started are yielded, then the error is raised;
* with ``max_cost``, no new document starts once the spend reaches the budget; the ones not started
  get a retryable ``BudgetExceeded`` record, so a later ``--resume`` picks them up.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import threading
import time
from collections.abc import AsyncGenerator, Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from llm_extract.cache import ResultCache, extractor_key, open_cache
from llm_extract.cost import Pricing, pricing_for
from llm_extract.errors import ConfigError, ExtractError, InputError, ModelOutputError
from llm_extract.extract import Extractor, _as_document
from llm_extract.schema import BatchResult, Document, ErrorRecord, Usage

__all__ = [
    "BatchResult",
    "BatchSummary",
    "ErrorRecord",
    "JsonlWriter",
    "aextract_batch",
    "extract_batch",
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
    """The state of one batch run: extractor, cache, pricing, budget."""

    def __init__(
        self,
        extractor: Extractor,
        cache: ResultCache | None,
        pricing: Pricing | None,
        max_cost: float | None,
    ) -> None:
        self.extractor = extractor
        self.cache = cache
        self.pricing = pricing
        self.max_cost = max_cost
        self.spent = 0.0
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
        # Zero spend in this run; the original spend stays in extraction.metadata.usage.
        return result.model_copy(
            update={
                "document_id": doc.id,
                "document": doc,
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
        if self.cache is not None and (
            result.status == "ok" or (result.error and not result.error.retryable)
        ):
            self.cache.put(self.key(doc), doc.id, result.model_dump(mode="json"))
        return result

    def over_budget(self) -> bool:
        return self.max_cost is not None and self.spent >= self.max_cost


def _budget_record(doc: Document, max_cost: float) -> BatchResult:
    message = f"not started: the budget of ${max_cost:.4f} was reached"
    error = ErrorRecord(type="BudgetExceeded", message=message, retryable=True)
    return BatchResult(document_id=doc.id, status="error", document=doc, error=error)


def _duplicate_record(doc: Document) -> BatchResult:
    message = f"document id {doc.id!r} appeared before in this batch; ids must be unique"
    error = ErrorRecord(type="DuplicateId", message=message, retryable=False)
    return BatchResult(document_id=doc.id, status="error", document=doc, error=error)


async def aextract_batch(
    documents: Iterable[Document | str],
    *,
    extractor: Extractor | None = None,
    concurrency: int = 4,
    cache: ResultCache | str | Path | bool = True,
    pricing: Pricing | None = None,
    max_cost: float | None = None,
    skip: Iterable[str] = (),
    **settings: Any,
) -> AsyncGenerator[BatchResult, None]:
    """Extract many documents concurrently; yield one ``BatchResult`` per document as each finishes.

    ``cache``: True for the default cache directory, a directory, a ``ResultCache``, or False.
    ``skip``: document ids already done (``--resume``): they are neither extracted nor yielded.
    ``settings`` build the ``Extractor`` when none is given (prompt, model, base_url, rpm, tpm, ...).
    """
    if concurrency < 1:
        raise ConfigError(f"concurrency must be at least 1, not {concurrency}")
    owned = extractor is None
    extractor = extractor if extractor is not None else Extractor(**settings)
    store = open_cache(cache, extractor.settings.cache_dir)
    prices = pricing_for(
        extractor.model, endpoint=_endpoint(extractor), prices=extractor.settings.prices, explicit=pricing
    )
    if max_cost is not None and prices is None:
        raise ConfigError(
            f"--max-cost needs a price for model {extractor.model!r}: pass prices or set LLM_EXTRACT_PRICES"
        )
    batch = _Batch(extractor, store, prices, max_cost)
    done = set(skip)
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
                doc = _as_document(item)
                if doc.id in done:
                    continue
                if doc.id in batch.seen:
                    await emit(_duplicate_record(doc))
                    continue
                batch.seen.add(doc.id)
                if (hit := batch.from_cache(doc)) is not None:
                    await emit(hit)
                elif batch.over_budget():
                    await emit(_budget_record(doc, max_cost or 0.0))
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
            yield result
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


def _endpoint(extractor: Extractor) -> str:
    return "none" if extractor.strategy == "rules" else extractor.settings.endpoint


_DONE = object()


class _End:
    """The end of the input (``None`` is not used: it could be an input item)."""


_END = _End()


def extract_batch(documents: Iterable[Document | str], **options: Any) -> Iterator[BatchResult]:
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


class JsonlWriter:
    """Appends one ``BatchResult`` per line, each line in one write: no torn line after a crash.

    With ``resume``, an existing file is first rewritten to its valid ``ok`` lines (a torn last
    line and error lines are dropped, so they are retried), and ``done`` holds their document ids.
    Without ``resume``, an existing non-empty file is refused rather than overwritten.
    """

    def __init__(self, path: str | Path, *, resume: bool = False, overwrite: bool = False) -> None:
        self.path = Path(path)
        self.done: set[str] = set()
        self.kept = 0
        self.dropped = 0
        if self.path.exists() and self.path.stat().st_size and not (resume or overwrite):
            raise InputError(f"{self.path} exists: pass --resume to continue it or --overwrite to replace it")
        if resume and self.path.exists():
            self._compact()
        elif self.path.exists():
            self.path.write_bytes(b"")
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def _compact(self) -> None:
        keep: list[bytes] = []
        for line in self.path.read_bytes().split(b"\n"):
            if not line.strip():
                continue
            try:
                result = BatchResult.model_validate_json(line)
            except ValidationError:
                self.dropped += 1  # torn or foreign line
                continue
            if result.status == "ok" and result.document_id not in self.done:
                self.done.add(result.document_id)
                keep.append(line)
            else:
                self.dropped += 1
        self.kept = len(keep)
        partial = self.path.with_name(self.path.name + ".partial")
        partial.write_bytes(b"".join(line + b"\n" for line in keep))
        os.replace(partial, self.path)  # atomic: the old file stays whole until the new one is

    def write(self, result: BatchResult) -> None:
        """Append one result as a whole line."""
        data = (result.model_dump_json() + "\n").encode("utf-8")
        view = memoryview(data)
        while view:  # os.write may write less than asked; finish the line before anything else
            written = os.write(self._fd, view)
            view = view[written:]

    def close(self) -> None:
        """Flush to disk and close."""
        os.fsync(self._fd)
        os.close(self._fd)

    def __enter__(self) -> JsonlWriter:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def run_batch(
    documents: Iterable[Document | str],
    out: str | Path,
    *,
    resume: bool = False,
    overwrite: bool = False,
    on_result: Callable[[BatchResult, BatchSummary], None] | None = None,
    **options: Any,
) -> BatchSummary:
    """Extract ``documents`` into the JSONL file ``out``; return the totals of this run."""
    summary = BatchSummary()
    started = time.perf_counter()
    with JsonlWriter(out, resume=resume, overwrite=overwrite) as writer:
        for result in extract_batch(documents, skip=writer.done, **options):
            writer.write(result)
            summary.add(result)
            if on_result is not None:
                on_result(result, summary)
    summary.wall_time_s = round(time.perf_counter() - started, 3)
    return summary
