"""Peer benchmark: llm-extract against LangExtract, a naive instructor call and the no-model floor.

    python benchmarks/peers.py                      # every system, every fixture, embedded model
    python benchmarks/peers.py --only biz-ardent-brake-recall,pol-czech-lobbying-bill --no-write
    python benchmarks/peers.py --base-url http://127.0.0.1:8080/v1 --model my-model

Every system runs on the same fixtures (``evals/fixtures``), against the same endpoint (by default
the embedded llama.cpp server that llm-extract itself starts), and is scored by the same harness
(``llm_extract.evaluate``):

* ``llm-extract``: the default prompt, the best shipped (``--prompt``) with the strategy the
  embedded model uses (``--strategy``, default decomposed);
* ``langextract``: google's LangExtract (``pip install -e ".[bench]"``) through its OpenAI provider,
  with the prompt and the one worked example in ``LANGEXTRACT_PROMPT`` / ``langextract_examples``;
  its extractions are converted by ``from_langextract`` (mapping documented there and in
  benchmarks/README.md);
* ``naive``: one instructor call (``Mode.TOOLS``) with a plain pydantic model (``NaiveOutput``) and
  a one-line prompt; quotes located with llm-extract's aligner (``from_naive``);
* ``rules``: llm-extract's ``rules`` strategy, no model at all.

All model traffic goes through ``CountingProxy``, a loopback proxy that counts requests, tokens
(from each answer's ``usage``) and the server's time, so calls and tokens per document are
measured the same way for every system, whatever its client reports.

Local inference efficiency: for the first ``--overhead-docs`` fixtures the requests llm-extract
sent are replayed on llama.cpp in-process (``llama_cpp.Llama``, no HTTP, no grammar) with the same
prompt tokens and exactly the same number of generated tokens; the ratio of our seconds per
document to that raw time is our overhead (HTTP server, JSON-schema grammar and our client).

The table is printed and (unless ``--no-write``) written into the marked "Peers" section of
benchmarks/RESULTS.md with the date, machine, model and the code measured.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import logging
import os
import platform
import re
import signal
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal, get_args
from urllib.parse import urlsplit

from pydantic import BaseModel, Field

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from throughput import CpuMeter, source_state  # noqa: E402

from llm_extract import Extractor  # noqa: E402
from llm_extract.evaluate import EvalReport, evaluate  # noqa: E402
from llm_extract.fixtures import Fixture, load_fixtures  # noqa: E402
from llm_extract.grounding import align, fold, verify  # noqa: E402
from llm_extract.prompts import DEFAULT_PROMPT  # noqa: E402
from llm_extract.schema import (  # noqa: E402
    Actor,
    ActorKind,
    Claim,
    ClaimPolarity,
    Event,
    EventStatus,
    EventType,
    Evidence,
    Extraction,
    Participant,
    RunMetadata,
)

RESULTS = HERE / "RESULTS.md"
START, END = "<!-- peers:start -->", "<!-- peers:end -->"
TYPES = ("actors", "events", "claims")
TARGET_MARGIN = 0.10


# ---------------------------------------------------------------------------------------------
# Counting proxy


@dataclass
class Tally:
    """Model traffic seen by the proxy: requests, tokens and the server's time answering them."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    server_s: float = 0.0
    http_errors: int = 0

    def __sub__(self, other: Tally) -> Tally:
        return Tally(
            self.calls - other.calls,
            self.prompt_tokens - other.prompt_tokens,
            self.completion_tokens - other.completion_tokens,
            self.server_s - other.server_s,
            self.http_errors - other.http_errors,
        )


@dataclass
class Exchange:
    """One recorded request and what the server said about it."""

    body: dict[str, Any]
    prompt_tokens: int
    completion_tokens: int
    server_s: float


class CountingProxy:
    """A loopback HTTP proxy in front of an OpenAI-compatible server that counts what passes."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream_host = parts.hostname or "127.0.0.1"
        self.upstream_port = parts.port or 80
        self.prefix = parts.path.rstrip("/")  # e.g. /v1
        self.tally = Tally()
        self.recording: list[Exchange] | None = None  # set to a list to keep request bodies
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                # Headers and body leave in two writes: without TCP_NODELAY, Nagle's algorithm holds
                # the body until the client's delayed ACK, about 40 ms on every answer.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib's name
                pass

            def do_GET(self) -> None:  # noqa: N802 - stdlib's name
                self._forward(b"")

            def do_POST(self) -> None:  # noqa: N802 - stdlib's name
                length = int(self.headers.get("Content-Length") or 0)
                self._forward(self.rfile.read(length))

            def _forward(self, body: bytes) -> None:
                headers = {k: v for k, v in self.headers.items() if k.lower() in ("content-type", "accept")}
                started = time.perf_counter()
                upstream = http.client.HTTPConnection(proxy.upstream_host, proxy.upstream_port, timeout=600)
                try:
                    upstream.request(self.command, self.path, body=body or None, headers=headers)
                    answer = upstream.getresponse()
                    payload = answer.read()
                    status, content_type = answer.status, answer.getheader("Content-Type", "application/json")
                except OSError as exc:  # the server died: tell the client, as a dead server would
                    status, content_type = 502, "text/plain"
                    payload = f"proxy: upstream failed: {exc}".encode()
                finally:
                    upstream.close()
                proxy._count(self.path, body, status, payload, time.perf_counter() - started)
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        """The proxy's OpenAI-compatible base URL."""
        return f"http://127.0.0.1:{self._server.server_address[1]}{self.prefix}"

    def _count(self, path: str, body: bytes, status: int, payload: bytes, seconds: float) -> None:
        if not path.endswith("/chat/completions"):
            return
        usage: dict[str, Any] = {}
        if status == 200:
            with contextlib.suppress(ValueError, AttributeError):
                usage = json.loads(payload).get("usage") or {}
        with self._lock:
            self.tally.calls += 1
            self.tally.server_s += seconds
            self.tally.http_errors += status != 200
            self.tally.prompt_tokens += int(usage.get("prompt_tokens") or 0)
            self.tally.completion_tokens += int(usage.get("completion_tokens") or 0)
            if self.recording is not None and status == 200:
                self.recording.append(
                    Exchange(
                        json.loads(body),
                        int(usage.get("prompt_tokens") or 0),
                        int(usage.get("completion_tokens") or 0),
                        seconds,
                    )
                )

    def snapshot(self) -> Tally:
        """A copy of the counters."""
        with self._lock:
            return Tally(**vars(self.tally))

    def __enter__(self) -> CountingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


# ---------------------------------------------------------------------------------------------
# Conversions into llm-extract's schema


def _metadata(system: str, model: str) -> RunMetadata:
    # Tokens, calls and time come from the proxy (Row.tally), not from a peer's own account.
    return RunMetadata(
        prompt_name=system,
        prompt_version="peer",
        prompt_hash="",
        model=model,
        endpoint="openai-compatible",
        strategy="single",
        grounding="aligned",
    )


def _choice(value: Any, allowed: Any, default: str) -> Any:
    """``value`` if it is one of the Literal's strings (case-insensitively), else ``default``."""
    text = str(value or "").strip().lower()
    return text if text in get_args(allowed) else default


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() in ("true", "yes", "1")


def _key(name: str) -> str:
    return " ".join(fold(name).text.split())


def _peer_evidence(quote: str, text: str, start: int | None, end: int | None) -> Evidence:
    """Evidence for a span a peer located itself, kept only if llm-extract's ``verify`` agrees."""
    if start is None or end is None or not 0 <= start < end <= len(text):
        return Evidence(quote=quote)
    found = text[start:end]
    if found == quote:
        return Evidence(quote=quote, start=start, end=end, alignment="exact", score=100.0)
    for status in ("normalized", "fuzzy"):
        candidate = Evidence(quote=quote, start=start, end=end, alignment=status, score=100.0)
        if verify(candidate, text):
            return candidate
    # The peer's span does not support its quote by our criteria: reported, never as grounded.
    return Evidence(quote=quote)


def _is_author(name: Any) -> bool:
    """Whether a claimant or participant string means nobody named: the article's author."""
    return _key(str(name or "")) in ("", "author", "the author", "none", "null", "journalist")


class _Actors:
    """Actors keyed by folded name, so mentions and references of one name share one actor."""

    def __init__(self) -> None:
        self.by_key: dict[str, Actor] = {}

    def add(self, name: str, kind: Any, mention: Evidence | None) -> Actor:
        key = _key(name)
        actor = self.by_key.get(key)
        if actor is None:
            actor = Actor(
                id=f"A{len(self.by_key) + 1}", name=name.strip(), kind=_choice(kind, ActorKind, "other")
            )
            self.by_key[key] = actor
        if mention is not None and not any(m.start == mention.start and m.grounded for m in actor.mentions):
            actor.mentions.append(mention)
        return actor

    def find(self, name: Any) -> str | None:
        """The id of the actor with this name (or whose name contains it, e.g. a surname)."""
        if _is_author(name):
            return None
        key = _key(str(name))
        if key in self.by_key:
            return self.by_key[key].id
        words = set(key.split())
        for other, actor in self.by_key.items():
            if words <= set(other.split()) or set(other.split()) <= words:
                return actor.id
        return None


def from_langextract(
    document_id: str, text: str, extractions: Iterable[Any], *, model: str = ""
) -> Extraction:
    """Convert LangExtract extractions into an ``Extraction`` (mapping in benchmarks/README.md).

    ``extraction_class`` picks the type: ``actor`` (text = the name as written; attribute ``kind``),
    ``event`` (text = the trigger; ``type``, ``status``, ``participants`` as names separated by
    ``;`` or ``,``), ``claim`` (text = the quote; ``claimant`` as a name or ``author``, ``polarity``,
    ``hedged``). Other classes are ignored. Offsets are LangExtract's own ``char_interval``, kept
    only when llm-extract's ``verify`` accepts them, so a peer's fuzzy span is never counted as
    grounded on its word. Actor names in participants and claimants resolve to actor ids by name;
    a name that was never extracted as an actor becomes one, with no mention.
    """
    items = list(extractions)
    actors = _Actors()
    events: list[Event] = []
    claims: list[Claim] = []

    def evidence(item: Any) -> Evidence:
        interval = getattr(item, "char_interval", None)
        start = getattr(interval, "start_pos", None) if interval is not None else None
        end = getattr(interval, "end_pos", None) if interval is not None else None
        return _peer_evidence(str(item.extraction_text), text, start, end)

    for item in items:  # actors first, so references below resolve
        if str(item.extraction_class).lower() == "actor":
            attributes = getattr(item, "attributes", None) or {}
            actors.add(str(item.extraction_text), attributes.get("kind"), evidence(item))

    def actor_id(name: str) -> str:
        return actors.find(name) or actors.add(name, None, None).id

    for item in items:
        kind = str(item.extraction_class).lower()
        attributes = getattr(item, "attributes", None) or {}
        if kind == "event":
            names = [
                n.strip() for n in re.split(r"[;,]", str(attributes.get("participants") or "")) if n.strip()
            ]
            participants = {actor_id(n) for n in names if not _is_author(n)}
            events.append(
                Event(
                    id=f"E{len(events) + 1}",
                    type=_choice(attributes.get("type"), EventType, "other"),
                    trigger=evidence(item),
                    participants=[Participant(actor_id=a) for a in sorted(participants)],
                    status=_choice(attributes.get("status"), EventStatus, "occurred"),
                )
            )
        elif kind == "claim":
            claimant = attributes.get("claimant")
            claims.append(
                Claim(
                    id=f"C{len(claims) + 1}",
                    statement=str(item.extraction_text),
                    claimant=None if _is_author(claimant) else actor_id(str(claimant)),
                    polarity=_choice(attributes.get("polarity"), ClaimPolarity, "asserted"),
                    hedged=_truthy(attributes.get("hedged")),
                    evidence=evidence(item),
                )
            )  # fmt: skip
    return Extraction(
        document_id=document_id,
        actors=list(actors.by_key.values()),
        events=events,
        claims=claims,
        metadata=_metadata("langextract", model),
    )


class NaiveActor(BaseModel):
    """A person or organization in the article."""

    name: str
    kind: ActorKind


class NaiveEvent(BaseModel):
    """Something that happened."""

    trigger: str
    type: EventType
    participants: list[str] = Field(default_factory=list)


class NaiveClaim(BaseModel):
    """A statement someone makes."""

    quote: str
    claimant: str | None = None
    polarity: ClaimPolarity = "asserted"


class NaiveOutput(BaseModel):
    """What a one-off instructor script asks for."""

    actors: list[NaiveActor]
    events: list[NaiveEvent]
    claims: list[NaiveClaim]


NAIVE_PROMPT = "Extract the actors, events and claims from this news article, quoting it exactly:\n\n"


def from_naive(document_id: str, text: str, output: NaiveOutput, *, model: str = "") -> Extraction:
    """Convert the naive call's answer: every quote, trigger and name is located by ``align``.

    A one-off script has no grounding of its own; giving it llm-extract's aligner (exact, then
    normalized, then fuzzy) is generous to it. Unlocated strings stay ungrounded.
    """
    folded = fold(text)
    actors = _Actors()
    for actor in output.actors:
        actors.add(actor.name, actor.kind, align(actor.name, text, folded=folded))

    def actor_id(name: str) -> str:
        return actors.find(name) or actors.add(name, None, None).id

    events = [
        Event(
            id=f"E{i}",
            type=e.type,
            trigger=align(e.trigger, text, folded=folded),
            participants=[
                Participant(actor_id=a) for a in sorted({actor_id(n) for n in e.participants if n.strip()})
            ],
        )
        for i, e in enumerate(output.events, 1)
    ]
    claims = [
        Claim(
            id=f"C{i}",
            statement=c.quote,
            claimant=None if _is_author(c.claimant) else actor_id(str(c.claimant)),
            polarity=c.polarity,
            evidence=align(c.quote, text, folded=folded),
        )
        for i, c in enumerate(output.claims, 1)
    ]
    return Extraction(
        document_id=document_id,
        actors=list(actors.by_key.values()),
        events=events,
        claims=claims,
        metadata=_metadata("naive", model),
    )


# ---------------------------------------------------------------------------------------------
# The systems

# The one worked example every few-shot system gets: the same sentence llm-extract's news@v2
# prompt uses (written for the prompts, not taken from any fixture). news@v1 itself has none.
EXAMPLE_TEXT = (
    "Brightway Foods denied reports that it would close its Leeds plant, a spokeswoman said on Tuesday."
)

LANGEXTRACT_PROMPT = (
    "Extract the actors, events and claims of a news article, in order of appearance, using exact "
    "text from the article; do not paraphrase or invent.\n"
    "- actor: a named person, organization, government, country, media outlet or group. "
    f"Attribute kind: one of {', '.join(get_args(ActorKind))}.\n"
    "- event: the word that names something that happened, is planned, alleged, hypothetical or "
    f"denied. Attributes: type (one of {', '.join(get_args(EventType))}); status (one of "
    f"{', '.join(get_args(EventStatus))}); participants: the names of the actors involved, separated "
    "by semicolons.\n"
    "- claim: the words that carry the content of a statement presented as true, without the "
    "attribution: the text inside quotation marks, the clause after 'said (that)', or the denying "
    "clause ('denied supplying arms'). Attributes: claimant (the name of who says it, or author); "
    "polarity (asserted, or denied when the claimant says something is not true); hedged (true with "
    "words of doubt such as reportedly, may, believed; else false)."
)


def langextract_examples() -> list[Any]:
    """LangExtract's few-shot example: the worked example above, labelled."""
    import langextract as lx

    return [
        lx.data.ExampleData(
            text=EXAMPLE_TEXT,
            extractions=[
                lx.data.Extraction(
                    extraction_class="actor",
                    extraction_text="Brightway Foods",
                    attributes={"kind": "organization"},
                ),
                lx.data.Extraction(
                    extraction_class="claim",
                    extraction_text="Brightway Foods denied reports that it would close its Leeds plant",
                    attributes={"claimant": "Brightway Foods", "polarity": "denied", "hedged": "false"},
                ),
                lx.data.Extraction(
                    extraction_class="event",
                    extraction_text="close",
                    attributes={"type": "economic", "status": "denied", "participants": "Brightway Foods"},
                ),
                lx.data.Extraction(
                    extraction_class="actor", extraction_text="Leeds", attributes={"kind": "other"}
                ),
            ],
        )
    ]  # fmt: skip


@contextlib.contextmanager
def _counting_warnings(logger: str, prefix: str) -> Iterator[list[str]]:
    """Collect the messages of ``logger`` that start with ``prefix`` while the block runs."""
    seen: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            message = record.getMessage()
            if message.startswith(prefix):
                reason = re.search(r"\(([^)]*)\)", message)  # "... (parse error): ..."
                seen.append(reason.group(1) if reason else "other")

    handler = Collect(logging.WARNING)
    logging.getLogger(logger).addHandler(handler)
    try:
        yield seen
    finally:
        logging.getLogger(logger).removeHandler(handler)


class System:
    """One row of the table: open against an endpoint, extract one fixture, close."""

    name = ""
    uses_model = True

    def open(self, base_url: str, model: str) -> None:
        """Connect to the endpoint."""

    def note_lines(self) -> list[str]:
        """What the table cannot show (e.g. answers dropped without failing a document)."""
        return []

    def run(self, fixture: Fixture) -> Extraction:
        """Extract one fixture (raise on failure)."""
        raise NotImplementedError

    def close(self) -> None:
        """Release clients."""


class Ours(System):
    """llm-extract with a shipped prompt."""

    def __init__(self, prompt: str, strategy: str) -> None:
        self.prompt, self.strategy = prompt, strategy
        self.name = f"llm-extract {prompt} ({strategy})"
        self.extractor: Extractor | None = None

    def open(self, base_url: str, model: str) -> None:
        self.extractor = Extractor(prompt=self.prompt, strategy=self.strategy, base_url=base_url, model=model)

    def run(self, fixture: Fixture) -> Extraction:
        assert self.extractor is not None
        return self.extractor.extract(fixture.document)

    def close(self) -> None:
        if self.extractor is not None:
            self.extractor.close()


class Rules(System):
    """llm-extract's no-model floor."""

    name = "llm-extract rules (no model)"
    uses_model = False

    def open(self, base_url: str, model: str) -> None:
        self.extractor = Extractor(strategy="rules")

    def run(self, fixture: Fixture) -> Extraction:
        return self.extractor.extract(fixture.document)

    def close(self) -> None:
        self.extractor.close()


class LangExtract(System):
    """google/langextract through its OpenAI provider."""

    name = "langextract"

    def __init__(self, max_tokens: int, max_char_buffer: int) -> None:
        self.max_tokens, self.max_char_buffer = max_tokens, max_char_buffer

    def open(self, base_url: str, model: str) -> None:
        try:
            import langextract  # noqa: F401
        except ImportError as exc:
            raise SystemExit('langextract is not installed: pip install -e ".[bench]"') from exc
        from langextract.providers.openai import OpenAILanguageModel

        self.model_id = model
        # JSON mode: llama-cpp-python turns response_format json_object into a JSON grammar; its
        # server answers a json_schema response_format with HTTP 500 (see notes), so no schema.
        self.model = OpenAILanguageModel(
            model_id=model,
            api_key="unused-local",
            base_url=base_url,
            temperature=0.0,
            max_workers=1,
            max_output_tokens=self.max_tokens,
        )
        self.examples = langextract_examples()
        self.dropped = 0
        self.reasons: Counter[str] = Counter()

    def run(self, fixture: Fixture) -> Extraction:
        import langextract as lx

        # LangExtract drops a chunk whose answer it cannot parse and logs a warning (absl): count them,
        # or a row of zeros would not say why.
        with _counting_warnings("absl", "Chunk omitted") as dropped:
            result = lx.extract(
                fixture.text,
                prompt_description=LANGEXTRACT_PROMPT,
                examples=self.examples,
                model=self.model,
                max_char_buffer=self.max_char_buffer,
                fence_output=False,
                use_schema_constraints=False,
                show_progress=False,
                prompt_validation_level=lx.prompt_validation.PromptValidationLevel.OFF,
                resolver_params={"suppress_parse_errors": True},
            )
        self.dropped += len(dropped)
        self.reasons.update(dropped)
        return from_langextract(fixture.id, fixture.text, result.extractions or [], model=self.model_id)

    def note_lines(self) -> list[str]:
        reasons = ", ".join(f"{n} {why}" for why, n in self.reasons.most_common())
        return [
            f"- {self.name}: its resolver dropped {self.dropped} model answers (one per chunk) it could "
            f"not use ({reasons or 'none'}); a dropped chunk contributes no extraction and no failure."
        ]


class Naive(System):
    """One instructor call, a plain pydantic model, a one-line prompt."""

    name = "naive instructor call"

    def __init__(self, max_tokens: int) -> None:
        self.max_tokens = max_tokens

    def open(self, base_url: str, model: str) -> None:
        import instructor
        import openai

        self.model = model
        self.client = instructor.from_openai(
            openai.OpenAI(base_url=base_url, api_key="unused-local", max_retries=0, timeout=600),
            mode=instructor.Mode.TOOLS,
        )

    def run(self, fixture: Fixture) -> Extraction:
        output = self.client.chat.completions.create(
            model=self.model,
            response_model=NaiveOutput,
            messages=[{"role": "user", "content": NAIVE_PROMPT + fixture.text}],
            temperature=0.0,
            max_tokens=self.max_tokens,
            max_retries=1,
        )
        return from_naive(fixture.id, fixture.text, output, model=self.model)


# ---------------------------------------------------------------------------------------------
# Running and scoring


@dataclass
class Row:
    """One system's results over the fixtures."""

    name: str
    report: EvalReport
    failures: dict[str, str]
    docs: int
    tally: Tally
    seconds: float
    notes: list[str] = field(default_factory=list)
    other_cores: float = 0.0  # CPU of unrelated processes during the row: timing noise

    def per_doc(self, value: float) -> float:
        return value / self.docs if self.docs else 0.0

    @property
    def grounding(self) -> float | None:
        grounded = sum(self.report.types[t].grounded for t in TYPES)
        predicted = sum(self.report.types[t].counts.predicted for t in TYPES)
        return grounded / predicted if predicted else None


def _failure_text(exc: BaseException) -> str:
    """One line saying why a document failed (instructor's own message starts with markup)."""
    attempts = getattr(exc, "failed_attempts", None)
    if attempts:
        last = attempts[-1].exception
        detail = str(last).strip().splitlines()[0] if str(last).strip() else ""
        text = f"{type(exc).__name__} after {len(attempts)} attempt(s), last: {type(last).__name__}: {detail}"
    else:
        text = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
    return text[:300]


def run_system(
    system: System,
    fixtures: Sequence[Fixture],
    proxy: CountingProxy | None,
    base_url: str,
    model: str,
    *,
    on_document: Callable[[str, Fixture, float, str | None], None] | None = None,
    server_pid: int | None = None,
) -> Row:
    """Run ``system`` over ``fixtures`` one document at a time and score it."""
    system.open(base_url, model)
    predictions: dict[str, Extraction] = {}
    failures: dict[str, str] = {}
    before = proxy.snapshot() if proxy else Tally()
    started = time.perf_counter()
    meter = CpuMeter(server_pid).__enter__()
    try:
        for fixture in fixtures:
            t0 = time.perf_counter()
            try:
                predictions[fixture.id] = system.run(fixture)
                error = None
            except KeyboardInterrupt:
                raise
            except Exception as exc:  # a peer's failure is a result to report, not a crash
                error = _failure_text(exc)
                failures[fixture.id] = error
            if on_document:
                on_document(system.name, fixture, time.perf_counter() - t0, error)
    finally:
        system.close()
        meter.__exit__()
    seconds = time.perf_counter() - started
    notes = system.note_lines()
    tally = (proxy.snapshot() - before) if proxy else Tally()
    report = evaluate(predictions, fixtures, errors=failures)
    return Row(system.name, report, failures, len(fixtures), tally, seconds, notes, round(meter.other, 2))


def _f1(row: Row, item_type: str, scheme: Literal["strict", "partial"]) -> str:
    scores = row.report.types[item_type].strict if scheme == "strict" else row.report.types[item_type].partial
    f1 = scores.f1
    if f1.low is None or f1.high is None:
        return f"{100 * f1.value:.1f}"
    return f"{100 * f1.value:.1f} [{100 * f1.low:.0f}–{100 * f1.high:.0f}]"


def table(rows: Sequence[Row]) -> str:
    """The Markdown table: F1 (strict / partial, 95 % CI) per type, grounding, tokens, calls, time."""
    head = ["system"]
    for t in TYPES:
        head += [f"{t} strict F1", f"{t} partial F1"]
    head += ["grounded", "prompt tok/doc", "compl. tok/doc", "calls/doc", "s/doc", "failures", "other cores"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for row in rows:
        cells = [row.name]
        for t in TYPES:
            cells += [_f1(row, t, "strict"), _f1(row, t, "partial")]
        grounding = row.grounding
        cells += [
            _percent(grounding),
            f"{row.per_doc(row.tally.prompt_tokens):,.0f}",
            f"{row.per_doc(row.tally.completion_tokens):,.0f}",
            f"{row.per_doc(row.tally.calls):.1f}",
            f"{row.per_doc(row.seconds):.2f}",
            f"{len(row.failures)}/{row.docs}"
            + (f" ({row.tally.http_errors} HTTP errors)" if row.tally.http_errors else ""),
            f"{row.other_cores:.2f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f} %"


def target_lines(ours: Row, others: Sequence[Row]) -> list[str]:
    """Whether ``ours`` beats the best other row by TARGET_MARGIN F1 on every type (each scheme)."""
    lines = []
    for scheme in ("strict", "partial"):
        for t in TYPES:
            best = max(others, key=lambda r: r.report.f1(t, scheme))
            mine, theirs = ours.report.f1(t, scheme), best.report.f1(t, scheme)
            ok = mine - theirs >= TARGET_MARGIN
            lines.append(
                f"- {scheme} {t}: {100 * mine:.1f} vs best other {100 * theirs:.1f} ({best.name}): "
                f"{'+' if mine >= theirs else ''}{100 * (mine - theirs):.1f} points, "
                f"{'met' if ok else 'NOT met'} (needs +{100 * TARGET_MARGIN:.0f})"
            )
    grounding = ours.grounding
    lines.append(
        f"- every reported item grounded: {'yes' if grounding == 1.0 else 'no'} ({_percent(grounding)})"
    )
    return lines


def failure_lines(rows: Sequence[Row]) -> list[str]:
    """Each failed document, per system, with its reason."""
    lines = []
    for row in rows:
        for doc, reason in row.failures.items():
            lines.append(f"- {row.name} · {doc}: {reason}")
    return lines


# ---------------------------------------------------------------------------------------------
# Local inference overhead


@dataclass
class Overhead:
    """Our seconds per document against raw llama.cpp for the same prompts and output lengths."""

    docs: list[str] = field(default_factory=list)
    requests: int = 0
    ours_s: float = 0.0  # client wall time, our whole pipeline
    server_s: float = 0.0  # time the HTTP server took (proxy-measured)
    raw_s: float = 0.0  # llama.cpp in-process, same prompt tokens, same number of generated tokens
    prompt_tokens_matched: int = 0
    other_cores: float = 0.0  # unrelated CPU during the in-process replay

    def lines(self) -> list[str]:
        n = len(self.docs) or 1
        return [
            f"- documents: {', '.join(self.docs)} ({self.requests} requests); prompt token counts identical "
            f"to the server's on {self.prompt_tokens_matched}/{self.requests} requests",
            f"- llm-extract, whole pipeline: {self.ours_s / n:.2f} s/doc",
            "- llama.cpp server answering those requests (HTTP, chat template, JSON grammar): "
            f"{self.server_s / n:.2f} s/doc",
            "- raw llama.cpp in-process (same prompt tokens, same number of generated tokens, no grammar): "
            f"{self.raw_s / n:.2f} s/doc (other processes used {self.other_cores:.2f} cores meanwhile)",
            f"- **overhead ratio ours / raw: {self.ours_s / self.raw_s:.2f}×** "
            f"(server / raw {self.server_s / self.raw_s:.2f}×, "
            f"ours / server {self.ours_s / self.server_s:.3f}×)"
            if self.raw_s and self.server_s
            else "- overhead ratio: not measured",
        ]


def raw_llama_seconds(
    exchanges: Sequence[Exchange], model_path: Path, n_ctx: int, threads: int
) -> tuple[float, int]:
    """Replay ``exchanges`` on in-process llama.cpp: (seconds, requests whose prompt tokens matched)."""
    import llama_cpp
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    llm = llama_cpp.Llama(
        model_path=str(model_path), n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads, verbose=False
    )
    eos, bos = llm.token_eos(), llm.token_bos()
    formatter = Jinja2ChatFormatter(
        template=llm.metadata["tokenizer.chat_template"],
        eos_token=llm._model.token_get_text(eos) if eos != -1 else "",
        bos_token=llm._model.token_get_text(bos) if bos != -1 else "",
        stop_token_ids=[eos],
    )
    matched, total = 0, 0.0
    for exchange in exchanges:
        body = exchange.body
        result = formatter(
            messages=body["messages"], tools=body.get("tools"), tool_choice=body.get("tool_choice")
        )
        tokens = llm.tokenize(result.prompt.encode("utf-8"), add_bos=not result.added_special, special=True)
        matched += len(tokens) == exchange.prompt_tokens
        started = time.perf_counter()
        produced = 0
        if exchange.completion_tokens:
            # generate() yields past any end-of-generation token: exactly as many as the server made.
            for _ in llm.generate(tokens, temp=0.0, top_k=1, reset=True):
                produced += 1
                if produced >= exchange.completion_tokens:
                    break
        else:
            llm.eval(tokens)
        total += time.perf_counter() - started
    return total, matched


# ---------------------------------------------------------------------------------------------
# RESULTS.md


def _source_state() -> str:
    return source_state("prompts", "benchmarks/peers.py") + " (llm_extract, prompts, peers.py)"


def _versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    out = []
    for name in ("llm-extract", "langextract", "instructor", "openai", "llama-cpp-python"):
        try:
            out.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            out.append(f"{name} (not installed)")
    return ", ".join(out)


def write_section(path: Path, body: str) -> None:
    """Replace the text between the peers markers in ``path`` (append the section if absent)."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    section = f"{START}\n{body.rstrip()}\n{END}"
    if START in text and END in text:
        before, rest = text.split(START, 1)
        after = rest.split(END, 1)[1]
        text = before + section + after
    else:
        text = text.rstrip() + ("\n\n" if text else "") + section + "\n"
    path.write_text(text, encoding="utf-8")


def _machine() -> str:
    memory = ""
    with contextlib.suppress(OSError, ValueError, IndexError):
        kb = int(Path("/proc/meminfo").read_text().split("\n")[0].split()[1])
        memory = f", {kb / 1024**2:.0f} GiB RAM"
    system = f"{platform.system()} {platform.release()}"
    return f"{os.cpu_count()} CPUs{memory}, {system}, Python {platform.python_version()}"


# ---------------------------------------------------------------------------------------------


def _progress(system: str, fixture: Fixture, seconds: float, error: str | None) -> None:
    print(f"  {system:<34} {fixture.id:<36} {seconds:7.1f} s {error or 'ok'}", flush=True)


class _Recorder:
    """Progress for llm-extract's row, keeping the request bodies of the first documents for the replay."""

    def __init__(
        self, proxy: CountingProxy, overhead: Overhead, ids: list[str], into: list[Exchange]
    ) -> None:
        self.proxy, self.overhead, self.ids = proxy, overhead, ids
        proxy.recording = into

    def __call__(self, system: str, fixture: Fixture, seconds: float, error: str | None) -> None:
        _progress(system, fixture, seconds, error)
        if fixture.id in self.ids:
            self.overhead.docs.append(fixture.id)
            self.overhead.ours_s += seconds
        if len(self.overhead.docs) >= len(self.ids):
            self.proxy.recording = None  # past the replayed documents: stop keeping bodies


@contextlib.contextmanager
def endpoint(base_url: str | None, model: str | None, threads: int | None) -> Iterator[tuple[str, str, Any]]:
    """The endpoint to benchmark: the given one, or the embedded llama.cpp server."""
    if base_url:
        yield base_url, model or "default", None
        return
    from llm_extract.backends.local import LocalServer

    server = LocalServer(threads=threads)
    server.start()
    try:
        yield server.base_url, server.alias, server
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fixtures", default=str(ROOT / "evals" / "fixtures"))
    parser.add_argument("--only", help="comma-separated fixture ids (default: all)")
    parser.add_argument(
        "--systems",
        default="ours,langextract,naive,rules",
        help="comma-separated: ours,langextract,naive,rules",
    )
    parser.add_argument(
        "--prompt",
        default=DEFAULT_PROMPT,
        help=f"llm-extract prompt (default {DEFAULT_PROMPT}, the best shipped)",
    )
    parser.add_argument(
        "--strategy",
        default="decomposed",
        help="llm-extract strategy (default decomposed, as on the embedded model)",
    )
    parser.add_argument(
        "--base-url", help="an OpenAI-compatible endpoint (default: the embedded llama.cpp server)"
    )
    parser.add_argument("--model", help="model name at --base-url")
    parser.add_argument("--threads", type=int, help="llama.cpp threads (embedded server and raw replay)")
    parser.add_argument(
        "--max-tokens", type=int, default=1024, help="completion limit for the peers (llm-extract's default)"
    )
    parser.add_argument(
        "--max-char-buffer", type=int, default=1000, help="LangExtract chunk size (its default)"
    )
    parser.add_argument(
        "--overhead-docs", type=int, default=3, help="fixtures replayed on raw llama.cpp (0: skip)"
    )
    parser.add_argument(
        "--results", default=str(RESULTS), help="Markdown file whose peers section is rewritten"
    )
    parser.add_argument("--no-write", action="store_true", help="print only")
    # A SIGTERM must still stop the embedded server (it runs in its own session): exit via SystemExit.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    command = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(command)

    fixtures = load_fixtures(args.fixtures)
    if args.only:
        wanted = args.only.split(",")
        fixtures = [f for f in fixtures if f.id in wanted]
        if len(fixtures) != len(wanted):
            parser.error(f"unknown fixture ids in --only: {sorted(set(wanted) - {f.id for f in fixtures})}")
    names = args.systems.split(",")
    makers: dict[str, Callable[[], System]] = {
        "ours": lambda: Ours(args.prompt, args.strategy),
        "langextract": lambda: LangExtract(args.max_tokens, args.max_char_buffer),
        "naive": lambda: Naive(args.max_tokens),
        "rules": Rules,
    }
    if unknown := set(names) - set(makers):
        parser.error(f"unknown systems: {sorted(unknown)}")
    started_at = datetime.now(UTC)
    print(f"# peers: {len(fixtures)} fixtures, systems {', '.join(names)}; {_machine()}", flush=True)
    print(f"# {_versions()}", flush=True)
    print(f"# code: {_source_state()}", flush=True)

    rows: list[Row] = []
    exchanges: list[Exchange] = []
    overhead = Overhead()
    model_name = ""
    with (
        endpoint(args.base_url, args.model, args.threads) as (upstream, model, server),
        CountingProxy(upstream) as proxy,
    ):
        model_name = model
        server_pid = server._process.pid if server is not None and server._process is not None else None
        for name in names:
            system = makers[name]()
            if name == "ours" and args.overhead_docs > 0:
                recorder = _Recorder(
                    proxy, overhead, [f.id for f in fixtures[: args.overhead_docs]], exchanges
                )
                row = run_system(
                    system,
                    fixtures,
                    proxy,
                    proxy.base_url,
                    model,
                    on_document=recorder,
                    server_pid=server_pid,
                )
            else:
                counted = proxy if system.uses_model else None
                row = run_system(
                    system,
                    fixtures,
                    counted,
                    proxy.base_url,
                    model,
                    on_document=_progress,
                    server_pid=server_pid,
                )
            rows.append(row)
        if server is not None:
            server.stop()  # free the cores for the in-process replay
            if exchanges:
                overhead.requests = len(exchanges)
                overhead.server_s = sum(e.server_s for e in exchanges)
                with CpuMeter(None) as meter:
                    overhead.raw_s, overhead.prompt_tokens_matched = raw_llama_seconds(
                        exchanges, server.model_path, server.n_ctx, server.threads
                    )
                overhead.other_cores = round(meter.other, 2)

    text = table(rows)
    body = [
        "## Peers (`peers.py`)",
        "",
        f"- **Date**: {started_at:%Y-%m-%d %H:%M} UTC; {len(fixtures)} fixtures "
        f"({args.only or args.fixtures})",
        f"- **Machine**: {_machine()}",
        f"- **Model**: `{model_name}` at {args.base_url or 'the embedded llama.cpp server'}; {_versions()}",
        f"- **Code**: {_source_state()}",
        f"- **Command**: `{' '.join(['python benchmarks/peers.py', *command])}`",
        "",
        "F1 in % with 95 % bootstrap intervals over documents; grounded = items whose evidence "
        "llm-extract's `verify` accepts, over items reported; tokens and calls counted by the proxy "
        "from each answer's usage; s/doc is wall time per document, one document at a time; other "
        "cores = CPU used by unrelated processes during the row (timing noise on a 2-core machine).",
        "",
        text,
        "",
    ]
    ours = rows[names.index("ours")] if "ours" in names else None
    others = [r for r in rows if r is not ours]
    if ours is not None and others:
        body += [
            f"Target (llm-extract ≥ best other row + {100 * TARGET_MARGIN:.0f} F1 points on every type):",
            "",
            *target_lines(ours, others),
            "",
        ]
    if overhead.requests:
        body += [
            "Local inference efficiency (llm-extract's requests replayed on raw llama.cpp):",
            "",
            *overhead.lines(),
            "",
        ]
    if failures := failure_lines(rows):
        body += ["Failures:", "", *failures, ""]
    if notes := [line for row in rows for line in row.notes]:
        body += ["Notes:", "", *notes, ""]
    output = "\n".join(body)
    print()
    print(output)
    if not args.no_write:
        write_section(Path(args.results), output)
        print(f"# wrote the peers section of {args.results}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
