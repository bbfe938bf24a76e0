"""A corpus: many documents' results, their actors linked across documents, a timeline, claim pairs.

``Corpus`` is the Python entry point for analysts::

    corpus = Corpus.from_jsonl("results.jsonl")
    frames = corpus.to_pandas()          # the eight tables as pandas DataFrames
    corpus.export("out.duckdb", "duckdb")
    for entry in corpus.timeline(): ...  # events with resolved dates, oldest first
    for pair in corpus.claim_pairs(): ...  # a claim against its denial, by different claimants

It links actors once (``llm_extract.linking``) and every view uses the same entities.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llm_extract.counterclaims import ClaimPair, ClaimRef, claim_pairs
from llm_extract.linking import Entity, LinkConfig, Linking, link_actors
from llm_extract.results_jsonl import read_results_jsonl
from llm_extract.schema import BatchResult, Event, Extraction
from llm_extract.tables import date_start, to_tables

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from llm_extract.export import Format

__all__ = ["Corpus", "TimelineEntry"]

_PRECISION_ORDER = {"year": 0, "month": 1, "day": 2}


@dataclass(frozen=True)
class TimelineEntry:
    """An event placed in time by its resolved date (``start`` is the first day of its period)."""

    document_id: str
    event: Event
    start: date
    value: str
    precision: str
    participants: tuple[tuple[str, str, str], ...]
    """(actor name, entity id, role) of each participant."""


class Corpus:
    """Results of many documents, with one linking of their actors shared by every view."""

    def __init__(
        self,
        results: Iterable[BatchResult | Extraction],
        *,
        lines: Sequence[int] | None = None,
        link_config: LinkConfig | None = None,
    ) -> None:
        """Wrap ``results`` (extractions count as ``ok`` results without their document)."""
        self.results = [
            r
            if isinstance(r, BatchResult)
            else BatchResult(document_id=r.document_id, status="ok", extraction=r)
            for r in results
        ]
        self.lines = list(lines) if lines is not None else list(range(1, len(self.results) + 1))
        self._link_config = link_config

    @classmethod
    def from_jsonl(cls, path: str | Path, *, link_config: LinkConfig | None = None) -> Corpus:
        """Read a results JSONL; unreadable lines become error results (``results_jsonl``)."""
        kept = read_results_jsonl(path)
        return cls([k.result for k in kept], lines=[k.line for k in kept], link_config=link_config)

    @functools.cached_property
    def linking(self) -> Linking:
        """The cross-document linking of every actor (computed once, on first use)."""
        return link_actors(self.results, self._link_config)

    @functools.cached_property
    def _entity_by_key(self) -> dict[str, Entity]:
        return self.linking.entity_by_key()

    def entities(self) -> list[Entity]:
        """Every entity, those in the most documents first, then by name."""
        return sorted(self.linking.entities, key=lambda e: (-len(e.documents), -len(e.members), e.name, e.id))

    def timeline(self) -> list[TimelineEntry]:
        """Events whose date resolved to a day, month or year, oldest first (undated ones are left out)."""
        entity = self._entity_by_key
        entries = []
        for r in self.results:
            if r.extraction is None:
                continue
            names = {a.id: a.name for a in r.extraction.actors}
            for event in r.extraction.events:
                if event.date is None or event.date.value is None:
                    continue
                start = date_start(event.date.value)
                if start is None:
                    continue
                participants = tuple(
                    (
                        names.get(p.actor_id, p.actor_id),
                        entity[k].id if (k := f"{r.document_id}#{p.actor_id}") in entity else "",
                        p.role,
                    )
                    for p in event.participants
                )
                precision = event.date.precision or "day"
                entries.append(
                    TimelineEntry(r.document_id, event, start, event.date.value, precision, participants)
                )
        entries.sort(key=lambda t: (t.start, _PRECISION_ORDER.get(t.precision, 3), t.document_id, t.event.id))
        return entries

    def claim_refs(self) -> list[ClaimRef]:
        """Every claim with its claimant resolved to an entity (the author of each article is its own)."""
        entity = self._entity_by_key
        refs = []
        for r in self.results:
            if r.extraction is None:
                continue
            for c in r.extraction.claims:
                found = entity.get(f"{r.document_id}#{c.claimant}") if c.claimant else None
                if found is not None:
                    refs.append(ClaimRef(r.document_id, c, found.name, found.id))
                else:
                    refs.append(
                        ClaimRef(r.document_id, c, c.claimant or "the author", f"author:{r.document_id}")
                    )
        return refs

    def claim_pairs(self, **options: Any) -> list[ClaimPair]:
        """Claim / counter-claim pairs across claimants (options as ``counterclaims.claim_pairs``)."""
        return claim_pairs(self.claim_refs(), **options)

    def to_tables(self) -> dict[str, pa.Table]:
        """The eight tables as pyarrow tables (``llm_extract.tables``)."""
        return to_tables(self.results, linking=self.linking, lines=self.lines)

    def to_pandas(self) -> dict[str, pd.DataFrame]:
        """The eight tables as pandas DataFrames (nullable columns use pandas' Arrow-backed dtypes)."""
        import pandas as pd

        return {name: table.to_pandas(types_mapper=pd.ArrowDtype) for name, table in self.to_tables().items()}

    def export(self, out: str | Path, fmt: Format, *, overwrite: bool = False) -> Path:
        """Write the tables as parquet, csv, sqlite or duckdb (``llm_extract.export``)."""
        from llm_extract.export import write_tables

        return write_tables(self.to_tables(), out, fmt, overwrite=overwrite)
