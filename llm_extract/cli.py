"""The ``llm-extract`` command: a thin layer over the Python API.

Commands import what they use when they run: ``llm-extract --help`` loads click and the settings
only, and a ``rules`` extraction never loads the model client, scipy or rich's tables.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import os
import shlex
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from llm_extract._cli_options import F
from llm_extract._cli_options import pricing as _pricing
from llm_extract._cli_options import setting as _setting
from llm_extract._config import DEFAULT_PROMPT, Settings

if TYPE_CHECKING:
    from llm_extract import BatchResult, BatchSummary, EvalReport, Extraction
    from llm_extract.harness import Baseline

# Options named like a field of Settings are settings: passed on when given, else resolved there.
_SETTINGS = frozenset(f.name for f in dataclasses.fields(Settings))


def _model_options(command: F) -> F:
    """The endpoint and strategy options shared by every command that runs a model."""
    options = [
        _setting("model"),
        _setting("base_url"),
        click.option(
            "--model-path", type=click.Path(dir_okay=False), help="GGUF file for the embedded server."
        ),
        _setting("strategy"),
        _setting("grounding"),
        _setting("timeout", type=click.FloatRange(min=0, min_open=True)),
        _setting("max_tokens", type=click.IntRange(min=1)),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from llm_extract import __version__

    click.echo(f"llm-extract, version {__version__}")
    ctx.exit()


@click.group()
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Show the version and exit.",
)
def main() -> None:
    """Grounded actors, events and claims from news articles."""


def run() -> None:
    """The ``llm-extract`` console script: ``main`` with SIGTERM handled like Ctrl-C.

    Python's default SIGTERM ends the process at once: no ``finally``, no ``atexit``, so an embedded
    server and a half-written output would be left behind. As a KeyboardInterrupt, the batch is
    cancelled, finished results stay written and the server is stopped.
    """
    signal.signal(signal.SIGTERM, _interrupted)
    main()


def _interrupted(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@main.command()
@click.argument("source", type=click.Path(allow_dash=True))
@click.option("--prompt", help="Prompt version, e.g. news@v1 (LLM_EXTRACT_PROMPT).")
@_model_options
@click.option(
    "--unmatched", type=click.Choice(["flag", "drop"]), help="Keep ungrounded items flagged, or drop them."
)
@click.option("--published", help="Publication date (YYYY-MM-DD) for plain-text input.")
@click.option("--out", type=click.Path(dir_okay=False, writable=True), help="Write here instead of stdout.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "jsonl"]),
    help="json: the extraction(s); jsonl: a result line per document (ok or error) as each finishes. "
    "Default: from --out's extension (.jsonl, .json), else json.",
)
@click.option(
    "--concurrency", type=click.IntRange(1, 512), default=4, show_default=True, help="Documents at once."
)
@click.option(
    "--resume",
    is_flag=True,
    help="Continue an interrupted --out JSONL: documents missing, failed or changed since (text, "
    "model, prompt, settings) run; the rest are kept. Refuses a file that is not llm-extract results.",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing --out file.")
@click.option("--no-cache", is_flag=True, help="Neither read nor write the result cache.")
@click.option("--cache-dir", type=click.Path(file_okay=False), help="Result cache (LLM_EXTRACT_CACHE_DIR).")
@click.option("--rpm", type=float, help="Requests per minute at most (LLM_EXTRACT_RPM).")
@click.option("--tpm", type=float, help="Tokens per minute at most (LLM_EXTRACT_TPM).")
@click.option(
    "--max-cost", type=click.FloatRange(min=0), help="Start no new document once this many USD are spent."
)
@click.option(
    "--price-input",
    type=click.FloatRange(min=0),
    help="USD per million prompt tokens (else the price table).",
)
@click.option("--price-output", type=click.FloatRange(min=0), help="USD per million completion tokens.")
@click.option(
    "--progress/--no-progress", default=None, help="Progress bar on stderr (default: when a terminal)."
)
def extract(
    source: str,
    published: str | None,
    out: str | None,
    fmt: str | None,
    concurrency: int,
    resume: bool,
    overwrite: bool,
    no_cache: bool,
    max_cost: float | None,
    price_input: float | None,
    price_output: float | None,
    progress: bool | None,
    **options: Any,
) -> None:
    """Extract from FILE (.txt, .md, .json, .jsonl), every such file in DIR, or - (stdin)."""
    from llm_extract.documents import load_documents
    from llm_extract.errors import ExtractError, InputError
    from llm_extract.output import run_batch
    from llm_extract.schema import Document

    settings = {k: v for k, v in options.items() if k in _SETTINGS and v is not None}
    fmt = _output_format(fmt, out)
    if resume and not (out and fmt == "jsonl"):
        raise click.UsageError("--resume needs --out FILE with --format jsonl")
    if out:
        _refuse_input_as_output(source, out)
    unreadable: list[InputError] = []
    try:
        documents = list(load_documents(source, published=published, errors=unreadable))
    except (ExtractError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    err = _Stderr()  # plain lines: whole for grep and logs, and no rich to load for a quick run
    for problem in unreadable:  # reported now; each also gets its error record, and the rest still runs
        err.print(f"error: {problem}", markup=False, highlight=False)
    items: list[Document | InputError] = [*documents, *unreadable]
    batch: dict[str, Any] = {
        "concurrency": concurrency,
        "cache": not no_cache,
        "max_cost": max_cost,
        "pricing": _pricing(price_input, price_output),
        **settings,
    }
    show = err.is_terminal if progress is None else progress
    failed: list[BatchResult] = []
    latest: list[BatchSummary] = []
    _load_the_client_unless_rules(settings)
    try:
        with _frozen_heap(), _warnings_to(err), _BatchProgress(err, len(items), enabled=show) as bar:

            def on_result(result: BatchResult, summary: BatchSummary) -> None:
                latest[:] = [summary]
                bar.update(result, summary)
                if result.error:
                    failed.append(result)

            if out:
                summary = run_batch(
                    items,
                    out,
                    format="jsonl" if fmt == "jsonl" else "json",
                    resume=resume,
                    overwrite=overwrite,
                    on_result=on_result,
                    on_resume=lambda report: err.print(report.describe(), markup=False, highlight=False),
                    **batch,
                )
            else:
                summary = _to_stdout(items, fmt, batch, on_result, single=len(documents) == 1)
    except ExtractError as exc:
        raise click.ClickException(str(exc)) from exc
    except KeyboardInterrupt:
        if not out:
            raise
        done = latest[0].total if latest else 0
        err.print(_how_to_resume(out, fmt, done, len(items)), markup=False, highlight=False)
        sys.exit(130)
    if fmt == "json":
        for r in failed:
            if r.error:
                err.print(f"error {r.document_id}: {r.error.type}: {r.error.message}", markup=False)
    if summary.resumed is not None and summary.resumed.stale:
        err.print(summary.resumed.describe_stale(), markup=False, highlight=False)
    _report_summary(err, summary, len(items))
    if unreadable:
        err.print(f"{len(unreadable)} input item(s) could not be read (see above)", highlight=False)
    if summary.errors:
        sys.exit(1)


def _load_the_client_unless_rules(settings: dict[str, Any]) -> None:
    """Import the model client before the heap is frozen (``_frozen_heap``), unless no model runs.

    A ``rules`` extraction never needs openai and instructor: it does not pay for importing them.
    """
    from llm_extract._config import resolve_settings
    from llm_extract.errors import ConfigError

    try:
        rules = resolve_settings(**settings).strategy == "rules"
    except ConfigError:
        return  # the batch reports it
    if not rules:
        import llm_extract.client  # noqa: F401


def _how_to_resume(out: str, fmt: str, done: int, total: int) -> str:
    """What to tell a user who pressed Ctrl-C: what is kept, and the command that finishes the run."""
    ctx = click.get_current_context()
    command = ["llm-extract", *ctx.command_path.split()[1:]]
    for param in ctx.command.params:
        value = ctx.params.get(param.name or "")
        source = ctx.get_parameter_source(param.name or "")
        if source is not click.core.ParameterSource.COMMANDLINE or param.name in ("resume", "overwrite"):
            continue
        if isinstance(param, click.Argument):
            command.append(str(value))
        elif isinstance(param, click.Option):
            flag = param.opts[0] if value or not param.secondary_opts else param.secondary_opts[0]
            if param.is_flag:
                command.append(flag)
            else:
                command += [flag, str(value)]
    if fmt == "jsonl":
        command.append("--resume")
        how = f"the finished results are in {out}; to run the rest, resume with:"
    else:
        again = "they run again" if ctx.params.get("no_cache") else "they come from the cache, no model call"
        how = (
            f"the finished extractions are in {out}; run the same command again to finish (for the "
            f"finished documents {again}), or write JSONL (--out x.jsonl) to be able to resume:"
        )
    line = " ".join(shlex.quote(part) for part in command)
    if ctx.params.get("resume"):
        return f"interrupted: {done} more document(s) finished; {how}\n  {line}"
    return f"interrupted after {done} of {total} document(s); {how}\n  {line}"


def _output_format(fmt: str | None, out: str | None) -> str:
    """``--format`` as given, else from ``--out``'s extension (``.jsonl``, ``.json``), else json."""
    if fmt:
        return fmt
    return "jsonl" if out and Path(out).suffix.lower() == ".jsonl" else "json"


# What load_documents reads from a directory.
_INPUT_SUFFIXES = {".txt", ".md", ".html", ".htm", ".json", ".jsonl"}


def _refuse_input_as_output(source: str, out: str) -> None:
    """Refuse an ``--out`` that is read as input.

    Writing the input file would destroy the documents; a results file inside an input directory
    would be read as documents by the next run.
    """
    if source == "-":
        return
    src, dst = Path(source).resolve(), Path(out).resolve()
    if src.is_dir():
        if dst.parent == src and dst.suffix.lower() in _INPUT_SUFFIXES:
            raise click.UsageError(
                f"--out {out} is in the input directory {source}, where it would be read as input: "
                "choose another --out"
            )
    elif dst == src or (dst.exists() and src.exists() and os.path.samefile(dst, src)):
        raise click.UsageError(f"--out {out} is the input file: writing it would destroy the input")


def _to_stdout(
    items: list[Any],
    fmt: str,
    batch: dict[str, Any],
    on_result: Callable[[BatchResult, BatchSummary], None],
    *,
    single: bool,
) -> BatchSummary:
    """Run the batch to stdout: JSONL lines as each document finishes, or the JSON at the end."""
    from llm_extract.batch import BatchSummary, extract_batch
    from llm_extract.output import render_json
    from llm_extract.schema import Document

    summary = BatchSummary()
    started = time.perf_counter()
    order = {d.id: i for i, d in enumerate(items) if isinstance(d, Document)}
    finished: list[Extraction] = []
    for result in extract_batch(items, **batch):
        summary.add(result)
        on_result(result, summary)
        if fmt == "jsonl":
            click.echo(result.model_dump_json())
        elif result.extraction is not None:
            finished.append(result.extraction)
    if fmt == "json":
        finished.sort(key=lambda e: order.get(e.document_id, len(order)))
        click.echo(render_json(finished, single=single), nl=False)
    summary.wall_time_s = round(time.perf_counter() - started, 3)
    return summary


@contextmanager
def _warnings_to(console: Any) -> Iterator[None]:
    """Print each warning raised during the batch (a cache that turned itself off) as one plain line.

    Python's own format adds the file, line and source of the warning: noise to a user of the command.
    """

    def show(message: Warning | str, *_: Any, **__: Any) -> None:
        console.print(f"warning: {message}", markup=False, highlight=False)

    with warnings.catch_warnings():
        warnings.showwarning = show
        yield


@contextmanager
def _frozen_heap() -> Iterator[None]:
    """Leave every object alive so far (imports, settings, the documents) out of garbage collections.

    A batch makes cyclic garbage with every request (instructor's validator walks and retry state),
    and each full collection would scan the ~220k objects of pydantic, openai and instructor again:
    100-250 ms each on a small machine (benchmarks/RESULTS.md). The CLI owns its process, so it may
    freeze them; the library must not do this to its caller. Unfrozen afterwards, so a caller that
    runs the command in-process (tests) gets its heap back as it was.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _report_summary(err: Any, summary: BatchSummary, total: int) -> None:
    cost = "unknown (no price for this model)" if summary.cost_usd is None else f"${summary.cost_usd:.4f}"
    skipped = total - summary.total
    err.print(
        f"{summary.ok} ok, {summary.errors} failed, {summary.cached} from cache"
        + (f", {skipped} already done" if skipped else "")
        + f"; {summary.usage.total_tokens:,} tokens, cost {cost}, {summary.wall_time_s:.1f} s",
        highlight=False,
    )
    if summary.errors:
        err.print(f"{summary.errors} of {total} document(s) failed", highlight=False)


class _Stderr:
    """Lines on standard error, as they are (rich is loaded only to draw a progress bar)."""

    def __init__(self) -> None:
        self.is_terminal = sys.stderr.isatty()

    def print(self, text: str, **_: Any) -> None:
        click.echo(text, err=True)


class _BatchProgress:
    """A rich progress bar: done/total, docs/s, ETA, tokens, cost, errors (nothing when disabled)."""

    def __init__(self, _console: Any, total: int, *, enabled: bool) -> None:
        self.enabled = enabled
        self.started = time.perf_counter()
        self.progress: Any = None
        if not enabled:
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        console = Console(stderr=True, soft_wrap=True)
        self.progress = Progress(
            TextColumn("extracting"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[stats]}"),
            console=console,
        )
        self.task = self.progress.add_task("extract", total=total, rate="", stats="")

    def update(self, result: BatchResult, summary: BatchSummary) -> None:
        if self.progress is None:
            return
        elapsed = max(time.perf_counter() - self.started, 1e-9)
        cost = "?" if summary.cost_usd is None else f"${summary.cost_usd:.4f}"
        self.progress.update(
            self.task,
            advance=1,
            rate=f"{summary.total / elapsed:.2f} docs/s",
            stats=f"{summary.usage.total_tokens:,} tok · {cost} · {summary.errors} errors",
        )
        if result.error and self.enabled:
            message = f"failed {result.document_id}: {result.error.message}"
            self.progress.console.print(message, markup=False, highlight=False)

    def __enter__(self) -> _BatchProgress:
        if self.progress is not None:
            self.progress.start()
        return self

    def __exit__(self, *_: object) -> None:
        if self.progress is not None:
            self.progress.stop()


@main.command()
@click.option(
    "--model-path", type=click.Path(dir_okay=False, exists=True), help="GGUF file (default: SmolLM2)."
)
@click.option("--port", type=int, help="Port on 127.0.0.1 (default: a free one).")
def serve(model_path: str | None, port: int | None) -> None:
    """Run the embedded llama.cpp server in the foreground until interrupted."""
    from llm_extract.backends import LocalServer
    from llm_extract.errors import ExtractError

    try:
        server = LocalServer(Path(model_path) if model_path else None, port=port)
        with server:
            click.echo(f"serving {server.model_path.name} at {server.base_url} (Ctrl-C stops)")
            stop = threading.Event()
            signal.signal(signal.SIGTERM, lambda *_: stop.set())
            try:
                while server.running and not stop.wait(1.0):
                    pass
            except KeyboardInterrupt:
                pass
    except ExtractError as exc:
        raise click.ClickException(str(exc)) from exc


@main.command("check-fixtures")
@click.argument("directory", type=click.Path(file_okay=False), default="evals/fixtures")
def check_fixtures_command(directory: str) -> None:
    """Check eval fixtures: each parses, each gold quote is at its offsets, each id resolves."""
    from llm_extract import ExtractError, check_fixtures

    bad = 0
    try:
        for path, problems in check_fixtures(directory):
            if problems:
                bad += 1
                click.echo(f"{path}: {len(problems)} problem(s)", err=True)
                for problem in problems:
                    click.echo(f"  - {problem}", err=True)
            else:
                click.echo(f"{path}: ok")
    except ExtractError as exc:
        raise click.ClickException(str(exc)) from exc
    if bad:
        raise click.ClickException(f"{bad} fixture file(s) have problems")


_TYPES = ("actors", "events", "claims")


def _thresholds(values: tuple[str, ...]) -> dict[tuple[str, str], float]:
    gates: dict[tuple[str, str], float] = {}
    for value in values:
        key, sep, number = value.partition("=")
        item_type, _, scheme = key.partition(".")
        try:
            threshold = float(number)
        except ValueError:
            threshold = -1.0
        if not sep or item_type not in _TYPES or scheme not in ("", "strict", "partial"):
            choices = ", ".join(_TYPES)
            raise click.BadParameter(f"{value!r}: use TYPE=X or TYPE.partial=X, TYPE one of {choices}")
        if not 0.0 <= threshold <= 1.0:
            raise click.BadParameter(f"{value!r}: the threshold must be a number from 0 to 1")
        gates[(item_type, scheme or "strict")] = threshold
    return gates


def _read_predictions(path: str) -> list[Extraction]:
    """Extractions from a JSONL of extractions or of batch results (error lines score as misses)."""
    from llm_extract import BatchResult, Extraction

    predictions: list[Extraction] = []
    seen: dict[str, int] = {}
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"{path}: cannot read predictions: {exc}") from exc
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            if isinstance(data, dict) and "status" in data:
                extraction = BatchResult.model_validate(data).extraction
            else:
                extraction = Extraction.model_validate(data)
        except ValueError as exc:
            first = str(exc).strip().splitlines()[0][:300]
            raise click.ClickException(f"{path}:{number}: cannot read predictions: {first}") from exc
        if extraction is None:
            continue
        if extraction.document_id in seen:
            raise click.ClickException(
                f"{path}:{number}: document {extraction.document_id!r} already predicted on line "
                f"{seen[extraction.document_id]}"
            )
        seen[extraction.document_id] = number
        predictions.append(extraction)
    return predictions


def _print_table(render: Callable[[int], Any]) -> None:
    """Print ``render(width)`` to stdout, fitted to the terminal.

    Piped output has no terminal width: it gets 170 columns (every column, readable in CI logs)
    unless COLUMNS says otherwise.
    """
    from rich.console import Console

    out = Console()
    if not out.is_terminal and not os.environ.get("COLUMNS"):
        out = Console(width=170)
    out.print(render(out.width))


def _write_outputs(console: Any, *outputs: tuple[str | None, Callable[[], str]]) -> None:
    """Render and write each requested output; one that cannot be written does not stop the others."""
    from rich.markup import escape

    for path, render in outputs:
        if not path:
            continue
        try:
            Path(path).write_text(render(), encoding="utf-8")
        except OSError as exc:  # keep going: the other outputs and the gates still matter
            console.print(f"[red]cannot write[/red] {escape(path)}: {escape(str(exc))}")
            continue
        console.print(f"wrote {escape(path)}", highlight=False)


def _check_writable(*paths: str | None) -> None:
    """Fail before a paid run, not after it, when an output cannot be written."""
    for path in paths:
        if path and not Path(path).resolve().parent.is_dir():
            raise click.BadParameter(f"{path}: its directory does not exist")


_SPLIT_HELP = (
    "Fixtures to score: dev (the files in --fixtures), test (its test/ folder), or all (each split "
    "on its own, then together)."
)


@main.command("eval")
@click.option("--prompt", help="Prompt version to evaluate, e.g. news@v1 (LLM_EXTRACT_PROMPT).")
@click.option(
    "--fixtures",
    type=click.Path(file_okay=False),
    default="evals/fixtures",
    show_default=True,
    help="Directory of labelled fixture files (any directory in the documented format).",
)
@click.option(
    "--split",
    type=click.Choice(["dev", "test", "all"]),
    help=f"{_SPLIT_HELP} Default: all; with --from-json, the saved run (or one split of it).",
)
@_model_options
@click.option(
    "--predictions",
    type=click.Path(dir_okay=False, exists=True),
    help="Score this JSONL of extractions instead of running a model.",
)
@click.option(
    "--from-json",
    "from_json",
    type=click.Path(dir_okay=False, exists=True),
    help="Read a report saved with --json instead of running anything: print it, write --report, "
    "--markdown or --write-baseline from it, and apply the gates.",
)
@click.option(
    "--min-f1",
    "min_f1",
    multiple=True,
    metavar="TYPE[.partial]=X",
    help="Fail (exit 1) when a type's micro F1 over the run (every split together) is below X (0-1), "
    "e.g. events=0.2 or claims.partial=0.3.",
)
@click.option(
    "--baseline",
    type=click.Path(dir_okay=False, exists=True),
    help="Fail on a drop below this baseline (on the split it was made on).",
)
@click.option("--write-baseline", type=click.Path(dir_okay=False), help="Write this run as a baseline file.")
@click.option("--report", type=click.Path(dir_okay=False), help="Write a standalone HTML report here.")
@click.option(
    "--json", "json_out", type=click.Path(dir_okay=False), help="Write the full report as JSON here."
)
@click.option("--markdown", type=click.Path(dir_okay=False), help="Write the summary as Markdown here.")
@click.option(
    "--floor/--no-floor",
    default=True,
    show_default=True,
    help="Also score the no-model rules strategy on the same fixtures, for comparison.",
)
@click.option(
    "--concurrency", type=click.IntRange(1, 512), default=4, show_default=True, help="Documents at once."
)
@click.option("--no-cache", is_flag=True, help="Neither read nor write the result cache.")
@click.option(
    "--price-input", type=click.FloatRange(min=0), help="USD per million prompt tokens, for the cost column."
)
@click.option("--price-output", type=click.FloatRange(min=0), help="USD per million completion tokens.")
def eval_command(
    fixtures: str,
    split: str | None,
    predictions: str | None,
    from_json: str | None,
    min_f1: tuple[str, ...],
    baseline: str | None,
    write_baseline: str | None,
    report: str | None,
    json_out: str | None,
    markdown: str | None,
    price_input: float | None,
    price_output: float | None,
    floor: bool,
    concurrency: int,
    no_cache: bool,
    **options: Any,
) -> None:
    """Score a prompt version against hand-labelled fixtures; exit 1 when a gate fails.

    Documents already extracted with the same settings come from the result cache (as for extract
    and compare), so a second eval, say with --report, costs no model call.
    """
    from rich.console import Console
    from rich.markup import escape

    from llm_extract import ExtractError, eval_html, eval_markdown, make_baseline, run_eval
    from llm_extract.harness import score_predictions

    gates = _thresholds(min_f1)
    _check_writable(report, json_out, markdown, write_baseline)
    settings = {k: v for k, v in options.items() if k in _SETTINGS and v is not None}
    if from_json:
        _refuse_with_saved_report(predictions=predictions, settings=settings, options=options)
    elif predictions and settings:
        raise click.UsageError(
            f"--predictions scores saved extractions: no model runs to take {_names(settings)}"
        )
    pricing = _pricing(price_input, price_output)
    console = Console(stderr=True, soft_wrap=True)
    reference = _read_baseline(baseline)  # before the run: a bad baseline file must not waste a paid run
    try:
        if from_json:
            result = _saved_report(from_json, split)
        elif predictions:
            result = score_predictions(
                _read_predictions(predictions), fixtures, split=_split(split), floor=floor
            )
            missing = [d.id for d in result.documents if d.predicted is None]
            if missing:
                console.print(
                    f"warning: no prediction for {len(missing)} document(s): {', '.join(missing)}",
                    markup=False,
                )
        else:
            with _EvalProgress(console, _fixture_count(fixtures, _split(split))) as progress:
                result = run_eval(
                    fixtures=fixtures,
                    split=_split(split),
                    pricing=pricing,
                    floor=floor,
                    cache=not no_cache,
                    concurrency=concurrency,
                    on_document=progress.advance,
                    **settings,
                )
    except (ExtractError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    _print_table(lambda width: _eval_table(result, width))
    _write_outputs(
        console,
        (json_out, lambda: result.model_dump_json(indent=2)),
        (markdown, lambda: eval_markdown(result)),
        (report, lambda: eval_html(result)),
        (write_baseline, lambda: make_baseline(result).model_dump_json(indent=2) + "\n"),
    )
    failures = _gate_failures(result, gates, reference)
    for failure in failures:
        console.print(f"[red]gate failed[/red]: {escape(failure)}")
    if failures:
        sys.exit(1)


def _split(split: str | None) -> Any:
    """The split to run: as given, else all (every split the fixture directory has)."""
    return split or "all"


def _names(settings: dict[str, Any]) -> str:
    return ", ".join("--" + name.replace("_", "-") for name in sorted(settings))


def _refuse_with_saved_report(*, predictions: str | None, settings: dict[str, Any], options: Any) -> None:
    """--from-json runs nothing: an option that would change a run is a mistake, not a no-op."""
    if predictions:
        raise click.UsageError("give --from-json or --predictions, not both")
    ignored = {k: v for k, v in settings.items()}
    if options.get("model_path"):
        ignored["model_path"] = options["model_path"]
    ctx = click.get_current_context()
    for name in ("fixtures", "no_cache", "concurrency", "price_input", "price_output", "floor"):
        if ctx.get_parameter_source(name) is click.core.ParameterSource.COMMANDLINE:
            ignored[name] = True
    if ignored:
        raise click.UsageError(f"--from-json reads a saved report and runs nothing: drop {_names(ignored)}")


def _saved_report(path: str, split: str | None) -> EvalReport:
    """A report saved with ``--json``; with ``split``, the part of it for that split."""
    from llm_extract import EvalReport

    try:
        saved = EvalReport.model_validate_json(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0]
        raise click.BadParameter(f"{path}: not a report saved with --json: {first}") from exc
    if split is None or split == saved.split:
        return saved
    part = saved.for_split(split)
    if part is None:
        have = saved.split or "no split recorded"
        raise click.BadParameter(f"{path} holds no {split} split (it holds {have})")
    return part


def _read_baseline(path: str | None) -> Baseline | None:
    if not path:
        return None
    from llm_extract import Baseline

    try:
        return Baseline.model_validate_json(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise click.BadParameter(f"{path}: not a baseline file: {str(exc).splitlines()[0]}") from exc


def _gate_failures(
    result: EvalReport, gates: dict[tuple[str, str], float], reference: Baseline | None
) -> list[str]:
    """Why the run fails its gates: an F1 under --min-f1 (over the whole run), a drop below --baseline."""
    from llm_extract import compare_baseline

    failures = [
        f"{t} {scheme} F1 {result.f1(t, 'partial' if scheme == 'partial' else 'strict'):.3f} < {x:.3f}"
        for (t, scheme), x in gates.items()
        if result.f1(t, "partial" if scheme == "partial" else "strict") < x
    ]
    if reference is not None:
        failures += compare_baseline(result, reference)
    return failures


def _fixture_count(directory: str, split: str) -> int | None:
    """How many fixture files a run will read (for the progress bar); None when unknown."""
    from llm_extract.fixtures import fixture_splits, split_directory

    try:
        names = fixture_splits(directory) if split == "all" else [split]
        return sum(
            1 for n in names for p in split_directory(directory, n).iterdir() if p.suffix in (".yaml", ".yml")
        )
    except Exception:  # noqa: BLE001 (a count for a progress bar; the run reports the real problem)
        return None


class _EvalProgress:
    """A transient progress bar over the documents of an eval (or both sides of a comparison)."""

    def __init__(self, console: Any, total: int | None, label: str = "extracting") -> None:
        from rich.progress import Progress

        self.progress = Progress(console=console, transient=True)
        self.task = self.progress.add_task(label, total=total)

    def advance(self, fixture: Any, _result: Any, error: Exception | None, side: str = "") -> None:
        from rich.markup import escape

        if error is not None:
            # Error text holds [brackets] and raw model output: never rich markup.
            where = f"{side} " if side else ""
            self.progress.console.print(
                f"[red]failed[/red] {where}{escape(fixture.id)}: {escape(str(error))}"
            )
        self.progress.advance(self.task)

    def __enter__(self) -> _EvalProgress:
        self.progress.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.progress.stop()


def _eval_table(result: EvalReport, width: int) -> Any:
    from llm_extract import eval_table

    return eval_table(result, width=width)


@main.command("compare")
@click.argument("prompt_a")
@click.argument("prompt_b", required=False)
@click.option(
    "--fixtures",
    type=click.Path(file_okay=False),
    default="evals/fixtures",
    show_default=True,
    help="Directory of labelled fixture files.",
)
@click.option(
    "--split",
    type=click.Choice(["dev", "test", "all"]),
    default="dev",
    show_default=True,
    help=f"{_SPLIT_HELP} Prompts are tuned on dev; test is held out.",
)
@_model_options
@click.option("--model-b", help="Model for B (default: the same as A), to compare models.")
@click.option("--base-url-b", help="Endpoint for B (default: the same as A).")
@click.option("--report", type=click.Path(dir_okay=False), help="Write a standalone HTML report here.")
@click.option(
    "--markdown", type=click.Path(dir_okay=False), help="Write a Markdown summary (for a PR comment)."
)
@click.option("--json", "json_out", type=click.Path(dir_okay=False), help="Write the comparison as JSON.")
@click.option(
    "--fail-if-worse",
    is_flag=True,
    help="Exit 1 when B is significantly worse on any type's F1 (over the run, every split together).",
)
@click.option(
    "--threshold", type=click.FloatRange(0, 1), default=0.0, show_default=True, help="F1 drop that counts."
)
@click.option(
    "--alpha", type=click.FloatRange(0, 1), default=0.05, show_default=True, help="Significance level."
)
@click.option(
    "--resamples", type=click.IntRange(100), default=2000, show_default=True, help="Bootstrap resamples."
)
@click.option(
    "--concurrency", type=click.IntRange(1, 512), default=4, show_default=True, help="Documents at once."
)
@click.option("--no-cache", is_flag=True, help="Neither read nor write the result cache.")
def compare_command(
    prompt_a: str,
    prompt_b: str | None,
    fixtures: str,
    split: str,
    model_b: str | None,
    base_url_b: str | None,
    report: str | None,
    markdown: str | None,
    json_out: str | None,
    fail_if_worse: bool,
    threshold: float,
    alpha: float,
    resamples: int,
    concurrency: int,
    no_cache: bool,
    **options: Any,
) -> None:
    """Compare prompt version B with A (or one prompt on two models) over the same fixtures."""
    from rich.console import Console
    from rich.markup import escape

    from llm_extract import ExtractError, compare_html, compare_markdown, compare_table, run_compare

    _check_writable(report, markdown, json_out)
    if prompt_b is None and model_b is None and base_url_b is None:
        raise click.UsageError("give a second prompt version, --model-b or --base-url-b")
    settings = {k: v for k, v in options.items() if k in _SETTINGS and v is not None}
    settings_b = {k: v for k, v in (("model", model_b), ("base_url", base_url_b)) if v is not None}
    console = Console(stderr=True, soft_wrap=True)
    try:
        count = _fixture_count(fixtures, split)
        with _EvalProgress(console, None if count is None else 2 * count, "extracting A and B") as progress:
            comparison = run_compare(
                prompt_a,
                prompt_b,
                fixtures,
                split=_split(split),
                settings_b=settings_b,
                cache=not no_cache,
                concurrency=concurrency,
                resamples=resamples,
                alpha=alpha,
                on_document=lambda side, f, r, e: progress.advance(f, r, e, side),
                **settings,
            )
    except (ExtractError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    _print_table(lambda _width: compare_table(comparison))
    _write_outputs(
        console,
        (markdown, lambda: compare_markdown(comparison)),
        (report, lambda: compare_html(comparison)),
        (json_out, lambda: comparison.model_dump_json(indent=2)),
    )
    worse = comparison.worse(threshold=threshold, alpha=alpha)
    for line in worse:
        console.print(f"[red]B is significantly worse[/red]: {escape(line)}")
    if fail_if_worse and worse:
        sys.exit(1)


@main.group("prompts")
def prompts_group() -> None:
    """The prompt registry: list, show and diff prompt versions."""


@prompts_group.command("list")
def prompts_list() -> None:
    """Every prompt version available, with its hash and description; (default) marks the default."""
    import textwrap

    from llm_extract import ExtractError, list_prompts, load_prompt
    from llm_extract._config import resolve_settings

    try:
        default = resolve_settings().prompt
    except ExtractError:
        default = DEFAULT_PROMPT
    try:
        for ref in list_prompts():
            prompt = load_prompt(ref)
            described = " ".join(prompt.description.split())
            if ref == default or str(prompt.path) == default:
                described = f"(default) {described}"
            # Whole words only: a cut description ends with an ellipsis.
            described = textwrap.shorten(described, width=90, placeholder=" …")
            click.echo(f"{ref}\t{prompt.content_hash}\t{described}")
    except ExtractError as exc:
        raise click.ClickException(str(exc)) from exc


@prompts_group.command("show")
@click.argument("ref")
def prompts_show(ref: str) -> None:
    """Print a prompt file (by name@version), after validating it."""
    from llm_extract import ExtractError, load_prompt

    try:
        prompt = load_prompt(ref)
    except ExtractError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"# {prompt.ref} {prompt.content_hash} ({prompt.path})")
    click.echo(prompt.path.read_text(encoding="utf-8"), nl=False)


@prompts_group.command("diff")
@click.argument("ref_a")
@click.argument("ref_b")
def prompts_diff(ref_a: str, ref_b: str) -> None:
    """A unified diff of two prompt versions."""
    from llm_extract import ExtractError, load_prompt, prompt_diff

    try:
        a, b = load_prompt(ref_a), load_prompt(ref_b)
    except ExtractError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(prompt_diff(a.path, b.path, labels=(a.ref, b.ref)) or f"{a.ref} and {b.ref} are the same file")


def _first_error(exc: ValueError) -> str:
    lines = str(exc).strip().splitlines()
    return " ".join(line.strip() for line in lines[1:3]) if len(lines) > 1 else lines[0] if lines else ""


def _json_items(source: str) -> list[Any]:
    """A JSON array, a single JSON object (``extract`` output) or JSON lines; errors name the line."""
    try:
        whole = json.loads(source)
    except RecursionError as exc:
        raise ValueError("JSON nested too deeply to read") from exc
    except ValueError:
        pass
    else:
        return whole if isinstance(whole, list) else [whole]
    items = []
    for number, line in enumerate(source.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            items.append(json.loads(line))
        except ValueError as exc:
            raise ValueError(
                f"line {number} is not JSON ({exc}); a torn last line is left by a killed run"
            ) from exc
        except RecursionError as exc:
            raise ValueError(f"line {number}: JSON nested too deeply to read") from exc
    return items


@main.command("view")
@click.argument("results", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.option(
    "--documents",
    type=click.Path(exists=True),
    help="The source documents (file or directory), for results that do not carry their text.",
)
@click.option(
    "--out", type=click.Path(dir_okay=False), help="HTML file to write (default: RESULTS with .html)."
)
@click.option("--open", "open_browser", is_flag=True, help="Open the page in the default browser.")
@click.option("--title", default="llm-extract results", show_default=True, help="Page title.")
def view_command(
    results: str, documents: str | None, out: str | None, open_browser: bool, title: str
) -> None:
    """Write one standalone HTML page showing a results JSONL (or an extraction JSON) over its articles."""
    from llm_extract import BatchResult, ExtractError, Extraction, load_documents, render_html

    items: list[BatchResult | Extraction] = []
    try:
        raw = sys.stdin.buffer.read() if results == "-" else Path(results).read_bytes()
        rows = _json_items(raw.decode("utf-8-sig"))
        for number, data in enumerate(rows, start=1):
            if not isinstance(data, dict):
                raise ValueError(f"item {number} is not a JSON object")
            try:
                model = BatchResult if "status" in data else Extraction
                items.append(model.model_validate(data))
            except ValueError as exc:
                raise ValueError(f"item {number} is not a result: {_first_error(exc)}") from exc
        docs = list(load_documents(documents)) if documents else []
    except UnicodeDecodeError as exc:
        raise click.ClickException(
            f"{results}: not UTF-8 (byte offset {exc.start}): not a results file"
        ) from exc
    except (OSError, ValueError, ExtractError) as exc:
        raise click.ClickException(f"{results}: {str(exc).splitlines()[0]}") from exc
    target = Path(out) if out else Path("view.html" if results == "-" else Path(results).with_suffix(".html"))
    _check_writable(str(target))
    missing = [
        (i.document_id) for i in items if (isinstance(i, Extraction) or i.document is None) and not docs
    ]
    if missing:
        click.echo(
            f"warning: {len(missing)} result(s) carry no article text; pass --documents to show it", err=True
        )
    target.write_text(render_html(items, docs, title=title), encoding="utf-8")
    click.echo(f"wrote {target} ({len(items)} document(s))", err=True)
    if open_browser:
        import webbrowser

        webbrowser.open(target.resolve().as_uri())


# --- Corpus commands (issue 20): export, corpus, eval-linking. They live in llm_extract.corpus_cli and
# import pyarrow, duckdb and the name data only when they run, so `llm-extract --help` stays fast.
from llm_extract.corpus_cli import corpus_command, eval_linking_command, export_command  # noqa: E402

main.add_command(export_command)
main.add_command(corpus_command)
main.add_command(eval_linking_command)

# --- Scale commands (issue 18): `scale` (Ray Data) and `batch-api` (OpenAI's Batch API). They live in
# llm_extract.scale.cli and import Ray, pyarrow and the Batch API code only when they run.
from llm_extract.scale.cli import batch_api_group, scale_group  # noqa: E402

main.add_command(scale_group)
main.add_command(batch_api_group)
