"""Results as relational tables with stable keys, as Apache Arrow tables (and back).

Eight tables (the column reference is ``docs/corpus.md``): ``documents``, ``actors``, ``mentions``,
``events``, ``event_participants``, ``claims``, ``entities`` and ``entity_members``. Every item's key
is its document id plus its own id (``document_id``, ``actor_id``), so rows join across tables and
stay the same when a file is exported again; entities (from ``llm_extract.linking``) are keyed by
``entity_id``. Error results are ``documents`` rows with ``status = 'error'`` and the error's columns.

``results_from_tables`` rebuilds the results from the tables: the round trip (JSONL -> tables ->
any format -> tables -> results) gives back the results read from the JSONL, which the tests check
for every format. pyarrow is imported inside the functions (the ``tables`` extra).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

from llm_extract.linking import Linking, link_actors
from llm_extract.schema import (
    Actor,
    BatchResult,
    Claim,
    Document,
    ErrorRecord,
    Event,
    EventDate,
    Evidence,
    Extraction,
    Participant,
    RunMetadata,
    Usage,
)

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["KEYS", "SCHEMA", "TABLES", "results_from_tables", "to_tables"]

# Column name -> type: string, int64, float64, bool, date32 or list<string>. The order is the tables'.
SCHEMA: dict[str, list[tuple[str, str]]] = {
    "documents": [
        ("document_id", "string"),
        ("line", "int64"),
        ("status", "string"),
        ("title", "string"),
        ("published", "date32"),
        ("text", "string"),
        ("actors", "int64"),
        ("events", "int64"),
        ("claims", "int64"),
        ("model", "string"),
        ("prompt", "string"),
        ("strategy", "string"),
        ("run_metadata", "string"),
        ("error_type", "string"),
        ("error_message", "string"),
        ("error_attempts", "int64"),
        ("error_raw_output", "string"),
        ("error_retryable", "bool"),
        ("cached", "bool"),
        ("prompt_tokens", "int64"),
        ("completion_tokens", "int64"),
        ("total_tokens", "int64"),
        ("cost_usd", "float64"),
        ("latency_s", "float64"),
        ("cache_key", "string"),
    ],
    "actors": [
        ("document_id", "string"),
        ("actor_id", "string"),
        ("position", "int64"),
        ("name", "string"),
        ("kind", "string"),
        ("title", "string"),
        ("aliases", "list<string>"),
        ("mentions", "int64"),
        ("grounded", "bool"),
        ("entity_id", "string"),
    ],
    "mentions": [
        ("document_id", "string"),
        ("actor_id", "string"),
        ("mention_index", "int64"),
        ("quote", "string"),
        ("start", "int64"),
        ("end", "int64"),
        ("alignment", "string"),
        ("score", "float64"),
        ("grounded", "bool"),
    ],
    "events": [
        ("document_id", "string"),
        ("event_id", "string"),
        ("position", "int64"),
        ("type", "string"),
        ("status", "string"),
        ("summary", "string"),
        ("location", "string"),
        ("trigger_quote", "string"),
        ("trigger_start", "int64"),
        ("trigger_end", "int64"),
        ("trigger_alignment", "string"),
        ("trigger_score", "float64"),
        ("date_expression", "string"),
        ("date_value", "string"),
        ("date_precision", "string"),
        ("date_relative", "bool"),
        ("date_start", "date32"),
        ("grounded", "bool"),
    ],
    "event_participants": [
        ("document_id", "string"),
        ("event_id", "string"),
        ("position", "int64"),
        ("actor_id", "string"),
        ("role", "string"),
        ("entity_id", "string"),
    ],
    "claims": [
        ("document_id", "string"),
        ("claim_id", "string"),
        ("position", "int64"),
        ("statement", "string"),
        ("claimant_id", "string"),
        ("claimant_entity_id", "string"),
        ("polarity", "string"),
        ("hedged", "bool"),
        ("evidence_quote", "string"),
        ("evidence_start", "int64"),
        ("evidence_end", "int64"),
        ("evidence_alignment", "string"),
        ("evidence_score", "float64"),
        ("grounded", "bool"),
    ],
    "entities": [
        ("entity_id", "string"),
        ("name", "string"),
        ("kind", "string"),
        ("members", "int64"),
        ("documents", "int64"),
        ("mentions", "int64"),
    ],
    "entity_members": [
        ("entity_id", "string"),
        ("document_id", "string"),
        ("actor_id", "string"),
        ("name", "string"),
        ("score", "float64"),
        ("rule", "string"),
        ("evidence", "string"),
    ],
}
TABLES = tuple(SCHEMA)
# Each table's key: unique for extractions with unique item ids (ids are the extractor's).
KEYS: dict[str, tuple[str, ...]] = {
    "documents": ("document_id",),
    "actors": ("document_id", "actor_id"),
    "mentions": ("document_id", "actor_id", "mention_index"),
    "events": ("document_id", "event_id"),
    "event_participants": ("document_id", "event_id", "position"),
    "claims": ("document_id", "claim_id"),
    "entities": ("entity_id",),
    "entity_members": ("document_id", "actor_id"),
}


def arrow_schema(table: str) -> pa.Schema:
    """The Arrow schema of one table."""
    import pyarrow as pa

    types = {
        "string": pa.string(),
        "int64": pa.int64(),
        "float64": pa.float64(),
        "bool": pa.bool_(),
        "date32": pa.date32(),
        "list<string>": pa.list_(pa.string()),
    }
    return pa.schema([(name, types[kind]) for name, kind in SCHEMA[table]])


def to_tables(
    results: Iterable[BatchResult | Extraction],
    *,
    linking: Linking | None = None,
    lines: Sequence[int] | None = None,
) -> dict[str, pa.Table]:
    """The eight tables of ``results`` (extractions count as ``ok`` results without a document).

    ``linking`` is the cross-document linking to use; by default the actors are linked here with
    ``link_actors``. ``lines`` are the results' line numbers in their file (``documents.line``).
    """
    import pyarrow as pa

    items = [r if isinstance(r, BatchResult) else _as_result(r) for r in results]
    linking = linking if linking is not None else link_actors(items)
    entity_of = {key: entity.id for key, entity in linking.entity_by_key().items()}
    columns: dict[str, dict[str, list[Any]]] = {t: defaultdict(list) for t in TABLES}
    for n, result in enumerate(items):
        _document_row(columns["documents"], result, lines[n] if lines is not None else n + 1)
        if result.extraction is not None:
            _item_rows(columns, result.document_id, result.extraction, entity_of)
    _entity_rows(columns, linking)
    return {
        t: pa.Table.from_pydict({c: columns[t][c] for c, _ in SCHEMA[t]}, schema=arrow_schema(t))
        if columns[t]
        else arrow_schema(t).empty_table()
        for t in TABLES
    }


def _as_result(extraction: Extraction) -> BatchResult:
    return BatchResult(document_id=extraction.document_id, status="ok", extraction=extraction)


def _add(table: dict[str, list[Any]], **row: Any) -> None:
    for column, value in row.items():
        table[column].append(value)


def _document_row(table: dict[str, list[Any]], r: BatchResult, line: int) -> None:
    """One ``documents`` row: the document, its run, its counts, or its error."""
    e, doc, err, meta = r.extraction, r.document, r.error, r.extraction.metadata if r.extraction else None
    _add(
        table,
        document_id=r.document_id,
        line=line,
        status=r.status,
        title=doc.title if doc else None,
        published=doc.published if doc else None,
        text=doc.text if doc else None,
        actors=len(e.actors) if e else 0,
        events=len(e.events) if e else 0,
        claims=len(e.claims) if e else 0,
        model=meta.model if meta else None,
        prompt=f"{meta.prompt_name}@{meta.prompt_version}" if meta else None,
        strategy=meta.strategy if meta else None,
        run_metadata=meta.model_dump_json() if meta else None,
        error_type=err.type if err else None,
        error_message=err.message if err else None,
        error_attempts=err.attempts if err else None,
        error_raw_output=err.raw_output if err else None,
        error_retryable=err.retryable if err else None,
        cached=r.cached,
        prompt_tokens=r.usage.prompt_tokens,
        completion_tokens=r.usage.completion_tokens,
        total_tokens=r.usage.total_tokens,
        cost_usd=r.cost_usd,
        latency_s=r.latency_s,
        cache_key=r.key,
    )


def _evidence(prefix: str, e: Evidence) -> dict[str, Any]:
    return {
        f"{prefix}quote": e.quote,
        f"{prefix}start": e.start,
        f"{prefix}end": e.end,
        f"{prefix}alignment": e.alignment,
        f"{prefix}score": e.score,
    }


def _item_rows(
    columns: dict[str, dict[str, list[Any]]], doc_id: str, e: Extraction, entity_of: dict[str, str]
) -> None:
    """The actor, mention, event, participant and claim rows of one extraction."""
    for position, a in enumerate(e.actors):
        _add(
            columns["actors"],
            document_id=doc_id,
            actor_id=a.id,
            position=position,
            name=a.name,
            kind=a.kind,
            title=a.title,
            aliases=list(a.aliases),
            mentions=len(a.mentions),
            grounded=a.grounded,
            entity_id=entity_of.get(f"{doc_id}#{a.id}"),
        )
        for index, m in enumerate(a.mentions):
            _add(
                columns["mentions"],
                document_id=doc_id,
                actor_id=a.id,
                mention_index=index,
                **_evidence("", m),
                grounded=m.grounded,
            )
    for position, ev in enumerate(e.events):
        d = ev.date
        _add(
            columns["events"],
            document_id=doc_id,
            event_id=ev.id,
            position=position,
            type=ev.type,
            status=ev.status,
            summary=ev.summary,
            location=ev.location,
            **_evidence("trigger_", ev.trigger),
            date_expression=d.expression if d else None,
            date_value=d.value if d else None,
            date_precision=d.precision if d else None,
            date_relative=d.relative if d else None,
            date_start=date_start(d.value) if d else None,
            grounded=ev.grounded,
        )
        for index, p in enumerate(ev.participants):
            _add(
                columns["event_participants"],
                document_id=doc_id,
                event_id=ev.id,
                position=index,
                actor_id=p.actor_id,
                role=p.role,
                entity_id=entity_of.get(f"{doc_id}#{p.actor_id}"),
            )
    for position, c in enumerate(e.claims):
        _add(
            columns["claims"],
            document_id=doc_id,
            claim_id=c.id,
            position=position,
            statement=c.statement,
            claimant_id=c.claimant,
            claimant_entity_id=entity_of.get(f"{doc_id}#{c.claimant}") if c.claimant else None,
            polarity=c.polarity,
            hedged=c.hedged,
            **_evidence("evidence_", c.evidence),
            grounded=c.grounded,
        )


def _entity_rows(columns: dict[str, dict[str, list[Any]]], linking: Linking) -> None:
    """The ``entities`` and ``entity_members`` rows; mention counts come from the actors rows."""
    actors = columns["actors"]
    keys = (f"{d}#{a}" for d, a in zip(actors["document_id"], actors["actor_id"], strict=True))
    mentions = dict(zip(keys, actors["mentions"], strict=True))
    for entity in linking.entities:
        _add(
            columns["entities"],
            entity_id=entity.id,
            name=entity.name,
            kind=entity.kind,
            members=len(entity.members),
            documents=len(entity.documents),
            mentions=sum(mentions.get(m.key, 0) for m in entity.members),
        )
        for m in entity.members:
            _add(
                columns["entity_members"],
                entity_id=entity.id,
                document_id=m.document_id,
                actor_id=m.actor_id,
                name=m.name,
                score=m.score,
                rule=m.rule,
                evidence=m.evidence,
            )


def date_start(value: str | None) -> date | None:
    """The first day of a resolved ISO partial date ("2024-09" -> 2024-09-01), None if unresolved."""
    if not value:
        return None
    parts = value.split("-")
    try:
        numbers = [int(p) for p in parts[:3]] + [1] * (3 - min(len(parts), 3))
        return date(numbers[0], numbers[1], numbers[2])
    except ValueError:
        return None


_CHILDREN = ("actors", "mentions", "events", "event_participants", "claims")


def results_from_tables(tables: dict[str, pa.Table]) -> list[BatchResult]:
    """The results the tables were made from, in ``documents.line`` order (the round trip's inverse)."""
    # The entity tables are the linker's, not the results': they are not read back.
    wanted = ("documents", *_CHILDREN)
    rows = {t: sorted(tables[t].to_pylist(), key=lambda r: _order(t, r)) for t in wanted if t in tables}
    children: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for table in _CHILDREN:
        for row in rows[table]:
            children[table][row["document_id"]].append(row)
    return [_result(doc, {t: children[t][doc["document_id"]] for t in children}) for doc in rows["documents"]]


def _order(table: str, row: dict[str, Any]) -> tuple[Any, ...]:
    if table == "documents":
        return (row["line"],)
    if table == "event_participants":
        return (row["document_id"], row["event_id"], row["position"])
    if "position" in row:
        return (row["document_id"], row["position"])
    return tuple(row[k] for k in KEYS[table])


def _result(doc: dict[str, Any], items: dict[str, list[dict[str, Any]]]) -> BatchResult:
    """One result from its ``documents`` row and its items' rows."""
    document = (
        Document(id=doc["document_id"], text=doc["text"], title=doc["title"], published=doc["published"])
        if doc["text"] is not None
        else None
    )
    error = (
        ErrorRecord(
            type=doc["error_type"],
            message=doc["error_message"] or "",
            attempts=doc["error_attempts"],
            raw_output=doc["error_raw_output"],
            retryable=bool(doc["error_retryable"]),
        )
        if doc["error_type"] is not None
        else None
    )
    extraction = None
    if doc["run_metadata"] is not None:
        extraction = Extraction(
            document_id=doc["document_id"],
            actors=_actors(items.get("actors", []), items.get("mentions", [])),
            events=_events(items.get("events", []), items.get("event_participants", [])),
            claims=[_claim(r) for r in items.get("claims", [])],
            metadata=RunMetadata.model_validate_json(doc["run_metadata"]),
        )
    return BatchResult(
        document_id=doc["document_id"],
        status=doc["status"],
        document=document,
        extraction=extraction,
        error=error,
        cached=bool(doc["cached"]),
        usage=Usage(
            prompt_tokens=doc["prompt_tokens"],
            completion_tokens=doc["completion_tokens"],
            total_tokens=doc["total_tokens"],
        ),
        cost_usd=doc["cost_usd"],
        latency_s=doc["latency_s"],
        key=doc["cache_key"],
    )


def _evidence_of(row: dict[str, Any], prefix: str = "") -> Evidence:
    return Evidence(
        quote=row[f"{prefix}quote"],
        start=row[f"{prefix}start"],
        end=row[f"{prefix}end"],
        alignment=row[f"{prefix}alignment"],
        score=row[f"{prefix}score"],
    )


def _actors(rows: list[dict[str, Any]], mentions: list[dict[str, Any]]) -> list[Actor]:
    by_actor: dict[str, list[Evidence]] = defaultdict(list)
    for m in mentions:
        by_actor[m["actor_id"]].append(_evidence_of(m))
    return [
        Actor(
            id=r["actor_id"],
            name=r["name"],
            kind=r["kind"],
            title=r["title"],
            aliases=_aliases(r["aliases"]),
            mentions=by_actor.get(r["actor_id"], []),
        )
        for r in rows
    ]


def _aliases(value: Any) -> list[str]:
    """Aliases as stored: a list (Parquet, DuckDB) or its JSON text (SQLite, CSV)."""
    if value is None:
        return []
    return list(json.loads(value)) if isinstance(value, str) else list(value)


def _events(rows: list[dict[str, Any]], participants: list[dict[str, Any]]) -> list[Event]:
    by_event: dict[str, list[Participant]] = defaultdict(list)
    for p in participants:
        by_event[p["event_id"]].append(Participant(actor_id=p["actor_id"], role=p["role"]))
    events = []
    for r in rows:
        when = None
        if r["date_expression"] is not None:
            when = EventDate(
                expression=r["date_expression"],
                value=r["date_value"],
                precision=r["date_precision"],
                relative=bool(r["date_relative"]),
            )
        events.append(
            Event(
                id=r["event_id"],
                type=r["type"],
                trigger=_evidence_of(r, "trigger_"),
                summary=r["summary"],
                participants=by_event.get(r["event_id"], []),
                date=when,
                location=r["location"],
                status=r["status"],
            )
        )
    return events


def _claim(r: dict[str, Any]) -> Claim:
    return Claim(
        id=r["claim_id"],
        statement=r["statement"],
        claimant=r["claimant_id"],
        polarity=r["polarity"],
        hedged=bool(r["hedged"]),
        evidence=_evidence_of(r, "evidence_"),
    )
