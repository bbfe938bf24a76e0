"""The ``scale`` and ``batch-api`` command groups of ``llm-extract`` (registered in ``llm_extract.cli``).

Only click is imported here: Ray, pyarrow and the Batch API code load inside the commands, so
``llm-extract --help`` stays fast and works without the ``[ray]`` extra.
"""

from __future__ import annotations

from typing import Any

import click

from llm_extract._cli_options import F, pricing, setting

__all__ = ["batch_api_group", "scale_group"]

_RAY_HINT = "install the Ray extra: pip install 'llm-extract[ray]'"
_SETTINGS = ("prompt", "model", "base_url", "strategy", "grounding", "unmatched", "cache_dir", "rpm", "tpm")


def _settings_options(command: F) -> F:
    """The endpoint, prompt and strategy options of a command that runs the pipeline."""
    options = [
        *(setting(name) for name in ("prompt", "model", "base_url", "strategy", "grounding", "unmatched")),
        setting("cache_dir", type=click.Path(file_okay=False)),
        click.option("--no-cache", is_flag=True, help="Neither read nor write the result cache."),
        click.option("--price-input", type=click.FloatRange(min=0), help="USD per million prompt tokens."),
        click.option(
            "--price-output", type=click.FloatRange(min=0), help="USD per million completion tokens."
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _split(options: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """The extractor settings given, and the explicit pricing (or None)."""
    settings = {k: v for k, v in options.items() if k in _SETTINGS and v is not None}
    return settings, pricing(options.get("price_input"), options.get("price_output"))


def _fail(exc: Exception) -> click.ClickException:
    return click.ClickException(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)


# --- scale: Ray Data -------------------------------------------------------------------------------


@click.group("scale")
def scale_group() -> None:
    """Past one machine: a corpus through a Ray Data actor pool into Parquet (needs the [ray] extra)."""


@scale_group.command("run")
@click.argument("source")
@click.argument("out")
@_settings_options
@click.option("--rpm", type=float, help="Requests per minute for the whole pool, not per actor.")
@click.option("--tpm", type=float, help="Tokens per minute for the whole pool.")
@click.option("--address", help="Ray cluster address (auto: the running cluster); default: a local Ray.")
@click.option("--actors", type=click.IntRange(1, 10_000), default=2, show_default=True)
@click.option(
    "--concurrency",
    type=click.IntRange(1, 1024),
    default=8,
    show_default=True,
    help="Documents in flight per actor.",
)
@click.option(
    "--num-cpus",
    type=click.FloatRange(0.01, 64),
    default=0.5,
    show_default=True,
    help="CPUs reserved per actor.",
)
@click.option(
    "--batch-size",
    type=click.IntRange(1, 100_000),
    default=32,
    show_default=True,
    help="Documents per block.",
)
@click.option("--resume", is_flag=True, help="Continue OUT: documents already ok there are skipped.")
@click.option(
    "--no-compact", is_flag=True, help="Leave duplicate rows (of retried tasks) for `scale compact`."
)
def scale_run(
    source: str,
    out: str,
    address: str | None,
    actors: int,
    concurrency: int,
    num_cpus: float,
    batch_size: int,
    resume: bool,
    no_compact: bool,
    no_cache: bool,
    **options: Any,
) -> None:
    """Extract SOURCE (JSONL or Parquet: id, text[, title, published]) into Parquet parts in OUT."""
    try:
        import ray

        from llm_extract.scale import ray_data
    except ImportError as exc:
        raise click.ClickException(f"{exc}: {_RAY_HINT}") from exc
    from llm_extract.errors import ExtractError

    settings, pricing = _split(options)
    ray.init(address=address, include_dashboard=False, ignore_reinit_error=True, log_to_driver=False)
    try:
        report = ray_data.run(
            source,
            out,
            resume=resume,
            compact_output=not no_compact,
            actors=actors,
            concurrency=concurrency,
            num_cpus=num_cpus,
            batch_size=batch_size,
            cache=not no_cache,
            pricing=pricing,
            **settings,
        )
    except (ExtractError, OSError) as exc:
        raise _fail(exc) from exc
    finally:
        ray.shutdown()
    dropped = report.compacted.dropped if report.compacted else 0
    click.echo(
        f"{report.rows} row(s) written in {report.parts} part(s) to {out} in {report.wall_time_s:.1f} s"
        + (f"; {report.skipped} already done" if report.skipped else "")
        + (f"; compaction dropped {dropped} duplicate row(s)" if dropped else ""),
        err=True,
    )


@scale_group.command("compact")
@click.argument("out")
def scale_compact(out: str) -> None:
    """Leave one row per document in OUT: its ok row if any, else its newest error row."""
    try:
        from llm_extract.scale.shards import compact
    except ImportError as exc:
        raise click.ClickException(f"{exc}: {_RAY_HINT}") from exc
    report = compact(out)
    click.echo(
        f"{out}: {report.documents} document(s) in {report.rows} row(s) of {report.parts} part(s); "
        f"dropped {report.dropped}, rewrote {len(report.rewritten)} part(s), removed {len(report.removed)}",
        err=True,
    )


# --- batch-api: OpenAI's Batch API -------------------------------------------------------------------


@click.group("batch-api")
def batch_api_group() -> None:
    """A corpus through OpenAI's Batch API at half price: prepare, submit, status, collect, resubmit."""


def _report_round(report: Any) -> None:
    cost = "unknown (no price for this model)" if report.cost_usd is None else f"${report.cost_usd:.4f}"
    click.echo(
        f"round {report.round}: {report.finished} document(s) finished ({report.ok} ok, {report.errors} "
        f"failed, {report.cached} from cache), {report.already_done} done before, {report.waiting} waiting; "
        f"{report.usage.total_tokens:,} tokens, cost {cost} at the batch price",
        err=True,
    )
    if report.shards:
        click.echo(
            f"{report.new_requests} request(s) in {len(report.shards)} new shard(s): "
            f"{', '.join(report.shards)}; next: llm-extract batch-api submit",
            err=True,
        )
    elif report.complete:
        click.echo("every document is finished", err=True)


@batch_api_group.command("prepare")
@click.argument("source", type=click.Path(allow_dash=True))
@click.argument("directory", type=click.Path(file_okay=False))
@click.option(
    "--out", required=True, type=click.Path(dir_okay=False), help="The results JSONL (one line per document)."
)
@_settings_options
@click.option("--published", help="Publication date (YYYY-MM-DD) for plain-text input.")
@click.option(
    "--max-lines", type=click.IntRange(1, 50_000), default=50_000, show_default=True, help="Lines per shard."
)
@click.option(
    "--max-bytes", type=click.IntRange(1, 200 * 1024 * 1024), default=200 * 1024 * 1024, show_default=True
)
def batch_prepare(
    source: str,
    directory: str,
    out: str,
    published: str | None,
    max_lines: int,
    max_bytes: int,
    no_cache: bool,
    **options: Any,
) -> None:
    """Read SOURCE into the run DIRECTORY, run round 1, and write the first shard files."""
    from llm_extract.documents import load_documents
    from llm_extract.errors import ExtractError, InputError
    from llm_extract.scale import batch_api

    settings, pricing = _split(options)
    unreadable: list[InputError] = []
    try:
        documents = list(load_documents(source, published=published, errors=unreadable))
        report = batch_api.prepare(
            [*documents, *unreadable],
            directory,
            out=out,
            max_lines=max_lines,
            max_bytes=max_bytes,
            cache=not no_cache,
            pricing=pricing,
            **settings,
        )
    except (ExtractError, OSError, ValueError) as exc:
        raise _fail(exc) from exc
    for doc_id in report.repeated_ids:
        click.echo(f"warning: document id {doc_id!r} appeared before: skipped", err=True)
    _report_round(report)


@batch_api_group.command("submit")
@click.argument("directory", type=click.Path(file_okay=False, exists=True))
def batch_submit(directory: str) -> None:
    """Upload every new shard and create its batch (recorded in the manifest before anything is polled)."""
    from llm_extract.scale import batch_api

    try:
        sent = batch_api.submit(directory)
    except Exception as exc:  # noqa: BLE001 (an API or config error, reported as one line)
        raise _fail(exc) from exc
    click.echo(f"{len(sent)} batch(es) submitted" + "".join(f"\n  {s.name}" for s in sent), err=True)


@batch_api_group.command("status")
@click.argument("directory", type=click.Path(file_okay=False, exists=True))
def batch_status(directory: str) -> None:
    """Poll the batches and print the manifest: shard, batch, status, counts."""
    from llm_extract.scale import batch_api

    try:
        shards = batch_api.status(directory)
    except Exception as exc:  # noqa: BLE001 (an API or config error, reported as one line)
        raise _fail(exc) from exc
    click.echo("shard\tlines\tbatch\tstatus\tcompleted\tfailed\tcollected")
    for s in shards:
        counts = s.counts or {}
        click.echo(
            f"{s.name}\t{s.lines}\t{s.batch_id or '-'}\t{s.status}\t{counts.get('completed', '-')}\t"
            f"{counts.get('failed', '-')}\t{'yes' if s.collected else 'no'}"
        )


@batch_api_group.command("collect")
@click.argument("directory", type=click.Path(file_okay=False, exists=True))
def batch_collect(directory: str) -> None:
    """Take in the batches that ended, then run the next round (results out, open questions sharded)."""
    from llm_extract.scale import batch_api

    try:
        intake, report = batch_api.collect(directory)
    except Exception as exc:  # noqa: BLE001 (an API or config error, reported as one line)
        raise _fail(exc) from exc
    click.echo(
        f"took in {intake.batches} batch(es): {intake.answered} answer(s), {intake.failed} failed line(s), "
        f"{intake.unanswered} never answered, {intake.repeated} repeated",
        err=True,
    )
    _report_round(report)


@batch_api_group.command("resubmit")
@click.argument("directory", type=click.Path(file_okay=False, exists=True))
def batch_resubmit(directory: str) -> None:
    """Take in what ended and send again only what failed or went unanswered (expired, cancelled)."""
    from llm_extract.scale import batch_api

    try:
        intake, shards = batch_api.resubmit(directory)
    except Exception as exc:  # noqa: BLE001 (an API or config error, reported as one line)
        raise _fail(exc) from exc
    click.echo(
        f"took in {intake.batches} batch(es): {intake.answered} answer(s) kept; "
        f"{len(shards)} new batch(es) for the misses" + "".join(f"\n  {name}" for name in shards),
        err=True,
    )
