"""llm-extract on Ray Data: a pool of async actors, each running the batch runner on its blocks.

``extract_dataset`` maps a Dataset of documents (``id``, ``text``, optional ``title`` and
``published`` columns) to a Dataset of result rows (``rows.ROW_SCHEMA``: one ``BatchResult`` per
row, field for field). Each actor holds one ``Extractor`` and runs each block through
``batch.aextract_batch``: the same per-document pipeline, cache, cost and error records as a
one-process run. A document that fails is an error row, never a failed block; a row that is not a
document (no id, no text) is an ``InputError`` row.

``run`` reads JSONL or Parquet and writes Parquet parts whole and by document id (``shards``), so a
task that Ray runs twice (it runs tasks at least once: a killed worker's tasks run again) writes
nothing twice; ``resume`` skips the documents already ``ok`` in the output; ``compact`` leaves one row
per document.

Sizing, measured on two CPUs: actors take a *fraction* of a CPU (``num_cpus``, default 0.5). An
actor waits on the network almost all the time, and whole-CPU actors left nothing for the tasks
around them: such a pipeline hung on two CPUs. ``concurrency`` documents are in flight per actor
at most, whatever the number of blocks Ray hands it at once. ``rpm``/``tpm`` hold for the whole
pool (``rate.RateBudget``), not per actor.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pyarrow as pa
import ray
import ray.data

from llm_extract.batch import _error_record, aextract_batch
from llm_extract.cache import ResultCache, open_cache
from llm_extract.cost import Pricing
from llm_extract.errors import ConfigError, InputError, OutputError
from llm_extract.extract import Extractor
from llm_extract.scale.asking import frozen_settings, model_client, thawed_extractor
from llm_extract.scale.rate import SharedLimiter, budget_actor
from llm_extract.scale.rows import ROW_SCHEMA, results_table
from llm_extract.scale.shards import CompactReport, compact, finished_ids, part_files, sweep, write_part
from llm_extract.schema import BatchResult, Document

__all__ = ["RunReport", "compact", "extract_dataset", "run"]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[-1].strip() if text else type(exc).__name__


def _items(rows: list[dict[str, Any]], id_column: str, text_column: str) -> list[Document | InputError]:
    """The documents of a block; a row that is not one becomes the ``InputError`` of that row."""
    items: list[Document | InputError] = []
    for row in rows:
        raw_id = row.get(id_column)
        doc_id = "" if raw_id is None else str(raw_id)
        if not doc_id:
            items.append(InputError(f"a row has no {id_column!r}", document_id=None))
            continue
        try:
            items.append(
                Document(
                    id=doc_id,
                    text=row.get(text_column),
                    title=row.get("title"),
                    published=row.get("published"),
                )
            )
        except (ValueError, TypeError) as exc:
            items.append(InputError(_first_line(exc), document_id=doc_id))
    return items


class _Gated:
    """The actor's extractor, with at most ``gate`` documents extracting at once across its blocks."""

    def __init__(self, extractor: Extractor, gate: asyncio.Semaphore) -> None:
        self._extractor = extractor
        self._gate = gate

    def __getattr__(self, name: str) -> Any:
        return getattr(self._extractor, name)

    async def aextract(self, document: Document) -> Any:
        async with self._gate:
            return await self._extractor.aextract(document)


class ExtractBatch:
    """The actor: one ``Extractor``, one cache and one gate, for every block Ray hands it."""

    def __init__(
        self,
        settings: dict[str, Any],
        *,
        endpoint: str,
        id_column: str,
        text_column: str,
        concurrency: int,
        cache: bool | str,
        pricing: Pricing | None,
        budget: Any,
    ) -> None:
        self.extractor = thawed_extractor(settings)
        if self.extractor.settings.endpoint != endpoint:
            raise ConfigError(
                f"this Ray worker resolves the endpoint as {self.extractor.settings.endpoint!r}, the "
                f"driver as {endpoint!r}: set OPENAI_API_KEY (or LLM_EXTRACT_API_KEY) on every node"
            )
        if budget is not None and self.extractor.strategy != "rules":
            model_client(self.extractor).limiter = SharedLimiter(budget)
        self.cache: ResultCache | None = open_cache(cache, self.extractor.settings.cache_dir)
        self.pricing = pricing
        self.id_column, self.text_column = id_column, text_column
        self.concurrency = concurrency
        self._gate: asyncio.Semaphore | None = None

    async def __call__(self, block: pa.Table) -> pa.Table:
        """The result rows of a block of documents, in input order."""
        if self._gate is None:  # made here: it belongs to the event loop Ray runs the calls on
            self._gate = asyncio.Semaphore(self.concurrency)
        items = _items(block.to_pylist(), self.id_column, self.text_column)
        results: list[BatchResult] = []
        try:
            async for result in aextract_batch(
                items,
                extractor=cast(Extractor, _Gated(self.extractor, self._gate)),
                cache=self.cache if self.cache is not None else False,
                pricing=self.pricing,
                concurrency=max(1, len(items)),
                abort_after=max(8, 2 * self.concurrency),
            ):
                results.append(result)
        except Exception as exc:  # noqa: BLE001 (never a failed block: the rest become error rows)
            finished = {r.document_id for r in results}
            for item in items:
                if isinstance(item, Document) and item.id not in finished:
                    results.append(
                        BatchResult(
                            document_id=item.id, status="error", document=item, error=_error_record(exc)
                        )
                    )
        order = {item.id: n for n, item in enumerate(items) if isinstance(item, Document)}
        results.sort(key=lambda r: order.get(r.document_id, len(order)))
        return results_table(results)


def extract_dataset(
    ds: ray.data.Dataset,
    *,
    id_column: str = "id",
    text_column: str = "text",
    actors: int = 2,
    concurrency: int = 8,
    num_cpus: float = 0.5,
    batch_size: int = 32,
    cache: bool | str = True,
    pricing: Pricing | None = None,
    **settings: Any,
) -> ray.data.Dataset:
    """``ds`` (documents) as a Dataset of result rows (``rows.ROW_SCHEMA``), one per document.

    ``settings`` build the ``Extractor`` (model, base_url, prompt, strategy, rpm, tpm, ...). They
    are resolved here, on the driver, and handed to the actors whole, except the API key, which each
    actor reads from its own environment. ``rpm``/``tpm`` hold for the pool as a whole.
    """
    if actors < 1 or concurrency < 1 or not 0 < num_cpus <= 64 or batch_size < 1:
        raise ConfigError("actors, concurrency and batch_size must be at least 1, num_cpus above 0")
    extractor = Extractor(**settings)
    if extractor.strategy != "rules" and extractor.settings.endpoint == "embedded":
        raise ConfigError(
            "Ray actors need an endpoint (--base-url or an API key): the embedded model would start "
            "a llama.cpp server in every actor"
        )
    limits = extractor.settings.rpm, extractor.settings.tpm
    frozen = frozen_settings(extractor)
    frozen["rpm"] = frozen["tpm"] = None  # the pool's budget below, not one per actor
    budget = budget_actor(*limits) if any(limits) and extractor.strategy != "rules" else None
    return ds.map_batches(
        ExtractBatch,
        fn_constructor_kwargs={
            "settings": frozen,
            "endpoint": extractor.settings.endpoint,
            "id_column": id_column,
            "text_column": text_column,
            "concurrency": concurrency,
            "cache": str(cache) if isinstance(cache, Path) else cache,
            "pricing": pricing,
            "budget": budget,
        },
        batch_format="pyarrow",
        batch_size=batch_size,
        compute=ray.data.ActorPoolStrategy(size=actors),
        num_cpus=num_cpus,
    )


def read_documents(input_uri: str) -> ray.data.Dataset:
    """JSONL (``.jsonl``/``.json`` lines) or Parquet, a file or a directory of them."""
    path = Path(input_uri)
    suffixes = {p.suffix.lower() for p in path.iterdir()} if path.is_dir() else {path.suffix.lower()}
    if suffixes & {".parquet", ".pq"}:
        return ray.data.read_parquet(input_uri)
    if suffixes & {".jsonl", ".json", ".ndjson"}:
        return ray.data.read_json(input_uri)
    raise InputError(
        f"{input_uri}: expected JSONL or Parquet (a .jsonl/.parquet file or a directory of them)"
    )


def _write(block: pa.Table, out: str) -> pa.Table:
    """Write a block of result rows as one whole part; report what was written."""
    if block.num_rows == 0:
        return pa.table({"part": pa.array([], pa.string()), "rows": pa.array([], pa.int64())})
    return pa.table({"part": [write_part(block, out)], "rows": [block.num_rows]})


def _skip_done(block: pa.Table, id_column: str, done: frozenset[str]) -> pa.Table:
    keep = pa.array([str(i) not in done for i in block.column(id_column).to_pylist()], pa.bool_())
    return block.filter(keep)


@dataclass
class RunReport:
    """What ``run`` did."""

    out: str
    skipped: int = 0
    rows: int = 0
    parts: int = 0
    swept: int = 0
    wall_time_s: float = 0.0
    compacted: CompactReport | None = None
    parts_written: list[str] = field(default_factory=list)


def run(
    input_uri: str,
    output_uri: str,
    *,
    resume: bool = False,
    id_column: str = "id",
    text_column: str = "text",
    compact_output: bool = True,
    on_start: Callable[[ray.data.Dataset], None] | None = None,
    **options: Any,
) -> RunReport:
    """Extract every document of ``input_uri`` into Parquet parts in ``output_uri`` (Ray must be up).

    Without ``resume``, an output that already holds parts is refused. With it, documents already
    ``ok`` there are skipped, and the others run again. ``options`` go to ``extract_dataset``.
    """
    started = time.perf_counter()
    out = str(output_uri)
    report = RunReport(out=out)
    existing = part_files(out)
    if existing and not resume:
        raise OutputError(f"{out} already holds {len(existing)} part(s): pass --resume to continue it")
    report.swept = sweep(out)
    ds = read_documents(input_uri)
    done = frozenset(finished_ids(out)) if resume else frozenset()
    report.skipped = len(done)
    if done:
        # cast: Ray's annotation knows only one-argument batch functions; fn_kwargs give the rest.
        ds = ds.map_batches(
            cast(Any, _skip_done),
            fn_kwargs={"id_column": id_column, "done": done},
            batch_format="pyarrow",
            num_cpus=0.25,
        )
    results = extract_dataset(ds, id_column=id_column, text_column=text_column, **options)
    written = results.map_batches(
        cast(Any, _write), fn_kwargs={"out": out}, batch_format="pyarrow", batch_size=None, num_cpus=0.25
    )
    if on_start is not None:
        on_start(written)
    for row in written.iter_rows():
        report.rows += int(row["rows"])
        report.parts_written.append(str(row["part"]))
    report.parts = len(set(report.parts_written))
    if compact_output:
        report.compacted = compact(out)
    report.wall_time_s = round(time.perf_counter() - started, 3)
    return report


def read_rows(output_uri: str) -> pa.Table:
    """Every row of an output, as one table of ``ROW_SCHEMA`` (for tests and small outputs)."""
    import pyarrow.parquet as pq

    parts = part_files(output_uri)
    if not parts:
        return ROW_SCHEMA.empty_table()
    return pa.concat_tables([pq.read_table(p.path).cast(ROW_SCHEMA) for p in parts])
