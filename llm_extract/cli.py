"""The ``llm-extract`` command: a thin layer over the Python API."""

from __future__ import annotations

import json
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO, TypeVar

import click

from llm_extract import (
    Baseline,
    EvalReport,
    ExtractError,
    Extraction,
    Extractor,
    Pricing,
    __version__,
    check_fixtures,
    compare_baseline,
    evaluate,
    load_documents,
    load_fixtures,
    make_baseline,
    render_html,
    render_markdown,
    render_table,
    rule_floor,
    run_eval,
)
from llm_extract.backends import LocalServer

_SETTINGS = ("prompt", "model", "base_url", "model_path", "strategy", "grounding", "unmatched")


F = TypeVar("F", bound=Callable[..., Any])


def _model_options(command: F) -> F:
    """The endpoint and strategy options shared by every command that runs a model."""
    options = [
        click.option("--model", help="Model name at the endpoint (LLM_EXTRACT_MODEL)."),
        click.option(
            "--base-url",
            help="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1 (LLM_EXTRACT_BASE_URL).",
        ),
        click.option(
            "--model-path", type=click.Path(dir_okay=False), help="GGUF file for the embedded server."
        ),
        click.option(
            "--strategy",
            type=click.Choice(["auto", "single", "decomposed", "rules"]),
            help="Extraction strategy (rules: no model).",
        ),
        click.option(
            "--grounding", type=click.Choice(["auto", "aligned", "constrained"]), help="Grounding mode."
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@click.group()
@click.version_option(__version__, prog_name="llm-extract")
def main() -> None:
    """Grounded actors, events and claims from news articles."""


@main.command()
@click.argument("source", type=click.Path(allow_dash=True))
@click.option("--prompt", help="Prompt version, e.g. news@v1 (LLM_EXTRACT_PROMPT).")
@_model_options
@click.option(
    "--unmatched", type=click.Choice(["flag", "drop"]), help="Keep ungrounded items flagged, or drop them."
)
@click.option("--published", help="Publication date (YYYY-MM-DD) for plain-text input.")
@click.option("--out", type=click.Path(dir_okay=False, writable=True), help="Write here instead of stdout.")
@click.option("--format", "fmt", type=click.Choice(["json", "jsonl"]), default="json", show_default=True)
def extract(source: str, published: str | None, out: str | None, fmt: str, **options: Any) -> None:
    """Extract from FILE (.txt, .md, .json, .jsonl), every such file in DIR, or - (stdin)."""
    settings = {k: v for k, v in options.items() if k in _SETTINGS and v is not None}
    failures = 0
    try:
        documents = list(load_documents(source, published=published))
    except (ExtractError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    stream: TextIO = open(out, "w", encoding="utf-8") if out else sys.stdout  # noqa: SIM115
    results = []
    try:
        with Extractor(**settings) as extractor:
            for document in documents:
                try:
                    result = extractor.extract(document)
                except ExtractError as exc:
                    failures += 1
                    click.echo(f"error: {exc}", err=True)
                    continue
                if fmt == "jsonl":
                    stream.write(result.model_dump_json() + "\n")
                    stream.flush()
                else:
                    results.append(result.model_dump(mode="json"))
        if fmt == "json":
            json.dump(
                results[0] if len(documents) == 1 and results else results,
                stream,
                indent=2,
                ensure_ascii=False,
            )
            stream.write("\n")
    except ExtractError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        if out:
            stream.close()
    if failures:
        click.echo(f"{failures} of {len(documents)} document(s) failed", err=True)
        sys.exit(1)


@main.command()
@click.option(
    "--model-path", type=click.Path(dir_okay=False, exists=True), help="GGUF file (default: SmolLM2)."
)
@click.option("--port", type=int, help="Port on 127.0.0.1 (default: a free one).")
def serve(model_path: str | None, port: int | None) -> None:
    """Run the embedded llama.cpp server in the foreground until interrupted."""
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
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
        return [Extraction.model_validate_json(line) for line in lines if line.strip()]
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"{path}: cannot read predictions: {exc}") from exc


@main.command("eval")
@click.option("--prompt", help="Prompt version to evaluate, e.g. news@v1 (LLM_EXTRACT_PROMPT).")
@click.option(
    "--fixtures",
    type=click.Path(file_okay=False),
    default="evals/fixtures",
    show_default=True,
    help="Directory of labelled fixture files (any directory in the documented format).",
)
@_model_options
@click.option(
    "--predictions",
    type=click.Path(dir_okay=False, exists=True),
    help="Score this JSONL of extractions instead of running a model.",
)
@click.option(
    "--min-f1",
    "min_f1",
    multiple=True,
    metavar="TYPE[.partial]=X",
    help="Fail (exit 1) when a type's micro F1 is below X (0-1), e.g. events=0.2 or claims.partial=0.3.",
)
@click.option(
    "--baseline", type=click.Path(dir_okay=False, exists=True), help="Fail on a drop below this baseline."
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
@click.option("--price-input", type=float, help="USD per million prompt tokens, for the cost column.")
@click.option("--price-output", type=float, help="USD per million completion tokens.")
def eval_command(
    fixtures: str,
    predictions: str | None,
    min_f1: tuple[str, ...],
    baseline: str | None,
    write_baseline: str | None,
    report: str | None,
    json_out: str | None,
    markdown: str | None,
    price_input: float | None,
    price_output: float | None,
    floor: bool,
    **options: Any,
) -> None:
    """Score a prompt version against hand-labelled fixtures; exit 1 when a gate fails."""
    from rich.console import Console
    from rich.progress import Progress

    gates = _thresholds(min_f1)
    settings = {k: v for k, v in options.items() if k in _SETTINGS and v is not None}
    pricing = None
    if price_input is not None or price_output is not None:
        pricing = Pricing(input_per_mtok=price_input or 0.0, output_per_mtok=price_output or 0.0)
    console = Console(stderr=True)
    try:
        items = load_fixtures(fixtures)
        if predictions:
            result: EvalReport = evaluate(_read_predictions(predictions), items)
            result.floor = rule_floor(items) if floor else None
        else:
            with Progress(console=console, transient=True) as progress:
                task = progress.add_task("extracting", total=len(items))

                def advance(fixture: Any, _result: Any, error: ExtractError | None) -> None:
                    if error is not None:
                        progress.console.print(f"[red]failed[/red] {fixture.id}: {error}")
                    progress.advance(task)

                result = run_eval(
                    fixtures=items, pricing=pricing, floor=floor, on_document=advance, **settings
                )
            result = result.model_copy(update={"fixtures": fixtures})
    except (ExtractError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    out = Console()
    # Piped output has no terminal width; keep the table readable in CI logs instead of 80 columns.
    (out if out.is_terminal else Console(width=170)).print(render_table(result))
    outputs = ((json_out, result.model_dump_json(indent=2)), (markdown, render_markdown(result)))
    for path, content in (*outputs, (report, render_html(result) if report else "")):
        if path:
            Path(path).write_text(content, encoding="utf-8")
            console.print(f"wrote {path}")
    if write_baseline:
        baseline_json = make_baseline(result).model_dump_json(indent=2) + "\n"
        Path(write_baseline).write_text(baseline_json, encoding="utf-8")
        console.print(f"wrote baseline {write_baseline}")
    failures = [
        f"{t} {scheme} F1 {result.f1(t, 'partial' if scheme == 'partial' else 'strict'):.3f} < {x:.3f}"
        for (t, scheme), x in gates.items()
        if result.f1(t, "partial" if scheme == "partial" else "strict") < x
    ]
    if baseline:
        failures += compare_baseline(result, Baseline.model_validate_json(Path(baseline).read_text("utf-8")))
    for failure in failures:
        console.print(f"[red]gate failed[/red]: {failure}")
    if failures:
        sys.exit(1)
