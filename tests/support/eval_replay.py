"""The eval replayed from cassettes recorded on the embedded model: one cassette per fixture and prompt.

``cassettes/evals/<prompt>/<fixture id>.yaml`` holds one fixture's requests and the embedded model's
answers. The test suite replays every (prompt, split) run and holds it to its committed baseline
(``evals/baselines/<split>/<prompt>.json``); ``scripts/baselines.py`` writes those baselines.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import vcr

from llm_extract import Document, EvalReport, Extraction, Extractor, Pricing, run_eval

from .recording import json_body, vcr_config

__all__ = ["BASELINES", "CASSETTES", "MODEL", "RUNS", "CassetteExtractor", "cassette", "recorder", "replay"]

ROOT = Path(__file__).resolve().parents[2]
MODEL = "smollm2-135m-instruct"
FIXTURES = ROOT / "evals" / "fixtures"
BASELINES = ROOT / "evals" / "baselines"
CASSETTES = ROOT / "cassettes" / "evals"
# Every prompt version on the dev split (the prompt history compares them); the default on both.
RUNS: list[tuple[str, str]] = [
    *((f"news@v{n}", "dev") for n in range(1, 6)),
    ("news@v5", "test"),
]


def recorder(recording: bool, config: dict[str, Any] | None = None) -> vcr.VCR:
    """A vcrpy recorder: recording ("once") or replaying only ("none")."""
    made = vcr.VCR(**(config or vcr_config()), record_mode="once" if recording else "none")
    made.register_matcher("json_body", json_body)
    return made


@contextmanager
def cassette(recorder: vcr.VCR, path: Path, recording: bool) -> Iterator[None]:
    """One cassette; on replay, every recorded interaction must have been played."""
    if recording:
        path.unlink(missing_ok=True)
    with recorder.use_cassette(str(path)) as opened:
        yield
    if not recording:
        assert opened.all_played, f"{path}: not every recorded interaction was played"


class CassetteExtractor(Extractor):
    """An extractor that answers each document from its own cassette: cassettes/evals/<prompt>/<id>.yaml.

    The eval runs documents through the batch runner, which calls ``aextract`` several at a time. A
    cassette patches the HTTP client for the whole process, so documents take turns here: one
    document, under its own cassette, at a time (its own questions still go out together).
    """

    def __init__(self, recorder: vcr.VCR, recording: bool, **settings: Any) -> None:
        super().__init__(**settings)
        self.recorder, self.recording = recorder, recording
        self.replayer = globals()["recorder"](False) if recording else recorder
        self.turns: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}

    def _cassette_for(self, document: Document | str) -> Any:
        assert isinstance(document, Document)
        path = CASSETTES / self.prompt.ref / f"{document.id}.yaml"
        # LLM_EXTRACT_RECORD_ONLY=id,id re-records just those fixtures; the others replay.
        only = {x for x in os.environ.get("LLM_EXTRACT_RECORD_ONLY", "").split(",") if x}
        recording = self.recording and (not only or document.id in only)
        used = self.recorder if recording or not self.recording else self.replayer
        return cassette(used, path, recording)

    def extract(self, document: Document | str, **fields: Any) -> Extraction:
        with self._cassette_for(document):
            return super().extract(document, **fields)

    async def aextract(self, document: Document | str, **options: Any) -> Extraction:
        # Each batch runs on its own event loop, and a lock belongs to one loop.
        turn = self.turns.setdefault(asyncio.get_running_loop(), asyncio.Lock())
        async with turn:
            with self._cassette_for(document):
                return await super().aextract(document, **options)


def replay(prompt: str, split: str, endpoint: str, *, recording: bool = False) -> EvalReport:
    """The eval of ``prompt`` on ``split`` from its cassettes (recorded from ``endpoint`` when recording)."""
    extractor = CassetteExtractor(
        recorder(recording), recording, base_url=endpoint, model=MODEL, prompt=prompt, strategy="decomposed"
    )
    with extractor:
        # The embedded model costs nothing; the cassettes stand in for it. No cache: every answer
        # must come from a cassette.
        return run_eval(
            fixtures=FIXTURES,
            split=split,  # type: ignore[arg-type]
            extractor=extractor,
            pricing=Pricing(input_per_mtok=0, output_per_mtok=0),
            cache=False,
        )
