"""The corpus commands of ``llm-extract``: ``export``, ``corpus`` and ``eval-linking``.

Registered on the main group in ``llm_extract.cli``. Everything past click is imported inside the
commands, so ``llm-extract --help`` does not load pyarrow, duckdb or the name data.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

__all__ = ["corpus_command", "eval_linking_command", "export_command"]

_EXTRA_HINT = "install the corpus extras: pip install 'llm-extract[corpus]'"


def _corpus(results: str) -> Any:
    """The corpus of a results JSONL, or a click error naming the file."""
    from llm_extract.corpus import Corpus

    try:
        return Corpus.from_jsonl(results)
    except (OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"{results}: cannot read: {exc}") from exc


@click.command("export")
@click.argument("results", type=click.Path(exists=True, dir_okay=False))
@click.argument("out", type=click.Path())
@click.option(
    "--to",
    "fmt",
    type=click.Choice(["parquet", "csv", "sqlite", "duckdb"]),
    required=True,
    help="parquet/csv: a directory of one file per table; sqlite/duckdb: one database file.",
)
@click.option("--overwrite", is_flag=True, help="Replace OUT if it exists.")
def export_command(results: str, out: str, fmt: str, overwrite: bool) -> None:
    """Write a results JSONL as tables: documents, actors, mentions, events, claims, entities...

    Error lines (failed documents, unreadable lines) become documents rows with status 'error'.
    The schema is in docs/corpus.md.
    """
    from llm_extract.errors import OutputError

    if Path(out).exists() and not overwrite:
        raise click.ClickException(f"{out} exists: pass --overwrite to replace it")
    started = time.perf_counter()
    corpus = _corpus(results)
    try:
        tables = corpus.to_tables()
        from llm_extract.export import write_tables

        write_tables(tables, out, fmt, overwrite=overwrite)  # type: ignore[arg-type]
    except ImportError as exc:
        raise click.ClickException(f"{exc}: {_EXTRA_HINT}") from exc
    except OutputError as exc:
        raise click.ClickException(str(exc)) from exc
    elapsed = time.perf_counter() - started
    rows = sum(t.num_rows for t in tables.values())
    counts = ", ".join(f"{name} {t.num_rows}" for name, t in tables.items())
    failed = sum(1 for r in corpus.results if r.status != "ok")
    click.echo(f"wrote {out} ({fmt}): {counts}", err=True)
    click.echo(
        f"{len(corpus.results)} document(s), {failed} failed; {rows} rows in {elapsed:.2f} s "
        f"({rows / elapsed if elapsed else 0:,.0f} rows/s)",
        err=True,
    )


@click.command("corpus")
@click.argument("results", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--out", type=click.Path(dir_okay=False), help="HTML file to write (default: RESULTS with .corpus.html)."
)
@click.option("--title", default="llm-extract corpus", show_default=True, help="Page title.")
@click.option("--open", "open_browser", is_flag=True, help="Open the page in the default browser.")
def corpus_command(results: str, out: str | None, title: str, open_browser: bool) -> None:
    """Write a standalone HTML page of a results JSONL: entities, timeline, claim pairs, filters."""
    from llm_extract.report.corpus_page import render_corpus_html

    target = Path(out) if out else Path(results).with_suffix(".corpus.html")
    if not target.resolve().parent.is_dir():
        raise click.BadParameter(f"{target}: its directory does not exist", param_hint="--out")
    corpus = _corpus(results)
    page = render_corpus_html(corpus, title=title)
    target.write_text(page, encoding="utf-8")
    linked = sum(1 for e in corpus.linking.entities if len(e.documents) > 1)
    click.echo(
        f"wrote {target} ({len(corpus.results)} document(s), {len(corpus.linking.entities)} entities, "
        f"{linked} in more than one document)",
        err=True,
    )
    if open_browser:
        import webbrowser

        webbrowser.open(target.resolve().as_uri())


@click.command("eval-linking")
@click.option(
    "--fixtures",
    "fixture_dirs",
    multiple=True,
    type=click.Path(exists=True, file_okay=False),
    help="Fixture directories (repeatable). Default: evals/fixtures, evals/fixtures/test and "
    "evals/linking/articles.",
)
@click.option(
    "--clusters",
    type=click.Path(exists=True, dir_okay=False),
    default="evals/linking/clusters.yaml",
    show_default=True,
    help="Gold cross-document clusters (entity: [document_id#actor_id, ...]).",
)
@click.option("--errors", "show_errors", is_flag=True, help="List the linker's wrong joins and splits.")
@click.option("--markdown", type=click.Path(dir_okay=False), help="Also write the table as Markdown here.")
def eval_linking_command(
    fixture_dirs: tuple[str, ...], clusters: str, show_errors: bool, markdown: str | None
) -> None:
    """Score the actor linker against the exact-name baseline on gold actors: B-cubed and pairwise."""
    from rich.console import Console

    from llm_extract.errors import ExtractError
    from llm_extract.linking_eval import (
        DEFAULT_FIXTURE_DIRS,
        evaluate_linking,
        linking_markdown,
        linking_table,
    )

    try:
        result = evaluate_linking(fixture_dirs or DEFAULT_FIXTURE_DIRS, clusters)
    except ExtractError as exc:
        raise click.ClickException(str(exc)) from exc
    console = Console()
    (console if console.is_terminal else Console(width=170)).print(linking_table(result))
    click.echo(
        "linker links by rule: " + ", ".join(f"{k} {v}" for k, v in sorted(result.links_by_rule.items()))
    )
    if show_errors:
        for kind, pair in result.errors.get("linker", []):
            click.echo(f"  {kind}: {pair}")
    if markdown:
        Path(markdown).write_text(linking_markdown(result), encoding="utf-8")
        click.echo(f"wrote {markdown}", err=True)
