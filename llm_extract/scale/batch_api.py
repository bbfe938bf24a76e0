"""A corpus through OpenAI's Batch API: half price, answers within 24 hours, in rounds.

A run lives in a directory::

    prepare SOURCE DIR --out OUT.jsonl   read the input, run round 1, write the first shard files
    submit DIR                            upload each new shard, create its batch, record both
    status DIR                            poll the batches, update the manifest
    collect DIR                           take in what ended, run the next round: finished documents
                                          go to OUT.jsonl, the questions still open to new shards
    resubmit DIR                          take in what ended, send the requests that failed or were
                                          left unanswered (expired, cancelled) again, only those

**Rounds.** A round runs every unfinished document through the ordinary pipeline with an ``ask`` that
answers each model question from the store. The request it would send is built exactly as a live run
builds it (``client._Call``), and its ``custom_id`` is the document id and a hash of that body. An
answer that is in is validated as a live answer is (a re-ask is a new body, so a new request for the
next round); a question that is not in yet is recorded for the next shard and the document waits
(``asking.Pending``). Strategies ask all of a text's independent questions at once, so one round
collects all of them. A document whose every answer is in finishes, through the same validation,
grounding, cache and exactly-once JSONL output (``output.JsonlWriter``, resumed) as a live run.

**Failures.** A line that failed with a status a live run would retry (408, 409, 429, 5xx), or was
left unanswered (expired, cancelled, timed out), is sent again, up to ``transport_retries + 1``
tries; then, as any other failed line (a 400), its document gets the ``TransportError`` record a
live run would get. The finished lines of an expired or cancelled batch are kept.

**Cost** is reported at the batch price: half the list price (``cost.pricing_for``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from openai.types.chat import ChatCompletion
from pydantic import BaseModel

from llm_extract.batch import BatchSummary, _Batch, _Done, _unreadable_record, _with_key, prices_of
from llm_extract.cache import open_cache
from llm_extract.client import ModelClient, _Call
from llm_extract.cost import Pricing
from llm_extract.errors import ConfigError, InputError, TransportError
from llm_extract.extract import Extractor
from llm_extract.output import JsonlWriter, _replace
from llm_extract.scale.asking import (
    Pending,
    StoredAsk,
    asking_extractor,
    frozen_settings,
    model_client,
    thawed_extractor,
)
from llm_extract.scale.batch_files import (
    ENDPOINT,
    MAX_BYTES,
    MAX_LINES,
    custom_id,
    parse_outcomes,
    request_line,
    split_lines,
)
from llm_extract.scale.store import BatchStore, Shard
from llm_extract.schema import BatchResult, Document, Usage

__all__ = ["RoundReport", "Run", "collect", "prepare", "resubmit", "status", "submit"]

_CONFIG = "config.json"
_STORE = "store.sqlite3"
_MANIFEST = "manifest.json"
T = TypeVar("T")


# --- the run directory ---------------------------------------------------------------------------


@dataclass
class Run:
    """A Batch API run directory: its settings, its store and where its results go."""

    path: Path
    settings: dict[str, Any]
    out: Path
    run_id: str
    max_lines: int = MAX_LINES
    max_bytes: int = MAX_BYTES
    cache: bool = True
    pricing: dict[str, float] | None = None
    store: BatchStore = field(init=False)

    def __post_init__(self) -> None:
        self.store = BatchStore(self.path / _STORE)

    @classmethod
    def open(cls, path: str | Path) -> Run:
        """Open a run directory made by ``prepare``."""
        path = Path(path)
        try:
            config = json.loads((path / _CONFIG).read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(f"{path} is not a Batch API run directory (no {_CONFIG}): run prepare") from exc
        return cls(
            path=path,
            settings=config["settings"],
            out=Path(config["out"]),
            run_id=config["run_id"],
            max_lines=config["max_lines"],
            max_bytes=config["max_bytes"],
            cache=config["cache"],
            pricing=config.get("pricing"),
        )

    def save(self) -> None:
        """Write the run's configuration (never the API key: it comes from the environment)."""
        config = {
            "settings": self.settings,
            "out": str(self.out),
            "run_id": self.run_id,
            "max_lines": self.max_lines,
            "max_bytes": self.max_bytes,
            "cache": self.cache,
            "pricing": self.pricing,
        }
        _replace(self.path / _CONFIG, [json.dumps(config, indent=2).encode("utf-8")])

    def extractor(self) -> Extractor:
        """The extractor every round uses (the same settings, so the same request bodies)."""
        return thawed_extractor(self.settings)

    def openai(self) -> Any:
        """An ``openai.OpenAI`` client for the files and batches endpoints of the run's endpoint."""
        import openai

        settings = self.extractor().settings
        return openai.OpenAI(
            base_url=settings.base_url, api_key=settings.api_key or "not-needed", max_retries=2, timeout=300
        )

    def close(self) -> None:
        """Close the store."""
        self.store.close()

    def __enter__(self) -> Run:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def write_manifest(self) -> None:
        """Write ``manifest.json``: shard -> input file id -> batch id -> status (for people and tools)."""
        rows = [dataclasses.asdict(s) for s in self.store.shards()]
        _replace(self.path / _MANIFEST, [json.dumps(rows, indent=2).encode("utf-8")])


# --- one round -----------------------------------------------------------------------------------


class _StoreAsk(StoredAsk):
    """Answers a document's questions from the store; records the missing ones and raises Pending."""

    def __init__(
        self, store: BatchStore, client: ModelClient, doc: Document, round: int, settings: Any
    ) -> None:
        super().__init__()
        self.store, self.client, self.doc, self.round = store, client, doc, round
        self.max_reasks = settings.max_reasks
        self.max_tries = settings.transport_retries + 1

    async def __call__(self, response_model: type[BaseModel], messages: list[dict[str, str]]) -> BaseModel:
        """The validated answer, replayed from the store (re-asks included), or Pending."""
        call = _Call(self.client, response_model, messages, self.max_reasks)
        self.stats.model_calls += 1
        while True:
            cid = custom_id(self.doc.id, call.request)
            body = self.store.answer(cid)
            if body is None:
                failed = self.store.failure(cid)
                if failed is not None and (not failed.retryable or failed.tries >= self.max_tries):
                    # What a live run reports once its retries are spent.
                    raise TransportError(f"endpoint failed ({failed.what}): {failed.message or failed.what}")
                self.store.want(cid, self.doc.id, call.request, self.round)
                raise Pending(cid)
            response = ChatCompletion.construct(**body)
            self.stats.attempts += 1
            usage = body.get("usage") or {}
            self.stats.usage = self.stats.usage + Usage(
                prompt_tokens=usage.get("prompt_tokens") or 0,
                completion_tokens=usage.get("completion_tokens") or 0,
                total_tokens=usage.get("total_tokens") or 0,
            )
            answer = call.answer(response)
            if answer is not None:
                return answer


@dataclass
class RoundReport:
    """What one round did: the finished documents' totals (``totals``) and the round's bookkeeping."""

    round: int
    documents: int = 0
    already_done: int = 0
    waiting: int = 0
    new_requests: int = 0
    shards: list[str] = field(default_factory=list)
    repeated_ids: list[str] = field(default_factory=list)
    totals: BatchSummary = field(default_factory=BatchSummary)

    def add(self, result: BatchResult) -> None:
        """Count one finished document."""
        self.totals.add(result)

    @property
    def finished(self) -> int:
        """Documents finished in this round."""
        return self.totals.total

    @property
    def ok(self) -> int:
        return self.totals.ok

    @property
    def errors(self) -> int:
        return self.totals.errors

    @property
    def cached(self) -> int:
        return self.totals.cached

    @property
    def usage(self) -> Usage:
        return self.totals.usage

    @property
    def cost_usd(self) -> float | None:
        return self.totals.cost_usd

    @property
    def complete(self) -> bool:
        """Whether every document of the run is finished."""
        return self.waiting == 0


def batch_pricing(extractor: Extractor, explicit: dict[str, float] | None) -> Pricing | None:
    """The Batch API price of the extractor's model: half the list price (None when unknown)."""
    listed = prices_of(extractor, Pricing.model_validate(explicit) if explicit else None)
    if listed is None:
        return None
    return Pricing(input_per_mtok=listed.input_per_mtok / 2, output_per_mtok=listed.output_per_mtok / 2)


def run_round(run: Run, *, on_result: Callable[[BatchResult], None] | None = None) -> RoundReport:
    """Run every unfinished document with the answers in the store; queue and shard what is missing."""
    store = run.store
    number = store.next_round()
    report = RoundReport(round=number)
    extractor = run.extractor()
    if extractor.strategy != "rules" and extractor.settings.endpoint == "embedded":
        raise ConfigError("the Batch API needs an OpenAI endpoint: set --base-url or an API key")
    cache = open_cache(run.cache, extractor.settings.cache_dir)
    try:
        with JsonlWriter(run.out, resume=True) as writer:

            def write(result: BatchResult) -> None:
                writer.write(result)
                report.add(result)
                if on_result is not None:
                    on_result(result)

            before = store.counts().get("queued", 0)
            _run(_replay(run, extractor, cache, writer.done, write, report))
            report.new_requests = store.counts().get("queued", 0) - before
    finally:
        if cache is not None:
            cache.close()
        _run(extractor.aclose())
    report.shards = write_shards(run, number)
    run.write_manifest()
    return report


async def _replay(
    run: Run,
    extractor: Extractor,
    cache: Any,
    done_keys: dict[str, str | None],
    write: Callable[[BatchResult], None],
    report: RoundReport,
) -> None:
    store = run.store
    answering = extractor
    if extractor.strategy != "rules":  # the rules ask no model: they run as they are
        client = model_client(extractor)

        def ask_for(doc: Document) -> StoredAsk:
            return _StoreAsk(store, client, doc, report.round, extractor.settings)

        answering = asking_extractor(extractor, ask_for)
    batch = _Batch(answering, cache, batch_pricing(extractor, run.pricing), None, 0)
    done = _Done(done_keys, batch.key)
    with store.grouped() as tick:
        for item in store.documents():
            tick()
            report.documents += 1
            if isinstance(item, InputError):
                write(_unreadable_record(item))
            elif item in done:
                report.already_done += 1
            elif (hit := batch.from_cache(item)) is not None:
                write(_with_key(hit, batch))
            else:
                try:
                    result = await batch.run_one(item)
                except Pending:
                    report.waiting += 1
                else:
                    write(_with_key(result, batch))


def write_shards(run: Run, round: int) -> list[str]:
    """Write the queued requests into shard files (within the size limits); return their names."""
    store = run.store
    queued = store.queued()
    if not queued:
        return []
    directory = run.path / "shards"
    directory.mkdir(exist_ok=True)
    existing = {s.name for s in store.shards()}
    lines = [(cid, request_line(cid, body)) for cid, body in queued]
    names = []
    index = 0
    start = 0
    for group in split_lines([line for _, line in lines], max_lines=run.max_lines, max_bytes=run.max_bytes):
        index += 1
        while (name := f"r{round:03d}-{index:03d}.jsonl") in existing:
            index += 1
        ids = [cid for cid, _ in lines[start : start + len(group)]]
        start += len(group)
        # The file first, then the manifest row: a crash between them leaves a file nobody submits.
        _replace(directory / name, group)
        store.add_shard(name, round, ids, sum(len(line) for line in group))
        names.append(name)
    return names


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


# --- commands ------------------------------------------------------------------------------------


def prepare(
    items: list[Document | InputError],
    directory: str | Path,
    *,
    out: str | Path,
    max_lines: int = MAX_LINES,
    max_bytes: int = MAX_BYTES,
    cache: bool = True,
    pricing: Pricing | None = None,
    on_result: Callable[[BatchResult], None] | None = None,
    **settings: Any,
) -> RoundReport:
    """Start a run in ``directory``: store the input, run round 1, write the first shards.

    ``settings`` are the extractor's (model, base_url, prompt, strategy, ...); they are frozen into
    the run, so every round builds the same requests. Documents whose id was seen before are
    skipped (``RoundReport.repeated_ids``): a custom_id stands for one document.
    """
    path = Path(directory)
    if (path / _CONFIG).exists():
        raise ConfigError(f"{path} already holds a run: use collect, or choose a new directory")
    if not 1 <= max_lines <= MAX_LINES or not 1 <= max_bytes <= MAX_BYTES:
        raise ConfigError(f"shards hold at most {MAX_LINES:,} lines and {MAX_BYTES:,} bytes")
    extractor = Extractor(**settings)
    if extractor.strategy != "rules" and extractor.settings.endpoint == "embedded":
        raise ConfigError("the Batch API needs an OpenAI endpoint: set --base-url or an API key")
    path.mkdir(parents=True, exist_ok=True)
    prices = {"input": pricing.input_per_mtok, "output": pricing.output_per_mtok} if pricing else None
    run = Run(
        path=path,
        settings=frozen_settings(extractor),
        out=Path(out).resolve(),
        run_id=uuid.uuid4().hex,
        max_lines=max_lines,
        max_bytes=max_bytes,
        cache=cache,
        pricing=prices,
    )
    with run:
        _, repeated = run.store.add_documents(items)
        run.save()
        report = run_round(run, on_result=on_result)
        report.repeated_ids = repeated
        return report


def submit(directory: str | Path, *, client: Any = None) -> list[Shard]:
    """Upload every shard not yet uploaded and create its batch; return the shards submitted now.

    Each step is recorded in the manifest before the next: the input file id once uploaded, the
    batch id once created. A run killed between creating a batch and recording it finds the batch
    again by its metadata (run id and shard name) instead of paying for it twice.
    """
    with Run.open(directory) as run:
        api = client or run.openai()
        sent = []
        for shard in run.store.shards():
            if shard.batch_id is not None:
                continue
            file_id = shard.input_file_id
            if file_id is None:
                data = (run.path / "shards" / shard.name).read_bytes()
                file_id = api.files.create(file=(shard.name, data), purpose="batch").id
                run.store.update_shard(shard.name, input_file_id=file_id, status="uploaded")
                run.write_manifest()
            batch = _existing_batch(api, run.run_id, shard.name, file_id) or api.batches.create(
                input_file_id=file_id,
                endpoint=ENDPOINT,
                completion_window="24h",
                metadata={"llm_extract_run": run.run_id, "llm_extract_shard": shard.name},
            )
            run.store.mark_submitted(shard.name, batch.id, batch.status)
            run.write_manifest()
            sent.append(shard)
        return sent


def _existing_batch(api: Any, run_id: str, shard: str, file_id: str) -> Any:
    for batch in api.batches.list(limit=100):
        metadata = batch.metadata or {}
        if (
            metadata.get("llm_extract_run") == run_id
            and metadata.get("llm_extract_shard") == shard
            and batch.input_file_id == file_id
        ):
            return batch
    return None


def status(directory: str | Path, *, client: Any = None) -> list[Shard]:
    """Poll every batch that has not ended; update the manifest; return every shard."""
    with Run.open(directory) as run:
        _poll(run, client or run.openai())
        return run.store.shards()


def _poll(run: Run, api: Any) -> None:
    for shard in run.store.shards():
        if shard.batch_id is None or shard.ended:
            continue
        batch = api.batches.retrieve(shard.batch_id)
        counts = batch.request_counts.model_dump() if batch.request_counts is not None else None
        errors = [e.message for e in (batch.errors.data or [])] if batch.errors else []
        run.store.update_shard(
            shard.name,
            status=batch.status,
            output_file_id=batch.output_file_id,
            error_file_id=batch.error_file_id,
            counts=counts,
        )
        if errors:
            run.store.set(f"errors:{shard.name}", "; ".join(str(e) for e in errors)[:1000])
    run.write_manifest()


@dataclass
class Intake:
    """What taking in the files of ended batches found."""

    batches: int = 0
    answered: int = 0
    failed: int = 0
    unanswered: int = 0
    repeated: int = 0


def _take_in(run: Run, api: Any) -> Intake:
    """Read the output and error files of every ended, not yet collected batch into the store."""
    _poll(run, api)
    intake = Intake()
    for shard in run.store.shards():
        if not shard.ended or shard.collected or shard.batch_id is None:
            continue
        intake.batches += 1
        with run.store.transaction():
            for file_id in (shard.output_file_id, shard.error_file_id):
                if not file_id:
                    continue
                for outcome in parse_outcomes(api.files.content(file_id).read()):
                    if outcome.answered:
                        stored = run.store.store_answer(outcome.custom_id, outcome.body or {}, shard.batch_id)
                        intake.answered += stored
                        intake.repeated += not stored
                    elif run.store.store_failure(
                        outcome.custom_id,
                        outcome.what,
                        outcome.message,
                        retryable=outcome.retryable,
                        batch_id=shard.batch_id,
                    ):
                        intake.failed += 1
            # Requests with no line at all (a batch that failed validation): sent again later.
            why = run.store.get(f"errors:{shard.name}") or f"the batch ended {shard.status}"
            for cid in run.store.unanswered(shard.name):
                run.store.store_failure(
                    cid, f"batch {shard.status}", why, retryable=True, batch_id=shard.batch_id
                )
                intake.unanswered += 1
            run.store.update_shard(shard.name, collected=1)
    run.write_manifest()
    return intake


def collect(
    directory: str | Path, *, client: Any = None, on_result: Callable[[BatchResult], None] | None = None
) -> tuple[Intake, RoundReport]:
    """Take in what ended, then run the next round (finished documents out, open questions sharded)."""
    with Run.open(directory) as run:
        intake = _take_in(run, client or run.openai())
        return intake, run_round(run, on_result=on_result)


def resubmit(directory: str | Path, *, client: Any = None) -> tuple[Intake, list[str]]:
    """Take in what ended; send again only the requests that failed and may pass; return new shards.

    Nothing that came back is sent again: the finished lines of an expired or cancelled batch stay
    answered. Requests out of tries, or refused for good (a 400), are left for ``collect``, which
    gives their documents the error record a live run would.
    """
    with Run.open(directory) as run:
        api = client or run.openai()
        intake = _take_in(run, api)
        number = run.store.next_round()
        max_tries = run.extractor().settings.transport_retries + 1
        run.store.requeue_failed(max_tries, number)
        names = write_shards(run, number)
        run.write_manifest()
    submit(directory, client=api)
    return intake, names
