"""The ``llm-extract`` command: a thin layer over the Python API."""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any, TextIO

import click

from llm_extract import ExtractError, Extractor, __version__, load_documents
from llm_extract.backends import LocalServer

_SETTINGS = ("prompt", "model", "base_url", "model_path", "strategy", "grounding", "unmatched")


@click.group()
@click.version_option(__version__, prog_name="llm-extract")
def main() -> None:
    """Grounded actors, events and claims from news articles."""


@main.command()
@click.argument("source", type=click.Path(allow_dash=True))
@click.option("--prompt", help="Prompt version, e.g. news@v1 (LLM_EXTRACT_PROMPT).")
@click.option("--model", help="Model name at the endpoint (LLM_EXTRACT_MODEL).")
@click.option(
    "--base-url", help="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1 (LLM_EXTRACT_BASE_URL)."
)
@click.option("--model-path", type=click.Path(dir_okay=False), help="GGUF file for the embedded server.")
@click.option("--strategy", type=click.Choice(["auto", "single", "decomposed"]), help="Extraction strategy.")
@click.option("--grounding", type=click.Choice(["auto", "aligned", "constrained"]), help="Grounding mode.")
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
